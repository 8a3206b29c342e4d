"""Dropout (elementwise) and Dropout2d (whole channels), inverted: kept values are scaled by 1/(1-p)."""
from __future__ import annotations

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from .module import Module


class Dropout(Module):
    """Zero each element with probability p in training mode, scale the rest by 1/(1-p); identity in eval."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Dropout2d(Dropout):
    """Zero whole channels (N, C, ...) with probability p in training mode, scale the rest by 1/(1-p)."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if x.ndim < 3:
            raise ValueError(f"Dropout2d: expected (N, C, H, W) or (N, C, L) input, got shape {x.shape}")
        keep = backend.rng(x.device).random(x.shape[:2] + (1,) * (x.ndim - 2)) >= self.p
        scale = keep / (1 - self.p) if self.p < 1 else keep * 0.0
        return x * Tensor._make(scale.astype(x.dtype))
