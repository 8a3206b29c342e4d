"""Shape Functions: reshape, transpose, broadcast/sum_to, indexing, cat, where, pad.

`sum_to` is the one place where broadcasting is undone: the gradient of a broadcast input is the output
gradient summed over the broadcast axes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import backend, function
from ..function import Function
from ..tensor import Tensor, as_tensor


def _normalize_shape(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


class Reshape(Function):
    """reshape; the gradient is reshaped back."""

    def forward(self, x):
        self.source = x.shape
        return x.reshape(self.shape)

    def backward(self, gy):
        return reshape(gy, self.source)


class Transpose(Function):
    """Permute axes; the gradient is permuted by the inverse permutation."""

    def forward(self, x):
        return x.transpose(self.axes)

    def backward(self, gy):
        return transpose(gy, tuple(np.argsort(self.axes)))


class BroadcastTo(Function):
    """Broadcast to `shape`; backward is sum_to the input's shape."""

    def forward(self, x):
        self.source = x.shape
        return backend.array_module(x).broadcast_to(x, self.shape)

    def backward(self, gy):
        return sum_to(gy, self.source)


class SumTo(Function):
    """Sum over the axes that broadcasting added or stretched; backward is broadcast_to."""

    def forward(self, x):
        self.source = x.shape
        lead = x.ndim - len(self.shape)
        if lead and x.shape[lead:] == self.shape:  # only leading axes were added (a bias's gradient)
            return x.sum(axis=tuple(range(lead)))
        axes = tuple(range(lead)) + tuple(lead + i for i, s in enumerate(self.shape)
                                          if s == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=axes, keepdims=True)
        return y.reshape(self.shape) if lead else y

    def backward(self, gy):
        return broadcast_to(gy, self.source)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) for i in items)


def check_cuda_indices(shape: tuple, index) -> None:
    """Raise IndexError for an integer-array index out of range on its axis: CuPy wraps such indices
    around silently (NumPy raises). One device sync per integer array."""
    items = index if isinstance(index, tuple) else (index,)
    items = tuple(backend.as_array(i) if isinstance(i, list) else i for i in items)
    consumed = sum(i.ndim if getattr(i, "dtype", None) == bool else 0 if i is None or i is Ellipsis else 1
                   for i in items)
    axis = 0
    for item in items:
        if item is Ellipsis:
            axis += len(shape) - consumed
        elif getattr(item, "dtype", None) == bool:
            axis += item.ndim
        elif item is not None:
            if getattr(item, "ndim", 0) > 0 and item.dtype.kind in "iu" and item.size:
                low, high = int(item.min()), int(item.max())
                if low < -shape[axis] or high >= shape[axis]:
                    raise IndexError(f"index {low if low < -shape[axis] else high} is out of bounds for axis "
                                     f"{axis} with size {shape[axis]}")
            axis += 1


class GetItem(Function):
    """x[index] (basic, slice, integer-array or boolean); backward scatter-adds into zeros."""

    def forward(self, x):
        self.source = x.shape
        if backend.device_of(x) == "cuda" and not _is_basic(self.index):
            check_cuda_indices(x.shape, self.index)
        return x[self.index]

    def backward(self, gy):
        return GetItemGrad.apply(gy, index=self.index, shape=self.source)


class GetItemGrad(Function):
    """zeros(shape) with gy added at `index` (repeated indices add up); backward is gy[index]."""

    def forward(self, gy):
        xp = backend.array_module(gy)
        gx = xp.zeros(self.shape, gy.dtype)
        if _is_basic(self.index):
            gx[self.index] = gy
        elif xp is np:
            np.add.at(gx, self.index, gy)
        else:
            import cupyx

            cupyx.scatter_add(gx, self.index, gy)
        return gx

    def backward(self, ggx):
        return getitem(ggx, self.index)


class Cat(Function):
    """Concatenate along `axis`; backward slices the gradient into pieces."""

    def forward(self, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return backend.array_module(xs[0]).concatenate(xs, axis=self.axis)

    def backward(self, gy):
        grads, start = [], 0
        for n in self.sizes:
            index = (slice(None),) * (self.axis % gy.ndim) + (slice(start, start + n),)
            grads.append(getitem(gy, index))
            start += n
        return tuple(grads)


class Where(Function):
    """where(cond, a, b); d/da = cond, d/db = not cond (cond is a constant)."""

    def forward(self, a, b):
        return backend.array_module(a).where(self.cond, a, b)

    def backward(self, gy):
        a, b = self.inputs
        zero = gy * 0
        ga = sum_to(where(self.cond, gy, zero), a.shape) if a.requires_grad else None
        gb = sum_to(where(self.cond, zero, gy), b.shape) if b.requires_grad else None
        return ga, gb


class Pad(Function):
    """Constant padding with NumPy's pad_width; backward crops the gradient."""

    def forward(self, x):
        return backend.array_module(x).pad(x, self.width, constant_values=self.value)

    def backward(self, gy):
        index = tuple(slice(lo, gy.shape[d] - hi) for d, (lo, hi) in enumerate(self.width))
        return getitem(gy, index)


# ----------------------------------------------------------------------------------- the functions

def _unchanged(x: Tensor, op: type, **params) -> Tensor:
    """A reshape/transpose/broadcast that changes nothing is still a new Tensor, never `x` itself.

    While a graph is recorded through x it is its own node (`op`), since a gradient with respect to it,
    its hooks and retain_grad must not reach x; otherwise nobody can observe a node, and it is a new
    Tensor on the same array (a view, as in PyTorch), without one."""
    if x._requires_grad and function._grad_enabled:
        return op.apply(x, **params)
    return Tensor._make(x.data)


def reshape(x, *shape) -> Tensor:
    shape = _normalize_shape(shape)
    if tuple(x.shape) == shape:
        return _unchanged(x, Reshape, shape=shape)
    return Reshape.apply(x, shape=shape)


def transpose(x, *axes) -> Tensor:
    """Permute the axes (reverse them when none are given), like numpy.transpose."""
    axes = _normalize_shape(axes) if axes and axes[0] is not None else tuple(range(x.ndim))[::-1]
    if len(axes) != x.ndim or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes (shape {x.shape})")
    axes = tuple(a % x.ndim for a in axes)
    if axes == tuple(range(x.ndim)):
        return _unchanged(x, Transpose, axes=axes)
    return Transpose.apply(x, axes=axes)


def swapaxes(x, a: int, b: int) -> Tensor:
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def broadcast_to(x, shape) -> Tensor:
    shape = tuple(shape)
    if x.shape == shape:
        return _unchanged(x, BroadcastTo, shape=shape)
    try:
        return BroadcastTo.apply(x, shape=shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None


def sum_to(x: Tensor, shape) -> Tensor:
    """Sum `x` down to `shape` (the inverse of broadcasting `shape` to x.shape). For backward formulas,
    where nobody holds the result but the engine: when the shapes agree it is `x` itself, no node."""
    if x.data.shape == shape:
        return x
    return SumTo.apply(x, shape=tuple(shape))


def getitem(x, index) -> Tensor:
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, list):
        index = backend.array_module(x.data).asarray(index)
    return GetItem.apply(x, index=index)


def cat(tensors: Sequence, axis: int = 0) -> Tensor:
    """Concatenate along an existing axis (torch.cat)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    ndims = {t.ndim for t in tensors}
    if len(ndims) != 1:
        raise ValueError(f"cat: all tensors need the same number of dimensions, got shapes "
                         f"{[t.shape for t in tensors]}")
    ndim = ndims.pop()
    ax = axis % ndim
    for t in tensors[1:]:
        if any(s != r for d, (s, r) in enumerate(zip(t.shape, tensors[0].shape)) if d != ax):
            raise ValueError(f"cat: shapes {[t.shape for t in tensors]} differ outside axis {axis}")
    return Cat.apply(*tensors, axis=ax)


def stack(tensors: Sequence, axis: int = 0) -> Tensor:
    """Join along a new axis (torch.stack)."""
    tensors = list(tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors need the same shape, got {[t.shape for t in tensors]}")
    return cat([unsqueeze(t, axis) for t in tensors], axis=axis)


def where(cond, a, b) -> Tensor:
    """Pick from `a` where `cond`, else from `b` (cond carries no gradient)."""
    if isinstance(cond, Tensor):
        cond = cond.data
    like = a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else None
    a, b = as_tensor(a, like), as_tensor(b, like)
    cond = backend.to_device(backend.as_array(cond), a.device)
    try:
        shape = np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(f"where: cannot broadcast condition {cond.shape}, {a.shape} and {b.shape}") from None
    out = Where.apply(a, b, cond=cond)
    return out if out.shape == shape else broadcast_to(out, shape)


def pad(x, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding, PyTorch's convention: `pad` = (left, right) of the last axis, then of the one
    before it, and so on, e.g. (1, 1, 2, 2) pads W by 1 and H by 2."""
    if len(pad) % 2 or len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: padding {tuple(pad)} must have an even length of at most 2*{x.ndim}")
    width = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        width[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    if any(lo < 0 or hi < 0 for lo, hi in width):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    return Pad.apply(x, width=tuple(width), value=value)


def squeeze(x, axis=None) -> Tensor:
    """Drop axes of size 1 (all of them, or the given one(s) when they have size 1)."""
    if axis is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = {a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))}
        shape = tuple(s for d, s in enumerate(x.shape) if not (d in axes and s == 1))
    return reshape(x, shape)


def unsqueeze(x, axis: int) -> Tensor:
    """Insert an axis of size 1 at `axis` (negative counts from the end of the result)."""
    axis = axis % (x.ndim + 1)
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def flatten(x, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    start, end = start_axis % x.ndim if x.ndim else 0, end_axis % x.ndim if x.ndim else 0
    n = 1
    for s in x.shape[start:end + 1]:
        n *= s
    return reshape(x, x.shape[:start] + (n,) + x.shape[end + 1:])


def expand(x, *shape) -> Tensor:
    """Broadcast to `shape`; -1 keeps an axis (torch.Tensor.expand)."""
    shape = _normalize_shape(shape)
    lead = len(shape) - x.ndim
    shape = tuple(x.shape[d - lead] if s == -1 else s for d, s in enumerate(shape))
    return broadcast_to(x, shape)
