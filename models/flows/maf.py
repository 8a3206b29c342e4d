"""MAF (Papamakarios, Pavlakou & Murray, 2017): a stack of MADEs, each the transform of the next's noise.

    x = u exp(alpha(x_<d)) + mu(x_<d) per layer  <=>  u = (x - mu(x)) exp(-alpha(x))
    log p(x) = log N(u_K; 0, I) + sum_k sum_d -alpha_kd            (u_0 = x after preprocessing)

One pass per layer for log p, D passes per layer to sample (models/flows/autoregressive.py). Between MADEs the
ordering is reversed, and batch norm (a flow layer with its log-determinant, models/flows/normalization.py)
follows each MADE, as in the paper's "MAF 5" runs.

Deviations: the base is N(0, I) (the paper's too); hidden degrees are drawn once per layer as in MADE rather
than assigned sequentially; data are the dequantized 17-level digits in logit space (LogitTransform with
alpha, RealNVP's constant) instead of MNIST's 256 levels (MAF's lambda = 1e-6).
"""
from __future__ import annotations

import numpy as np

from minigen import nn

from .autoregressive import MAFLayer
from .base import FlowModel
from .normalization import BatchNormFlow


class MAF(FlowModel):
    """`flows` MADE layers (`layers` hidden ReLU layers of `hidden` units each), reversed orders, batch norm."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 flows: int = 5, hidden: int = 256, layers: int = 2, batch_norm: bool = True):
        super().__init__(data, lr, batch_size, alpha)
        dims = self.flow_shape[0]
        parts = []
        for k in range(int(flows)):
            order = np.arange(dims) if k % 2 == 0 else np.arange(dims)[::-1].copy()
            parts.append(MAFLayer(dims, int(hidden), int(layers), order, seed=k))
            if batch_norm:
                parts.append(BatchNormFlow((dims,)))
        self.layers = nn.ModuleList(parts)

    @classmethod
    def default_config(cls, data: str) -> dict:
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "alpha": 0.05, "flows": 5, "hidden": 256, "layers": 2,
                    "batch_norm": True}
        return {"lr": 1e-3, "batch_size": 256, "alpha": 0.05, "flows": 5, "hidden": 64, "layers": 2,
                "batch_norm": True}
