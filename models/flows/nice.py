"""NICE (Dinh, Krueger & Bengio, 2015): additive coupling layers and a diagonal scaling.

    h = f(x):  x_I2 <- x_I2 + m(x_I1)   (four layers, the partition I1/I2 alternating between odd and even
               coordinates), then h = exp(S) * x
    log p(x) = sum_d log p_H(h_d) + sum_d S_d                       (the couplings have unit Jacobian)

Deviations: the prior p_H is N(0, I) (the paper uses the logistic for MNIST, Gaussian for TFD/SVHN);
coupling nets are smaller (`layers` hidden ReLU layers of `hidden` units, the paper's 5 x 1000) for the
64-dimensional digits; data are the dequantized 17-level digits in logit space (LogitTransform).
"""
from __future__ import annotations

from minigen import nn

from .base import FlowModel, mlp_net
from .coupling import AdditiveCoupling, Scaling, half_mask


class NICE(FlowModel):
    """`couplings` additive couplings with alternating halves, then the scaling layer exp(S)."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 couplings: int = 4, hidden: int = 256, layers: int = 3):
        super().__init__(data, lr, batch_size, alpha)
        dims = self.flow_shape[0]
        parts = [AdditiveCoupling(half_mask(dims, k % 2), mlp_net([dims] + [int(hidden)] * int(layers) + [dims]))
                 for k in range(int(couplings))]
        self.layers = nn.ModuleList(parts + [Scaling((dims,))])

    @classmethod
    def default_config(cls, data: str) -> dict:
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "alpha": 0.05, "couplings": 4, "hidden": 256, "layers": 3}
        return {"lr": 1e-3, "batch_size": 256, "alpha": 0.05, "couplings": 4, "hidden": 64, "layers": 3}
