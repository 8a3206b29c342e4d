"""DataParallel: what the trainer does differently when R processes train one model.

    start        rank 0's whole training state (parameters, buffers, optimizer and scheduler state, loader
                 position, random generators, history, step: the checkpoint, also when resuming) is
                 broadcast and loaded by every rank, so every rank starts from the same state
    each step    the rank's shard of the global batch (sharding.py); inside train_step gradients are
                 averaged after every backward (gradients.py), shaped random draws are the rank's rows of
                 the global draw, BatchNorm is local or synchronised (sync_batchnorm.py); then the logged
                 values are averaged over the ranks in one message, which also carries the Ctrl-C flag,
                 so every rank stops at the same step
    after step 1 parameters and buffers are broadcast again from rank 0 (data-dependent initialisation,
                 Glow's ActNorm, saw only the local batch)
    checkpoints  buffers broadcast from rank 0 (local BatchNorm's running statistics are rank 0's, as with
                 PyTorch DDP's broadcast_buffers), parameters checked to agree bit for bit on every rank
                 (an error naming the first one that differs), then rank 0 alone writes
    errors       an exception on any rank ends the whole job with `minigen: error: rank r of R: ...`
                 (MPI_Abort); a dead or hung rank is named by the communicator's timeout or by mpirun

Models are not changed: a GAN's several optimizers and any train_step work, because everything happens
around `train_step` (the batch, the random generator) and inside `backward()` (the averaging).
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import traceback

import numpy as np

from .. import backend, engine
from ..serialization import load, save
from . import init
from .communicator import DEFAULT_TIMEOUT, DistributedError
from .gradients import DEFAULT_BUCKET_BYTES, GradientAverager
from .sharding import ShardedGenerator, shard_batch
from .sync_batchnorm import convert_sync_batchnorm

_active = None  # the communicator while a data-parallel step runs (SyncBatchNorm reads it)


def active_communicator():
    return _active


class DataParallel:
    """Data parallelism over the ranks of mpirun: MPI on "cpu", NCCL on "cuda"."""

    def __init__(self, device: str = "cpu", sync_batchnorm: bool = False,
                 bucket_bytes: int = DEFAULT_BUCKET_BYTES, timeout: float | None = DEFAULT_TIMEOUT):
        self.comm = init(device, timeout)
        self.rank, self.world_size = self.comm.rank, self.comm.world_size
        self.sync_batchnorm, self.bucket_bytes = bool(sync_batchnorm), int(bucket_bytes)
        self.model = self.averager = None

    @property
    def is_root(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        return (f"DataParallel({self.comm.backend}, rank {self.rank} of {self.world_size}, "
                f"sync_batchnorm={self.sync_batchnorm}, bucket_bytes={self.bucket_bytes})")

    # ------------------------------------------------------------------------------------ start
    def prepare(self, model) -> None:
        """Synchronise BatchNorm if asked; the averager over the model's parameters."""
        if self.sync_batchnorm:
            convert_sync_batchnorm(model)
        self.model = model
        self.averager = GradientAverager(self.comm, list(model.parameters()), self.bucket_bytes)

    def share_state(self, training) -> None:
        """Every rank loads rank 0's training state (training.state_dict(), the checkpoint's content)."""
        with tempfile.TemporaryDirectory(prefix="minigen-dp-") as folder:
            path = os.path.join(folder, "state.npz")
            data = None
            if self.is_root:
                save(training.state_dict(), path)
                with open(path, "rb") as f:
                    data = f.read()
            data = self.comm.broadcast_bytes(data, 0, kind="state")
            if not self.is_root:
                with open(path, "wb") as f:
                    f.write(data)
                training.load_state_dict(load(path), "rank 0's training state")

    # ------------------------------------------------------------------------------------ steps
    def shard(self, batch, step: int):
        return shard_batch(batch, self.rank, self.world_size, step)

    @contextlib.contextmanager
    def step(self, step: int):
        """Around one train_step: gradient averaging, sharded random draws, synchronised BatchNorm."""
        global _active
        self.comm.context = f"step {step}"
        handle = engine.register_post_backward_hook(self.averager)
        rank, world = self.rank, self.world_size
        backend._rng_view = lambda generator: ShardedGenerator(generator, rank, world)
        _active = self.comm
        try:
            yield
        finally:
            handle.remove()
            backend._rng_view = None
            _active = None

    def reduce_logs(self, logs: dict, stop: bool) -> tuple[dict, bool]:
        """(the logged values averaged over the ranks, whether any rank was asked to stop): one message."""
        keys = sorted(logs)
        values = np.array([float(logs[k]) for k in keys] + [1.0 if stop else 0.0], np.float64)
        self.comm.all_reduce(values, "sum", kind="logs")
        return {k: values[i] / self.world_size for i, k in enumerate(keys)}, bool(values[-1] > 0)

    def after_first_step(self, model) -> None:
        self._broadcast_tensors([*model.parameters(), *_buffers(model)], "parameters")

    def before_checkpoint(self, model, step: int) -> None:
        self._broadcast_tensors(list(_buffers(model)), "buffers")
        self.check_in_sync(model, step)

    def check_in_sync(self, model, step: int) -> None:
        """An error naming the first parameter whose values differ between the ranks."""
        named = list(model.named_parameters())
        sums = np.array([float(backend.to_device(p.data, "cpu").astype(np.float64).sum()) for _, p in named])
        low, high = sums.copy(), sums.copy()
        self.comm.all_reduce(low, "min", kind="check")
        self.comm.all_reduce(high, "max", kind="check")
        differ = np.flatnonzero(low != high)
        if len(differ):
            k = int(differ[0])
            raise DistributedError(f"--distributed: after step {step} the parameter {named[k][0]} differs between "
                                   f"the ranks (sums from {low[k]!r} to {high[k]!r}; {len(differ)} parameters "
                                   "differ): something in the model is rank-dependent")

    def _broadcast_tensors(self, tensors: list, kind: str) -> None:
        """Rank 0's values of `tensors`, packed per dtype and device into one message each."""
        groups: dict = {}
        for t in tensors:
            if t is not None:
                groups.setdefault((t.data.dtype, t.device), []).append(t)
        for group in groups.values():
            xp = backend.array_module(group[0].data)
            flat = xp.concatenate([t.data.reshape(-1) for t in group])
            self.comm.broadcast(flat, 0, kind=kind)
            if self.is_root:
                continue
            offset = 0
            for t in group:
                t.data = flat[offset:offset + t.data.size].reshape(t.data.shape)
                offset += t.data.size

    # ------------------------------------------------------------------------------------ errors
    @contextlib.contextmanager
    def abort_on_error(self):
        """An exception on this rank ends every rank: `minigen: error: rank r of R: ...` and MPI_Abort."""
        from ..trainer import Interrupted

        try:
            yield
        except (Interrupted, SystemExit):
            raise
        except BaseException as e:
            if os.environ.get("MINIGEN_DEBUG"):
                traceback.print_exc()
            what = "interrupted" if isinstance(e, KeyboardInterrupt) else f"{type(e).__name__}: {e}"
            self.comm.abort(f"rank {self.rank} of {self.world_size} ({self.comm.context}): "
                            f"{' '.join(what.split())}", code=2)

    def finish(self) -> None:
        """Wait for rank 0's evaluation and writing (no timeout: a rank that dies ends the job anyway)."""
        self.comm.context = "the end of training"
        self.comm.barrier(timeout=None)


def _buffers(model):
    return [b for b in model.buffers() if b is not None]


__all__ = ["DataParallel", "DistributedError", "DEFAULT_TIMEOUT", "active_communicator"]
