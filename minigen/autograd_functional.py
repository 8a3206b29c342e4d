"""torch.autograd.functional's jacobian and hessian, built on the engine's own reverse mode (mg.grad).

Importable as `minigen.autograd.functional` (autograd.py registers this module under that name, as `os`
does with `os.path`), so `from minigen.autograd.functional import jacobian` reads as it does in PyTorch.

    jacobian(f, x)[i...][j...] = d f(x)_i / d x_j           shape f(x).shape + x.shape
    hessian(f, x)[i...][j...]  = d^2 f(x) / d x_i d x_j      shape x.shape + x.shape   (f(x) one element)

With tuples of inputs (or outputs), the result nests as PyTorch's does: `J[i][j]` is output i with respect
to input j; a single Tensor on either side drops that level. The Jacobian is built one row per output
element, each row one reverse sweep with a one-hot cotangent (PyTorch's `vectorize=False` strategy).
An output that does not depend on an input gives zeros (`strict=False`) or an error naming both
(`strict=True`). With `create_graph=True` the result is itself differentiable with respect to the inputs.
"""
from __future__ import annotations

from typing import Callable

from . import backend
from .function import enable_grad
from .tensor import Tensor
from .engine import grad
from .ops.shape import reshape, stack

__all__ = ["jacobian", "hessian"]


def _as_tuple(value, what: str, fn: str) -> tuple[bool, tuple]:
    """(was it a tuple, the value as a tuple of Tensors); a TypeError names anything else."""
    is_tuple = isinstance(value, (tuple, list))
    items = tuple(value) if is_tuple else (value,)
    for k, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: {what} {k} is a {type(t).__name__}; expected a Tensor or a tuple of Tensors")
    return is_tuple, items


def _prepare(inputs: tuple, create_graph: bool, fn: str) -> tuple:
    """Fresh differentiable stand-ins for the inputs: connected to them when create_graph (so the result
    can be differentiated further), detached otherwise."""
    prepared = []
    for k, x in enumerate(inputs):
        if x.dtype.kind != "f":
            raise TypeError(f"{fn}: input {k} has dtype {x.dtype}; only floating point inputs have a Jacobian")
        prepared.append(x.clone() if create_graph and x.requires_grad else x.detach().requires_grad_())
    return tuple(prepared)


def _one_hot(y: Tensor, k: int) -> Tensor:
    xp = backend.array_module(y.data)
    e = xp.zeros(y.data.size, dtype=y.data.dtype)
    e[k] = 1
    return Tensor._make(e.reshape(y.data.shape))


def _zeros(y: Tensor, x: Tensor) -> Tensor:
    return Tensor._make(backend.array_module(x.data).zeros(y.shape + x.shape, dtype=x.dtype))


def _jacobian_rows(y: Tensor, xs: tuple, i: int, create_graph: bool, strict: bool) -> list:
    """d y / d x_j for every input j, each of shape y.shape + x_j.shape."""
    if not y.requires_grad:
        if strict:
            raise RuntimeError(f"jacobian: output {i} of the function does not require grad (it is "
                               "independent of every input); this is not allowed in strict mode")
        return [_zeros(y, x) for x in xs]
    rows: list = [[] for _ in xs]
    for k in range(y.data.size):
        gs = grad([y], list(xs), [_one_hot(y, k)], retain_graph=True, create_graph=create_graph,
                  allow_unused=True)
        for j, (x, g) in enumerate(zip(xs, gs)):
            if g is None:
                if strict:
                    raise RuntimeError(f"jacobian: output {i} of the function is independent of input {j}; "
                                       "this is not allowed in strict mode")
                g = Tensor._make(backend.array_module(x.data).zeros(x.shape, dtype=x.dtype))
            rows[j].append(g if create_graph else g.detach())
    return [reshape(stack(r, 0), y.shape + x.shape) for r, x in zip(rows, xs)]


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of `func` at `inputs` (a Tensor or a tuple of Tensors), as torch.autograd.functional.

    `vectorize` is accepted for PyTorch's signature and changes nothing here (the rows are one reverse
    sweep each either way); forward mode is not implemented.
    """
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian: strategy {strategy!r} is not implemented; use 'reverse-mode'")
    inputs_tuple, xs = _as_tuple(inputs, "input", "jacobian")
    with enable_grad():
        xs = _prepare(xs, create_graph, "jacobian")
        outputs_tuple, ys = _as_tuple(func(*xs), "output", "jacobian")
        result = [_jacobian_rows(y, xs, i, create_graph, strict) for i, y in enumerate(ys)]
    if not create_graph:
        result = [[g.detach() for g in row] for row in result]
    return _nest(result, outputs_tuple, inputs_tuple)


def _nest(result: list, outputs_tuple: bool, inputs_tuple: bool):
    """result[i][j] in PyTorch's nesting: a level for each side that was a tuple."""
    rows = [tuple(row) if inputs_tuple else row[0] for row in result]
    return tuple(rows) if outputs_tuple else rows[0]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a one-element `func` at `inputs`, as torch.autograd.functional.hessian: the Jacobian
    of the gradient. For a tuple of inputs, `H[i][j]` has shape inputs[i].shape + inputs[j].shape."""
    inputs_tuple, xs = _as_tuple(inputs, "input", "hessian")

    def scalar(*args):
        out = func(*args)
        if not isinstance(out, Tensor):
            raise TypeError(f"hessian: the function must return a single Tensor, got {type(out).__name__}")
        if out.data.size != 1:
            raise RuntimeError(f"hessian: the function must return a single element, got shape {out.shape}")
        if strict and not out.requires_grad:
            raise RuntimeError("hessian: the function's output does not require grad (it is independent of "
                               "the inputs); this is not allowed in strict mode")
        return out.reshape(())

    def gradient(*args):
        return jacobian(scalar, args, create_graph=True, strict=strict)

    result = jacobian(gradient, xs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                      strategy=outer_jacobian_strategy)
    if inputs_tuple:
        return result
    return result[0][0]

