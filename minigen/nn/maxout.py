"""Maxout (Goodfellow et al., 2013): the max over `pieces` affine maps of the input."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..dtypes import resolve
from . import init
from .module import Module, Parameter


class Maxout(Module):
    """y_j = max_k (x W^T + b)_{j*pieces + k}, W of shape (out_features*pieces, in_features) (consecutive
    rows are the pieces of one unit), initialised like a Linear layer of that size."""

    def __init__(self, in_features: int, out_features: int, pieces: int, bias: bool = True,
                 device: str = "cpu", dtype=None):
        super().__init__()
        if pieces < 1:
            raise ValueError(f"Maxout: pieces must be >= 1, got {pieces}")
        self.in_features, self.out_features, self.pieces = int(in_features), int(out_features), int(pieces)
        rows = self.out_features * self.pieces
        self.weight = Parameter(np.zeros((rows, self.in_features), resolve(dtype)))
        self.register_parameter("bias", Parameter(np.zeros(rows, resolve(dtype))) if bias else None)
        init.default_weight_bias_(self.weight, self.bias)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        return F.maxout(F.linear(x, self.weight, self.bias), self.pieces, axis=-1)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, pieces={self.pieces}, "
                f"bias={self.bias is not None}")
