"""Invertible transforms with torch.distributions' names: y = f(x), x = f^{-1}(y), log |det df/dx|.

    from minigen.distributions import AffineTransform, ComposeTransform, ExpTransform, LogitTransform
    t = ComposeTransform([AffineTransform(0.0, 2.0), ExpTransform()])   # y = exp(2 x)
    y = t.forward(x); x = t.inverse(y); ldj = t.log_abs_det_jacobian(x, y)

A transform acts on the rightmost `event_dim` axes of its input as one event (0: elementwise; 1: vectors;
3: images (C, H, W)); `log_abs_det_jacobian(x, y)` has the batch shape x.shape[:x.ndim - event_dim], one
log |det J| per event (elementwise transforms return one term per element, summed later by whoever
reinterprets them as an event). `forward_and_log_det` and `inverse_and_log_det` compute a value and the
log-determinant of the *forward* map together, so a layer whose log-determinant reuses the forward's work
(a coupling layer's scale) overrides them and computes it once. The flow layers of models/flows/ are
nn.Modules and Transforms at once.
"""
from __future__ import annotations

import math

from ..autograd import Tensor, as_tensor
from ..ops.elementwise import log, sigmoid, softplus

__all__ = ["Transform", "ComposeTransform", "AffineTransform", "ExpTransform", "SigmoidTransform",
           "LogitTransform", "sum_rightmost"]


def sum_rightmost(t: Tensor, n: int) -> Tensor:
    """t summed over its last n axes (t itself when n == 0)."""
    if n < 0:
        raise ValueError(f"sum_rightmost: cannot sum over {n} axes of a tensor of shape {t.shape}")
    return t if n == 0 else t.sum(axis=tuple(range(t.ndim - n, t.ndim)))


def _value(x, like: Tensor) -> Tensor:
    """A parameter (Tensor or Python number) as a Tensor with like's dtype and device."""
    return x if isinstance(x, Tensor) else as_tensor(float(x), like)


class Transform:
    """A bijection y = f(x) on events of `event_dim` axes (torch.distributions.Transform's names)."""

    event_dim = 0

    def __call__(self, x: Tensor) -> Tensor:
        return self.forward(x)

    def forward(self, x: Tensor) -> Tensor:
        """y = f(x)."""
        raise NotImplementedError(f"{type(self).__name__} does not define forward(x)")

    def inverse(self, y: Tensor) -> Tensor:
        """x = f^{-1}(y)."""
        raise NotImplementedError(f"{type(self).__name__} does not define inverse(y)")

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """log |det df/dx| at x (y = f(x)), one value per event: shape x.shape[:x.ndim - event_dim]."""
        raise NotImplementedError(f"{type(self).__name__} does not define log_abs_det_jacobian(x, y)")

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(f(x), log |det df/dx|)."""
        y = self.forward(x)
        return y, self.log_abs_det_jacobian(x, y)

    def inverse_and_log_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """(x = f^{-1}(y), log |det df/dx| at that x): what a density needs, log p(y) = log p(x) - that."""
        x = self.inverse(y)
        return x, self.log_abs_det_jacobian(x, y)

    def forward_shape(self, shape: tuple) -> tuple:
        """The shape of f(x) for x of `shape` (shape-preserving by default)."""
        return tuple(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        """The shape of f^{-1}(y) for y of `shape`."""
        return tuple(shape)

    @property
    def inv(self) -> Transform:
        """f^{-1} as a Transform (its log-determinant is minus f's at the image point)."""
        return _InverseTransform(self)


class _InverseTransform(Transform):
    """g = f^{-1}: g(x) = f.inverse(x), log |det dg/dx| = -log |det df/dz| at z = g(x)."""

    def __init__(self, base: Transform):
        self.base = base
        self.event_dim = base.event_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.base.inverse(x)

    def inverse(self, y: Tensor) -> Tensor:
        return self.base.forward(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -self.base.log_abs_det_jacobian(y, x)

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        y, ldj = self.base.inverse_and_log_det(x)
        return y, -ldj

    def inverse_and_log_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        x, ldj = self.base.forward_and_log_det(y)
        return x, -ldj

    def forward_shape(self, shape: tuple) -> tuple:
        return self.base.inverse_shape(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        return self.base.forward_shape(shape)

    @property
    def inv(self) -> Transform:
        return self.base


class ComposeTransform(Transform):
    """f = f_n o ... o f_1 (parts applied in list order); log |det| = sum_i log |det df_i| at x_{i-1}, each
    part's terms summed over the axes that lie inside the composite's event."""

    def __init__(self, parts):
        self.parts = list(parts)
        self.event_dim = max((p.event_dim for p in self.parts), default=0)

    def forward(self, x: Tensor) -> Tensor:
        for part in self.parts:
            x = part.forward(x)
        return x

    def inverse(self, y: Tensor) -> Tensor:
        for part in reversed(self.parts):
            y = part.inverse(y)
        return y

    def _reduce(self, part: Transform, ldj: Tensor) -> Tensor:
        return sum_rightmost(ldj, self.event_dim - part.event_dim)

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total = 0.0
        for part in self.parts:
            x, ldj = part.forward_and_log_det(x)
            total = total + self._reduce(part, ldj)
        return x, total

    def inverse_and_log_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        total = 0.0
        for part in reversed(self.parts):
            y, ldj = part.inverse_and_log_det(y)
            total = total + self._reduce(part, ldj)
        return y, total

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[1]

    def forward_shape(self, shape: tuple) -> tuple:
        for part in self.parts:
            shape = part.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return tuple(shape)


class AffineTransform(Transform):
    """y = loc + scale x; log |det| = log |scale| per element (summed over the event's `event_dim` axes)."""

    def __init__(self, loc, scale, event_dim: int = 0):
        self.loc, self.scale, self.event_dim = loc, scale, int(event_dim)

    def forward(self, x: Tensor) -> Tensor:
        return _value(self.loc, x) + _value(self.scale, x) * x

    def inverse(self, y: Tensor) -> Tensor:
        return (y - _value(self.loc, y)) / _value(self.scale, y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        scale = self.scale
        if isinstance(scale, Tensor):
            terms = log(scale.abs()) + x * 0.0  # broadcast to x's shape
        else:
            terms = as_tensor(math.log(abs(float(scale))), x) + x * 0.0
        return sum_rightmost(terms, self.event_dim)


class ExpTransform(Transform):
    """y = exp(x); d y / d x = exp(x), so log |det| = x per element."""

    def forward(self, x: Tensor) -> Tensor:
        return x.exp()

    def inverse(self, y: Tensor) -> Tensor:
        return log(y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return x


class SigmoidTransform(Transform):
    """y = sigmoid(x) = 1 / (1 + e^{-x}); log dy/dx = log s(x) + log s(-x) = -softplus(-x) - softplus(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(x)

    def inverse(self, y: Tensor) -> Tensor:
        return log(y) - log(1 - y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return -softplus(-x) - softplus(x)


class LogitTransform(Transform):
    """The data preprocessing of RealNVP (Dinh et al., 2017, sec. 4.1): squeeze (0, 1) into
    (alpha, 1 - alpha), then take the logit, so that the boundary pixels stay finite:

        y = logit(p),  p = alpha + (1 - 2 alpha) x,  log dy/dx = log(1 - 2 alpha) - log p - log(1 - p)

    (alpha = 0.05 in the paper; alpha = 0 is the plain logit, the inverse of SigmoidTransform).
    """

    def __init__(self, alpha: float = 0.05):
        if not 0.0 <= alpha < 0.5:
            raise ValueError(f"LogitTransform: alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = float(alpha)

    def forward(self, x: Tensor) -> Tensor:
        p = self.alpha + (1 - 2 * self.alpha) * x
        return log(p) - log(1 - p)

    def inverse(self, y: Tensor) -> Tensor:
        return (sigmoid(y) - self.alpha) * (1.0 / (1 - 2 * self.alpha))

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        p = self.alpha + (1 - 2 * self.alpha) * x
        return math.log(1 - 2 * self.alpha) - log(p) - log(1 - p)
