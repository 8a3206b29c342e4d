"""Masked autoregressive flow layers on the project's MADE (models/autoregressive/made.py: the same degrees and
masks), for MAF (Papamakarios, Pavlakou & Murray, 2017) and IAF (Kingma et al., 2016).

MAF's layer, in the density direction (data x -> noise u), with [mu, alpha] = MADE(x) autoregressive in x:

    u_d = (x_d - mu_d(x_<d)) exp(-alpha_d(x_<d)),    log |det du/dx| = -sum_d alpha_d

one MADE pass for all d (the Jacobian is triangular in the layer's ordering); sampling inverts it one
coordinate at a time, x_d = u_d exp(alpha_d) + mu_d, D passes. Consecutive layers reverse the ordering.
Hidden degrees: drawn at random as in MADE (`degrees="random"`), or assigned in turn, unit k of every hidden
layer getting degree 1 + (k mod (D - 1)) (`degrees="sequential"`, as in MAF's code), so that every degree has
the same number of units.
Deviation: alpha = 4 tanh(raw / 4) is bounded (the paper's is not), since ReLU MADEs extrapolate linearly and
five stacked exp(alpha) overflow float32 a few standard deviations away from the data.

IAF's layer, in the sampling direction (noise z -> z'), with [m, s] = MADE(z) autoregressive in z:

    sigma = sigmoid(s),  z'_d = sigma_d z_d + (1 - sigma_d) m_d,  log |det dz'/dz| = sum_d log sigma_d

(the paper's numerically stable update, sec. 4 and its Algorithm 1): one pass to sample and to score the
sample; the inverse takes D passes.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import Transform
from minigen.ops.elementwise import softplus

from ..autoregressive.made import made_degrees, made_masks

__all__ = ["MaskedNet", "MAFLayer", "IAFLayer", "sequential_degrees"]

ALPHA_BOUND = 4.0  # |alpha| < 4 in MAF's layer: a deviation from the paper's unbounded alpha, for stability


def sequential_degrees(dims: int, widths: list[int], order: np.ndarray) -> list:
    """made_degrees' output with hidden degrees 1, 2, ..., D - 1, 1, 2, ... in turn (0s when D = 1)."""
    degrees = [np.empty(dims, np.int64)]
    degrees[0][order] = np.arange(1, dims + 1)
    for width in widths:
        degrees.append(np.arange(width) % (dims - 1) + 1 if dims > 1 else np.zeros(width, np.int64))
    return degrees


class MaskedNet(nn.Module):
    """A MADE: `layers` masked ReLU layers of `hidden` units, `outputs` values per dimension, output k * D + d
    depending only on inputs before d in `order` (MADE's degrees, one draw of hidden degrees from `seed`).
    With `context` > 0, an unmasked linear map of a context vector joins the first layer (IAF's h); with
    `dropout` > 0, dropout on the hidden units in training (the masks, hence the autoregressive property, stay).
    `degrees`: "random" (MADE's draw) or "sequential" (sequential_degrees)."""

    def __init__(self, dims: int, hidden: int, layers: int, outputs: int, order: np.ndarray, seed: int = 0,
                 context: int = 0, dropout: float = 0.0, degrees: str = "random"):
        super().__init__()
        self.dims, self.outputs, self.order = int(dims), int(outputs), np.asarray(order)
        widths = [dims] + [hidden] * layers
        if degrees not in ("random", "sequential"):
            raise ValueError(f"MaskedNet: degrees must be 'random' or 'sequential', got {degrees!r}")
        masks = made_masks(sequential_degrees(dims, widths[1:], self.order) if degrees == "sequential" else
                           made_degrees(dims, widths[1:], self.order, np.random.default_rng(seed)))
        masks[-1] = np.concatenate([masks[-1]] * outputs, axis=0)
        self.net = nn.ModuleList([nn.Linear(i, o) for i, o in zip(widths, widths[1:] + [outputs * dims])])
        for l, m in enumerate(masks):
            self.register_buffer(f"mask{l}", mg.tensor(m), persistent=False)
        self.context = nn.Linear(context, hidden, bias=False) if context else None
        self.dropout = nn.Dropout(dropout) if dropout > 0 else None
        nn.init.zeros_(self.net[-1].weight)  # every layer starts as the identity map (mu = alpha = 0)

    def forward(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """(B, outputs * D): [out_0 (B, D), out_1 (B, D), ...] concatenated."""
        h = x
        for l, layer in enumerate(self.net):
            mask = getattr(self, f"mask{l}")
            h = F.linear(h, layer.weight * mask.astype(h.dtype), layer.bias)
            if l == 0 and self.context is not None and context is not None:
                h = h + self.context(context)
            if l < len(self.net) - 1:
                h = h.relu()
                if self.dropout is not None:
                    h = self.dropout(h)
        return h


class MAFLayer(nn.Module, Transform):
    """u = (x - mu(x)) exp(-alpha(x)) in one MADE pass; x from u in D passes (inverse)."""

    event_dim = 1

    def __init__(self, dims: int, hidden: int, layers: int, order: np.ndarray, seed: int = 0,
                 dropout: float = 0.0, degrees: str = "random"):
        super().__init__()
        self.made = MaskedNet(dims, hidden, layers, 2, order, seed, dropout=dropout, degrees=degrees)

    def _params(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mu, alpha) with alpha = B tanh(raw / B), B = ALPHA_BOUND: about raw near 0, but bounded, so that
        far from the data (a density grid, an early update) exp(alpha) cannot overflow through the stack."""
        out = self.made(x)
        d = self.made.dims
        return out[:, :d], (out[:, d:] * (1.0 / ALPHA_BOUND)).tanh() * ALPHA_BOUND

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, alpha = self._params(x)
        return (x - mu) * (-alpha).exp(), -alpha.sum(axis=-1)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[0]

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[1]

    def inverse(self, u: Tensor) -> Tensor:
        """x_d = u_d exp(alpha_d(x_<d)) + mu_d(x_<d), coordinate by coordinate in the layer's order."""
        x = mg.zeros(u.shape, dtype=u.dtype, device=u.device)
        for d in self.made.order:
            mu, alpha = self._params(x)
            column = u[:, d] * alpha[:, d].exp() + mu[:, d]
            x = mg.where(mg.tensor(np.arange(self.made.dims) == d, device=u.device), column.unsqueeze(1), x)
        return x


class IAFLayer(nn.Module, Transform):
    """z' = sigmoid(s) z + (1 - sigmoid(s)) m, [m, s] = MADE(z, h): one pass to sample and score. The
    encoder's context h (B, context) is an argument of `step` / `inverse_step`; `given(h)` returns the
    layer as a Transform of z alone for that h (and `self` works as one with no context)."""

    event_dim = 1

    def __init__(self, dims: int, hidden: int, layers: int, order: np.ndarray, seed: int = 0, context: int = 0):
        super().__init__()
        self.made = MaskedNet(dims, hidden, layers, 2, order, seed, context)

    def _gate(self, z: Tensor, h: Tensor | None) -> tuple[Tensor, Tensor]:
        out = self.made(z, h)
        d = self.made.dims
        return out[:, :d], out[:, d:] + 1.5  # s starts near +1.5: sigma ~ 0.82, close to the identity

    def step(self, z: Tensor, h: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(z', log |det dz'/dz| = sum_d log sigmoid(s_d)) given the context h."""
        m, s = self._gate(z, h)
        sigma = s.sigmoid()
        return sigma * z + (1 - sigma) * m, (-softplus(-s)).sum(axis=-1)

    def inverse_step(self, y: Tensor, h: Tensor | None = None) -> Tensor:
        """z_d = (y_d - (1 - sigma_d) m_d) / sigma_d with (m, s) of z_<d: D passes in the layer's order."""
        z = mg.zeros(y.shape, dtype=y.dtype, device=y.device)
        for d in self.made.order:
            m, s = self._gate(z, h)
            sigma = s[:, d].sigmoid()
            column = (y[:, d] - (1 - sigma) * m[:, d]) / sigma
            z = mg.where(mg.tensor(np.arange(self.made.dims) == d, device=y.device), column.unsqueeze(1), z)
        return z

    def given(self, h: Tensor | None) -> Transform:
        return _GivenContext(self, h)

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.step(z)

    def forward(self, z: Tensor) -> Tensor:
        return self.step(z)[0]

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.step(z)[1]

    def inverse(self, y: Tensor) -> Tensor:
        return self.inverse_step(y)


class _GivenContext(Transform):
    """An IAF layer as a Transform of z for one fixed context h (rows matching z's rows)."""

    event_dim = 1

    def __init__(self, layer: IAFLayer, h: Tensor | None):
        self.layer, self.h = layer, h

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.layer.step(z, self.h)

    def forward(self, z: Tensor) -> Tensor:
        return self.layer.step(z, self.h)[0]

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.layer.step(z, self.h)[1]

    def inverse(self, y: Tensor) -> Tensor:
        return self.layer.inverse_step(y, self.h)
