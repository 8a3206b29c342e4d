"""Synchronised BatchNorm: batch statistics over the examples of every rank.

With N = sum_r n_r values per channel over the ranks,

    mean = (1/N) sum_r S_r,   S_r = sum of x over rank r's values         (one all-reduce)
    var  = (1/N) sum_r Q_r,   Q_r = sum of (x - mean)^2 over rank r's     (a second one: two passes, as
                                                                            one process computes it)

and y = (x - mean) / sqrt(var + eps) * weight + bias; the running statistics take the unbiased N/(N-1)
variance, as F.batch_norm does. The sums cross the ranks through `AllReduceSum`, whose derivative is an
all-reduce again: with the total loss L = (1/R) sum_r L_r (the averaged gradients), dL/dS_r =
(1/R) sum_r' dL_r'/dS, so each rank's backward sums the incoming gradient over the ranks. Together with the
gradient averaging this gives the gradient of one process's batch norm over the global batch.

`convert_sync_batchnorm(model)` turns every BatchNorm1d/BatchNorm2d (exactly those classes) into its
synchronised subclass in place (same parameters and buffers, so optimizers built before still hold
them). Outside a data-parallel step, or with one rank, the layer is the plain BatchNorm.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from ..nn.norm import BatchNorm1d, BatchNorm2d


class AllReduceSum(Function):
    """y = sum over the ranks of x (every rank gets y); dy/dx_r routes the sum of the ranks' gradients."""

    def forward(self, x):
        y = x.copy()
        self.comm.all_reduce(y, "sum", kind=self.kind)
        return y

    def backward(self, gy):
        return AllReduceSum.apply(gy, comm=self.comm, kind=self.kind)


class _SyncBatchNorm:
    """Mixed in before BatchNorm1d/2d: global statistics while a data-parallel step runs."""

    def forward(self, x: Tensor) -> Tensor:
        from . import data_parallel

        comm = data_parallel.active_communicator()
        if comm is None or comm.world_size == 1 or not (self.training or not self.track_running_stats):
            return super().forward(x)
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            return super().forward(x)  # its shape error
        return _sync_batch_norm(self, x, comm)


def _sync_batch_norm(bn, x: Tensor, comm) -> Tensor:
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    count = np.array([x.data.size // x.shape[1]], np.int64)
    n = int(comm.all_reduce(count, "sum", kind="batchnorm")[0])
    if n <= 1:
        raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel over the ranks in training, "
                         f"got {n} (local input of shape {x.shape} on {x.device})")
    mean = AllReduceSum.apply(x.sum(axis=axes, keepdims=True), comm=comm, kind="batchnorm") / n
    d = x - mean
    var = AllReduceSum.apply((d * d).sum(axis=axes, keepdims=True), comm=comm, kind="batchnorm") / n
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.data = bn.num_batches_tracked.data + 1
        m = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked.data)
        bn.running_mean.data = (1 - m) * bn.running_mean.data + m * mean.data.reshape(-1)
        bn.running_var.data = (1 - m) * bn.running_var.data + m * var.data.reshape(-1) * n / (n - 1)
    y = d / (var + bn.eps) ** 0.5
    if bn.weight is not None:
        y = y * bn.weight.reshape(shape)
    if bn.bias is not None:
        y = y + bn.bias.reshape(shape)
    return y


class SyncBatchNorm1d(_SyncBatchNorm, BatchNorm1d):
    """BatchNorm1d with statistics over every rank's examples during a data-parallel step."""


class SyncBatchNorm2d(_SyncBatchNorm, BatchNorm2d):
    """BatchNorm2d with statistics over every rank's examples during a data-parallel step."""


_SYNC = {BatchNorm1d: SyncBatchNorm1d, BatchNorm2d: SyncBatchNorm2d}


def convert_sync_batchnorm(module) -> int:
    """Make every BatchNorm1d/BatchNorm2d in `module` synchronised, in place; returns how many."""
    converted = 0
    for m in module.modules():
        sync = _SYNC.get(type(m))
        if sync is not None:
            m.__class__ = sync
            converted += 1
    return converted
