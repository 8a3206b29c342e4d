"""Batched matrix multiplication with NumPy's matmul broadcasting."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from .shape import reshape, sum_to, swapaxes


class MatMul(Function):
    """a @ b on (..., n, k) x (..., k, m); da = gy b^T, db = a^T gy, summed over broadcast batch axes."""

    def forward(self, a, b):
        return a @ b

    def backward(self, gy):
        a, b = self.inputs
        ga = sum_to(matmul(gy, swapaxes(b, -1, -2)), a.shape) if a.requires_grad else None
        gb = sum_to(matmul(swapaxes(a, -1, -2), gy), b.shape) if b.requires_grad else None
        return ga, gb


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """Matrix product; 1-D operands are promoted to a row (a) or a column (b) and squeezed back."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align "
                         f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]}) on {a.device}")
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    if a.ndim == 1:
        return reshape(matmul(reshape(a, (1, -1)), b), b.shape[:-2] + b.shape[-1:])
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, (-1, 1))), a.shape[:-1])
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None
    return MatMul.apply(a, b)
