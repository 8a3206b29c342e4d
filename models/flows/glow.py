"""Glow (Kingma & Dhariwal, 2018): steps of flow [actnorm, invertible 1x1 convolution, affine coupling] in
RealNVP's multi-scale architecture.

    actnorm:      y = (x + b) exp(s) per channel, b and s set from the first minibatch   (normalization.py)
    1x1 conv:     y = W x over channels, W = P L (U + diag(s)), log |det| = H W sum log|s|  (invertible_conv.py)
    coupling:     [y_a, y_b] = [x_a, x_b * sigmoid(raw + 2) + t], [t, raw] = NN(x_a)         (coupling.py)

Digits (1, 8, 8): squeeze to (4, 4, 4), `steps` steps of flow, factor out half of the channels, then `steps`
steps on the remaining (2, 4, 4).

Deviations: one squeeze level fewer than the paper's L = 3 (8x8 images); the coupling nets are plain 3x3
convolution stacks (`hidden` channels; the paper's are 3x3 -> 1x1 -> zero-initialised 3x3 with actnorm),
the last layer zero-initialised as in the paper; the prior of the factored-out half is N(0, I) rather than
learned from the kept half; data are the dequantized 17-level digits in logit space.
"""
from __future__ import annotations

from minigen import nn

from .base import FlowModel
from .coupling import AffineCoupling, channel_mask
from .invertible_conv import Invertible1x1Conv
from .multiscale import MultiScale, Squeeze
from .normalization import ActNorm
from .realnvp import conv_net


def flow_step(shape: tuple, hidden: int, seed: int) -> list:
    """actnorm -> invertible 1x1 conv -> affine coupling on the channel halves (Glow's step of flow)."""
    c, h, w = shape
    return [ActNorm(shape), Invertible1x1Conv(c, seed),
            AffineCoupling(channel_mask(c, h, w, 0), conv_net(c, hidden, 2 * c), bound="sigmoid")]


class Glow(FlowModel):
    """Two scales of `steps` steps of flow on the digits."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 steps: int = 4, hidden: int = 32):
        if data != "digits":
            raise ValueError(f"glow trains on digits (images), not {data!r}")
        super().__init__(data, lr, batch_size, alpha, image_flow=True)
        c, h, w = self.flow_shape
        head = [Squeeze()]
        for k in range(int(steps)):
            head += flow_step((4 * c, h // 2, w // 2), int(hidden), k)
        tail = []
        for k in range(int(steps)):
            tail += flow_step((2 * c, h // 2, w // 2), int(hidden), 100 + k)
        self.layers = nn.ModuleList([MultiScale(head, tail)])

    datasets = ("digits",)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "alpha": 0.05, "steps": 4, "hidden": 32}
