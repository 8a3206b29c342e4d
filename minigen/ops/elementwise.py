"""Elementwise Functions with NumPy broadcasting; broadcasting is undone by `sum_to` in backward."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor, as_tensor
from .shape import sum_to, where


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


class Sigmoid(Function):
    """sigmoid(x) = 1/(1+exp(-x)); d/dx = s(1-s). Accurate for very negative x too (tiny, not 0), where
    exp(-x) may overflow to inf and give the right limit 0."""

    def forward(self, x):
        with np.errstate(over="ignore"):
            return 1 / (1 + np.exp(-x))

    def backward(self, gy):
        return SigmoidGrad.apply(gy, self.output())


class SigmoidGrad(Function):
    """sigmoid's backward as one op: gx = gy s (1 - s) from gy and s = sigmoid(x); its own backward is
    d/dgy = s (1 - s), d/ds = gy (1 - 2s)."""

    def forward(self, gy, s):
        return gy * s * (1 - s)

    def backward(self, ggx):
        gy, s = self.inputs
        return (SigmoidGrad.apply(ggx, s) if gy.requires_grad else None,
                ggx * gy * (1 - 2 * s) if s.requires_grad else None)


class Tanh(Function):
    """d tanh(x) = (1 - tanh(x)^2) dx."""

    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        return TanhGrad.apply(gy, self.output())


class TanhGrad(Function):
    """tanh's backward as one op: gx = gy (1 - t^2) from gy and t = tanh(x); its own backward is
    d/dgy = 1 - t^2, d/dt = -2 gy t."""

    def forward(self, gy, t):
        return gy * (1 - t * t)

    def backward(self, ggx):
        gy, t = self.inputs
        return (TanhGrad.apply(ggx, t) if gy.requires_grad else None,
                -2 * ggx * gy * t if t.requires_grad else None)


class Relu(Function):
    """relu(x) = max(x, 0); d/dx = [x > 0].

    max(x, 0), not x * [x > 0]: the product gives nan at x = -inf (-inf * 0) and -0.0 for negative x."""

    def forward(self, x):
        self.mask = (x > 0).astype(x.dtype)  # a float mask: float * bool would cast on every use
        return np.maximum(x, 0)

    def backward(self, gy):
        return gy * Tensor._make(self.mask)


class LeakyRelu(Function):
    """leaky_relu(x) = x if x > 0 else slope x; d/dx = 1 or slope."""

    def forward(self, x):
        self.scale = np.where(x > 0, 1, self.slope).astype(x.dtype)
        return x * self.scale

    def backward(self, gy):
        return gy * Tensor._make(self.scale)


class Softplus(Function):
    """softplus(x) = log(1 + exp(x)), computed as max(x,0) + log1p(exp(-|x|)); d/dx = sigmoid(x)."""

    def forward(self, x):
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    def backward(self, gy):
        return gy * sigmoid(self.inputs[0])


class Elu(Function):
    """elu(x) = x if x > 0 else alpha (exp(x) - 1); d/dx = 1 or elu(x) + alpha."""

    def forward(self, x):
        self.positive = x > 0
        return np.where(self.positive, x, self.alpha * np.expm1(np.minimum(x, 0))).astype(x.dtype)

    def backward(self, gy):
        return where(self.positive, gy, gy * (self.output() + self.alpha))


def _special(name: str, x):
    """scipy.special.NAME(x) on NumPy arrays (math.NAME, elementwise, without SciPy), or
    cupyx.scipy.special.NAME(x) on CuPy arrays, in x's dtype."""
    if backend.array_module(x) is np:
        try:
            import scipy.special

            f = getattr(scipy.special, name)
        except ImportError:
            f = np.vectorize(getattr(math, name), otypes=[x.dtype])
    else:
        import cupyx.scipy.special

        f = getattr(cupyx.scipy.special, name)
    return f(x).astype(x.dtype, copy=False)


class Erf(Function):
    """erf(x); d/dx = 2/sqrt(pi) exp(-x^2)."""

    def forward(self, x):
        return _special("erf", x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * exp(-(x * x))


class Erfc(Function):
    """erfc(x) = 1 - erf(x), accurate where erf(x) is near 1; d/dx = -2/sqrt(pi) exp(-x^2)."""

    def forward(self, x):
        return _special("erfc", x)

    def backward(self, gy):
        x = self.inputs[0]
        return gy * (-2 / math.sqrt(math.pi)) * exp(-(x * x))


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


def sqrt(x) -> Tensor:
    return Sqrt.apply(x)


def abs(x) -> Tensor:
    return Abs.apply(x)


def clip(x, lo=None, hi=None) -> Tensor:
    return Clip.apply(x, lo=lo, hi=hi)


def clamp(x, min=None, max=None) -> Tensor:  # noqa: A002  (PyTorch's names)
    """clip(x, min, max) under PyTorch's name."""
    return Clip.apply(x, lo=min, hi=max)


def sigmoid(x) -> Tensor:
    return Sigmoid.apply(x)


def tanh(x) -> Tensor:
    return Tanh.apply(x)


def relu(x) -> Tensor:
    return Relu.apply(x)


def leaky_relu(x, negative_slope: float = 0.01) -> Tensor:
    return LeakyRelu.apply(x, slope=negative_slope)


def softplus(x) -> Tensor:
    return Softplus.apply(x)


def elu(x, alpha: float = 1.0) -> Tensor:
    return Elu.apply(x, alpha=alpha)


def erf(x) -> Tensor:
    return Erf.apply(x)


def erfc(x) -> Tensor:
    return Erfc.apply(x)


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
