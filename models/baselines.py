"""Baselines from the chain-rule discussion: independent Bernoulli pixels (n parameters)."""
from __future__ import annotations

import minigen as mg
import minigen.functional as F
from minigen import nn

from .base import DIGITS_SHAPE, GenerativeModel


class IndependentBernoulli(GenerativeModel):
    """p(x) = prod_d Bernoulli(x_d; sigmoid(l_d)): one logit per pixel, n parameters for n pixels."""

    def __init__(self, data: str = "digits", lr: float = 0.05, batch_size: int = 64):
        super().__init__(data, lr, batch_size)
        self.logits = nn.Parameter(mg.zeros(DIGITS_SHAPE))

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 0.05, "batch_size": 64}

    def log_prob(self, x: mg.Tensor, reduce: bool = True) -> mg.Tensor:
        """sum_d x_d log s(l_d) + (1 - x_d) log s(-l_d); per pixel when reduce=False."""
        logits = self.logits.expand(x.shape)
        terms = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        return terms.flatten(1).sum(axis=1) if reduce else terms

    def sample(self, n: int) -> mg.Tensor:
        with mg.no_grad():
            p = self.logits.sigmoid().expand((n,) + DIGITS_SHAPE)
            return mg.tensor((mg.rand_like(p).data < p.data).astype(p.dtype))
