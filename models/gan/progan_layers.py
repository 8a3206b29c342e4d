"""The layers of the Progressive GAN (Karras et al., 2018), each one concept:

    equalized learning rate   w_hat = w * c at every forward pass, c = gain / sqrt(fan_in) (He's constant,
                              gain sqrt(2)); w ~ N(0, 1) at init, so every weight gets the same dynamic range
                              under Adam's scale-free updates (EqualizedLinear, EqualizedConv2d)
    pixel norm                b_{x,y} = a_{x,y} / sqrt(1/C sum_j (a^j_{x,y})^2 + eps), eps = 1e-8, over channels
    minibatch stddev          s = mean_{c,h,w} sqrt(Var_n[x_{n,c,h,w}] + eps) (biased variance over the batch,
                              or over groups of G examples as in the paper's code), replicated as one extra
                              feature map for every example (of the group)
    fade-in                   y = alpha * new + (1 - alpha) * old, alpha rising from 0 to 1 while a new
                              resolution's layers are blended in
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn
from minigen.autograd import Tensor

HE_GAIN = math.sqrt(2.0)


class _Equalized(nn.Module):
    """weight ~ N(0, 1) and bias 0 at init; forward uses weight * scale with scale = gain / sqrt(fan_in)."""

    def __init__(self, shape: tuple, bias: bool, gain: float):
        super().__init__()
        fan_in = int(np.prod(shape[1:]))
        self.scale = gain / math.sqrt(fan_in)
        self.weight = nn.Parameter(np.zeros(shape, mg.get_default_dtype()))
        nn.init.normal_(self.weight, 0.0, 1.0)
        self.register_parameter("bias", nn.Parameter(np.zeros(shape[0], mg.get_default_dtype())) if bias else None)

    def scaled_weight(self) -> Tensor:
        """The weight the layer computes with, w * c (c applied at run time, so gradients see it too)."""
        return self.weight * self.scale


class EqualizedLinear(_Equalized):
    """y = x (c W)^T + b, c = gain / sqrt(in_features)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, gain: float = HE_GAIN):
        super().__init__((out_features, in_features), bias, gain)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.scaled_weight(), self.bias)


class EqualizedConv2d(_Equalized):
    """y = conv2d(x, c W) + b with 'same' padding for odd kernels, c = gain / sqrt(in_channels * k * k)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 gain: float = HE_GAIN):
        super().__init__((out_channels, in_channels, kernel_size, kernel_size), bias, gain)
        self.padding = kernel_size // 2

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.scaled_weight(), self.bias, padding=self.padding)


class PixelNorm(nn.Module):
    """x / sqrt(mean over channels of x^2 + eps), per example and pixel (the generator's normalisation)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return x / ((x * x).mean(axis=1, keepdims=True) + self.eps).sqrt()


class MinibatchStddev(nn.Module):
    """Appends one feature map holding the mean over (c, h, w) of the standard deviation over a group of
    examples: (N, C, H, W) -> (N, C + 1, H, W). A generator whose samples vary less than the data's shows it to
    the critic here. `group_size` None: one group, the whole minibatch (the paper's text); G: groups of G as in
    the paper's code, example n in group n mod (N / G) (x viewed as (G, N / G, C, H, W)), each example given
    its own group's statistic; N must be a multiple of G (a batch smaller than G is one group)."""

    def __init__(self, eps: float = 1e-8, group_size: int | None = None):
        super().__init__()
        if group_size is not None and group_size < 2:
            raise ValueError(f"MinibatchStddev: group_size must be at least 2 (or None), got {group_size}")
        self.eps, self.group_size = eps, group_size

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        if n % g:
            raise ValueError(f"MinibatchStddev: a batch of {n} is not a multiple of the group size {g}")
        y = x.reshape(g, n // g, c, h, w)
        centred = y - y.mean(axis=0, keepdims=True)
        std = ((centred * centred).mean(axis=0) + self.eps).sqrt()  # (N / G, C, H, W)
        s = std.reshape(n // g, c * h * w).mean(axis=1)  # (N / G,)
        s = s.reshape(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
        return mg.cat([x, s], axis=1)


def fade(new: Tensor, old: Tensor, alpha: float) -> Tensor:
    """The fade-in blend alpha * new + (1 - alpha) * old (just `new` once alpha is 1)."""
    if alpha >= 1.0:
        return new
    return new * alpha + old * (1.0 - alpha)
