"""How one global batch is split across R ranks, and the random draws that go with it.

Every rank runs the model's own loader with the same seed, so every rank builds the same global batch b of
epoch e (the same shuffle, the same dynamic binarization); rank r keeps rows r, r + R, r + 2R, ... (a
stride, not a block: a model that cuts its batch into k minibatches itself, like WGAN's n_critic
discriminator steps, then gets on each rank the rows of the same global minibatches). The R shards
together are the global batch, so R processes do the work of one process on the global batch size, and a
checkpoint is the same whether it was written by 1 or by R processes.

Random draws inside a step are split the same way (`ShardedGenerator`): every rank keeps the one
generator in sync (same seed, same draws), and a draw of shape (m, ...) on rank r is rows r, r + R, ...
of the draw (m R, ...) that one process would make. So a GAN's noise, a VAE's reparametrisation noise,
dropout masks and WGAN-GP's interpolation weights are, over the ranks, exactly those of the single
process. The rule reads every shaped draw as batch-major; a draw whose first axis is not the batch (IWAE's
(k, B, d)) still gives valid, independent numbers on every rank, only not the single process's ones.
Scalar draws (MADE's mask choice) and permutations are the same on every rank.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor


class ShardError(ValueError):
    """A global batch that does not split evenly across the ranks."""


def shard_batch(batch, rank: int, world_size: int, step: int):
    """Rows rank::world_size of every tensor of a batch (a Tensor, or a tuple of Tensors of one length)."""
    parts = batch if isinstance(batch, (tuple, list)) else (batch,)
    n = parts[0].shape[0]
    if n % world_size:
        raise ShardError(f"--distributed: the global batch at step {step} holds {n} examples, which {world_size} "
                         f"ranks cannot share evenly; choose a batch size divisible by {world_size}")
    shards = tuple(Tensor(_rows(p.data, rank, world_size)) for p in parts)
    return shards if isinstance(batch, (tuple, list)) else shards[0]


def _rows(a, rank: int, world_size: int):
    from .. import backend

    return backend.array_module(a).ascontiguousarray(a[rank::world_size])


class ShardedGenerator:
    """A view of a random generator for rank `rank` of `world_size`: shaped draws are this rank's rows of
    the global draw; everything else (scalars, permutation, bit_generator state) passes through."""

    def __init__(self, generator, rank: int, world_size: int):
        self._g, self._rank, self._world = generator, rank, world_size

    def __getattr__(self, name: str):
        return getattr(self._g, name)

    def _global(self, size):
        """The global draw's size for a local `size`, or None for scalar draws."""
        if size is None:
            return None
        shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        return (shape[0] * self._world,) + shape[1:] if shape else None

    def _draw(self, method: str, size, *args, **kwargs):
        full = self._global(size)
        if full is None:
            return getattr(self._g, method)(*args, size=size, **kwargs)
        return _rows(getattr(self._g, method)(*args, size=full, **kwargs), self._rank, self._world)

    def random(self, size=None, dtype=np.float64, out=None):
        if out is not None:
            return self._g.random(size, dtype, out)
        return self._draw("random", size, dtype=dtype)

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        if out is not None:
            return self._g.standard_normal(size, dtype, out)
        return self._draw("standard_normal", size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._draw("integers", size, low, high, dtype=dtype, endpoint=endpoint)

    def uniform(self, low=0.0, high=1.0, size=None, **kwargs):
        return self._draw("uniform", size, low, high, **kwargs)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw("normal", size, loc, scale)

    def choice(self, a, size=None, replace=True, p=None, **kwargs):
        return self._draw("choice", size, a, replace=replace, p=p, **kwargs)
