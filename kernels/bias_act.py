"""Fused bias + activation: y = act(x + b) with b over `axis` (1: channels of NCHW, features of (N, F)).

One pass instead of two (add, then activate) forward, and one backward pass gz = gy * act'(z) computed
from y alone. Activations: "linear", "relu", "leaky_relu" (negative_slope > 0), "tanh", "sigmoid".
The backward is a Function whose own backward is written in Tensor ops (double backward works).
"""
from __future__ import annotations

import numpy as np

from minigen.function import Function
from minigen.tensor import Tensor

from . import _cuda

ACTIVATIONS = {"linear": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}


def _bias_shape(ndim: int, channels: int, axis: int) -> tuple:
    return (channels,) + (1,) * (ndim - axis - 1)


# ------------------------------------------------------------------------------------ NumPy reference

def reference_bias_act(x: np.ndarray, b: np.ndarray, act: str, negative_slope: float = 0.01,
                       axis: int = 1) -> np.ndarray:
    """act(x + b), b broadcast along `axis`."""
    z = x + b.reshape(_bias_shape(x.ndim, b.shape[0], axis))
    if act == "relu":
        return np.maximum(z, 0)
    if act == "leaky_relu":
        return np.where(z > 0, z, z * negative_slope).astype(z.dtype)
    if act == "tanh":
        return np.tanh(z)
    if act == "sigmoid":
        return 1 / (1 + np.exp(-z))
    return z


def reference_bias_act_backward(gy: np.ndarray, y: np.ndarray, act: str,
                                negative_slope: float = 0.01) -> np.ndarray:
    """gz = gy * act'(z), act' written with y = act(z)."""
    if act == "relu":
        return gy * (y > 0)
    if act == "leaky_relu":
        return gy * np.where(y > 0, 1, negative_slope).astype(gy.dtype)
    if act == "tanh":
        return gy * (1 - y * y)
    if act == "sigmoid":
        return gy * y * (1 - y)
    return gy.copy()


# ------------------------------------------------------------------------------------------ CUDA path

def cuda_bias_act(x, b, act: str, negative_slope: float = 0.01, axis: int = 1):
    cp = _cuda.cupy()
    _cuda.check_size("bias_act", x.size, x.shape)
    y = cp.empty(x.shape, x.dtype)
    inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
    f = _cuda.function("bias_act", "bias_act_forward", x.dtype)
    f((_cuda.blocks(x.size),), (_cuda.BLOCK,),
      (cp.ascontiguousarray(x), cp.ascontiguousarray(b, x.dtype), y, np.int32(x.size), np.int32(b.shape[0]),
       np.int32(inner), np.int32(ACTIVATIONS[act]), x.dtype.type(negative_slope)))
    return y


def cuda_bias_act_backward(gy, y, act: str, negative_slope: float = 0.01):
    cp = _cuda.cupy()
    gz = cp.empty(y.shape, y.dtype)
    f = _cuda.function("bias_act", "bias_act_backward", y.dtype)
    f((_cuda.blocks(y.size),), (_cuda.BLOCK,),
      (cp.ascontiguousarray(gy, y.dtype), cp.ascontiguousarray(y), gz, np.int32(y.size),
       np.int32(ACTIVATIONS[act]), y.dtype.type(negative_slope)))
    return gz


# ------------------------------------------------------------------------------------------ Functions

class BiasAct(Function):
    """y = act(x + b); dx = gy act'(z), db = dx summed over every axis but `axis`."""

    def forward(self, x, b):
        run = cuda_bias_act if _cuda.is_cuda(x) else reference_bias_act
        return run(x, b, self.act, self.negative_slope, self.axis)

    def backward(self, gy):
        x, b = self.inputs
        gz = BiasActGrad.apply(gy, self.output(), act=self.act, negative_slope=self.negative_slope)
        gb = None
        if b.requires_grad:
            other = tuple(a for a in range(x.ndim) if a != self.axis)
            gb = gz.sum(axis=other)
        return gz if x.requires_grad else None, gb


class BiasActGrad(Function):
    """gz = gy act'(y); d gy = ggz act'(y), d y = ggz gy act''(y) (tanh: -2y, sigmoid: 1 - 2y, else 0)."""

    def forward(self, gy, y):
        run = cuda_bias_act_backward if _cuda.is_cuda(y) else reference_bias_act_backward
        return run(gy, y, self.act, self.negative_slope)

    def backward(self, ggz):
        gy, y = self.inputs
        g_gy = BiasActGrad.apply(ggz, y, act=self.act, negative_slope=self.negative_slope) \
            if gy.requires_grad else None
        g_y = None
        if y.requires_grad and self.act in ("tanh", "sigmoid"):
            second = -2 * y if self.act == "tanh" else 1 - 2 * y
            g_y = ggz * gy * second
        return g_gy, g_y


def bias_act(x: Tensor, bias: Tensor, act: str = "relu", negative_slope: float = 0.01, axis: int = 1) -> Tensor:
    """act(x + bias) with bias (C,) along `axis` (1 for NCHW and (N, F)); act in ACTIVATIONS."""
    if act not in ACTIVATIONS:
        raise ValueError(f"bias_act: unknown activation {act!r}; expected one of {tuple(ACTIVATIONS)}")
    if act == "leaky_relu" and not negative_slope > 0:
        raise ValueError(f"bias_act: leaky_relu needs negative_slope > 0, got {negative_slope}")
    if x.ndim < 1:
        raise ValueError(f"bias_act: expected at least one axis, got a scalar on {x.device}")
    axis = axis % x.ndim
    if bias.shape != (x.shape[axis],):
        raise ValueError(f"bias_act: bias of shape {bias.shape} does not match axis {axis} of input "
                         f"{x.shape} (device {x.device})")
    return BiasAct.apply(x, bias, act=act, negative_slope=float(negative_slope), axis=axis)
