"""Masked convolutions of the pixel models, with PixelCNN's R -> G -> B channel ordering, and their
evaluation at single positions (what the fast samplers cache around).

For an image with `colors` channels the pixels are generated in raster order and, within a pixel, channel
0 (R), then 1 (G), then 2 (B). Every feature map is split into `colors` contiguous groups, group g "belonging"
to colour g. A masked weight w * M (out, in, kh, kw) keeps

    every tap strictly before the centre (the rows above it, the pixels left of it in its row), and
    the centre tap from input group g_in to output group g_out when g_in < g_out (mask "A") or
    g_in <= g_out (mask "B"),

so output group g at (i, j) sees the earlier pixels and, at (i, j), only the colours before g ("A": the
first layer, which reads the image) or up to g ("B": the later layers). With one colour this is
minigen.kernels.masked_conv2d.pixelcnn_mask, and PixelConv2d is nn.MaskedConv2d (its CUDA kernel included).
"""
from __future__ import annotations

import numpy as np

import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.kernels.masked_conv2d import pixelcnn_mask


def colour_groups(channels: int, colors: int, what: str) -> np.ndarray:
    """The colour group of each of `channels` channels: contiguous blocks of channels // colors."""
    if channels % colors:
        raise ValueError(f"pixel models: {what} has {channels} channels, not a multiple of the {colors} "
                         "colours (each colour needs its own group of channels)")
    return np.arange(channels) // (channels // colors)


def colour_mask(out_channels: int, in_channels: int, kh: int, kw: int, mask_type: str, colors: int,
                dtype=np.float32) -> np.ndarray:
    """The (out, in, kh, kw) mask: the taps before the centre, and the centre from group g_in to g_out when
    g_in < g_out ("A") or g_in <= g_out ("B")."""
    if mask_type not in ("A", "B"):
        raise ValueError(f"colour_mask: mask_type must be 'A' or 'B', got {mask_type!r}")
    g_out = colour_groups(out_channels, colors, "the output")
    g_in = colour_groups(in_channels, colors, "the input")
    mask = np.broadcast_to(pixelcnn_mask(kh, kw, "A", dtype), (out_channels, in_channels, kh, kw)).copy()
    centre = g_in[None, :] < g_out[:, None] if mask_type == "A" else g_in[None, :] <= g_out[:, None]
    mask[:, :, kh // 2, kw // 2] = centre
    return mask


class PixelConv2d(nn.MaskedConv2d):
    """nn.MaskedConv2d whose centre tap also follows the R -> G -> B groups when colors > 1 (buffer
    `colour_mask`, (out, in, kh, kw)); size-preserving, stride 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str, colors: int = 1):
        super().__init__(in_channels, out_channels, kernel_size, mask_type)
        self.colors = int(colors)
        full = colour_mask(out_channels, in_channels, *self.kernel_size, mask_type, self.colors)
        self.register_buffer("colour_mask", Tensor(full), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.colors == 1:
            return super().forward(x)
        return F.conv2d(x, self.weight * self.colour_mask, self.bias, padding=self.padding)

    def masked_weight(self):
        """The raw array w * M (out, in, kh, kw) that the layer applies."""
        return (self.weight * self.colour_mask).data


def pad_cache(x, padding: tuple[int, int]):
    """A raw (B, C, H, W) array zero-padded by (rows, columns) on each side: a sampler's cache."""
    xp = backend.array_module(x)
    (ph, pw) = padding
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))


def conv_at(weight, bias, padded, i: int, j: int, pad: tuple[int, int] | None = None):
    """The output (B, out) of a size-preserving convolution at pixel (i, j), read from its input cache
    padded by `pad` = (rows, columns) on each side (kh // 2, kw // 2 unless given):
    sum_{c, a, b} w[o, c, a, b] x[c, i - kh // 2 + a, j - kw // 2 + b] + bias[o]."""
    kh, kw = weight.shape[2:]
    ph, pw = (kh // 2, kw // 2) if pad is None else pad
    top, left = i + ph - kh // 2, j + pw - kw // 2
    patch = padded[:, :, top:top + kh, left:left + kw].reshape(padded.shape[0], -1)
    out = patch @ weight.reshape(weight.shape[0], -1).T
    return out if bias is None else out + bias


def pointwise(weight, bias, v):
    """A 1x1 convolution at one pixel: v (B, C) -> (B, out)."""
    out = v @ weight[:, :, 0, 0].T
    return out if bias is None else out + bias


class StackConv2d(nn.Conv2d):
    """A size-preserving convolution of the Gated PixelCNN's stacks: a k x k weight times
    pixelcnn_mask(k, k, m) for m in V_A, V_B (vertical: the rows above; and the centre row), a 1 x k one
    times pixelcnn_mask(1, k, m) for m in H_A, H_B (horizontal: the pixels left of the centre; and the
    centre)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str):
        rows = 1 if mask_type.startswith("H") else kernel_size
        super().__init__(in_channels, out_channels, (rows, kernel_size), padding=(rows // 2, kernel_size // 2))
        self.mask_type = mask_type
        self.register_buffer("mask", Tensor(pixelcnn_mask(rows, kernel_size, mask_type)), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

    def masked_weight(self):
        return (self.weight * self.mask).data


def masked_parameter_count(model: nn.Module) -> int:
    """Parameters a model's masks leave free: a masked layer's weight counts only its unmasked entries."""
    total = 0
    for module in model.modules():
        for name, p in module._parameters.items():
            if p is None:
                continue
            if name == "weight" and isinstance(module, (PixelConv2d, StackConv2d)):
                mask = module.colour_mask if isinstance(module, PixelConv2d) else module.mask
                total += int((backend.to_device(mask.data, "cpu") != 0).sum()) * p.numel() // mask.numel()
            else:
                total += p.numel()
    return total
