"""RealNVP (Dinh, Sohl-Dickstein & Bengio, 2017): affine coupling layers in a multi-scale architecture.

    y = b x + (1 - b) (x exp(s(b x)) + t(b x)),   log |det| = sum (1 - b) s          (models/flows/coupling.py)
    s = scale * tanh(raw)                                   (bounded log-scales, a learned scale per channel)

Digits (1, 8, 8): scale 1 is three checkerboard couplings, a squeeze to (4, 4, 4), three channel-wise
couplings, and half of the channels factored out; the final scale is four checkerboard couplings on the
remaining (2, 4, 4) (models/flows/multiscale.py). Batch norm with its log-determinant
(models/flows/normalization.py) follows every coupling; the masks alternate parity. 2-D toys: couplings of
the two coordinates in turn with MLP nets.

Deviations: the s and t nets are plain 3x3 convolution stacks (`hidden` channels, ReLU, last layer zero so each
coupling starts as the identity) instead of the paper's residual networks with batch norm and weight norm,
sized for 8x8 images; one net outputs [t, raw s] together; the prior is N(0, I), data are the dequantized
17-level digits in logit space (the paper's alpha = 0.05 preprocessing).
"""
from __future__ import annotations

from minigen import nn

from .base import FlowModel, mlp_net
from .coupling import AffineCoupling, channel_mask, checkerboard_mask, half_mask
from .multiscale import MultiScale, Squeeze
from .normalization import BatchNormFlow


def conv_net(channels: int, hidden: int, out_channels: int) -> nn.Module:
    """3x3 conv (same padding) -> ReLU -> 3x3 conv -> ReLU -> 3x3 conv, the last zero-initialised."""
    net = nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                        nn.Conv2d(hidden, out_channels, 3, padding=1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def coupling_block(shape: tuple, mask, hidden: int, batch_norm: bool, bound: str = "tanh") -> list:
    """An affine coupling on images of `shape` with a conv net, then batch norm."""
    coupling = AffineCoupling(mask, conv_net(shape[0], hidden, 2 * shape[0]), bound)
    return [coupling, BatchNormFlow(shape)] if batch_norm else [coupling]


class RealNVP(FlowModel):
    """The multi-scale RealNVP on digits; alternating affine couplings on the toys."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 hidden: int = 64, batch_norm: bool = True, couplings: int = 6):
        super().__init__(data, lr, batch_size, alpha, image_flow=data == "digits")
        hidden = int(hidden)
        if data != "digits":
            parts = []
            for k in range(int(couplings)):
                parts.append(AffineCoupling(half_mask(2, k % 2), mlp_net([2, hidden, hidden, 4])))
                if batch_norm:
                    parts.append(BatchNormFlow((2,)))
            self.layers = nn.ModuleList(parts)
            return
        c, h, w = self.flow_shape
        head = []
        for k in range(3):
            head += coupling_block((c, h, w), checkerboard_mask(c, h, w, k % 2), hidden, batch_norm)
        head.append(Squeeze())
        c, h, w = 4 * c, h // 2, w // 2
        for k in range(3):
            head += coupling_block((c, h, w), channel_mask(c, h, w, k % 2), hidden, batch_norm)
        c //= 2
        tail = []
        for k in range(4):
            tail += coupling_block((c, h, w), checkerboard_mask(c, h, w, k % 2), hidden, batch_norm)
        self.layers = nn.ModuleList([MultiScale(head, tail)])

    @classmethod
    def default_config(cls, data: str) -> dict:
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "alpha": 0.05, "hidden": 64, "batch_norm": True, "couplings": 6}
        return {"lr": 1e-3, "batch_size": 256, "alpha": 0.05, "hidden": 64, "batch_norm": True, "couplings": 6}
