"""Reductions with NumPy's `axis`/`keepdims`, the numerically stable logsumexp/softmax family, and the
cumulative sum along an axis.

One rule for axes, forward and backward alike (`_axes`): an axis must lie in [-ndim, ndim), except that a
0-d tensor accepts 0 and -1 as PyTorch does, naming its one implicit axis of size 1. Reducing a 0-d tensor
over it reduces nothing: sum, mean, max, min and logsumexp give the value, var 0, softmax 1, log_softmax
0, cumsum the value and argmax/argmin 0, all 0-d (keepdims keeps no axis, there being none). Any other
axis is a ValueError naming the op, the shape and the device.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from .elementwise import exp
from .shape import broadcast_to, reshape


def _axes(op: str, x: Tensor, axis) -> tuple:
    """The sorted non-negative axes `axis` names in x (None: all of them); () for a 0-d tensor."""
    ndim = x.ndim
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    lo, hi = (-1, 1) if ndim == 0 else (-ndim, ndim)
    for a in axes:
        if not lo <= a < hi:
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor of shape {x.shape} on {x.device} "
                             f"(valid: {lo} to {hi - 1})")
    normalized = sorted(a % hi for a in axes)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis} for a tensor of shape {x.shape} on {x.device}")
    return tuple(normalized) if ndim else ()


def _keepdims_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if d in axes else s for d, s in enumerate(shape))


def _expand_back(gy: Tensor, f: Function) -> Tensor:
    """Bring a reduced gradient back to the input's shape: reshape to keepdims (a scalar broadcasts as it
    is), then broadcast."""
    return broadcast_to(reshape(gy, _keepdims_shape(f.source, f.axes)) if gy.ndim else gy, f.source)


class Sum(Function):
    """sum over `axes`; d/dx = 1 broadcast back."""

    def forward(self, x):
        self.source = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdims)

    def backward(self, gy):
        return _expand_back(gy, self)


class Max(Function):
    """max over `axes`. Ties split the gradient evenly: d/dx_i = [x_i = max] / #ties (like PyTorch's
    amax), so the gradient stays a valid subgradient and sums to the output gradient."""

    def forward(self, x):
        self.source = x.shape
        y = (x.min if self.minimum else x.max)(axis=self.axes, keepdims=True)
        hit = x == y
        self.share = (hit / hit.sum(axis=self.axes, keepdims=True)).astype(x.dtype)
        return y if self.keepdims else y.reshape([s for d, s in enumerate(x.shape) if d not in self.axes])

    def backward(self, gy):
        return _expand_back(gy, self) * Tensor._make(self.share)


class LogSumExp(Function):
    """log sum exp(x), computed as m + log sum exp(x - m) with m = max(x); d/dx = softmax(x)."""

    def forward(self, x):
        self.source = x.shape
        m = x.max(axis=self.axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # all -inf: log 0 = -inf is the answer
            y = np.log(np.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return y if self.keepdims else y.reshape([s for d, s in enumerate(x.shape) if d not in self.axes])

    def backward(self, gy):
        x = self.inputs[0]
        y = reshape(self.output(), _keepdims_shape(self.source, self.axes))
        return _expand_back(gy, self) * exp(x - y)


class Softmax(Function):
    """softmax along `axis` (a tuple: one axis, none on a 0-d tensor); backward y * (gy - sum(gy * y))."""

    def forward(self, x):
        e = np.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy):
        y = self.output()
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Function):
    """x - logsumexp(x) along `axis` (as Softmax's); backward gy - softmax(x) * sum(gy)."""

    def forward(self, x):
        z = x - x.max(axis=self.axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=self.axis, keepdims=True))

    def backward(self, gy):
        return gy - exp(self.output()) * gy.sum(axis=self.axis, keepdims=True)


class CumSum(Function):
    """y_d = sum_{k<=d} x_k along `axis` (as Softmax's; with `reverse`, y_d = sum_{k>=d} x_k).

    Derivative: dy_d / dx_k = [k <= d], so dL/dx_k = sum_{d>=k} dL/dy_d: the gradient is the cumulative
    sum of gy in the opposite direction (a cumsum again, so every higher derivative comes for free).
    Computed as a running sum of slices (n vectorised adds along the axis), several times faster in NumPy
    than np.cumsum's strided loop on the (n, B, H) blocks that NADE sums along axis 0."""

    def forward(self, x):
        xp = backend.array_module(x)
        if not self.axis:  # a 0-d tensor: the sum of one value
            return xp.array(x, copy=True)
        y = xp.moveaxis(x, self.axis[0], 0)
        y = xp.array(y[::-1] if self.reverse else y, copy=True)
        for d in range(1, len(y)):
            y[d] += y[d - 1]
        return xp.moveaxis(y[::-1] if self.reverse else y, 0, self.axis[0])

    def backward(self, gy):
        return CumSum.apply(gy, axis=self.axis, reverse=not self.reverse)


# ----------------------------------------------------------------------------------- the functions

def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return Sum.apply(x, axes=_axes("sum", x, axis), keepdims=keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """sum / count."""
    axes = _axes("mean", x, axis)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return sum(x, axes, keepdims) / n


def var(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """mean((x - mean(x))^2), NumPy's ddof=0."""
    axes = _axes("var", x, axis)
    d = x - mean(x, axes, keepdims=True)
    return mean(d * d, axes, keepdims)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    _check_nonempty("max", x)
    return Max.apply(x, axes=_axes("max", x, axis), keepdims=keepdims, minimum=False)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    _check_nonempty("min", x)
    return Max.apply(x, axes=_axes("min", x, axis), keepdims=keepdims, minimum=True)


def argmax(x: Tensor, axis=None) -> Tensor:
    """Indices of the maxima along `axis` (of the flattened tensor when None): an integer Tensor, no
    gradient."""
    return _arg("argmax", x, axis)


def argmin(x: Tensor, axis=None) -> Tensor:
    return _arg("argmin", x, axis)


def _arg(op: str, x: Tensor, axis) -> Tensor:
    _check_nonempty(op, x)
    a = None
    if axis is not None:
        if isinstance(axis, (tuple, list)):
            raise ValueError(f"{op}: axis must be None or one int, got {axis!r} (shape {x.shape} on {x.device})")
        axes = _axes(op, x, axis)
        a = axes[0] if axes else None
    return Tensor._make(backend.array_module(x.data).asarray(getattr(x.data, op)(axis=a)))


def logsumexp(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return LogSumExp.apply(x, axes=_axes("logsumexp", x, axis), keepdims=keepdims)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return Softmax.apply(x, axis=_one_axis("softmax", x, axis))


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return LogSoftmax.apply(x, axis=_one_axis("log_softmax", x, axis))


def cumsum(x: Tensor, axis: int = -1, reverse: bool = False) -> Tensor:
    """Cumulative sum along `axis` (np.cumsum's; from the end when `reverse`); the output has x's shape."""
    return CumSum.apply(x, axis=_one_axis("cumsum", x, axis), reverse=bool(reverse))


def _one_axis(op: str, x: Tensor, axis) -> tuple:
    """The axes of an op along one axis (softmax, cumsum) as a tuple: (a,), or () on a 0-d tensor."""
    if isinstance(axis, (tuple, list)) or axis is None:
        raise ValueError(f"{op}: axis must be one int, got {axis!r} (shape {x.shape} on {x.device})")
    return _axes(op, x, axis)


def _check_nonempty(op: str, x: Tensor) -> None:
    if x.data.size == 0:
        raise ValueError(f"{op}: reduction of an empty tensor of shape {x.shape}")
