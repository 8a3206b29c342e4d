"""Convolution layers: Conv1d (with a causal option for WaveNet), Conv2d, ConvTranspose2d, and PixelCNN's
MaskedConv2d. Weights use PyTorch's layouts and default initialisation (kaiming_uniform_(a=sqrt(5)) and a
bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)))."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import Tensor
from ..ops.conv import pixelcnn_mask
from ..ops.shape import pad
from ..dtypes import resolve
from . import init
from .module import Module, Parameter, check_input_dtype


def _tuple(value, n: int, name: str, layer: str) -> tuple:
    """An int or an n-tuple of ints as an n-tuple."""
    out = tuple(int(v) for v in value) if isinstance(value, (tuple, list)) else (int(value),) * n
    if len(out) != n:
        raise ValueError(f"{layer}: {name} must be an int or a {n}-tuple, got {value!r}")
    return out


def _padding(padding, kernel: tuple, dilation: tuple, layer: str) -> tuple:
    """Numeric padding per axis; "valid" is 0 and "same" is dilation * (k - 1) / 2 (odd extents only)."""
    if padding == "valid":
        return (0,) * len(kernel)
    if padding == "same":
        total = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        if any(t % 2 for t in total):
            raise ValueError(f"{layer}: padding='same' needs odd dilation * (kernel - 1) + 1 extents, got "
                             f"kernel {kernel} and dilation {dilation}")
        return tuple(t // 2 for t in total)
    return _tuple(padding, len(kernel), "padding", layer)


class _ConvNd(Module):
    """Shared parameters: weight of `weight_shape` and an optional bias of `out_channels` elements."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple, weight_shape: tuple,
                 groups: int, bias: bool, device: str, dtype):
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{type(self).__name__}: in_channels {in_channels} and out_channels "
                             f"{out_channels} must both be divisible by groups {groups}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = kernel_size
        self.weight = Parameter(np.zeros(weight_shape, resolve(dtype)))
        self.register_parameter("bias", Parameter(np.zeros(self.out_channels, resolve(dtype))) if bias else None)
        self.reset_parameters()
        if device != "cpu":
            self.to(device)

    def reset_parameters(self) -> None:
        init.default_weight_bias_(self.weight, self.bias)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        for name, default in (("padding", 0), ("output_padding", 0), ("dilation", 1)):
            value = getattr(self, name, None)
            if value is not None and value != (default,) * len(self.kernel_size):
                s += f", {name}={value}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s


class Conv1d(_ConvNd):
    """1-D cross-correlation of (N, C, L) with a weight (out, in/groups, k); causal=True pads
    dilation * (k - 1) zeros on the left only, so output t sees inputs <= t (WaveNet)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding=0, dilation: int = 1, groups: int = 1, bias: bool = True, causal: bool = False,
                 device: str = "cpu", dtype=None):
        k = _tuple(kernel_size, 1, "kernel_size", "Conv1d")
        self.stride, self.dilation = _tuple(stride, 1, "stride", "Conv1d"), _tuple(dilation, 1, "dilation", "Conv1d")
        self.padding, self.causal = _padding(padding, k, self.dilation, "Conv1d"), causal
        if causal and self.padding != (0,):
            raise ValueError(f"Conv1d: causal=True pads by itself; got padding={padding!r} as well")
        super().__init__(in_channels, out_channels, k, (out_channels, in_channels // groups) + k, groups, bias,
                         device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_input_dtype(self, x, self.weight)
        if self.causal:
            x = pad(x, (self.dilation[0] * (self.kernel_size[0] - 1), 0))
        return F.conv1d(x, self.weight, self.bias, self.stride[0], self.padding[0], self.dilation[0],
                        self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", causal=True" if self.causal else "")


class Conv2d(_ConvNd):
    """2-D cross-correlation of (N, C, H, W) with a weight (out, in/groups, kh, kw)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, device: str = "cpu", dtype=None):
        k = _tuple(kernel_size, 2, "kernel_size", type(self).__name__)
        self.stride = _tuple(stride, 2, "stride", type(self).__name__)
        self.dilation = _tuple(dilation, 2, "dilation", type(self).__name__)
        self.padding = _padding(padding, k, self.dilation, type(self).__name__)
        super().__init__(in_channels, out_channels, k, (out_channels, in_channels // groups) + k, groups, bias,
                         device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_input_dtype(self, x, self.weight)
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """The transpose (adjoint) of Conv2d, weight (in, out/groups, kh, kw);
    H_out = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, device: str = "cpu", dtype=None):
        k = _tuple(kernel_size, 2, "kernel_size", "ConvTranspose2d")
        self.stride = _tuple(stride, 2, "stride", "ConvTranspose2d")
        self.padding = _tuple(padding, 2, "padding", "ConvTranspose2d")
        self.output_padding = _tuple(output_padding, 2, "output_padding", "ConvTranspose2d")
        self.dilation = _tuple(dilation, 2, "dilation", "ConvTranspose2d")
        super().__init__(in_channels, out_channels, k, (in_channels, out_channels // groups) + k, groups, bias,
                         device, dtype)

    def forward(self, x: Tensor) -> Tensor:
        check_input_dtype(self, x, self.weight)
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class MaskedConv2d(Conv2d):
    """PixelCNN's masked convolution: the weight is multiplied by a raster-order mask (buffer `mask`,
    shape (kh, kw)) so that output pixel (i, j) sees only the pixels before it ("A") or also itself ("B").
    padding=None keeps the image size (dilation * (k // 2))."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, mask_type: str = "A", stride=1,
                 padding=None, dilation=1, bias: bool = True, device: str = "cpu", dtype=None):
        if mask_type not in ("A", "B"):
            raise ValueError(f"MaskedConv2d: mask_type must be 'A' or 'B', got {mask_type!r}")
        k = _tuple(kernel_size, 2, "kernel_size", "MaskedConv2d")
        d = _tuple(dilation, 2, "dilation", "MaskedConv2d")
        if padding is None:
            padding = (d[0] * (k[0] // 2), d[1] * (k[1] // 2))
        self.mask_type = mask_type
        super().__init__(in_channels, out_channels, k, stride, padding, d, 1, bias, "cpu", dtype)
        self.register_buffer("mask", Tensor(pixelcnn_mask(k[0], k[1], mask_type, resolve(dtype))))
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor) -> Tensor:
        check_input_dtype(self, x, self.weight)
        return F.masked_conv2d(x, self.weight, self.bias, self.mask_type, self.padding, self.stride,
                               self.dilation)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"
