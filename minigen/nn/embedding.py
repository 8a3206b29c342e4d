"""Embedding: a lookup table of learned vectors, rows picked by integer indices."""
from __future__ import annotations

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..ops.shape import where
from ..dtypes import resolve
from . import init
from .module import Module, Parameter


class Embedding(Module):
    """weight[indices] with weight (num_embeddings, embedding_dim) ~ N(0, 1); the row at `padding_idx`
    (if given) starts at zero and receives no gradient."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 device: str = "cpu", dtype=None):
        super().__init__()
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} "
                                 "embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.zeros((self.num_embeddings, self.embedding_dim), resolve(dtype)))
        self.reset_parameters()
        if device != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, indices) -> Tensor:
        if not isinstance(indices, Tensor):
            indices = backend.to_device(backend.as_array(indices), self.weight.device)
        out = F.embedding(indices, self.weight)
        if self.padding_idx is None:
            return out
        idx = indices.data if isinstance(indices, Tensor) else indices
        return where((idx != self.padding_idx)[..., None], out, out.detach())

    def extra_repr(self) -> str:
        pad = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{pad}"
