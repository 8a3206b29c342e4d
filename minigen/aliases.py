"""PyTorch's keyword names beside NumPy's: `dim=`/`keepdim=` for `axis=`/`keepdims=`,
`start_dim=`/`end_dim=` for `start_axis=`/`end_axis=`.

`torch_names(fn)` wraps a function (or Tensor method) written with NumPy's names so that it also takes
PyTorch's; giving both names of one argument is a TypeError. With `indices=argfn` (max and min), a call
that says `dim=` gets PyTorch's answer, a (values, indices) pair, while `axis=` keeps NumPy's (values
only). `var` keeps NumPy's ddof=0 under either name.
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

_TORCH_TO_NUMPY = {"dim": "axis", "keepdim": "keepdims", "start_dim": "start_axis", "end_dim": "end_axis"}


class ValuesIndices(NamedTuple):
    """What `x.max(dim=d)` and `x.min(dim=d)` return, as torch.return_types.max."""

    values: object
    indices: object


def torch_names(fn: Callable | None = None, *, indices: Callable | None = None) -> Callable:
    """Accept PyTorch's keyword names for `fn`'s NumPy-named arguments (see the module docstring)."""
    if fn is None:
        return functools.partial(torch_names, indices=indices)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if not kwargs:
            return fn(*args)
        torch_dim = "dim" in kwargs
        for torch_name, numpy_name in _TORCH_TO_NUMPY.items():
            if torch_name in kwargs:
                if numpy_name in kwargs:
                    raise TypeError(f"{fn.__name__}: got both {numpy_name}= and {torch_name}= (the same argument)")
                kwargs[numpy_name] = kwargs.pop(torch_name)
        values = fn(*args, **kwargs)
        if indices is None or not torch_dim or kwargs["axis"] is None:
            return values
        return ValuesIndices(values, indices(args[0], kwargs["axis"], kwargs.get("keepdims", False)))

    return call


def arg_indices(name: str) -> Callable:
    """`indices=` for torch_names: the argmax or argmin along an axis, an int64 Tensor without gradient."""

    def indices(x, axis, keepdims):
        return type(x)._make(getattr(x.data, name)(axis=axis, keepdims=keepdims))

    return indices
