"""MADE MoG as a flow's base density: the "MAF MoG" of Papamakarios, Pavlakou & Murray (2017, sec. 3.3), whose
base is an autoregressive mixture with the mixture's parameters conditioned on the preceding coordinates,

    p(u) = prod_d sum_k pi_dk(u_<d) N(u_d; m_dk(u_<d), s_dk(u_<d)^2)
    [logit pi_dk, m_dk, log s_dk]_{k=1..K} = MADE(u)_d      (one masked net, 3K outputs per dimension)

one MADE pass for log p, D passes to sample (a component, then u_d, coordinate by coordinate in the order).
The MADE is MAF's (models/flows/autoregressive.py: the same masks, dropout and degrees); log s is bounded as
MAF's alpha is, log s = 4 tanh(raw / 4). The unconditional mixture of mog_base.py is the cheaper variant.
Initialisation: the last layer's weights are 0 (as in every MADE here), so the base starts as one global
mixture; the means' biases are spread N(0, 0.5^2) so that the K components start apart.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor, no_grad
from minigen.distributions import Distribution

from .autoregressive import ALPHA_BOUND, MaskedNet

__all__ = ["MADEMixtureBase", "MADEMixture"]

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class MADEMixtureBase(nn.Module):
    """The MADE of a MADE MoG over D dimensions with K components (`order`: its autoregressive order)."""

    def __init__(self, dims: int, components: int, hidden: int, layers: int, order: np.ndarray, seed: int = 0,
                 dropout: float = 0.0, degrees: str = "random"):
        super().__init__()
        self.components = int(components)
        self.made = MaskedNet(dims, hidden, layers, 3 * self.components, order, seed, dropout=dropout,
                              degrees=degrees)
        bias = self.made.net[-1].bias.numpy().copy()
        k = self.components
        bias[:k * dims] = 0  # equal weights
        bias[k * dims:2 * k * dims] = np.random.default_rng(seed).normal(0, 0.5, k * dims)
        bias[2 * k * dims:] = 0  # unit scales
        self.made.net[-1].bias.data = bias.astype(np.float32)

    def parameters_of(self, u: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(log pi normalised over k, m, log s), each (B, K, D), for the rows of u (B, D)."""
        b, d, k = u.shape[0], self.made.dims, self.components
        out = self.made(u).reshape(b, 3 * k, d)
        logits, loc, raw = out[:, :k], out[:, k:2 * k], out[:, 2 * k:]
        log_pi = logits - logits.logsumexp(axis=1, keepdims=True)
        return log_pi, loc, (raw * (1.0 / ALPHA_BOUND)).tanh() * ALPHA_BOUND

    def distribution(self) -> "MADEMixture":
        return MADEMixture(self)


class MADEMixture(Distribution):
    """The MADE MoG density over events of shape (D,) (log_prob on (B, D) rows; sample(n))."""

    has_rsample = False

    def __init__(self, base: MADEMixtureBase):
        self.base = base
        self.batch_shape, self.event_shape = (), (base.made.dims,)

    @property
    def device(self) -> str:
        return self.base.made.net[0].weight.device

    @property
    def dtype(self):
        return self.base.made.net[0].weight.dtype

    def log_prob(self, value: Tensor) -> Tensor:
        """sum_d logsumexp_k [log pi_dk + log N(u_d; m_dk, s_dk^2)]: shape value.shape[:-1]."""
        lead = tuple(value.shape[:-1])
        u = value.reshape(-1, value.shape[-1])
        log_pi, loc, log_s = self.base.parameters_of(u)
        z = (u.unsqueeze(1) - loc) * (-log_s).exp()
        per_k = log_pi - 0.5 * z * z - log_s - LOG_SQRT_2PI
        return per_k.logsumexp(axis=1).sum(axis=-1).reshape(lead)

    def sample(self, sample_shape=()) -> Tensor:
        """D passes in the MADE's order: k ~ Categorical(pi_d), u_d = m_dk + s_dk eps (no graph)."""
        shape = tuple(sample_shape) if isinstance(sample_shape, (tuple, list)) else (int(sample_shape),)
        n, dims = int(np.prod(shape, dtype=np.int64)), self.base.made.dims
        rng = backend.rng("cpu")
        u = np.zeros((n, dims), np.float32)
        with no_grad():
            for d in self.base.made.order:
                log_pi, loc, log_s = (backend.to_device(t.data, "cpu")[:, :, d].astype(np.float64)
                                      for t in self.base.parameters_of(mg.tensor(u, device=self.device)))
                pi = np.exp(log_pi - log_pi.max(axis=1, keepdims=True))
                cdf = np.cumsum(pi / pi.sum(axis=1, keepdims=True), axis=1)
                k = np.minimum((cdf < rng.random((n, 1))).sum(axis=1), self.base.components - 1)
                rows = np.arange(n)
                u[:, d] = loc[rows, k] + np.exp(log_s[rows, k]) * rng.standard_normal(n)
        return mg.tensor(u.reshape(shape + self.event_shape), device=self.device)
