"""In-place operations (zero_, fill_, add_, mul_, item assignment) with PyTorch's rules.

They write into the tensor's own array and record nothing in the graph, so they are allowed only where
no gradient can be wrong:

- a tensor that does not require grad: always (masks, buffers, statistics, integer tensors);
- a leaf that requires grad (a parameter): only with gradients off (`with mg.no_grad():`), as PyTorch;
- a tensor made by an op that requires grad: never (the graph would not see the change); clone() it.

A tensor saved by a graph and modified afterwards would give a wrong gradient, so each in-place op
bumps the tensor's version; `Function.apply` saves its inputs' versions once any in-place op has run,
and the backward sweep refuses a node whose inputs changed since (`check_versions`), as PyTorch does.
"""
from __future__ import annotations

import numpy as np

from . import function
from .tensor import Tensor


def _writable(t: Tensor, op: str) -> np.ndarray:
    """t's array, after checking that `op` may write into it; marks t as modified."""
    if t.creator is not None and t.requires_grad:
        raise RuntimeError(f"{op}: cannot modify in place a tensor made by {type(t.creator).__name__} that "
                           f"requires grad (shape {tuple(t.shape)}): the graph would not see the change; "
                           "clone() it first, or detach() it")
    if t.requires_grad and function.is_grad_enabled():
        raise RuntimeError(f"{op}: a leaf tensor that requires grad (shape {tuple(t.shape)}) cannot be "
                           "modified in place while gradients are recorded; do it inside mg.no_grad()")
    function.inplace_used = True
    t._version += 1
    return t.data


def _array(value, t: Tensor, op: str):
    """A value for t's array: Tensors give their array (on t's device), scalars and arrays pass."""
    if isinstance(value, Tensor):
        if value.requires_grad and function.is_grad_enabled():
            raise RuntimeError(f"{op}: the value requires grad, but in-place operations are not recorded "
                               "in the graph; use mg.where or an out-of-place op")
        if value.device != t.device:
            raise RuntimeError(f"{op}: the tensor is on {t.device} and the value on {value.device}")
        return value.data
    return value


def _run(op: str, t: Tensor, write) -> Tensor:
    """Run write(array) in place; NumPy's casting and broadcasting errors name the op, shapes, dtype."""
    a = _writable(t, op)
    try:
        write(a)
    except (TypeError, ValueError, IndexError) as e:  # numpy.exceptions.UFuncTypeError is a TypeError
        t._version -= 1
        kind = next(k for k in (TypeError, ValueError, IndexError) if isinstance(e, k))
        raise kind(f"{op}: {e} (tensor {tuple(t.shape)} {t.dtype} on {t.device})") from e
    return t


def zero_(t: Tensor) -> Tensor:
    """Fill with zeros in place."""
    return _run("zero_", t, lambda a: a.fill(0))


def fill_(t: Tensor, value) -> Tensor:
    """Fill with `value` in place."""
    v = _array(value, t, "fill_")
    return _run("fill_", t, lambda a: a.__setitem__(Ellipsis, v))


def add_(t: Tensor, other, alpha=1) -> Tensor:
    """t += alpha * other in place (other broadcasts to t's shape; t's dtype is kept, never promoted)."""
    v = _array(other, t, "add_")
    v = v if alpha == 1 else v * alpha
    return _run("add_", t, lambda a: np.add(a, v, out=a) if type(a) is np.ndarray else a.__iadd__(v))


def mul_(t: Tensor, other) -> Tensor:
    """t *= other in place."""
    v = _array(other, t, "mul_")
    return _run("mul_", t, lambda a: np.multiply(a, v, out=a) if type(a) is np.ndarray else a.__imul__(v))


def setitem(t: Tensor, index, value) -> None:
    """t[index] = value (basic, integer-array and mask indices; Tensors as index or value)."""
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    v = _array(value, t, "setitem")
    _run("setitem", t, lambda a: a.__setitem__(index, v))


def check_versions(f) -> None:
    """Refuse to run f's backward when one of its inputs was modified in place after f used it."""
    saved = f.__dict__.get("versions")
    for k, x in enumerate(f.inputs):
        if x._version != (saved[k] if saved is not None else 0):
            raise RuntimeError(f"backward: input {k} of {type(f).__name__} (shape {tuple(x.shape)}) was modified "
                               f"in place after {type(f).__name__} used it, so its gradient would be wrong; "
                               "clone() the tensor before modifying it")
