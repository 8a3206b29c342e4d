"""fake_cupy's array operators and methods: FakeArray's +, -, *, ..., comparisons, in-place operators and
the rest of cupy.ndarray's methods, installed on the class when this file is imported (tests/fake_cupy.py does).
Operators go through CuPy's ufunc rules (fake_cupy_array._ufunc: a NumPy array operand raises) and defer to an
operand that asks for its reflected operator (a minigen Tensor)."""
from __future__ import annotations

import functools

import numpy as np

from fake_cupy_array import FakeArray, _defers, _on_device, _ufunc


def _operator(name: str, reflected: bool = False):
    ufunc = getattr(np, name)

    def op(self, other):
        if isinstance(other, FakeArray) or not _defers(other):
            return _ufunc(ufunc, (other, self) if reflected else (self, other), {})
        return NotImplemented
    op.__doc__ = f"{'reflected ' if reflected else ''}np.{name} on device arrays and scalars (a NumPy array raises)"
    return op


def _inplace(name: str):
    ufunc = getattr(np, name)

    def op(self, other):
        return _ufunc(ufunc, (self, other), {"out": self})
    return op


for _dunder, _name in [("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "true_divide"),
                       ("floordiv", "floor_divide"), ("mod", "remainder"), ("pow", "power"), ("and", "bitwise_and"),
                       ("or", "bitwise_or"), ("xor", "bitwise_xor"), ("lshift", "left_shift"),
                       ("rshift", "right_shift"), ("matmul", "matmul"), ("divmod", "divmod")]:
    setattr(FakeArray, f"__{_dunder}__", _operator(_name))
    setattr(FakeArray, f"__r{_dunder}__", _operator(_name, reflected=True))
    if _dunder not in ("matmul", "divmod"):  # cupy.ndarray has no __imatmul__
        setattr(FakeArray, f"__i{_dunder}__", _inplace(_name))
for _dunder, _name in [("lt", "less"), ("le", "less_equal"), ("eq", "equal"), ("ne", "not_equal"),
                       ("gt", "greater"), ("ge", "greater_equal")]:
    setattr(FakeArray, f"__{_dunder}__", _operator(_name))
for _dunder, _name in [("neg", "negative"), ("abs", "absolute"), ("invert", "invert")]:
    setattr(FakeArray, f"__{_dunder}__", functools.partialmethod(lambda self, u: _ufunc(u, (self,), {}),
                                                                 getattr(np, _name)))
FakeArray.__pos__ = lambda self: self

_METHODS = ("all", "any", "argmax", "argmin", "argpartition", "argsort", "choose", "compress", "conj",
            "conjugate", "cumprod", "cumsum", "diagonal", "flatten", "max", "mean", "min", "nonzero",
            "partition", "prod", "put", "ravel", "repeat", "reshape", "round", "searchsorted", "sort",
            "squeeze", "std", "sum", "swapaxes", "take", "trace", "transpose", "var")  # the rest of cupy.ndarray's


def _method(name: str):
    def method(self, *args, **kwargs):
        return _on_device(getattr(self._a, name), args, kwargs)
    method.__name__ = name
    method.__doc__ = f"ndarray.{name} on the device (a NumPy scalar result becomes a 0-d array, as in CuPy)."
    return method


for _name in _METHODS:
    setattr(FakeArray, _name, _method(_name))
