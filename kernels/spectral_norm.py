"""Spectral normalisation (Miyato et al. 2018): y = W / sigma(W), sigma from power iteration.

W of shape (out, ...) is viewed as the matrix (out, rest). Each call runs `n_power_iterations` steps
v = normalize(W^T u), u = normalize(W v) on the persistent vectors u (out,) and v (rest,), updated in
place (as PyTorch's buffers), then sigma = u^T W v. The kernel (spectral_norm.cu) fuses each step into
three launches plus one for the scaling. As in PyTorch, u and v are constants for the gradient:
d(W / sigma) = dW / sigma - W (u^T dW v) / sigma^2.
"""
from __future__ import annotations

import numpy as np

from minigen.function import Function
from minigen.tensor import Tensor

from . import _cuda


def _normalize(a: np.ndarray, eps: float) -> np.ndarray:
    return a / max(float(np.sqrt((a * a).sum())), eps)


# ------------------------------------------------------------------------------------ NumPy reference

def reference_spectral_norm(w: np.ndarray, u: np.ndarray, v: np.ndarray, n_power_iterations: int = 1,
                            eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(W / sigma, u, v, sigma) after n steps of v = W^T u / |W^T u|, u = W v / |W v|; sigma = u^T W v."""
    mat = w.reshape(w.shape[0], -1)
    for _ in range(n_power_iterations):
        v = _normalize(mat.T @ u, eps)
        u = _normalize(mat @ v, eps)
    sigma = np.asarray(u @ (mat @ v), dtype=w.dtype)
    return w / sigma, u, v, sigma


# ------------------------------------------------------------------------------------------ CUDA path

def cuda_spectral_norm(w, u, v, n_power_iterations: int = 1, eps: float = 1e-12):
    """The kernels on CuPy arrays: same contract as reference_spectral_norm (u, v not modified)."""
    cp = _cuda.cupy()
    _cuda.check_size("spectral_norm", w.size, w.shape)
    mat = cp.ascontiguousarray(w).reshape(w.shape[0], -1)
    m, n = mat.shape
    dt = w.dtype
    scalar = dt.type
    u, v = cp.ascontiguousarray(u, dt), cp.ascontiguousarray(v, dt)
    sigma = cp.empty((), dt)
    if n_power_iterations == 0:
        sigma[...] = u @ (mat @ v)
    else:
        v_raw, u_raw = cp.empty(n, dt), cp.empty(m, dt)
        wt_u, w_v, normalize = (_cuda.function("spectral_norm", k, dt)
                                for k in ("sn_wt_u", "sn_w_v", "sn_normalize"))
        for _ in range(n_power_iterations):
            u_in, v, u = u, cp.empty(n, dt), cp.empty(m, dt)
            wt_u((_cuda.blocks(n),), (_cuda.BLOCK,), (mat, u_in, v_raw, np.int32(m), np.int32(n)))
            w_v((min(m, _cuda.MAX_BLOCKS),), (_cuda.BLOCK,), (mat, v_raw, v, u_raw, np.int32(m), np.int32(n),
                                                              scalar(eps)))
            normalize((1,), (_cuda.BLOCK,), (u_raw, u, sigma, np.int32(m), scalar(eps)))
    y = cp.empty(w.shape, dt)
    _cuda.function("spectral_norm", "sn_scale", dt)((_cuda.blocks(w.size),), (_cuda.BLOCK,),
                                                    (mat, sigma, y, np.int32(w.size)))
    return y, u, v, sigma


# ------------------------------------------------------------------------------------------- Function

class SpectralNorm(Function):
    """y = W / (u^T W v) with u, v from power iteration, held constant for the gradient."""

    def forward(self, w):
        run = cuda_spectral_norm if _cuda.is_cuda(w) else reference_spectral_norm
        y, u, v, self.sigma = run(w, self.u, self.v, self.n_power_iterations, self.eps)
        self.u[...] = u
        self.v[...] = v
        self.uv = (u[:, None] * v[None, :]).reshape(w.shape)
        return y

    def backward(self, gy):
        w = self.inputs[0]
        uv = Tensor._make(self.uv)
        sigma = (w * uv).sum()
        return gy / sigma - uv * ((gy * w).sum() / (sigma * sigma))


def spectral_norm(weight: Tensor, u, v, n_power_iterations: int = 1, eps: float = 1e-12) -> Tensor:
    """weight / sigma(weight); u (out,) and v (prod(rest),) are arrays on weight's device, updated in place.

    n_power_iterations=0 uses u and v as they are (evaluation mode)."""
    m = weight.shape[0] if weight.ndim else 0
    n = weight.numel() // max(m, 1)
    if weight.ndim < 1 or tuple(u.shape) != (m,) or tuple(v.shape) != (n,):
        raise ValueError(f"spectral_norm: weight {weight.shape} needs u of shape ({m},) and v of shape "
                         f"({n},), got {tuple(u.shape)} and {tuple(v.shape)} (device {weight.device})")
    if _cuda.backend.device_of(u) != weight.device or _cuda.backend.device_of(v) != weight.device:
        raise RuntimeError(f"spectral_norm: u and v must be on the weight's device {weight.device}")
    if n_power_iterations < 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be >= 0, got {n_power_iterations}")
    return SpectralNorm.apply(weight, u=u, v=v, n_power_iterations=int(n_power_iterations), eps=float(eps))
