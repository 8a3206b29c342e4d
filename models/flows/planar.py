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

Amortised (the paper's sec. 4.2 and 6: "the parameters of the flow are output by the inference network"):
`AmortizedPlanar` / `AmortizedRadial` are the same maps with per-example parameters, a (..., P) tensor the
encoder computes from x (P = 2D + 1 for planar: u, w, b; D + 2 for radial: z0, alpha, beta), broadcast
against z's batch axes; `PlanarFlow` / `RadialFlow` hold one global set as Parameters.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.distributions import Transform
from minigen.ops.elementwise import softplus

__all__ = ["PlanarFlow", "RadialFlow", "AmortizedPlanar", "AmortizedRadial", "planar", "radial"]


def _bisect(fn, lo, hi, iterations: int = 200):
    """The root of a function increasing in its argument between lo and hi (arrays, elementwise)."""
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = fn(mid) < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum(axis=-1, keepdims=True)


def planar_u_hat(u: Tensor, w: Tensor) -> Tensor:
    """u_hat = u + (m(w.u) - w.u) w / |w|^2, m(a) = -1 + softplus(a): w.u_hat >= -1 (per row of (..., D))."""
    wu = _dot(w, u)
    return u + (softplus(wu) - 1 - wu) * w / _dot(w, w)


def planar(z: Tensor, u: Tensor, w: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """(z + u_hat tanh(w.z + b), log |1 + u_hat . psi(z)|); u, w (..., D) and b (..., 1) broadcast with z."""
    u = planar_u_hat(u, w)
    t = (_dot(z, w) + b).tanh()
    return z + u * t, (1 + (1 - t * t) * _dot(w, u)).abs().log().squeeze(-1)


def planar_inverse(y: Tensor, u: Tensor, w: Tensor, b: Tensor) -> Tensor:
    """w.y = a + (w.u_hat) tanh(a + b) is increasing in a = w.z: solve for a, then z = y - u_hat tanh(a + b)."""
    cpu = lambda t: backend.to_device(t.data, "cpu")  # noqa: E731
    uh, wd, bd, yd = cpu(planar_u_hat(u, w)), cpu(w), cpu(b), cpu(y)
    target, wu = (yd * wd).sum(-1, keepdims=True), (wd * uh).sum(-1, keepdims=True)
    a = _bisect(lambda v: v + wu * np.tanh(v + bd) - target, target - np.abs(wu) - 1, target + np.abs(wu) + 1)
    return mg.tensor((yd - np.tanh(a + bd) * uh).astype(yd.dtype), device=y.device)


def radial_ab(alpha_raw: Tensor, beta_raw: Tensor) -> tuple[Tensor, Tensor]:
    """(alpha, beta_hat) = (softplus(alpha_raw), -alpha + softplus(beta_raw)): alpha > 0, beta_hat >= -alpha."""
    alpha = softplus(alpha_raw)
    return alpha, softplus(beta_raw) - alpha


def radial(z: Tensor, z0: Tensor, alpha_raw: Tensor, beta_raw: Tensor) -> tuple[Tensor, Tensor]:
    """(z + beta_hat h(r) (z - z0), its log |det|); z0 (..., D), alpha_raw and beta_raw (..., 1) broadcast."""
    alpha, beta = radial_ab(alpha_raw, beta_raw)
    d = z - z0
    r = (_dot(d, d) + 1e-12).sqrt()
    h = 1 / (alpha + r)
    bh = beta * h
    log_det = (z.shape[-1] - 1) * (1 + bh).abs().log() + (1 + bh - beta * h * h * r).abs().log()
    return z + bh * d, log_det.squeeze(-1)


def radial_inverse(y: Tensor, z0: Tensor, alpha_raw: Tensor, beta_raw: Tensor) -> Tensor:
    """|y - z0| = r (1 + beta_hat / (alpha + r)) is increasing in r: solve for r, then scale back."""
    cpu = lambda t: backend.to_device(t.data, "cpu")  # noqa: E731
    alpha, beta = (cpu(v) for v in radial_ab(alpha_raw, beta_raw))
    yd, z0d = cpu(y), cpu(z0)
    dy = yd - z0d
    ry = np.sqrt((dy * dy).sum(axis=-1, keepdims=True))
    r = _bisect(lambda v: v * (1 + beta / (alpha + v)) - ry, np.zeros_like(ry), ry + np.abs(beta) + 1)
    return mg.tensor((z0d + dy / (1 + beta / (alpha + r))).astype(yd.dtype), device=y.device)


class _Step(Transform):
    """A vector flow step given by `_parts()` -> the arguments of its map and of its inverse."""

    event_dim = 1
    map = inverse_map = None

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return type(self).map(z, *self._parts())

    def forward(self, z: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[0]

    def log_abs_det_jacobian(self, z: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(z)[1]

    def inverse(self, y: Tensor) -> Tensor:
        return type(self).inverse_map(y, *self._parts())


class PlanarFlow(nn.Module, _Step):
    """f(z) = z + u_hat tanh(w.z + b) on vectors of `dims`, one global (u, w, b)."""

    map, inverse_map = staticmethod(planar), staticmethod(planar_inverse)
    forward = _Step.forward  # nn.Module's forward comes first in the MRO

    def __init__(self, dims: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.u = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.w = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.b = nn.Parameter(np.zeros(1, np.float32))

    def u_hat(self) -> Tensor:
        return planar_u_hat(self.u, self.w)

    def _parts(self) -> tuple:
        return self.u, self.w, self.b


class RadialFlow(nn.Module, _Step):
    """f(z) = z + beta_hat h(r) (z - z0), h = 1 / (alpha + r), on vectors of `dims`, one global (z0, alpha, beta)."""

    map, inverse_map = staticmethod(radial), staticmethod(radial_inverse)
    forward = _Step.forward

    def __init__(self, dims: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.z0 = nn.Parameter(rng.normal(0, 0.1, dims).astype(np.float32))
        self.alpha_raw = nn.Parameter(np.zeros(1, np.float32))
        self.beta = nn.Parameter(np.zeros(1, np.float32))

    def _parts(self) -> tuple:
        return self.z0, self.alpha_raw, self.beta


class AmortizedPlanar(_Step):
    """The planar map with per-example parameters: `params` (..., 2D + 1) = [u, w, b] from the encoder."""

    map, inverse_map = staticmethod(planar), staticmethod(planar_inverse)

    @staticmethod
    def size(dims: int) -> int:
        return 2 * dims + 1

    def __init__(self, params: Tensor):
        self.params, self.dims = params, (params.shape[-1] - 1) // 2

    def u_hat(self) -> Tensor:
        return planar_u_hat(*self._parts()[:2])

    def _parts(self) -> tuple:
        d, p = self.dims, self.params
        return p[..., :d], p[..., d:2 * d], p[..., 2 * d:]


class AmortizedRadial(_Step):
    """The radial map with per-example parameters: `params` (..., D + 2) = [z0, alpha_raw, beta_raw]."""

    map, inverse_map = staticmethod(radial), staticmethod(radial_inverse)

    @staticmethod
    def size(dims: int) -> int:
        return dims + 2

    def __init__(self, params: Tensor):
        self.params, self.dims = params, params.shape[-1] - 2

    def _parts(self) -> tuple:
        d, p = self.dims, self.params
        return p[..., :d], p[..., d:d + 1], p[..., d + 1:]
