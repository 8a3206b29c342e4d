"""RealNVP's multi-scale architecture (Dinh et al., 2017, sec. 3.6): squeezing and factoring out.

    squeeze:      (C, H, W) -> (4C, H/2, W/2), each 2x2 block of a channel becomes 4 channels (a permutation:
                  log |det| = 0)
    factor out:   h = head(x); (kept, z_out) = split of h's channels in halves; z = [tail(kept), z_out]

so half of the dimensions leave the flow at each scale as latents, and the deeper, more expensive layers
(tail) see only the rest. log |det| = log |det head| + log |det tail|. `forward` is data -> latent, as for
every layer of models/flows/.
"""
from __future__ import annotations

import minigen as mg
from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import ComposeTransform, Transform

__all__ = ["Squeeze", "MultiScale"]


class Squeeze(nn.Module, Transform):
    """Space-to-depth on the last three axes: x[c, 2i + a, 2j + b] -> y[4c + 2a + b, i, j]."""

    event_dim = 3

    def forward(self, x: Tensor) -> Tensor:
        *lead, c, h, w = x.shape
        if h % 2 or w % 2:
            raise ValueError(f"Squeeze: height and width must be even, got input of shape {x.shape}")
        y = x.reshape(-1, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
        return y.reshape(*lead, 4 * c, h // 2, w // 2)

    def inverse(self, y: Tensor) -> Tensor:
        *lead, c4, h, w = y.shape
        x = y.reshape(-1, c4 // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
        return x.reshape(*lead, c4 // 4, 2 * h, 2 * w)

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return mg.zeros(x.shape[:-3], dtype=x.dtype, device=x.device)

    def forward_shape(self, shape: tuple) -> tuple:
        *lead, c, h, w = shape
        return (*lead, 4 * c, h // 2, w // 2)

    def inverse_shape(self, shape: tuple) -> tuple:
        *lead, c4, h, w = shape
        return (*lead, c4 // 4, 2 * h, 2 * w)


class MultiScale(nn.Module, Transform):
    """z = [tail(kept), z_out] with (kept, z_out) the channel halves of head(x); head and tail are lists of
    layers, the tail's keeping its input's shape."""

    def __init__(self, head: list, tail: list):
        super().__init__()
        self.head, self.tail = nn.ModuleList(head), nn.ModuleList(tail)
        self.event_dim = 3
        self._head, self._tail = ComposeTransform(list(self.head)), ComposeTransform(list(self.tail))

    def _split(self, h: Tensor) -> tuple[Tensor, Tensor]:
        half = h.shape[-3] // 2
        return h[..., :half, :, :], h[..., half:, :, :]

    def forward_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h, ldj_head = self._head.forward_and_log_det(x)
        kept, out = self._split(h)
        z, ldj_tail = self._tail.forward_and_log_det(kept)
        if z.shape != kept.shape:
            raise ValueError(f"MultiScale: the tail must keep its input's shape, got {kept.shape} -> {z.shape}")
        return mg.cat([z, out], axis=-3), ldj_head + ldj_tail

    def inverse_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        inner, out = self._split(z)
        kept, ldj_tail = self._tail.inverse_and_log_det(inner)
        x, ldj_head = self._head.inverse_and_log_det(mg.cat([kept, out], axis=-3))
        return x, ldj_head + ldj_tail

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[0]

    def inverse(self, z: Tensor) -> Tensor:
        return self.inverse_and_log_det(z)[0]

    def log_abs_det_jacobian(self, x: Tensor, y: Tensor) -> Tensor:
        return self.forward_and_log_det(x)[1]

    def forward_shape(self, shape: tuple) -> tuple:
        return self._head.forward_shape(shape)

    def inverse_shape(self, shape: tuple) -> tuple:
        return self._head.inverse_shape(shape)
