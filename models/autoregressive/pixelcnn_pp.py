"""PixelCNN++ (Salimans, Karpathy, Chen & Kingma, 2017) on the 17-level digits.

    p(x) = prod_{i, j} P(x_ij | x_<ij),  P a discretized logistic mixture (logistic_mixture.py, eq. 2)

The network has no masks: two streams of shifted convolutions. The u stream ("down-shifted", 2x3 kernels
padded above and on both sides) sees the rows above; the ul stream ("down-right-shifted", 2x2 kernels
padded above and on the left) sees the rows above and the pixels to the left:

    u_0  = down_shift(conv_{2x3}(x)),  ul_0 = down_shift(conv_{1x3}(x)) + right_shift(conv_{2x1}(x))
    gated resnet:  c = conv(concat_elu(v)) [+ nin(concat_elu(a))];  c = conv(dropout(concat_elu(c)));
                   v' = v + c_1 * sigmoid(c_2)                    (c split in halves along channels)
    up pass:    n resnets at 8x8, a stride-2 shifted conv to 4x4, n resnets (u: a = none; ul: a = u)
    down pass:  n + 1 resnets at 4x4, a stride-2 shifted transposed conv to 8x8, n + 1 resnets, each taking
                the matching up-pass output as a short-cut (u: a = u_up; ul: a = [u, ul_up])
    params = nin(elu(ul)):  K mixture logits, K means, K log-scales per pixel

concat_elu(v) = elu([v, -v]). Deviations, and why: one colour (the digits are gray: no linear
dependence between colour means), one down/up-sampling step (8x8 -> 4x4; the paper's 32 -> 16 -> 8 has
no room on 8x8 images), no weight normalisation or Polyak averaging (plain Adam on a small net), and
sampling draws the level by the inverse of the discretized mixture's CDF, P(level <= k) = sum_i pi_i
sigma((x_k + delta - mu_i) / s_i) at the levels' upper edges (exactly the model's distribution), rather than
rounding a continuous logistic draw.

Fast sampling (pixelcnn_pp_sampler.py; Ramachandran et al. 2017 also cache through strided layers): every
layer is causal in rows (2-row kernels padded above, down_shift, the stride-2 conv's 4x4 row m reading 8x8
rows 2m - 1 and 2m, the up-sampling's 8x8 row p reading 4x4 row p // 2), so the u stream's row i depends on
the rows above only and is computed once per row, and the ul stream's value at (i, j) (its 4x4 value at
(i // 2, j // 2)) depends on the pixels before (i, j) (before (2 (i // 2), 2 (j // 2))) only, so each is
computed once, at its own pixel, from caches of the layers' inputs. For the same seed the fast and the naive
sampler (the whole network per pixel) give the same samples (tests/models/test_pixelcnn_pp.py).
"""
from __future__ import annotations

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor

from .logistic_mixture import (
    discretized_logistic_mixture_cdf,
    discretized_logistic_mixture_log_prob,
)
from .pixel_base import PixelModel
from .pixelcnn_pp_sampler import FastSampler


def down_shift(x: Tensor) -> Tensor:
    """Move every row down by one (zeros in the first row)."""
    return mg.pad(x, (0, 0, 1, 0))[:, :, :x.shape[2]]


def right_shift(x: Tensor) -> Tensor:
    """Move every column right by one (zeros in the first column)."""
    return mg.pad(x, (1, 0, 0, 0))[:, :, :, :x.shape[3]]


def concat_elu(x: Tensor) -> Tensor:
    return F.elu(mg.cat([x, -x], axis=1))


class ShiftedConv(nn.Conv2d):
    """Convolution padded above (kh - 1 rows) and either on both sides ("down": (kw - 1) / 2 each) or on
    the left (kw - 1, "down_right"), so output (i, j) sees inputs in rows <= i and columns <= j + (kw-1)/2
    ("down") or <= j ("down_right")."""

    def __init__(self, cin: int, cout: int, kernel: tuple, kind: str, stride: int = 1):
        super().__init__(cin, cout, kernel, stride=stride)
        kh, kw = kernel
        side = (kw - 1) // 2
        self.pads = (side, kw - 1 - side, kh - 1, 0) if kind == "down" else (kw - 1, 0, kh - 1, 0)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(mg.pad(x, self.pads), self.weight, self.bias, stride=self.stride)


class ShiftedDeconv(nn.ConvTranspose2d):
    """Stride-2 transposed convolution cropped so that output (2i + a, 2j + b) uses inputs at or before
    (i, j) in the shifted sense: "down" keeps rows [0, H) and columns shifted by (kw - 1) / 2, "down_right"
    keeps the first rows and columns."""

    def __init__(self, cin: int, cout: int, kernel: tuple, kind: str):
        super().__init__(cin, cout, kernel, stride=2, output_padding=1)
        self.kind = kind

    def forward(self, x: Tensor) -> Tensor:
        out = super().forward(x)
        h, w = 2 * x.shape[2], 2 * x.shape[3]
        left = (self.kernel_size[1] - 1) // 2 if self.kind == "down" else 0
        return out[:, :, :h, left:left + w]


class GatedResnet(nn.Module):
    """v + c_1 * sigmoid(c_2), c = conv(dropout(concat_elu(conv(concat_elu(v)) + nin(concat_elu(a)))))."""

    def __init__(self, channels: int, kernel: tuple, kind: str, short_cut: int, dropout: float):
        super().__init__()
        self.conv_in = ShiftedConv(2 * channels, channels, kernel, kind)
        self.nin = nn.Conv2d(2 * short_cut * channels, channels, 1) if short_cut else None
        self.dropout = nn.Dropout(dropout)
        self.conv_out = ShiftedConv(2 * channels, 2 * channels, kernel, kind)

    def forward(self, v: Tensor, a: Tensor | None = None) -> Tensor:
        c = self.conv_in(concat_elu(v))
        if a is not None:
            c = c + self.nin(concat_elu(a))
        c = self.conv_out(self.dropout(concat_elu(c)))
        half = c.shape[1] // 2
        return v + c[:, :half] * c[:, half:].sigmoid()


class PixelCNNPlusPlus(PixelModel):
    """Two shifted streams, gated resnets, one 8x8 -> 4x4 -> 8x8 down/up-sampling with short-cuts."""

    binarize = None

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, channels: int = 16,
                 resnets: int = 1, components: int = 5, dropout: float = 0.0, event_shape: tuple | None = None,
                 ema: float = 0.0, lr_schedule: str = "constant"):
        super().__init__(data, lr, batch_size, "categorical", 17, "static", event_shape, ema, lr_schedule)
        if self.colors != 1:
            raise ValueError(f"pixelcnn-pp: one colour channel only, got images of shape {self.event_shape}")
        self.likelihood, self.components, self.outputs = "logistic_mixture", int(components), 3 * int(components)
        c, n = int(channels), int(resnets)
        down, right = ((2, 3), "down"), ((2, 2), "down_right")
        self.u_init = ShiftedConv(1, c, (2, 3), "down")
        self.ul_init = nn.ModuleList([ShiftedConv(1, c, (1, 3), "down"), ShiftedConv(1, c, (2, 1), "down_right")])
        resnet = lambda kind, cut: GatedResnet(c, *kind, cut, dropout)
        self.up_u = nn.ModuleList([resnet(down, 0) for _ in range(2 * n)])
        self.up_ul = nn.ModuleList([resnet(right, 1) for _ in range(2 * n)])
        self.down_u = nn.ModuleList([resnet(down, 1) for _ in range(2 * n + 2)])
        self.down_ul = nn.ModuleList([resnet(right, 2) for _ in range(2 * n + 2)])
        self.downsample = nn.ModuleList([ShiftedConv(c, c, (2, 3), "down", 2), ShiftedConv(c, c, (2, 2), "down_right", 2)])
        self.upsample = nn.ModuleList([ShiftedDeconv(c, c, (2, 3), "down"), ShiftedDeconv(c, c, (2, 2), "down_right")])
        self.out = nn.Conv2d(c, self.outputs, 1)
        self.resnets = n

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "channels": 16, "resnets": 1, "components": 5, "dropout": 0.0,
                **PixelModel.TRAINING_DEFAULTS}

    def network(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The mixture parameters (B, 3K, H, W) from x scaled to [-1, 1]."""
        x = x * 2.0 - 1.0
        n = self.resnets
        u = down_shift(self.u_init(x))
        ul = down_shift(self.ul_init[0](x)) + right_shift(self.ul_init[1](x))
        us, uls = [u], [ul]
        for k in range(2 * n):
            if k == n:
                u, ul = self.downsample[0](u), self.downsample[1](ul)
                us.append(u), uls.append(ul)
            u = self.up_u[k](u)
            ul = self.up_ul[k](ul, u)
            us.append(u), uls.append(ul)
        for k in range(2 * n + 2):
            if k == n + 1:
                u, ul = self.upsample[0](u), self.upsample[1](ul)
            u = self.down_u[k](u, us.pop())
            ul = self.down_ul[k](ul, mg.cat([u, uls.pop()], axis=1))
        return self.out(F.elu(ul))

    def _mixture(self, params: Tensor) -> tuple:
        k = self.components
        return params[..., :k], params[..., k:2 * k], params[..., 2 * k:]

    def log_prob(self, batch, reduce: bool = True) -> Tensor:
        """sum over pixels of log P(x_ij | x_<ij) under the discretized logistic mixture."""
        x = batch
        flat = self.flat(x)
        params = self.conditionals(flat)                                   # (B, n, 3K)
        values = backend.to_device(flat.data, "cpu")
        if values.min() < 0 or values.max() > self.levels - 1:
            raise ValueError(f"{self.name}: pixel values must be integers in 0..{self.levels - 1}, got "
                             f"{values.min()}..{values.max()} (shape {x.shape}, {x.device})")
        terms = discretized_logistic_mixture_log_prob(flat, *self._mixture(params), self.levels)
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape)

    def _draw(self, logits, u, xp):
        """The level by the inverse CDF at u: the smallest k with P(level <= k) >= u (the mixture's CDF at
        level k's upper edge, logistic_mixture.discretized_logistic_mixture_cdf; 1 at the last level)."""
        cdf = discretized_logistic_mixture_cdf(*self._mixture(logits), self.levels)     # (B, L - 1)
        return (cdf < u[:, None]).sum(axis=1).astype(u.dtype)

    # ----------------------------------------------------------------------------- fast sampler
    def start_cache(self, scaled, y=None) -> dict:
        """The fast sampler's caches (pixelcnn_pp_sampler.py) for the image scaled to [0, 1]."""
        return {"sampler": FastSampler(self, scaled)}

    def row_start(self, cache: dict, i: int) -> None:
        """Row i of every u-stream layer: it depends on the rows above only."""
        cache["sampler"].row(i)

    def logits_at(self, cache: dict, i: int, j: int):
        """(B, 1, 3K) mixture parameters of pixel (i, j): every ul-stream layer at (i, j) only."""
        params = cache["sampler"].at(i, j)
        return params.reshape(params.shape[0], 1, self.outputs)

    def write(self, cache: dict, c: int, i: int, j: int, value) -> None:
        cache["sampler"].write(i, j, value)
