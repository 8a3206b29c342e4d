"""Adam update, PyTorch's formula (bias correction, L2 weight decay added to the gradient), in place:

    g += wd p;  m += (1 - b1)(g - m);  v = b2 v + (1 - b2) g^2
    p -= lr / (1 - b1^t) m / (sqrt(v) / sqrt(1 - b2^t) + eps)

`adam_step` updates lists of arrays: NumPy runs the reference, CuPy one fused kernel launch for all
parameters (adam.cu's adam_multi: one block per chunk of CHUNK elements, addresses in a table) or,
with multi_tensor=False, one launch per parameter. Not an autograd Function: an update has no gradient.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from . import _cuda

CHUNK = 16384  # elements per block in adam_multi (passed to the kernel as -DCHUNK)


def _scalars(step: int, lr: float, betas: tuple[float, float]) -> tuple[float, float]:
    """(step_size, bc2_sqrt) = (lr / (1 - b1^t), sqrt(1 - b2^t)), computed in double on the host."""
    return lr / (1 - betas[0] ** step), math.sqrt(1 - betas[1] ** step)


def reference_adam_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], exp_avgs: Sequence[np.ndarray],
                        exp_avg_sqs: Sequence[np.ndarray], step: int, lr: float = 1e-3,
                        betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                        weight_decay: float = 0.0) -> None:
    """One Adam step on NumPy arrays, in place (step counts from 1)."""
    step_size, bc2_sqrt = _scalars(step, lr, betas)
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        dt = p.dtype.type
        g = g + dt(weight_decay) * p
        m += dt(1 - betas[0]) * (g - m)
        v *= dt(betas[1])
        v += dt(1 - betas[1]) * g * g
        p -= dt(step_size) * m / (np.sqrt(v) / dt(bc2_sqrt) + dt(eps))


def chunk_table(params, grads, exp_avgs, exp_avg_sqs) -> tuple[np.ndarray, int]:
    """The int64 table adam_multi reads: addresses of p, g, m, v, sizes, then each chunk's
    (tensor, first element); returns (table, number of chunks)."""
    sizes = [int(p.size) for p in params]
    owner = [t for t, n in enumerate(sizes) for _ in range(0, n, CHUNK)]
    start = [s for n in sizes for s in range(0, n, CHUNK)]
    addresses = [_cuda.address(a) for group in (params, grads, exp_avgs, exp_avg_sqs) for a in group]
    return np.asarray(addresses + sizes + owner + start, np.int64), len(owner)


def cuda_adam_step(params, grads, exp_avgs, exp_avg_sqs, step: int, lr: float = 1e-3,
                   betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                   multi_tensor: bool = True) -> None:
    """One Adam step on CuPy arrays, in place: one launch for all (multi_tensor) or one per parameter."""
    cp = _cuda.cupy()
    grads = [cp.ascontiguousarray(g, p.dtype) for p, g in zip(params, grads)]
    step_size, bc2_sqrt = _scalars(step, lr, betas)
    dtypes = {p.dtype for p in params}
    if multi_tensor and len(dtypes) == 1:
        dt = params[0].dtype
        s = dt.type
        table, chunks = chunk_table(params, grads, exp_avgs, exp_avg_sqs)
        if chunks == 0:
            return
        f = _cuda.function("adam", "adam_multi", dt, CHUNK=CHUNK)
        f((min(chunks, _cuda.MAX_BLOCKS),), (_cuda.BLOCK,),
          (cp.asarray(table), np.int32(len(params)), np.int32(chunks), s(betas[0]), s(betas[1]), s(eps),
           s(weight_decay), s(step_size), s(bc2_sqrt)))
        return
    for p, g, m, v in zip(params, grads, exp_avgs, exp_avg_sqs):
        s = p.dtype.type
        f = _cuda.function("adam", "adam_step", p.dtype, CHUNK=CHUNK)
        f((_cuda.blocks(p.size),), (_cuda.BLOCK,),
          (p, g, m, v, np.int32(p.size), s(betas[0]), s(betas[1]), s(eps), s(weight_decay), s(step_size),
           s(bc2_sqrt)))


def adam_step(params: Sequence, grads: Sequence, exp_avgs: Sequence, exp_avg_sqs: Sequence, step: int,
              lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
              weight_decay: float = 0.0, multi_tensor: bool = True) -> None:
    """One Adam step on raw arrays (all on one device), in place; `step` is the 1-based step count."""
    n = len(params)
    if not (len(grads) == len(exp_avgs) == len(exp_avg_sqs) == n):
        raise ValueError(f"adam_step: got {n} params, {len(grads)} grads, {len(exp_avgs)} exp_avgs and "
                         f"{len(exp_avg_sqs)} exp_avg_sqs")
    if step < 1:
        raise ValueError(f"adam_step: step counts from 1, got {step}")
    if n == 0:
        return
    device = _cuda.backend.device_of(params[0])
    for k, arrays in enumerate(zip(params, grads, exp_avgs, exp_avg_sqs)):
        shapes = [tuple(a.shape) for a in arrays]
        devices = [_cuda.backend.device_of(a) for a in arrays]
        if len(set(shapes)) != 1 or set(devices) != {device}:
            raise ValueError(f"adam_step: parameter {k}: param, grad, exp_avg, exp_avg_sq have shapes {shapes} "
                             f"on devices {devices} (expected one shape on {device})")
        if arrays[0].dtype.kind != "f":
            raise TypeError(f"adam_step: parameter {k} has dtype {arrays[0].dtype}, expected a float dtype")
    if not _cuda.is_cuda(params[0]):
        return reference_adam_step(params, grads, exp_avgs, exp_avg_sqs, step, lr, betas, eps, weight_decay)
    for k, a in enumerate(list(params) + list(exp_avgs) + list(exp_avg_sqs)):
        if not a.flags.c_contiguous:
            raise ValueError(f"adam_step: the CUDA update needs contiguous parameters and states "
                             f"(array {k}, shape {tuple(a.shape)} on cuda)")
        _cuda.check_size("adam_step", a.size, a.shape)
    cuda_adam_step(params, grads, exp_avgs, exp_avg_sqs, step, lr, betas, eps, weight_decay, multi_tensor)
