"""Named gradient checks for `minigen gradcheck NAME`: each op or layer with inputs drawn from a safe domain.

Every entry runs gradcheck, and gradgradcheck where the op's second derivative is non-trivial.
"""
from __future__ import annotations

import sys
from typing import Callable

import numpy as np

from ..autograd import Tensor
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .strategies import sample_array


def _ops() -> dict[str, tuple[Callable, list, bool]]:
    """name -> (function, [(shape, domain), ...], check second derivatives)."""
    import minigen.functional as F
    from minigen.ops.linalg import einsum

    return {
        "add": (lambda a, b: a + b, [((3, 4), "real"), ((4,), "real")], False),
        "mul": (lambda a, b: a * b, [((3, 4), "real"), ((3, 1), "real")], True),
        "div": (lambda a, b: a / b, [((3, 4), "real"), ((3, 4), "nonzero")], True),
        "pow": (lambda a, b: a ** b, [((3, 4), "positive"), ((3, 4), "real")], True),
        "matmul": (lambda a, b: a @ b, [((2, 3, 4), "real"), ((4, 5), "real")], True),
        "exp": (lambda x: x.exp(), [((3, 4), "real")], True),
        "log": (lambda x: x.log(), [((3, 4), "positive")], True),
        "sqrt": (lambda x: x.sqrt(), [((3, 4), "positive")], True),
        "tanh": (lambda x: x.tanh(), [((3, 4), "real")], True),
        "sigmoid": (lambda x: x.sigmoid(), [((3, 4), "real")], True),
        "softplus": (lambda x: x.softplus(), [((3, 4), "real")], True),
        "relu": (lambda x: x.relu(), [((3, 4), "nonzero")], False),
        "sum": (lambda x: x.sum(axis=1), [((3, 4), "real")], False),
        "max": (lambda x: x.max(axis=0), [((3, 4), "distinct")], False),
        "var": (lambda x: x.var(axis=1), [((3, 4), "real")], True),
        "logsumexp": (lambda x: x.logsumexp(axis=1), [((3, 4), "real")], True),
        "cumsum": (lambda x: x.cumsum(axis=1), [((3, 4), "real")], True),
        "softmax": (lambda x: F.softmax(x, axis=1), [((3, 4), "real")], True),
        "log_softmax": (lambda x: F.log_softmax(x, axis=1), [((3, 4), "real")], True),
        "getitem": (lambda x: x[np.array([0, 2, 0]), 1:], [((3, 4), "real")], False),
        "linear": (F.linear, [((2, 3), "real"), ((4, 3), "real"), ((4,), "real")], True),
        "layer_norm": (lambda x: F.layer_norm(x, (4,)), [((3, 4), "real")], True),
        "gelu": (F.gelu, [((3, 4), "real")], True),
        "silu": (F.silu, [((3, 4), "real")], True),
        "einsum": (lambda a, b: einsum("bij,jk->bik", a, b), [((2, 3, 4), "real"), ((4, 5), "real")], True),
    }


def names() -> list[str]:
    return sorted(_ops())


def run(name: str, seed: int = 0, out=sys.stdout) -> bool:
    """Check `name` (or every entry for "all"), print one line per check, return whether all passed."""
    ops = _ops()
    if name != "all" and name not in ops:
        raise KeyError(f"no gradient check named {name!r}; known: {', '.join(sorted(ops))}, all")
    ok = True
    for op in sorted(ops) if name == "all" else [name]:
        fn, specs, second = ops[op]
        inputs = [Tensor(sample_array(seed + k, shape, np.float64, domain), requires_grad=True)
                  for k, (shape, domain) in enumerate(specs)]
        checks = [("gradcheck", gradcheck)] + ([("gradgradcheck", gradgradcheck)] if second else [])
        for label, check in checks:
            try:
                check(fn, inputs)
                print(f"{op:<12} {label:<14} ok", file=out)
            except GradcheckError as e:
                ok = False
                print(f"{op:<12} {label:<14} FAILED: {e}", file=out)
    return ok
