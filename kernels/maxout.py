"""Maxout (Goodfellow et al. 2013): max over `pieces` consecutive channels, argmax kept for backward.

x of shape (..., units * pieces, ...) along `axis` -> y of shape (..., units, ...); channel u * pieces + p
is piece p of unit u (the layout of F.maxout). The kernel (maxout.cu) fuses the max and the argmax
(int8 when pieces < 128, else int32); backward is a gather: each input element takes gy when it was its
group's argmax. Backward and its adjoint (select at the argmax) differentiate each other.
"""
from __future__ import annotations

import numpy as np

from minigen.function import Function
from minigen.tensor import Tensor

from . import _cuda


def _index_dtype(pieces: int):
    return np.int8 if pieces < 128 else np.int32


def _view(shape, pieces: int, axis: int) -> tuple[int, int]:
    """(groups, inner): x viewed as (groups, pieces, inner)."""
    outer = int(np.prod(shape[:axis], dtype=np.int64)) * (shape[axis] // pieces)
    return outer, int(np.prod(shape[axis + 1:], dtype=np.int64))


def _out_shape(shape, pieces: int, axis: int) -> tuple:
    return shape[:axis] + (shape[axis] // pieces,) + shape[axis + 1:]


# ------------------------------------------------------------------------------------ NumPy reference

def reference_maxout(x: np.ndarray, pieces: int, axis: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(y, arg): y = max_p x[.., u * pieces + p, ..], arg the first p reaching it."""
    groups, inner = _view(x.shape, pieces, axis)
    xg = x.reshape(groups, pieces, inner)
    arg = xg.argmax(axis=1).astype(_index_dtype(pieces))
    y = np.take_along_axis(xg, arg[:, None, :].astype(np.intp), axis=1)[:, 0]
    out = _out_shape(x.shape, pieces, axis)
    return y.reshape(out), arg.reshape(out)


def reference_maxout_backward(gy: np.ndarray, arg: np.ndarray, pieces: int, axis: int = 1) -> np.ndarray:
    """gx[.., u * pieces + p, ..] = gy[.., u, ..] where p == arg, else 0."""
    shape = gy.shape[:axis] + (gy.shape[axis] * pieces,) + gy.shape[axis + 1:]
    groups, inner = _view(shape, pieces, axis)
    hit = arg.reshape(groups, 1, inner) == np.arange(pieces).reshape(1, pieces, 1)
    return np.where(hit, gy.reshape(groups, 1, inner), 0).astype(gy.dtype).reshape(shape)


def reference_maxout_select(x: np.ndarray, arg: np.ndarray, pieces: int, axis: int = 1) -> np.ndarray:
    """y[.., u, ..] = x[.., u * pieces + arg, ..]: the adjoint of reference_maxout_backward."""
    groups, inner = _view(x.shape, pieces, axis)
    y = np.take_along_axis(x.reshape(groups, pieces, inner), arg.reshape(groups, 1, inner).astype(np.intp), 1)
    return y.reshape(arg.shape)


# ------------------------------------------------------------------------------------------ CUDA path

def _launch(kernel: str, dtype, pieces: int, n: int, args: tuple) -> None:
    index_t = "signed char" if _index_dtype(pieces) == np.int8 else "int"
    f = _cuda.function("maxout", kernel, dtype, index_t=index_t)
    f((_cuda.blocks(n),), (_cuda.BLOCK,), args)


def cuda_maxout(x, pieces: int, axis: int = 1):
    cp = _cuda.cupy()
    _cuda.check_size("maxout", x.size, x.shape)
    groups, inner = _view(x.shape, pieces, axis)
    out = _out_shape(x.shape, pieces, axis)
    y = cp.empty(out, x.dtype)
    arg = cp.empty(out, _index_dtype(pieces))
    _launch("maxout_forward", x.dtype, pieces, y.size,
            (cp.ascontiguousarray(x), y, arg, np.int32(groups), np.int32(pieces), np.int32(inner)))
    return y, arg


def cuda_maxout_backward(gy, arg, pieces: int, axis: int = 1):
    cp = _cuda.cupy()
    shape = gy.shape[:axis] + (gy.shape[axis] * pieces,) + gy.shape[axis + 1:]
    groups, inner = _view(shape, pieces, axis)
    gx = cp.empty(shape, gy.dtype)
    _launch("maxout_backward", gy.dtype, pieces, gx.size,
            (cp.ascontiguousarray(gy), arg, gx, np.int32(groups), np.int32(pieces), np.int32(inner)))
    return gx


def cuda_maxout_select(x, arg, pieces: int, axis: int = 1):
    cp = _cuda.cupy()
    groups, inner = _view(x.shape, pieces, axis)
    y = cp.empty(arg.shape, x.dtype)
    _launch("maxout_select", x.dtype, pieces, y.size,
            (cp.ascontiguousarray(x), arg, y, np.int32(groups), np.int32(pieces), np.int32(inner)))
    return y


# ------------------------------------------------------------------------------------------ Functions

class Maxout(Function):
    """y = max over pieces; dy/dx is 1 at the argmax, 0 elsewhere."""

    def forward(self, x):
        if _cuda.is_cuda(x):
            y, self.arg = cuda_maxout(x, self.pieces, self.axis)
        else:
            y, self.arg = reference_maxout(x, self.pieces, self.axis)
        return y

    def backward(self, gy):
        return MaxoutScatter.apply(gy, arg=self.arg, pieces=self.pieces, axis=self.axis)


class MaxoutScatter(Function):
    """gx = gy placed at the argmax (zeros elsewhere); its adjoint is MaxoutSelect."""

    def forward(self, gy):
        if _cuda.is_cuda(gy):
            return cuda_maxout_backward(gy, self.arg, self.pieces, self.axis)
        return reference_maxout_backward(gy, self.arg, self.pieces, self.axis)

    def backward(self, ggx):
        return MaxoutSelect.apply(ggx, arg=self.arg, pieces=self.pieces, axis=self.axis)


class MaxoutSelect(Function):
    """y = x at the argmax of each group; its adjoint is MaxoutScatter."""

    def forward(self, x):
        if _cuda.is_cuda(x):
            return cuda_maxout_select(x, self.arg, self.pieces, self.axis)
        return reference_maxout_select(x, self.arg, self.pieces, self.axis)

    def backward(self, gy):
        return MaxoutScatter.apply(gy, arg=self.arg, pieces=self.pieces, axis=self.axis)


def maxout(x: Tensor, pieces: int, axis: int = 1) -> Tensor:
    """max over `pieces` consecutive channels: (N, units * pieces, ...) -> (N, units, ...)."""
    if x.ndim == 0:
        raise ValueError(f"maxout: expected at least one axis, got a scalar on {x.device}")
    axis = axis % x.ndim
    if pieces < 1 or x.shape[axis] % pieces:
        raise ValueError(f"maxout: {x.shape[axis]} channels on axis {axis} are not divisible by "
                         f"{pieces} pieces (shape {x.shape}, device {x.device})")
    return Maxout.apply(x, pieces=int(pieces), axis=axis)
