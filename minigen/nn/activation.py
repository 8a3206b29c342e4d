"""Activations and shape helpers as modules (no parameters): ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid,
Tanh, Softplus, Softmax, LogSoftmax, Identity, Flatten, Unflatten."""
from __future__ import annotations

from .. import functional as F
from ..autograd import Tensor
from ..ops.shape import flatten, reshape
from .module import Module


class Identity(Module):
    """y = x (accepts and ignores any constructor arguments, as PyTorch's does)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return x


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace: bool = False):
        super().__init__()

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x)


class LeakyReLU(Module):
    """x if x > 0 else negative_slope * x."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x if x > 0 else alpha (exp(x) - 1)."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False):
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return F.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """x Phi(x) (approximate="tanh" for the tanh approximation)."""

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x sigmoid(x) (swish)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(x)


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return F.sigmoid(x)


class Tanh(Module):
    """tanh(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return F.tanh(x)


class Softplus(Module):
    """log(1 + exp(beta x)) / beta (computed stably for every x, so `threshold` only mirrors PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        return F.softplus(x) if self.beta == 1 else F.softplus(x * self.beta) / self.beta

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class _AlongAxis(Module):
    """A normalisation along one axis (`axis`, NumPy's word for PyTorch's `dim`)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class Softmax(_AlongAxis):
    """exp(x) / sum(exp(x)) along `axis`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.softmax(x, axis=self.axis)


class LogSoftmax(_AlongAxis):
    """x - logsumexp(x) along `axis`."""

    def forward(self, x: Tensor) -> Tensor:
        return F.log_softmax(x, axis=self.axis)


class Flatten(Module):
    """Merge axes start_axis..end_axis into one (by default all but the batch axis)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1):
        super().__init__()
        self.start_axis, self.end_axis = start_axis, end_axis

    def forward(self, x: Tensor) -> Tensor:
        return flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Unflatten(Module):
    """Split `axis` into `sizes` (the inverse of Flatten)."""

    def __init__(self, axis: int, sizes: tuple):
        super().__init__()
        self.axis, self.sizes = axis, tuple(sizes)

    def forward(self, x: Tensor) -> Tensor:
        axis = self.axis % x.ndim
        return reshape(x, x.shape[:axis] + self.sizes + x.shape[axis + 1:])

    def extra_repr(self) -> str:
        return f"axis={self.axis}, sizes={self.sizes}"
