"""dtypes: PyTorch's names for NumPy's dtypes, the default float dtype, and how Python data gets a dtype.

Promotion is NumPy's (NEP 50, NumPy 2): arrays combine by `np.result_type`, and a Python scalar is "weak":
it takes the array's dtype when that holds its kind (`float32 tensor * 2.5` is float32, `int8 tensor + 3`
is int8) and promotes the kind otherwise (`int64 tensor * 1.5` is float64, `bool tensor + 1` is int64).
NumPy scalars (`np.float64(2.0)`) count as Python scalars of their kind, as PyTorch counts them, so that
`x * np.sqrt(2)` keeps a float32 model float32 (NumPy 2 would make it float64).
"""
from __future__ import annotations

import builtins

import numpy as np

bool = np.bool_  # noqa: A001  (torch.bool)
uint8 = np.uint8
int8 = np.int8
int16 = np.int16
int32 = np.int32
int64 = np.int64
float16 = np.float16
float32 = np.float32
float64 = np.float64
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001

_PYTHON_NUMBERS = (builtins.float, builtins.int)
_FLOATS = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))
_default = np.dtype(np.float32)


def get_default_dtype() -> np.dtype:
    """The dtype of new float tensors: Python floats, zeros/ones/randn/rand/full, layers' parameters."""
    return _default


def set_default_dtype(dtype) -> None:
    """Set the default float dtype (float32 unless changed), as torch.set_default_dtype."""
    global _default
    d = np.dtype(dtype)
    if d not in _FLOATS:
        raise TypeError(f"set_default_dtype: only floating point dtypes are supported "
                        f"(float16, float32, float64), got {d}")
    _default = d


def resolve(dtype) -> np.dtype:
    """`dtype`, or the default float dtype when it is None."""
    return _default if dtype is None else np.dtype(dtype)


def scalar_dtype(value, dtype: np.dtype) -> np.dtype:
    """The dtype a Python (or NumPy) scalar takes beside an array of `dtype` (NumPy's weak-scalar rule)."""
    if dtype.kind == "f" and type(value) in _PYTHON_NUMBERS:  # the common case, without result_type
        return dtype
    if isinstance(value, np.generic):
        value = value.item()
    return np.result_type(dtype, value)


def infer(a: np.ndarray) -> np.dtype:
    """The dtype of a new tensor made from Python data (lists, scalars; `a` is np.asarray of it), as
    torch.tensor chooses it: floats get the default float dtype, integers int64, booleans bool."""
    if a.dtype.kind in "fO":  # "O": a list of 0-d Tensors, converted through float()
        return _default
    if a.dtype.kind in "iu":
        return np.dtype(np.int64)
    return a.dtype
