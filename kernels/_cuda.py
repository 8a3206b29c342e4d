"""Run-time compilation and launch helpers shared by the kernels (CuPy RawModule, i.e. NVRTC).

Each kernel's source is `kernels/NAME.cu`, compiled once per (dtype, defines) with
`-Dscalar_t=float|double -DBLOCK=256`; `#include "common.cuh"` is pasted in here so that CuPy's
compile cache (keyed by the source text) sees every change.
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from minigen import backend

HERE = Path(__file__).resolve().parent
BLOCK = 256  # threads per block for every launch; reductions assume a power of two
MAX_BLOCKS = 65535  # grid-stride loops cover the rest
OPTIONS = ("--std=c++17",)
_SCALAR = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_INCLUDE = '#include "common.cuh"'
INT32_MAX = 2**31 - 1


def source(name: str) -> str:
    """The compilable text of kernels/NAME.cu with common.cuh pasted in."""
    text = (HERE / f"{name}.cu").read_text()
    return text.replace(_INCLUDE, (HERE / "common.cuh").read_text())


def scalar_type(dtype, op: str) -> str:
    """The C type for a NumPy float dtype ("float" or "double")."""
    try:
        return _SCALAR[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"{op}: the CUDA kernel supports float32 and float64, got {np.dtype(dtype)}") from None


def supports(dtype) -> bool:
    """True for the dtypes the kernels are compiled for (float32, float64)."""
    return np.dtype(dtype) in _SCALAR


def options(dtype, op: str, **defines) -> tuple:
    """NVRTC options: C++17, scalar_t, BLOCK and any extra -DNAME=VALUE."""
    extra = tuple(f"-D{k}={v}" for k, v in sorted(defines.items()))
    return OPTIONS + (f"-Dscalar_t={scalar_type(dtype, op)}", f"-DBLOCK={BLOCK}") + extra


def cupy():
    """The CuPy module (raises a clear error without a GPU)."""
    return backend.xp_for("cuda")


@functools.cache
def _module(name: str, opts: tuple):
    return cupy().RawModule(code=source(name), options=opts)


@functools.cache
def function(name: str, kernel: str, dtype, **defines):
    """The compiled `extern "C"` function `kernel` of kernels/NAME.cu for `dtype` (cached: CuPy's
    get_function looks the kernel up in the driver on every call)."""
    return _module(name, options(dtype, name, **defines)).get_function(kernel)


def address(a) -> int:
    """The device address of a CuPy array (for kernels that take tables of pointers)."""
    return a.data.ptr


def blocks(n: int) -> int:
    """Blocks for a grid-stride loop over n items with BLOCK threads each."""
    return max(1, min((n + BLOCK - 1) // BLOCK, MAX_BLOCKS))


def is_cuda(a) -> bool:
    return backend.device_of(a) == "cuda"


def check_size(op: str, n: int, shape) -> None:
    """The kernels index with 32-bit ints: fail clearly on larger arrays."""
    if n > INT32_MAX:
        raise ValueError(f"{op}: {n} elements (shape {tuple(shape)}) exceed the kernel's 32-bit indexing")
