"""MAF (Papamakarios, Pavlakou & Murray, 2017): a stack of MADEs, each the transform of the next's noise.

    x = u exp(alpha(x_<d)) + mu(x_<d) per layer  <=>  u = (x - mu(x)) exp(-alpha(x))
    log p(x) = log p_base(u_K) + sum_k sum_d -alpha_kd            (u_0 = x after preprocessing)

One pass per layer for log p, D passes per layer to sample (models/flows/autoregressive.py). Between MADEs the
ordering is reversed (`reverse`; False keeps the natural order in every layer), and batch norm (a flow layer
with its log-determinant, models/flows/normalization.py) follows each MADE, as in the paper's "MAF 5" runs.
The base is N(0, I), or with `components` = K > 0 a learned mixture of K diagonal Gaussians: unconditional
(models/flows/mog_base.py), or with `made_mog` the paper's "MAF MoG", a MADE MoG whose mixture parameters
depend on u_<d (models/flows/made_mog_base.py; the next order in the alternation, the MAF layers' sizes).
`dropout` (on the MADEs' hidden units) and `weight_decay` (Adam's L2 term) are regularisers for the 1,297
training digits; the paper used none (it stopped early on validation, which bench/flows_valid.py does to
choose the zoo's steps). `decay_steps` = N > 0 lowers the learning rate linearly from `lr` to 0 over N steps
(0: constant, as the paper's Adam).

Deviations: hidden degrees are drawn once per layer as in MADE (`degrees="random"`, the default) rather than
assigned in turn as MAF's code does (`degrees="sequential"`); data are the dequantized 17-level digits in
logit space (LogitTransform with alpha, RealNVP's constant) instead of MNIST's 256 levels (MAF's
lambda = 1e-6).
"""
from __future__ import annotations

import numpy as np

from minigen import nn, optim
from minigen.distributions import TransformedDistribution

from .autoregressive import MAFLayer
from .base import FlowModel
from .made_mog_base import MADEMixtureBase
from .mog_base import MixtureBase
from .normalization import BatchNormFlow


class MAF(FlowModel):
    """`flows` MADE layers (`layers` hidden ReLU layers of `hidden` units each), reversed orders, batch norm."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 flows: int = 5, hidden: int = 256, layers: int = 2, batch_norm: bool = True,
                 reverse: bool = True, components: int = 0, dropout: float = 0.0, weight_decay: float = 0.0,
                 decay_steps: int = 0, degrees: str = "random", made_mog: bool = False):
        super().__init__(data, lr, batch_size, alpha)
        self.decay_steps = int(decay_steps)
        dims = self.flow_shape[0]
        self.weight_decay = float(weight_decay)
        parts = []
        orders = [np.arange(dims), np.arange(dims)[::-1].copy() if reverse else np.arange(dims)]
        for k in range(int(flows)):
            order = orders[k % 2]
            parts.append(MAFLayer(dims, int(hidden), int(layers), order, seed=k, dropout=float(dropout),
                                  degrees=str(degrees)))
            if batch_norm:
                parts.append(BatchNormFlow((dims,)))
        self.layers = nn.ModuleList(parts)
        if components and made_mog:
            self.mixture = MADEMixtureBase(dims, int(components), int(hidden), int(layers), orders[int(flows) % 2],
                                           seed=int(flows), dropout=float(dropout), degrees=str(degrees))
        else:
            self.mixture = MixtureBase(dims, int(components)) if components else None

    def distribution(self) -> TransformedDistribution:
        if self.mixture is None:
            return super().distribution()
        return TransformedDistribution(self.mixture.distribution(), self.transform().inv)

    def configure_optimizers(self) -> list:
        return [optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)]

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """lr -> 0 linearly over `decay_steps` steps (then 0), whatever the run's length: bench/flows_valid.py
        trains one run in pieces, and each piece must follow the same schedule."""
        if self.decay_steps <= 0:
            return []
        return [optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=self.decay_steps)
                for opt in optimizers]

    @classmethod
    def default_config(cls, data: str) -> dict:
        shared = {"alpha": 0.05, "flows": 5, "layers": 2, "batch_norm": True, "reverse": True, "components": 0,
                  "dropout": 0.0, "weight_decay": 0.0, "decay_steps": 0, "degrees": "random", "made_mog": False}
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "hidden": 256, **shared}
        return {"lr": 1e-3, "batch_size": 64 * 4, "hidden": 64, **shared}
