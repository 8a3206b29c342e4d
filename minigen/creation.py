"""Tensor constructors: zeros, ones, full, arange, randn, rand, *_like. float32 unless told otherwise."""
from __future__ import annotations

import numpy as np

from . import backend
from .autograd import Tensor


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _leaf(data, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).zeros(_shape(shape), dtype), requires_grad)


def ones(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).ones(_shape(shape), dtype), requires_grad)


def full(shape, value: float, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).full(_shape((shape,)), value, dtype), requires_grad)


def arange(start, stop=None, step=1, dtype=np.float32, device: str = "cpu") -> Tensor:
    return _leaf(backend.xp_for(device).arange(start, stop, step, dtype=dtype) if stop is not None
                 else backend.xp_for(device).arange(start, dtype=dtype), False)


def randn(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the device's seeded generator (mg.manual_seed)."""
    return _leaf(backend.rng(device).standard_normal(_shape(shape), dtype=dtype), requires_grad)


def rand(*shape, dtype=np.float32, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the device's seeded generator."""
    return _leaf(backend.rng(device).random(_shape(shape), dtype=dtype), requires_grad)


def randint(low: int, high: int, shape, device: str = "cpu") -> Tensor:
    return _leaf(backend.rng(device).integers(low, high, size=_shape((shape,))), False)


def zeros_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(x.shape, dtype=x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(x.shape, dtype=x.dtype, device=x.device, requires_grad=requires_grad)


def randn_like(x: Tensor) -> Tensor:
    return randn(x.shape, dtype=x.dtype, device=x.device)


def rand_like(x: Tensor) -> Tensor:
    return rand(x.shape, dtype=x.dtype, device=x.device)
