"""Glow's invertible 1x1 convolution in the LU parametrisation (Kingma & Dhariwal, 2018, sec. 3.2).

A 1x1 convolution mixes the C channels at every position with one matrix W (C, C):

    y[:, :, i, j] = W x[:, :, i, j],    log |det| = H W log |det W|

With W = P L (U + diag(s)), P a fixed permutation, L unit lower-triangular, U strictly upper-triangular and
s = sign * exp(log_s) (sign fixed), log |det W| = sum log |s|: O(C) instead of O(C^3). W starts as a random
rotation, factorised once (partial-pivoting LU, `lu_decompose`). The inverse (sampling only) solves with W's
inverse computed on the raw arrays, so it records no graph.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.distributions import Transform

__all__ = ["lu_decompose", "Invertible1x1Conv"]


def lu_decompose(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, L, U) with a = P L U, L unit lower-triangular, U upper-triangular (partial pivoting)."""
    n = a.shape[0]
    u, lower, perm = a.astype(np.float64).copy(), np.eye(n), np.arange(n)
    for k in range(n - 1):
        pivot = k + int(np.argmax(np.abs(u[k:, k])))
        u[[k, pivot]], perm[[k, pivot]] = u[[pivot, k]], perm[[pivot, k]]
        lower[[k, pivot], :k] = lower[[pivot, k], :k]
        lower[k + 1:, k] = u[k + 1:, k] / u[k, k]
        u[k + 1:] -= lower[k + 1:, k:k + 1] * u[k]
    p = np.eye(n)[perm].T  # rows were permuted by perm: a[perm] = L U, so a = P L U with P[perm[i], i] = 1
    return p, lower, np.triu(u)


class Invertible1x1Conv(nn.Module, Transform):
    """y = W x over the channels of (C, H, W) events, W = P L (U + diag(sign exp(log_s)))."""

    event_dim = 3

    def __init__(self, channels: int, seed: int = 0):
        super().__init__()
        rotation = np.linalg.qr(np.random.default_rng(seed).standard_normal((channels, channels)))[0]
        p, lower, upper = lu_decompose(rotation)
        s = np.diag(upper)
        self.register_buffer("P", mg.tensor(p.astype(np.float32)))
        self.register_buffer("sign", mg.tensor(np.sign(s).astype(np.float32)))
        self.register_buffer("lower_mask", mg.tensor(np.tril(np.ones((channels, channels), np.float32), -1)),
                             persistent=False)
        self.L = nn.Parameter(lower.astype(np.float32))
        self.U = nn.Parameter(np.triu(upper, 1).astype(np.float32))
        self.log_s = nn.Parameter(np.log(np.abs(s)).astype(np.float32))

    def weight(self) -> Tensor:
        """W = P (L * strict-lower + I) (U * strict-upper + diag(sign exp(log_s)))."""
        c = self.log_s.shape[0]
        eye = mg.tensor(np.eye(c), device=self.log_s.device).astype(self.L.dtype)
        mask = self.lower_mask.astype(self.L.dtype)
        lower = self.L * mask + eye
        upper = self.U * mask.T + eye * (self.sign * self.log_s.exp())
        return self.P @ lower @ upper

    def _mix(self, w: Tensor, x: Tensor) -> Tensor:
        *lead, c, h, wd = x.shape
        return (w @ x.reshape(-1, c, h * wd)).reshape(*lead, c, h, wd)

    def forward(self, x: Tensor) -> Tensor:
        return self._mix(self.weight(), x)

    def inverse(self, y: Tensor) -> Tensor:
        w = self.weight().data
        w_inv = backend.array_module(w).linalg.inv(w)
        return self._mix(Tensor._make(w_inv), y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        return h * w * self.log_s.sum() + mg.zeros(x.shape[:-3], dtype=x.dtype, device=x.device)
