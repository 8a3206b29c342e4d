"""Activation and special Functions (sigmoid, tanh, relu, leaky_relu, softplus, elu, erf, erfc), each with
its derivative in its docstring; split from elementwise.py, which re-exports them."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from .elementwise import exp
from .shape import where


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
