"""Gradient averaging after backward, in buckets: g <- (1/R) sum_r g_r for every parameter a backward reached.

The engine calls `GradientAverager` at the end of every `backward()` (engine.register_post_backward_hook)
with the leaves it wrote; the model's parameters among them, in the model's parameter order (the same on
every rank), are packed into flat buffers of at most `bucket_bytes` (one dtype per bucket; a tensor
larger than the cap travels alone), each buffer is all-reduced in one message and divided by R, and each
`.grad` becomes its slice of the result. With the shards of one global batch equal in size and a loss
that is a mean over the batch, the average is the gradient of the whole global batch's loss.

Averaging after every backward (not in the optimizer) keeps everything between backward and step global:
gradient norms that GANs log, clipping. It is exact under accumulation too: a gradient that already holds
an averaged part c (the same on every rank) plus a new local part x_r averages to c + mean_r x_r.
`bucket_bytes=0` sends one message per parameter (bench/distributed.py compares the two).
"""
from __future__ import annotations

from .. import backend
from ..autograd import Tensor

DEFAULT_BUCKET_BYTES = 25 * 2**20  # PyTorch DDP's default bucket_cap_mb


class GradientAverager:
    """Average the gradients of `parameters` over the ranks of `comm`, `bucket_bytes` per message."""

    def __init__(self, comm, parameters, bucket_bytes: int = DEFAULT_BUCKET_BYTES):
        self.comm, self.bucket_bytes = comm, int(bucket_bytes)
        self.position = {id(p): k for k, p in enumerate(parameters)}

    def __call__(self, leaves) -> None:
        reached = sorted((self.position[id(t)], t) for t in leaves
                         if id(t) in self.position and t.grad is not None)
        for bucket in self.buckets([t for _, t in reached]):
            self._average(bucket)

    def buckets(self, tensors: list) -> list[list]:
        """Consecutive tensors of one dtype and device, at most bucket_bytes of gradient per bucket."""
        out: list[list] = []
        size = 0
        for t in tensors:
            g = t.grad.data
            nbytes = g.nbytes
            same = out and (out[-1][0].grad.data.dtype, out[-1][0].device) == (g.dtype, t.device)
            if same and size + nbytes <= self.bucket_bytes:
                out[-1].append(t)
                size += nbytes
            else:
                out.append([t])
                size = nbytes
        return out

    def _average(self, bucket: list) -> None:
        grads = [t.grad.data for t in bucket]
        xp = backend.array_module(grads[0])
        # a fresh buffer: gradient arrays may alias each other or other tensors, so none is written
        flat = xp.concatenate([g.reshape(-1) for g in grads]) if len(grads) > 1 else grads[0].reshape(-1).copy()
        self.comm.all_reduce(flat, "sum", kind="gradients")
        flat *= flat.dtype.type(1.0 / self.comm.world_size)
        offset = 0
        for t, g in zip(bucket, grads):
            t.grad = Tensor._make(flat[offset:offset + g.size].reshape(g.shape))
            offset += g.size
