"""TransformedDistribution (torch.distributions' name): the law of y = f(x) for x ~ base and a bijection f.

    log p_Y(y) = log p_X(f^{-1}(y)) - log |det df/dx| at x = f^{-1}(y)      (change of variables)

    flow = TransformedDistribution(Normal(zeros(D), ones(D)), [AffineTransform(mu, sigma), ExpTransform()])
    flow.log_prob(y); flow.rsample((n,)); flow.sample((n,))

The event of the result spans max(len(base.event_shape), f.event_dim) rightmost axes: an elementwise base
(Normal over D values) under a transform of vectors (event_dim 1) becomes one D-dimensional event, its
log-densities summed over those axes, as torch does for a base reinterpreted by Independent.
"""
from __future__ import annotations

from ..autograd import Tensor, no_grad
from .distribution import Distribution
from .transforms import ComposeTransform, Transform, sum_rightmost

__all__ = ["TransformedDistribution"]


class TransformedDistribution(Distribution):
    """y = f(x), x ~ base_distribution, f the transforms applied in list order."""

    def __init__(self, base_distribution: Distribution, transforms):
        parts = [transforms] if isinstance(transforms, Transform) else list(transforms)
        for part in parts:
            if not isinstance(part, Transform):
                raise TypeError(f"TransformedDistribution: transforms must be Transforms, got "
                                f"{type(part).__name__}")
        self.base_dist = base_distribution
        self.transforms = parts
        self.transform = parts[0] if len(parts) == 1 else ComposeTransform(parts)
        base_shape = tuple(base_distribution.batch_shape) + tuple(base_distribution.event_shape)
        self._base_event_dim = len(base_distribution.event_shape)
        event_dim = max(self._base_event_dim, self.transform.event_dim)
        if event_dim > len(base_shape):
            raise ValueError(f"TransformedDistribution: a transform of event_dim {event_dim} needs a base "
                             f"of at least {event_dim} axes, got batch_shape + event_shape = {base_shape}")
        shape = self.transform.forward_shape(base_shape)
        cut = len(shape) - event_dim
        self.batch_shape, self.event_shape = tuple(shape[:cut]), tuple(shape[cut:])
        self.has_rsample = base_distribution.has_rsample

    @property
    def device(self) -> str:
        return self.base_dist.device

    @property
    def dtype(self):
        return self.base_dist.dtype

    def rsample(self, sample_shape=()) -> Tensor:
        """f(x) with x = base.rsample(sample_shape): gradients reach f's and the base's parameters."""
        return self.transform.forward(self.base_dist.rsample(sample_shape))

    def sample(self, sample_shape=()) -> Tensor:
        """f(x), x ~ base, without recording a graph."""
        with no_grad():
            return self.transform.forward(self.base_dist.sample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        """log p_base(f^{-1}(y)) - log |det df/dx|, each summed over the axes of the event: shape batch."""
        x, ldj = self.transform.inverse_and_log_det(value)
        event_dim = len(self.event_shape)
        return (sum_rightmost(self.base_dist.log_prob(x), event_dim - self._base_event_dim)
                - sum_rightmost(ldj, event_dim - self.transform.event_dim))
