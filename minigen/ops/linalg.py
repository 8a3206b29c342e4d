"""Batched matrix multiplication with NumPy's matmul broadcasting, the linear layer's x W^T + b, and einsum."""
from __future__ import annotations

import string

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from .shape import Transpose, broadcast_to, reshape, sum_to, swapaxes


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
    if a.ndim > 2 or b.ndim > 2:
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch shapes of {a.shape} and {b.shape} do not broadcast") from None
    return MatMul.apply(a, b)


class TransposedMatMul(Function):
    """a^T b for 2-D a (n, k) and b (n, m), one node (Linear's weight gradient gy^T x, no transposed copy
    and no Transpose node); da = b gy^T, db = a gy."""

    def forward(self, a, b):
        return a.T @ b

    def backward(self, gy):
        a, b = self.inputs
        return (MatMul.apply(b, Transpose.apply(gy, axes=(1, 0))) if a._requires_grad else None,
                MatMul.apply(a, gy) if b._requires_grad else None)


class Linear(Function):
    """y = x W^T + b for x (..., in), W (out, in), b (out,) or absent: one node instead of a transpose, a
    matmul and an add (the MLP's hot path). With x2 and gy2 the leading axes flattened (rows),
    dx = gy W,  dW = gy2^T x2 (laid out like W, no transposed copy),  db = sum of gy over the leading axes."""

    def forward(self, x, w, b=None):
        y = x @ w.T
        if b is None:
            return y
        if b.ndim == 1 and b.dtype == y.dtype:
            y += b  # y is a fresh array of the result's dtype and shape
            return y
        return y + b

    def backward(self, gy):
        x, w = self.inputs[:2]
        gx = None
        if x._requires_grad:
            gx = MatMul.apply(gy, w) if gy.ndim > 1 else matmul(gy, w)  # matmul promotes a 1-D gy
        gw = gb = None
        if w._requires_grad:
            gy2, x2 = gy, x
            if gy.ndim != 2:
                gy2, x2 = reshape(gy, (-1, gy.shape[-1])), reshape(x, (-1, x.shape[-1]))
            gw = TransposedMatMul.apply(gy2, x2)
        if len(self.inputs) == 3 and self.inputs[2]._requires_grad:
            gb = sum_to(gy, self.inputs[2].shape)
        return gx, gw, gb


def linear(x: Tensor, w: Tensor, b: Tensor | None = None) -> Tensor:
    """x W^T + b (W laid out (out, in)), one Linear node."""
    return Linear.apply(x, w) if b is None else Linear.apply(x, w, b)


class Einsum(Function):
    """einsum in explicit form without ellipsis (`einsum` below normalises the subscripts). For operand k,
    d/dx_k <gy, einsum(x_1..x_n)> = einsum(gy, the other operands -> x_k's subscripts), with x_k's
    subscripts that appear nowhere else (summed by x_k alone) broadcast back."""

    def forward(self, *arrays):
        return backend.array_module(arrays[0]).einsum(self.spec, *arrays)

    def backward(self, gy):
        ins, out = self.spec.split("->")
        ins = ins.split(",")
        grads = []
        for k, x in enumerate(self.inputs):
            if not x.requires_grad:
                grads.append(None)
                continue
            others = [j for j in range(len(ins)) if j != k]
            seen = set(out).union(*[ins[j] for j in others])
            kept = "".join(c for c in ins[k] if c in seen)
            spec = ",".join([out] + [ins[j] for j in others]) + "->" + kept
            g = Einsum.apply(gy, *[self.inputs[j] for j in others], spec=spec)
            if kept != ins[k]:
                g = broadcast_to(reshape(g, tuple(g.shape[kept.index(c)] if c in kept else 1 for c in ins[k])),
                                 x.shape)
            grads.append(sum_to(g, x.shape) if g.shape != x.shape else g)
        return tuple(grads)


def _explicit(spec: str, shapes: list) -> str:
    """`spec` in explicit form ("ij,jk->ik"), ellipses replaced by unused letters (right-aligned), the
    implicit output (letters seen once, sorted, after the ellipsis axes) written out."""
    spec = spec.replace(" ", "")
    ins, arrow, out = spec.partition("->")
    ins = ins.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: {spec!r} names {len(ins)} operands, got {len(shapes)}")
    spare = iter(c for c in string.ascii_letters if c not in spec)
    ellipsis = ""
    n_ellipsis = max([len(s) - (len(term) - 3) for term, s in zip(ins, shapes) if "..." in term] or [0])
    if any("..." in term for term in ins + [out]):
        ellipsis = "".join(next(spare) for _ in range(n_ellipsis))
    terms = []
    for term, shape in zip(ins, shapes):
        if "..." in term:
            term = term.replace("...", ellipsis[n_ellipsis - (len(shape) - (len(term) - 3)):])
        if len(term) != len(shape):
            raise ValueError(f"einsum: subscripts {term!r} do not match an operand of shape {tuple(shape)}")
        if len(set(term)) != len(term):
            raise NotImplementedError(f"einsum: repeated subscripts within one operand ({term!r}: diagonals "
                                      "and traces) are not supported")
        terms.append(term)
    if not arrow:
        letters = "".join(terms)
        out = ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis))
    else:
        out = out.replace("...", ellipsis)
    return ",".join(terms) + "->" + out


def einsum(spec: str, *operands) -> Tensor:
    """Einstein summation with torch.einsum's (and NumPy's) subscripts, ellipsis included; operands may
    also come as one list. Differentiable in every operand, to any order."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    explicit = _explicit(spec, [x.shape for x in operands])
    return Einsum.apply(*operands, spec=explicit)
