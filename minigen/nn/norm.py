"""Normalisation layers: BatchNorm1d/2d (running statistics), LayerNorm, InstanceNorm2d, GroupNorm."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..ops.shape import reshape
from ..dtypes import resolve
from .module import Module, Parameter


def _affine(module: Module, shape: tuple, affine: bool, bias: bool, dtype) -> None:
    """Register weight = 1 and bias = 0 of `shape` (or None when not affine)."""
    module.register_parameter("weight", Parameter(np.ones(shape, resolve(dtype))) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, resolve(dtype))) if affine and bias else None)


class _BatchNorm(Module):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1); batch statistics in training
    (running ones updated as r <- (1 - momentum) r + momentum * stat), running statistics in eval."""

    _dims: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: str = "cpu",
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine(self, (self.num_features,), affine, True, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, resolve(dtype))))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, resolve(dtype))))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device != "cpu":
            self.to(device)

    def reset_running_stats(self) -> None:
        """running_mean <- 0, running_var <- 1, num_batches_tracked <- 0."""
        if self.track_running_stats:
            self.running_mean.data = self.running_mean.data * 0
            self.running_var.data = self.running_var.data * 0 + 1
            self.num_batches_tracked.data = self.num_batches_tracked.data * 0

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}({self.num_features}): expected input of "
                             f"{' or '.join(f'{d}-D' for d in self._dims)} with {self.num_features} "
                             f"channels on axis 1, got shape {x.shape} on {x.device}")
        momentum = self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data = self.num_batches_tracked.data + 1
            if momentum is None:
                momentum = 1.0 / float(self.num_batches_tracked.data)
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=self.training or not self.track_running_stats,
                            momentum=0.0 if momentum is None else momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs."""

    _dims = (4,)


class LayerNorm(Module):
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` axes."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: str = "cpu", dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        _affine(self, shape, elementwise_affine, bias, dtype)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


def _normalize(x: Tensor, axes: tuple, eps: float) -> Tensor:
    """(x - mean) / sqrt(var + eps) over `axes` (biased variance)."""
    d = x - x.mean(axis=axes, keepdims=True)
    return d / ((d * d).mean(axis=axes, keepdims=True) + eps) ** 0.5


class InstanceNorm2d(Module):
    """Normalise each (example, channel) plane of (N, C, H, W) over H and W; optional affine per channel.
    Statistics are always those of the input (no running statistics)."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False, device: str = "cpu",
                 dtype=None):
        super().__init__()
        self.num_features, self.eps, self.affine = int(num_features), eps, affine
        _affine(self, (self.num_features,), affine, True, dtype)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm2d({self.num_features}): expected (N, {self.num_features}, H, W), "
                             f"got shape {x.shape} on {x.device}")
        y = _normalize(x, (2, 3), self.eps)
        if self.affine:
            y = y * reshape(self.weight, (1, -1, 1, 1)) + reshape(self.bias, (1, -1, 1, 1))
        return y

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class GroupNorm(Module):
    """Split the C channels into `num_groups` groups and normalise each example's group; affine per channel."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device: str = "cpu", dtype=None):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_channels} channels are not divisible by {num_groups} groups")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        _affine(self, (num_channels,), affine, True, dtype)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"GroupNorm: expected {self.num_channels} channels on axis 1, got shape "
                             f"{x.shape} on {x.device}")
        grouped = reshape(x, (x.shape[0], self.num_groups, -1))
        y = reshape(_normalize(grouped, (2,), self.eps), x.shape)
        if self.affine:
            shape = (1, -1) + (1,) * (x.ndim - 2)
            y = y * reshape(self.weight, shape) + reshape(self.bias, shape)
        return y

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
