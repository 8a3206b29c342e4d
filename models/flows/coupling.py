"""Coupling layers (NICE, Dinh et al. 2015; RealNVP, Dinh et al. 2017; Glow, Kingma & Dhariwal 2018).

A binary mask b splits the input: the part with b = 1 passes unchanged and conditions the rest,

    additive (NICE):   y = x + (1 - b) * m(b * x)                          log |det| = 0
    affine (RealNVP):  y = b * x + (1 - b) * (x * exp(s(b * x)) + t(b * x))  log |det| = sum (1 - b) * s

so the Jacobian is triangular (in the order "masked part first") and the inverse costs one pass of the same
net: x = b * y + (1 - b) * (y - t(b * y)) * exp(-s(b * y)). Every flow layer's `forward` is the paper's
data -> latent map f; the models sample through `inverse`. Masks: `checkerboard_mask` (pixels whose
row + column parity matches) and `channel_mask` (the first half of the channels), and alternating halves of a
vector for the fully connected flows (`half_mask`).

Log-scales are bounded so that an early update cannot blow exp(s) up: RealNVP's s = scale * tanh(raw) with a
learned per-unit scale ("tanh"), or Glow's log sigmoid(raw + 2) ("sigmoid": every scale below 1 at first
close to sigmoid(2) = 0.88).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import Transform
from minigen.ops.elementwise import softplus

__all__ = ["checkerboard_mask", "channel_mask", "half_mask", "AdditiveCoupling", "AffineCoupling", "Scaling"]


def checkerboard_mask(channels: int, height: int, width: int, parity: int) -> np.ndarray:
    """(C, H, W) float32: 1 where (row + column) % 2 == parity."""
    rows, cols = np.indices((height, width))
    return np.broadcast_to(((rows + cols) % 2 == parity), (channels, height, width)).astype(np.float32)


def channel_mask(channels: int, height: int, width: int, parity: int) -> np.ndarray:
    """(C, H, W) float32: 1 on the first half of the channels (parity 0) or the second (parity 1)."""
    mask = np.zeros((channels, height, width), np.float32)
    half = channels // 2
    mask[:half] = 1.0
    return mask if parity == 0 else 1.0 - mask


def half_mask(dims: int, parity: int) -> np.ndarray:
    """(D,) float32: 1 on the even coordinates (parity 0) or the odd ones (parity 1), NICE's partition."""
    return (np.arange(dims) % 2 == parity).astype(np.float32)


class _Coupling(nn.Module, Transform):
    """Shared by the couplings: the mask (a buffer shaped like one event) and the conditioning net."""

    def __init__(self, mask: np.ndarray, net: nn.Module):
        super().__init__()
        self.register_buffer("mask", mg.tensor(np.asarray(mask, np.float32)), persistent=False)
        self.event_dim = self.mask.ndim
        self.net = net

    def _sum_event(self, t: Tensor) -> Tensor:
        return t.sum(axis=tuple(range(t.ndim - self.event_dim, t.ndim)))

    def _mask(self, x: Tensor) -> Tensor:
        return self.mask.astype(x.dtype) if self.mask.dtype != x.dtype else self.mask


class AdditiveCoupling(_Coupling):
    """NICE's coupling y = x + (1 - b) m(b x); volume-preserving (log |det| = 0). net: event -> event."""

    def forward(self, x: Tensor) -> Tensor:
        b = self._mask(x)
        return x + (1 - b) * self.net(b * x)

    def inverse(self, y: Tensor) -> Tensor:
        b = self._mask(y)
        return y - (1 - b) * self.net(b * y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return mg.zeros(x.shape[:x.ndim - self.event_dim], dtype=x.dtype, device=x.device)


class AffineCoupling(_Coupling):
    """RealNVP's coupling y = b x + (1 - b)(x exp(s) + t), [t, raw] = net(b x) split on axis 1 (the channels
    of an image, the units of a vector), s bounded by `bound` ("tanh": scale * tanh(raw), "sigmoid":
    log sigmoid(raw + 2))."""

    def __init__(self, mask: np.ndarray, net: nn.Module, bound: str = "tanh"):
        super().__init__(mask, net)
        if bound not in ("tanh", "sigmoid"):
            raise ValueError(f"AffineCoupling: bound must be 'tanh' or 'sigmoid', got {bound!r}")
        self.bound = bound
        if bound == "tanh":
            self.scale = nn.Parameter(np.ones(self.mask.shape[0], np.float32))

    def shift_and_log_scale(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(t, s) from the masked input, both zero on the masked part (b = 1)."""
        b = self._mask(x)
        out = self.net(b * x)
        half = out.shape[1] // 2
        shift, raw = out[:, :half], out[:, half:]
        if self.bound == "tanh":
            scale = self.scale.reshape((-1,) + (1,) * (self.event_dim - 1))
            log_scale = scale * raw.tanh()
        else:
            log_scale = -softplus(-(raw + 2.0))
        return (1 - b) * shift, (1 - b) * log_scale

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        shift, log_scale = self.shift_and_log_scale(x)
        return x * log_scale.exp() + shift, self._sum_event(log_scale)

    def inverse_and_log_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        shift, log_scale = self.shift_and_log_scale(y)  # b y = b x: the conditioning part is unchanged
        return (y - shift) * (-log_scale).exp(), self._sum_event(log_scale)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[0]

    def inverse(self, y: Tensor) -> Tensor:
        return self.inverse_and_log_det(y)[0]

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[1]


class Scaling(nn.Module, Transform):
    """NICE's diagonal scaling layer y = x exp(S), log |det| = sum S (the last layer of NICE, which lets the
    volume-preserving couplings give some dimensions more weight than others)."""

    def __init__(self, shape: tuple):
        super().__init__()
        self.log_scale = nn.Parameter(np.zeros(shape, np.float32))
        self.event_dim = len(shape)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.log_scale.exp()

    def inverse(self, y: Tensor) -> Tensor:
        return y * (-self.log_scale).exp()

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        batch = x.shape[:x.ndim - self.event_dim]
        return self.log_scale.sum() + mg.zeros(batch, dtype=x.dtype, device=x.device)
