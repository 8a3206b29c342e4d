"""Planar and radial flows (Rezende & Mohamed, 2015, sec. 4.1), the first flows used as a VAE posterior.

    planar:  f(z) = z + u_hat tanh(w.z + b),  psi = (1 - tanh^2(w.z + b)) w
             log |det df/dz| = log |1 + u_hat . psi|                      (the matrix determinant lemma)
             u_hat = u + (m(w.u) - w.u) w / |w|^2, m(a) = -1 + softplus(a), so that w.u_hat >= -1 and f is
             invertible (the paper's appendix A.1)
    radial:  f(z) = z + beta_hat h(r) (z - z0), r = |z - z0|, h = 1 / (alpha + r), alpha = softplus(raw) > 0
             log |det| = (D - 1) log(1 + beta_hat h) + log(1 + beta_hat h - beta_hat h^2 r)
             beta_hat = -alpha + softplus(beta) >= -alpha (invertibility, appendix A.2)

Neither has a closed-form inverse; `inverse` solves the one scalar equation each reduces to (w.z for planar,
r for radial) by bisection on the raw arrays (the maps are monotone in that scalar), for tests and checks
only (a VAE posterior never inverts).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.distributions import Transform
from minigen.ops.elementwise import softplus

__all__ = ["PlanarFlow", "RadialFlow"]


def _bisect(fn, lo, hi, iterations: int = 200):
    """The root of a function increasing in its argument between lo and hi (arrays, elementwise)."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = fn(mid) < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


class PlanarFlow(nn.Module, Transform):
    """f(z) = z + u_hat tanh(w.z + b) on vectors of `dims`."""

    event_dim = 1

    def __init__(self, dims: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.u = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.w = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.b = nn.Parameter(np.zeros((), np.float32))

    def u_hat(self) -> Tensor:
        wu = (self.w * self.u).sum()
        return self.u + (softplus(wu) - 1 - wu) * self.w / (self.w * self.w).sum()

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        u = self.u_hat()
        t = ((z * self.w).sum(axis=-1, keepdims=True) + self.b).tanh()
        psi_u = (1 - t * t) * (self.w * u).sum()
        return z + u * t, (1 + psi_u).abs().log().squeeze(-1)

    def forward(self, z: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[0]

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[1]

    def inverse(self, y: Tensor) -> Tensor:
        """w.y = a + (w.u_hat) tanh(a + b) is increasing in a = w.z: solve for a, then z = y - u_hat tanh(a + b)."""
        u, w, b = self.u_hat().numpy(), self.w.numpy(), float(self.b.numpy())
        yd = backend.to_device(y.data, "cpu")
        target = yd @ w
        wu = float(w @ u)
        a = _bisect(lambda v: v + wu * np.tanh(v + b) - target, target - abs(wu) - 1, target + abs(wu) + 1)
        return mg.tensor((yd - np.tanh(a + b)[..., None] * u).astype(yd.dtype), device=y.device)


class RadialFlow(nn.Module, Transform):
    """f(z) = z + beta_hat h(r) (z - z0), h = 1 / (alpha + r), on vectors of `dims`."""

    event_dim = 1

    def __init__(self, dims: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.z0 = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.alpha_raw = nn.Parameter(np.zeros((), np.float32))
        self.beta = nn.Parameter(np.zeros((), np.float32))

    def _ab(self) -> tuple[Tensor, Tensor]:
        alpha = softplus(self.alpha_raw)
        return alpha, softplus(self.beta) - alpha

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        alpha, beta = self._ab()
        d = z - self.z0
        r = ((d * d).sum(axis=-1, keepdims=True) + 1e-12).sqrt()
        h = 1 / (alpha + r)
        bh = beta * h
        log_det = (z.shape[-1] - 1) * (1 + bh).abs().log() + (1 + bh - beta * h * h * r).abs().log()
        return z + bh * d, log_det.squeeze(-1)

    def forward(self, z: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[0]

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[1]

    def inverse(self, y: Tensor) -> Tensor:
        """|y - z0| = r (1 + beta_hat / (alpha + r)) is increasing in r: solve for r, then scale back."""
        alpha, beta = (float(v.numpy()) for v in self._ab())
        yd = backend.to_device(y.data, "cpu")
        dy = yd - self.z0.numpy()
        ry = np.sqrt((dy * dy).sum(axis=-1))
        r = _bisect(lambda v: v * (1 + beta / (alpha + v)) - ry, np.zeros_like(ry), ry + abs(beta) + 1)
        scale = 1 + beta / (alpha + r)
        return mg.tensor((self.z0.numpy() + dy / scale[..., None]).astype(yd.dtype), device=y.device)
