"""Normalization as flow layers: RealNVP's batch norm (Dinh et al., 2017, sec. 3.7) and Glow's actnorm
(Kingma & Dhariwal, 2018, sec. 3.1). Both are per-channel affine maps (axis 1: the channels of an image or
the units of a vector), so their log-determinant is the sum of the log-scales over the event:

    batch norm:  y = (x - mu) / sqrt(var + eps) * exp(log_gamma) + beta
                 log |det| = (H W) sum_c [log_gamma_c - log sqrt(var_c + eps)]
    actnorm:     y = (x + bias) * exp(log_scale)          log |det| = (H W) sum_c log_scale_c

Batch norm uses the minibatch's statistics in training (and keeps running averages, momentum 0.05) and the
running averages in eval mode and in `inverse` (sampling has no minibatch of data to take statistics from).
Like the paper, the log-determinant treats the statistics as the map's parameters. Actnorm initialises its
bias and scale from the first training minibatch so that its outputs have zero mean and unit variance per
channel (data-dependent initialisation), then trains them as ordinary parameters.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.distributions import Transform

__all__ = ["BatchNormFlow", "ActNorm"]


class _ChannelAffine(nn.Module, Transform):
    """A per-channel affine flow layer on events of shape (C,) or (C, H, W)."""

    def __init__(self, event_shape: tuple):
        super().__init__()
        self.event_dim = len(event_shape)
        self.channels = int(event_shape[0])
        self.positions = int(np.prod(event_shape[1:], dtype=np.int64))  # H W (1 for vectors)

    def _axes(self, x: Tensor) -> tuple:
        """The axes statistics are taken over: batch and spatial."""
        return (0,) + tuple(range(2, x.ndim))

    def _channel(self, v: Tensor, x: Tensor) -> Tensor:
        """A (C,) vector shaped to broadcast against x (B, C, ...)."""
        return v.reshape((-1,) + (1,) * (x.ndim - 2))

    def _batch_log_det(self, per_channel: Tensor, x: Tensor) -> Tensor:
        """positions * sum_c per_channel[c], broadcast to x's batch shape."""
        batch = x.shape[:x.ndim - self.event_dim]
        return self.positions * per_channel.sum() + mg.zeros(batch, dtype=x.dtype, device=x.device)


class BatchNormFlow(_ChannelAffine):
    """Batch normalization with its log-determinant (RealNVP)."""

    def __init__(self, event_shape: tuple, momentum: float = 0.05, eps: float = 1e-4):
        super().__init__(event_shape)
        self.momentum, self.eps = float(momentum), float(eps)
        self.log_gamma = nn.Parameter(np.zeros(self.channels, np.float32))
        self.beta = nn.Parameter(np.zeros(self.channels, np.float32))
        self.register_buffer("running_mean", mg.zeros(self.channels))
        self.register_buffer("running_var", mg.ones(self.channels))

    def _statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(mean, var) per channel: the batch's in training (updating the running ones), else the running."""
        if not self.training:
            return self.running_mean.astype(x.dtype), self.running_var.astype(x.dtype)
        axes = self._axes(x)
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        m = self.momentum
        self.running_mean.data = ((1 - m) * self.running_mean.data + m * mean.data).astype(self.running_mean.dtype)
        self.running_var.data = ((1 - m) * self.running_var.data + m * var.data).astype(self.running_var.dtype)
        return mean, var

    def _log_scale(self, var: Tensor) -> Tensor:
        return self.log_gamma - 0.5 * (var + self.eps).log()

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, var = self._statistics(x)
        log_scale = self._log_scale(var)
        y = (x - self._channel(mean, x)) * self._channel(log_scale.exp(), x) + self._channel(self.beta, x)
        return y, self._batch_log_det(log_scale, x)

    def inverse_and_log_det(self, y: Tensor) -> tuple[Tensor, Tensor]:
        mean, var = self.running_mean.astype(y.dtype), self.running_var.astype(y.dtype)
        log_scale = self._log_scale(var)
        x = (y - self._channel(self.beta, y)) * self._channel((-log_scale).exp(), y) + self._channel(mean, y)
        return x, self._batch_log_det(log_scale, y)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[0]

    def inverse(self, y: Tensor) -> Tensor:
        return self.inverse_and_log_det(y)[0]

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        """At the statistics forward would use (eval mode: the running ones, which it does not change)."""
        if self.training:
            raise RuntimeError("BatchNormFlow.log_abs_det_jacobian: in training mode the map depends on the "
                               "minibatch; use forward_and_log_det(x)")
        return self.forward_and_log_det(x)[1]


class ActNorm(_ChannelAffine):
    """Glow's activation normalization with data-dependent initialisation."""

    def __init__(self, event_shape: tuple):
        super().__init__(event_shape)
        self.bias = nn.Parameter(np.zeros(self.channels, np.float32))
        self.log_scale = nn.Parameter(np.zeros(self.channels, np.float32))
        self.register_buffer("initialized", mg.zeros(()))

    def initialize(self, x: Tensor) -> None:
        """bias = -mean, log_scale = -log(std + 1e-6) per channel of the batch x."""
        axes = self._axes(x)
        data = x.data
        mean, std = data.mean(axis=axes), data.std(axis=axes)
        self.bias.data = (-mean).astype(self.bias.dtype)
        self.log_scale.data = (-backend.array_module(data).log(std + 1e-6)).astype(self.log_scale.dtype)
        self.initialized.data = self.initialized.data * 0 + 1

    def forward(self, x: Tensor) -> Tensor:
        if self.training and float(self.initialized.data) == 0.0:
            self.initialize(x)
        return (x + self._channel(self.bias, x)) * self._channel(self.log_scale.exp(), x)

    def inverse(self, y: Tensor) -> Tensor:
        return y * self._channel((-self.log_scale).exp(), y) - self._channel(self.bias, y)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self._batch_log_det(self.log_scale, x)
