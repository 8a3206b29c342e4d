"""Pooling: max_pool2d (argmax kept), avg_pool2d (a fixed depthwise conv) and upsample_nearest.

Max pooling gathers one element per window; its gradient scatters to that element, and the scatter's
gradient gathers again, so two Functions (WindowGather, WindowScatter) differentiate each other and
max pooling is WindowGather with the index chosen by argmax. The scatter adds one strided slice per
kernel tap (overlapping windows add up), like col2im in conv.py.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from ..function import Function
from ..tensor import Tensor
from .conv import Pair, conv2d, pad_spatial, pair, sliding_windows
from .shape import broadcast_to, reshape


def _tap_columns(x, kernel: Pair, stride: Pair, padding: Pair, out_size: Pair, fill: float):
    """(N, C, kh kw, Ho, Wo): the windows of x padded with `fill`, one copy of the strided view."""
    n, c = x.shape[:2]
    view = sliding_windows(pad_spatial(x, padding, fill), kernel, stride, (1, 1), out_size)
    return view.reshape(n, c, kernel[0] * kernel[1], *out_size)


def _take(columns, index):
    """columns[n, c, index[n, c, h, w], h, w]."""
    xp = backend.array_module(columns)
    return xp.take_along_axis(columns, index[:, :, None], axis=2)[:, :, 0]


class WindowGather(Function):
    """y[n, c, h, w] = x_pad[n, c, h sh + i, w sw + j] for the tap (i, j) = divmod(index, kw) of each window;
    backward scatters the gradient to the gathered elements."""

    def geometry(self) -> dict:
        return dict(index=self.index, kernel=self.kernel, stride=self.stride, padding=self.padding)

    def forward(self, x):
        return _take(_tap_columns(x, self.kernel, self.stride, self.padding, self.index.shape[2:], 0.0),
                     self.index)

    def backward(self, gy):
        return WindowScatter.apply(gy, size=self.inputs[0].shape[2:], **self.geometry())


class MaxPool2d(WindowGather):
    """y = max over each window (padding counts as -inf), the argmax kept; dx = gy scattered to the argmax."""

    def forward(self, x):
        columns = _tap_columns(x, self.kernel, self.stride, self.padding, self.out_size, -np.inf)
        self.index = columns.argmax(axis=2)
        return _take(columns, self.index)


class WindowScatter(Function):
    """The adjoint of WindowGather: gx_pad[n, c, h sh + i, w sw + j] += gy[n, c, h, w] at each window's tap,
    one strided slice per tap; backward gathers."""

    def forward(self, gy):
        xp = backend.array_module(gy)
        (kh, kw), (sh, sw), (ph, pw) = self.kernel, self.stride, self.padding
        n, c, ho, wo = gy.shape
        buffer = xp.zeros((n, c, self.size[0] + 2 * ph, self.size[1] + 2 * pw), gy.dtype)
        zero = xp.zeros((), gy.dtype)
        for i in range(kh):
            for j in range(kw):
                buffer[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += \
                    xp.where(self.index == i * kw + j, gy, zero)
        return xp.ascontiguousarray(buffer[:, :, ph:ph + self.size[0], pw:pw + self.size[1]])

    def backward(self, ggx):
        return WindowGather.apply(ggx, index=self.index, kernel=self.kernel, stride=self.stride,
                                  padding=self.padding)


# ------------------------------------------------------------------------------------- the functions

def _pool_geometry(op: str, x: Tensor, kernel_size, stride, padding) -> tuple:
    """(kernel, stride, padding, out_size), checked as PyTorch does (padding at most half the kernel)."""
    if x.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W), got shape {x.shape} on {x.device}")
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else pair(stride, "stride", op)
    padding = pair(padding, "padding", op)
    if min(kernel) < 1 or min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need kernel_size >= 1, stride >= 1 and padding >= 0, got "
                         f"kernel_size={kernel}, stride={stride}, padding={padding} "
                         f"(input {x.shape} on {x.device})")
    if any(2 * p > k for p, k in zip(padding, kernel)):
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size {kernel} "
                         f"(input {x.shape} on {x.device})")
    out_size = tuple((x.shape[2 + a] + 2 * padding[a] - kernel[a]) // stride[a] + 1 for a in range(2))
    if min(out_size) < 1:
        raise ValueError(f"{op}: output size {out_size} is smaller than 1 (input {x.shape}, kernel_size "
                         f"{kernel}, stride {stride}, padding {padding} on {x.device})")
    return kernel, stride, padding, out_size


def max_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """y[n, c, h, w] = max of x over window (h, w) (stride defaults to kernel_size, padding is -inf);
    d/dx = 1 at each window's argmax."""
    kernel, stride, padding, out_size = _pool_geometry("max_pool2d", x, kernel_size, stride, padding)
    return MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=padding, out_size=out_size)


def avg_pool2d(x: Tensor, kernel_size, stride=None, padding=0) -> Tensor:
    """y[n, c, h, w] = mean of x over window (h, w), zero padding counted (PyTorch's count_include_pad):
    a conv2d of every channel with a constant 1/(kh kw) kernel."""
    kernel, stride, padding, _ = _pool_geometry("avg_pool2d", x, kernel_size, stride, padding)
    n, c, h, w = x.shape
    xp = backend.array_module(x.data)
    ones = Tensor._make(xp.full((1, 1) + kernel, 1.0 / (kernel[0] * kernel[1]), dtype=x.dtype))
    y = conv2d(reshape(x, (n * c, 1, h, w)), ones, stride=stride, padding=padding)
    return reshape(y, (n, c) + y.shape[2:])


def upsample_nearest(x: Tensor, scale_factor: int) -> Tensor:
    """y[n, c, h, w] = x[n, c, h // s, w // s] over every spatial axis (N, C, *spatial), an integer s;
    a reshape, a broadcast and a reshape, so the gradient sums each s x s block."""
    if isinstance(scale_factor, float) and scale_factor.is_integer():
        scale_factor = int(scale_factor)
    if not isinstance(scale_factor, (int, np.integer)) or scale_factor < 1:
        raise ValueError(f"upsample_nearest: scale_factor must be a positive integer, got {scale_factor!r} "
                         f"(input {x.shape} on {x.device})")
    if x.ndim < 3:
        raise ValueError(f"upsample_nearest: expected an input (N, C, *spatial) with at least one spatial "
                         f"axis, got shape {x.shape} on {x.device}")
    s, spatial = int(scale_factor), x.shape[2:]
    split = x.shape[:2] + tuple(d for side in spatial for d in (side, 1))
    spread = x.shape[:2] + tuple(d for side in spatial for d in (side, s))
    return reshape(broadcast_to(reshape(x, split), spread), x.shape[:2] + tuple(side * s for side in spatial))
