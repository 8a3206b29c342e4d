"""Gradient clipping by global norm: g <- g * min(1, max_norm / (||(g_1, ..., g_n)|| + 1e-6))."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from .. import backend
from ..autograd import Tensor


def clip_grad_norm_(parameters: Iterable[Tensor] | Tensor, max_norm: float,
                    norm_type: float = 2.0) -> Tensor:
    """Rescale all gradients together so that their joint p-norm is at most max_norm; return that norm
    before clipping (a 0-d Tensor). Gradients are replaced, never written in place."""
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return Tensor._make(np.zeros((), np.float32))
    devices = {backend.device_of(g) for g in grads}
    if len(devices) > 1:
        raise RuntimeError(f"clip_grad_norm_: gradients live on several devices {sorted(devices)}")
    xp = backend.array_module(grads[0])
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        total = xp.max(xp.stack([xp.abs(g).max() for g in grads]))
    else:
        total = xp.sum(xp.stack([(xp.abs(g) ** norm_type).sum() for g in grads])) ** (1.0 / norm_type)
    coef = float(max_norm) / (float(total) + 1e-6)
    if coef < 1:
        for p in params:
            if p.grad is not None:
                p.grad = Tensor._make(p.grad.data * p.grad.data.dtype.type(coef))
    return Tensor._make(total)
