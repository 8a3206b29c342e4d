"""Elementwise Functions with NumPy broadcasting; broadcasting is undone by `sum_to` in backward."""
from __future__ import annotations


import numpy as np

from ..function import Function
from ..tensor import Tensor, as_tensor
from .shape import sum_to


# ------------------------------------------------------------------------------------------- binary

class Add(Function):
    """d(a+b) = da + db."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(gy, b.shape)


class Sub(Function):
    """d(a-b) = da - db."""

    def forward(self, a, b):
        return a - b

    def backward(self, gy):
        a, b = self.inputs
        return sum_to(gy, a.shape), sum_to(-gy, b.shape) if b.requires_grad else None


class Mul(Function):
    """d(ab) = b da + a db."""

    def forward(self, a, b):
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return (sum_to(gy * b, a.shape) if a.requires_grad else None,
                sum_to(gy * a, b.shape) if b.requires_grad else None)


class Div(Function):
    """d(a/b) = da / b - a db / b^2."""

    def forward(self, a, b):
        return a / b

    def backward(self, gy):
        a, b = self.inputs
        ga = gy / b
        return (sum_to(ga, a.shape) if a.requires_grad else None,
                sum_to(-ga * a / b, b.shape) if b.requires_grad else None)


class Pow(Function):
    """d(a^b) = b a^(b-1) da + a^b log(a) db (the db term only when b requires grad)."""

    def forward(self, a, b):
        return a ** b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(gy * b * a ** (b - 1), a.shape) if a.requires_grad else None
        gb = sum_to(gy * self.output() * log(a), b.shape) if b.requires_grad else None
        return ga, gb


class Maximum(Function):
    """max(a, b) (min(a, b) when `minimum`); d/da = [a wins] + [a = b] / 2: ties split the gradient
    evenly, as the max/min reductions do."""

    def forward(self, a, b):
        y = np.minimum(a, b) if self.minimum else np.maximum(a, b)
        self.share = ((a < b if self.minimum else a > b) + 0.5 * (a == b)).astype(y.dtype)
        return y

    def backward(self, gy):
        a, b = self.inputs
        return (sum_to(gy * Tensor._make(self.share), a.shape) if a.requires_grad else None,
                sum_to(gy * Tensor._make(1 - self.share), b.shape) if b.requires_grad else None)


# -------------------------------------------------------------------------------------------- unary

class Clone(Function):
    """A copy with its own memory; d clone(x) = dx."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


class Neg(Function):
    """d(-x) = -dx."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Exp(Function):
    """d exp(x) = exp(x) dx."""

    def forward(self, x):
        return np.exp(x)

    def backward(self, gy):
        return gy * self.output()


class Log(Function):
    """d log(x) = dx / x."""

    def forward(self, x):
        return np.log(x)

    def backward(self, gy):
        return gy / self.inputs[0]


class Expm1(Function):
    """expm1(x) = exp(x) - 1, accurate where exp(x) is near 1 (|x| small); d expm1(x) = exp(x) dx
    = (expm1(x) + 1) dx."""

    def forward(self, x):
        return np.expm1(x)

    def backward(self, gy):
        return gy * (self.output() + 1)


class Log1p(Function):
    """log1p(x) = log(1 + x), accurate where x is near 0; d log1p(x) = dx / (1 + x)."""

    def forward(self, x):
        return np.log1p(x)

    def backward(self, gy):
        return gy / (self.inputs[0] + 1)


class Sqrt(Function):
    """d sqrt(x) = dx / (2 sqrt(x))."""

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, gy):
        return gy / (2 * self.output())


class Abs(Function):
    """d|x| = sign(x) dx (0 at 0)."""

    def forward(self, x):
        self.sign = np.sign(x)
        return np.abs(x)

    def backward(self, gy):
        return gy * Tensor._make(self.sign)


class Clip(Function):
    """clip(x, lo, hi); d/dx = 1 inside [lo, hi], 0 outside."""

    def forward(self, x):
        self.inside = ((x >= (-np.inf if self.lo is None else self.lo)) &
                       (x <= (np.inf if self.hi is None else self.hi))).astype(x.dtype)
        if self.lo is None and self.hi is None:  # NumPy copies; CuPy refuses clip(x, None, None)
            return x.copy()
        return np.clip(x, self.lo, self.hi)

    def backward(self, gy):
        return gy * Tensor._make(self.inside)


# ----------------------------------------------------------------------------------- the functions

def add(a, b) -> Tensor:
    return Add.apply(a, b)


def sub(a, b) -> Tensor:
    return Sub.apply(a, b)


def mul(a, b) -> Tensor:
    return Mul.apply(a, b)


def div(a, b) -> Tensor:
    return Div.apply(a, b)


def pow(a, b) -> Tensor:
    return Pow.apply(a, b)


def maximum(a, b) -> Tensor:
    return Maximum.apply(a, b, minimum=False)


def minimum(a, b) -> Tensor:
    return Maximum.apply(a, b, minimum=True)


def clone(x) -> Tensor:
    return Clone.apply(x)


def neg(x) -> Tensor:
    return Neg.apply(x)


def exp(x) -> Tensor:
    return Exp.apply(x)


def log(x) -> Tensor:
    return Log.apply(x)


def expm1(x) -> Tensor:
    return Expm1.apply(x)


def log1p(x) -> Tensor:
    return Log1p.apply(x)


def sqrt(x) -> Tensor:
    return Sqrt.apply(x)


def abs(x) -> Tensor:
    return Abs.apply(x)


def clip(x, lo=None, hi=None) -> Tensor:
    return Clip.apply(x, lo=lo, hi=hi)


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002  (PyTorch's names)
    """clip(x, min, max) under PyTorch's name."""
    return Clip.apply(x, lo=min, hi=max)


_COMPARE = {"eq": np.equal, "ne": np.not_equal, "lt": np.less, "le": np.less_equal, "gt": np.greater,
            "ge": np.greater_equal}


def compare(op: str, a, b) -> Tensor:
    """Elementwise comparison; a boolean Tensor with no gradient."""
    ta = a if isinstance(a, Tensor) else None
    tb = b if isinstance(b, Tensor) else None
    a = as_tensor(a, tb).data
    b = as_tensor(b, ta).data
    if type(a) is not type(b):
        raise RuntimeError(f"{op}: expected both inputs on one device")
    try:
        return Tensor._make(_COMPARE[op](a, b))
    except ValueError as e:
        raise ValueError(f"{op}: {e} (shapes {tuple(a.shape)} and {tuple(b.shape)})") from e


# activations.py imports exp from here, so its names are re-exported at the end
from .activations import (Elu, Erf, Erfc, LeakyRelu, Relu, Sigmoid, SigmoidGrad, Softplus, Tanh,  # noqa: E402,F401
                          TanhGrad, elu, erf, erfc, leaky_relu, relu, sigmoid, softplus, tanh)
