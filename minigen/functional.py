"""The user-facing functions (`import minigen.functional as F`), PyTorch's names and defaults.

Most are compositions of primitive ops, so their gradients (and second derivatives) come for free.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from . import backend, kernels
from .aliases import torch_names
from .autograd import Tensor, as_tensor
from .ops.cross_entropy import SoftmaxCrossEntropy
from .ops.elementwise import elu, erf, leaky_relu, log, relu, sigmoid, softplus, tanh
from .ops.linalg import linear as _linear
from .ops.reduction import cumsum, log_softmax, logsumexp, softmax
from .ops.shape import reshape, transpose, where

__all__ = ["linear", "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus", "softmax",
           "log_softmax", "logsumexp", "cumsum", "dropout", "embedding", "maxout", "gumbel_softmax",
           "batch_norm", "layer_norm", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "one_hot"]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x W^T + b, with W laid out (out_features, in_features)."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {weight.shape} "
                         f"({x.shape[-1]} != {weight.shape[-1]}) on {x.device}")
    return _linear(x, weight, bias)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Phi(x) with Phi the standard normal CDF (exact, via erf); "tanh" uses the tanh approximation."""
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1 + erf(x * (1 / math.sqrt(2))))


def silu(x: Tensor) -> Tensor:
    """x sigmoid(x) (SiLU, swish); d/dx = s (1 + x (1 - s)) with s = sigmoid(x), through the graph."""
    return x * sigmoid(x)


def dropout(x: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout)."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    keep = backend.rng(x.device).random(x.shape) >= p
    return x * Tensor._make((keep / (1 - p)).astype(x.dtype))


def embedding(indices, weight: Tensor) -> Tensor:
    """Rows of `weight` (num_embeddings, dim) picked by integer `indices` of any shape."""
    idx = indices.data if isinstance(indices, Tensor) else indices
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= weight.shape[0]):
        raise IndexError(f"embedding: index out of range for {weight.shape[0]} embeddings")
    return weight[idx]


def maxout(x: Tensor, pieces: int, axis: int = 1) -> Tensor:
    """max over `pieces` consecutive channels: (N, units*pieces, ...) -> (N, units, ...); on CUDA the fused
    kernel (minigen.kernels.maxout: max and argmax in one pass, backward a gather). At ties the kernel gives
    the gradient to the first piece, the composition splits it evenly (both are subgradients)."""
    axis = axis % x.ndim
    if x.shape[axis] % pieces:
        raise ValueError(f"maxout: {x.shape[axis]} channels on axis {axis} are not divisible by "
                         f"{pieces} pieces (shape {x.shape})")
    if kernels.active(x.data):
        return kernels.maxout.maxout(x, pieces, axis)
    shape = x.shape[:axis] + (x.shape[axis] // pieces, pieces) + x.shape[axis + 1:]
    return reshape(x, shape).max(axis=axis + 1)


def one_hot(indices, num_classes: int, dtype=np.float32) -> Tensor:
    """One-hot float Tensor of shape indices.shape + (num_classes,)."""
    idx = indices.data if isinstance(indices, Tensor) else backend.as_array(indices)
    xp = backend.array_module(idx)
    return Tensor._make((idx[..., None] == xp.arange(num_classes)).astype(dtype))


def gumbel_softmax(logits: Tensor, tau: float = 1.0, hard: bool = False, axis: int = -1) -> Tensor:
    """softmax((logits + g) / tau) with g ~ Gumbel(0, 1); with hard=True the one-hot argmax in the
    forward pass and the soft sample's gradient (straight-through)."""
    u = backend.rng(logits.device).random(logits.shape)
    xp = backend.array_module(u)
    g = -xp.log(-xp.log(xp.clip(u, 1e-20, 1.0)))
    y = softmax((logits + Tensor._make(g.astype(logits.dtype))) / tau, axis=axis)
    if not hard:
        return y
    index = y.data.argmax(axis=axis)
    hard_y = (xp.expand_dims(index, axis) == xp.arange(y.shape[axis]).reshape(
        [-1 if d == axis % y.ndim else 1 for d in range(y.ndim)])).astype(y.dtype)
    return Tensor._make(hard_y) - y.detach() + y


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over every axis but 1 (channels).

    In training the batch statistics are used and the running ones updated in place with
    r <- (1 - momentum) r + momentum * stat (the unbiased variance, as PyTorch does)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training:
        n = x.data.size // x.shape[1]
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel in training, got input "
                             f"of shape {x.shape}")
        mean = x.mean(axis=axes, keepdims=True)
        var = ((x - mean) * (x - mean)).mean(axis=axes, keepdims=True)
        if running_mean is not None:
            running_mean.data = (1 - momentum) * running_mean.data + momentum * mean.data.reshape(-1)
        if running_var is not None:
            running_var.data = (1 - momentum) * running_var.data + momentum * var.data.reshape(-1) * n / (n - 1)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation mode needs running_mean and running_var")
        mean = reshape(running_mean.detach(), shape)
        var = reshape(running_var.detach(), shape)
    y = (x - mean) / (var + eps) ** 0.5
    if weight is not None:
        y = y * reshape(weight, shape)
    if bias is not None:
        y = y + reshape(bias, shape)
    return y


def layer_norm(x: Tensor, normalized_shape: Sequence[int] | int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the trailing `normalized_shape` axes."""
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if x.shape[x.ndim - len(normalized_shape):] != normalized_shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in {normalized_shape}")
    axes = tuple(range(x.ndim - len(normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    d = x - mean
    y = d / ((d * d).mean(axis=axes, keepdims=True) + eps) ** 0.5
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


# ---------------------------------------------------------------------------------------------- losses

def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _target(op: str, x: Tensor, target) -> Tensor:
    """A loss target as a Tensor of x's shape; an array or list goes to x's device (as nll_loss's class
    indices do), while a Tensor on another device is the usual device error."""
    t = as_tensor(target, x)
    if not isinstance(target, Tensor) and t.device != x.device:
        t = Tensor._make(backend.to_device(t.data, x.device))
    if x.shape != t.shape:
        raise ValueError(f"{op}: input shape {x.shape} and target shape {t.shape} differ")
    return t


def binary_cross_entropy(p: Tensor, target, weight=None, reduction: str = "mean") -> Tensor:
    """-(t log p + (1 - t) log(1 - p)), each log clamped at -100 as PyTorch does."""
    target = _target("binary_cross_entropy", p, target)
    loss = -(target * _clamped_log(p) + (1 - target) * _clamped_log(1 - p))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def _clamped_log(p: Tensor) -> Tensor:
    """max(log p, -100), as PyTorch's BCE. Where p is exactly 0 (a float32 sigmoid saturates) the value
    is -100 with a zero gradient: log is taken of 1 there, never of 0 or of a subnormal (which the GPU
    flushes to 0), so no 0 * (1/0) = NaN reaches the gradient."""
    positive = p.data > 0
    return where(positive, log(where(positive, p, 1.0)), -100.0).clip(lo=-100)


def binary_cross_entropy_with_logits(x: Tensor, target, weight=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """-(t log sigmoid(x) + (1 - t) log sigmoid(-x)) = softplus(x) - t x (stable for any x)."""
    target = _target("binary_cross_entropy_with_logits", x, target)
    if pos_weight is None:
        loss = softplus(x) - target * x
    else:
        loss = (1 - target) * x + (1 + (pos_weight - 1) * target) * softplus(-x)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def _class_indices(op: str, log_probs: Tensor, target, ignore_index: int | None = None):
    """The target's class indices as an integer array on the input's device, checked against the input's
    shape (N, C, ...) and, except where they equal ignore_index, against range(C)."""
    t = backend.to_device(target.data if isinstance(target, Tensor) else backend.as_array(target),
                          log_probs.device)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {t.dtype}")
    n_classes = log_probs.shape[1]
    if log_probs.shape[:1] + log_probs.shape[2:] != t.shape:
        raise ValueError(f"{op}: input of shape {log_probs.shape} needs a target of shape "
                         f"{log_probs.shape[:1] + log_probs.shape[2:]}, got {t.shape}")
    safe = t if ignore_index is None else t * (t != ignore_index)
    if safe.size and (safe.min() < 0 or safe.max() >= n_classes):
        raise IndexError(f"{op}: target out of range for {n_classes} classes")
    return t


def nll_loss(log_probs: Tensor, target, reduction: str = "mean", ignore_index: int | None = None) -> Tensor:
    """-log_probs[n, target[n]] with classes on axis 1 (any trailing axes allowed)."""
    t = _class_indices("nll_loss", log_probs, target, ignore_index)
    n_classes = log_probs.shape[1]
    keep = None if ignore_index is None else t != ignore_index
    safe = t if keep is None else t * keep
    flat = log_probs if log_probs.ndim == 2 else reshape(
        transpose(log_probs, (0,) + tuple(range(2, log_probs.ndim)) + (1,)), (-1, n_classes))
    xp = backend.array_module(safe)
    picked = reshape(flat[xp.arange(safe.size), safe.reshape(-1)], t.shape)
    return _reduce_kept(-picked, keep, reduction, "nll_loss")


def _reduce_kept(loss: Tensor, keep, reduction: str, op: str) -> Tensor:
    """`_reduce` over the entries whose target is not ignore_index (`keep`); the mean divides by their count."""
    if keep is None:
        return _reduce(loss, reduction, op)
    loss = loss * Tensor._make(keep.astype(loss.dtype))
    if reduction == "mean":
        return loss.sum() / max(int(keep.sum()), 1)
    return _reduce(loss, reduction, op)


def cross_entropy(logits: Tensor, target, reduction: str = "mean", ignore_index: int | None = None,
                  label_smoothing: float = 0.0) -> Tensor:
    """nll_loss(log_softmax(logits, axis=1), target); with label smoothing eps the target becomes
    (1 - eps) onehot + eps / C."""
    if (logits.ndim == 2 and len(logits) and ignore_index is None and not label_smoothing
            and reduction in ("mean", "sum", "none")):  # the common case: one node
        t = _class_indices("cross_entropy", logits, target)
        return SoftmaxCrossEntropy.apply(logits, target=t, reduction=reduction)
    logp = log_softmax(logits, axis=1)
    if not label_smoothing:
        return nll_loss(logp, target, reduction, ignore_index)
    loss = (1 - label_smoothing) * nll_loss(logp, target, "none", ignore_index) - label_smoothing * logp.mean(axis=1)
    t = backend.to_device(target.data if isinstance(target, Tensor) else backend.as_array(target), logits.device)
    return _reduce_kept(loss, None if ignore_index is None else t != ignore_index, reduction, "cross_entropy")


def mse_loss(x: Tensor, target, reduction: str = "mean") -> Tensor:
    """(x - t)^2."""
    target = _target("mse_loss", x, target)
    d = x - target
    return _reduce(d * d, reduction, "mse_loss")


def l1_loss(x: Tensor, target, reduction: str = "mean") -> Tensor:
    """|x - t|."""
    target = _target("l1_loss", x, target)
    return _reduce((x - target).abs(), reduction, "l1_loss")


# ------------------------------------------------------------------------------ convolution and pooling
# The Functions and their checks live in ops/conv.py and ops/pooling.py; these are the user-facing names.

from .ops.conv import conv1d, conv2d, conv_transpose2d, masked_conv2d  # noqa: E402
from .ops.pooling import avg_pool2d, max_pool2d, upsample_nearest  # noqa: E402

__all__ += ["conv1d", "conv2d", "conv_transpose2d", "masked_conv2d", "max_pool2d", "avg_pool2d",
            "upsample_nearest"]


# PyTorch's dim=/keepdim= beside NumPy's axis=/keepdims= (minigen/aliases.py): F.softmax(x, dim=1)
softmax, log_softmax, logsumexp, cumsum, gumbel_softmax = (
    torch_names(f) for f in (softmax, log_softmax, logsumexp, cumsum, gumbel_softmax))
