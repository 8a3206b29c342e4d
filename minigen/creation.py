"""Tensor constructors: zeros, ones, full, arange, randn, rand, *_like, from_numpy. Float tensors get the
default dtype (float32 unless mg.set_default_dtype says otherwise) unless told; arange of integers and
randint give int64, as in PyTorch."""
from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .autograd import Tensor
from .dtypes import get_default_dtype, resolve


def _shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _leaf(data, requires_grad: bool) -> Tensor:
    return Tensor(data, requires_grad=requires_grad)


def zeros(*shape, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).zeros(_shape(shape), resolve(dtype)), requires_grad)


def ones(*shape, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).ones(_shape(shape), resolve(dtype)), requires_grad)


def full(shape, value: float, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    return _leaf(backend.xp_for(device).full(_shape((shape,)), value, resolve(dtype)), requires_grad)


def arange(start, stop=None, step=1, dtype=None, device: str = "cpu") -> Tensor:
    """[start, stop) by step; int64 when start, stop and step are all integers, else the default float
    dtype (torch.arange's rule)."""
    if dtype is None:
        ends = (start, step) if stop is None else (start, stop, step)
        integral = all(isinstance(v, numbers.Integral) for v in ends)
        dtype = np.int64 if integral else get_default_dtype()
    xp = backend.xp_for(device)
    return _leaf(xp.arange(start, stop, step, dtype=dtype) if stop is not None else xp.arange(start, dtype=dtype),
                 False)


def randn(*shape, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the device's seeded generator (mg.manual_seed)."""
    return _leaf(backend.rng(device).standard_normal(_shape(shape), dtype=resolve(dtype)), requires_grad)


def rand(*shape, dtype=None, device: str = "cpu", requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from the device's seeded generator."""
    return _leaf(backend.rng(device).random(_shape(shape), dtype=resolve(dtype)), requires_grad)


def randint(low: int, high: int, shape, device: str = "cpu") -> Tensor:
    return _leaf(backend.rng(device).integers(low, high, size=_shape((shape,))), False)


def from_numpy(a: np.ndarray) -> Tensor:
    """A Tensor sharing `a`'s memory (no copy: writes to one show in the other), as torch.from_numpy."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(a).__name__}")
    return Tensor(a)


def zeros_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return zeros(x.shape, dtype=x.dtype, device=x.device, requires_grad=requires_grad)


def ones_like(x: Tensor, requires_grad: bool = False) -> Tensor:
    return ones(x.shape, dtype=x.dtype, device=x.device, requires_grad=requires_grad)


def randn_like(x: Tensor) -> Tensor:
    return randn(x.shape, dtype=x.dtype, device=x.device)


def rand_like(x: Tensor) -> Tensor:
    return rand(x.shape, dtype=x.dtype, device=x.device)
