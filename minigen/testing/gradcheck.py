"""Gradient checks against float64 central differences.

The outputs are contracted with a random cotangent v (never all-ones: the gradient of sum(softmax(x)) is
zero, so an all-ones check passes for any softmax backward), and the analytical vector-Jacobian product
is compared with (L(x + eps e_i) - L(x - eps e_i)) / 2 eps for L(x) = <v, f(x)>, element by element.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .. import backend
from ..autograd import Tensor, grad


class GradcheckError(AssertionError):
    """A gradient disagreed with its finite-difference estimate; the message names where."""


def _outputs(fn: Callable, inputs: Sequence[Tensor]) -> list:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _contract(outputs: Sequence[Tensor], cotangents: Sequence) -> float:
    return float(sum(float((o.data * v).sum()) for o, v in zip(outputs, cotangents)))


def _check_inputs(inputs: Sequence[Tensor], name: str) -> None:
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}: input {k} is a {type(x).__name__}, expected a Tensor")
        if x.requires_grad and x.dtype != np.float64:
            raise TypeError(f"{name}: input {k} is {x.dtype}; central differences need float64 inputs")


def gradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check d<v, fn(*inputs)>/d(input) for every input that requires grad.

    Returns True when every element agrees within atol + rtol * |numerical|; otherwise raises a
    GradcheckError naming the input, the index, and both values (or returns False if not raising).
    """
    inputs = list(inputs)
    _check_inputs(inputs, "gradcheck")
    wrt = [k for k, x in enumerate(inputs) if x.requires_grad]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    outputs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    cotangents = []
    for o in outputs:
        xp = backend.array_module(o.data)
        cotangents.append(xp.asarray(rng.standard_normal(o.shape)).astype(o.dtype))
    live = [(o, v) for o, v in zip(outputs, cotangents) if o.requires_grad]
    if live:
        analytical = grad([o for o, _ in live], [inputs[k] for k in wrt],
                          [Tensor(v) for _, v in live], allow_unused=True)
    else:
        analytical = [None] * len(wrt)
    for k, g in zip(wrt, analytical):
        x = inputs[k]
        g = np.zeros(x.shape) if g is None else backend.to_device(g.data, "cpu")
        for i in np.ndindex(*x.shape):
            original = x.data[i].copy()
            x.data[i] = original + eps
            plus = _contract(_outputs(fn, inputs), cotangents)
            x.data[i] = original - eps
            minus = _contract(_outputs(fn, inputs), cotangents)
            x.data[i] = original
            numerical = (plus - minus) / (2 * eps)
            if not abs(g[i] - numerical) <= atol + rtol * abs(numerical):
                message = (f"gradcheck: input {k} (shape {x.shape}) at index {i}: analytical "
                           f"{g[i]:.8g} vs numerical {numerical:.8g} (atol {atol}, rtol {rtol})")
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Tensor], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, v) -> d<v, fn(inputs)>/d(inputs), built with
    create_graph=True, with respect to the inputs and the cotangent v."""
    inputs = list(inputs)
    _check_inputs(inputs, "gradgradcheck")
    outputs = _outputs(fn, inputs)
    rng = np.random.default_rng(seed + 1)
    cotangents = [Tensor(backend.array_module(o.data).asarray(rng.standard_normal(o.shape)).astype(o.dtype),
                         requires_grad=True) for o in outputs]
    n = len(inputs)
    wrt = [k for k, x in enumerate(inputs) if x.requires_grad]

    def first_derivative(*args):
        xs, vs = args[:n], args[n:]
        outs = [o for o in _outputs(fn, xs)]
        pairs = [(o, v) for o, v in zip(outs, vs) if o.requires_grad]
        grads = grad([o for o, _ in pairs], [xs[k] for k in wrt], [v for _, v in pairs],
                     create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + cotangents, eps, atol, rtol, seed, raise_exception)
