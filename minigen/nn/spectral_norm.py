"""Spectral normalisation (Miyato et al., 2018): W / sigma(W), sigma estimated by power iteration.

`spectral_norm(module)` replaces the parameter `weight` by `weight_orig` and recomputes `weight` before
every forward. The singular vectors u and v are buffers (saved in state_dict): in training mode each
forward runs `n_power_iterations` steps from the stored u, in eval mode none. sigma = u^T W v is built
with the engine with u and v held constant, so the gradient flows through W / sigma(W) as in PyTorch.
On CUDA (rows on dim 0) the fused kernel minigen.kernels.spectral_norm does the same in a few launches.
"""
from __future__ import annotations

from .. import backend, kernels
from ..autograd import Tensor
from ..ops.linalg import matmul
from ..ops.shape import reshape, transpose
from .module import Module, Parameter


def _normalize(a, eps: float):
    """a / max(||a||, eps)."""
    xp = backend.array_module(a)
    return a / xp.maximum(xp.linalg.norm(a), eps)


def power_iteration(w, u, v, n: int, eps: float = 1e-12) -> tuple:
    """n steps of v <- normalize(W^T u), u <- normalize(W v) on raw arrays; W of shape (h, w)."""
    for _ in range(n):
        v = _normalize(w.T @ u, eps)
        u = _normalize(w @ v, eps)
    return u, v


def _matrix(weight: Tensor, dim: int) -> Tensor:
    """The weight as a matrix (weight.shape[dim], rest)."""
    if dim != 0:
        axes = (dim,) + tuple(d for d in range(weight.ndim) if d != dim)
        weight = transpose(weight, axes)
    return reshape(weight, (weight.shape[0], -1))


class _SpectralNormHook:
    """The forward pre-hook that sets module.<name> = <name>_orig / sigma before each forward."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float):
        self.name, self.n_power_iterations, self.dim, self.eps = name, n_power_iterations, dim, eps

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        weight = getattr(module, self.name + "_orig")
        u_buf, v_buf = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        if self.dim == 0 and kernels.active(weight.data, u_buf.data, v_buf.data):
            steps = self.n_power_iterations if do_power_iteration else 0
            return kernels.spectral_norm.spectral_norm(weight, u_buf.data, v_buf.data, steps, self.eps)
        w_mat = _matrix(weight, self.dim)
        if do_power_iteration and self.n_power_iterations > 0:
            u_buf.data, v_buf.data = power_iteration(w_mat.data, u_buf.data, v_buf.data,
                                                     self.n_power_iterations, self.eps)
        sigma = matmul(u_buf.detach(), matmul(w_mat, v_buf.detach()))
        return weight / sigma

    def __call__(self, module: Module, args) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1, eps: float = 1e-12,
                  dim: int | None = None) -> Module:
    """Apply spectral normalisation to `module.<name>` in place and return the module.

    dim (the axis that indexes the rows of the matrix) defaults to 0, or 1 for ConvTranspose layers."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            raise RuntimeError(f"spectral_norm: {type(module).__name__}.{name} is already spectrally "
                               "normalized")
    weight = module._parameters.get(name)
    if not isinstance(weight, Parameter):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if n_power_iterations < 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be >= 0, got {n_power_iterations}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    hook = _SpectralNormHook(name, n_power_iterations, dim, eps)
    w_mat = _matrix(weight.detach(), dim).data
    rng = backend.rng(weight.device)
    u = _normalize(rng.standard_normal(w_mat.shape[0]).astype(weight.dtype), eps)
    v = _normalize(rng.standard_normal(w_mat.shape[1]).astype(weight.dtype), eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach())
    module.register_buffer(name + "_u", Tensor(u))
    module.register_buffer(name + "_v", Tensor(v))
    module.register_forward_pre_hook(hook)
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo spectral_norm: `name` becomes a Parameter again holding the current W / sigma (the same
    Parameter object as `name`_orig, so optimizers keep tracking it)."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, _SpectralNormHook) and hook.name == name:
            weight = hook.compute_weight(module, do_power_iteration=False)
            param = module._parameters[name + "_orig"]
            del module._forward_pre_hooks[key]
            del module._parameters[name + "_orig"]
            del module._buffers[name + "_u"]
            del module._buffers[name + "_v"]
            module.__dict__.pop(name, None)
            param.data = weight.data
            module.register_parameter(name, param)
            return module
    raise ValueError(f"remove_spectral_norm: {type(module).__name__}.{name} is not spectrally normalized")


class SpectralNorm(Module):
    """A wrapper: SpectralNorm(layer)(x) = layer(x) with layer.<name> spectrally normalized."""

    def __init__(self, module: Module, name: str = "weight", n_power_iterations: int = 1,
                 eps: float = 1e-12, dim: int | None = None):
        super().__init__()
        self.module = spectral_norm(module, name, n_power_iterations, eps, dim)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)
