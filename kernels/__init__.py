"""Hand-written CUDA kernels (minigen.kernels), each an autograd Function with a NumPy reference.

One concept per pair of files: NAME.cu holds the `extern "C"` kernels compiled at run time by CuPy
(NVRTC), NAME.py the Function whose forward runs the NumPy `reference_*` on CPU arrays and the kernel
on CuPy arrays. `_cuda.py` compiles and caches the sources; `common.cuh` is the shared block reduction.
im2col.py is not a Function: it holds the copies with which minigen.ops.conv convolves CuPy arrays.
The package exposes the modules, so the user-facing function is one level down:

    from minigen.kernels.masked_conv2d import masked_conv2d
    from minigen.kernels.adam import adam_step

The engine's layers pick the kernels by themselves on CUDA arrays (F.masked_conv2d, F.maxout, conv2d's
im2col, spectral norm's power iteration, optim.Adam), each with one `if kernels.active(...)`. Setting
`minigen.kernels.enabled = False` makes them run the plain CuPy composition instead (benchmarks, tests).
"""
from . import _cuda, adam, bias_act, im2col, masked_conv2d, maxout, spectral_norm

KERNELS = ("masked_conv2d", "maxout", "spectral_norm", "bias_act", "adam")  # benchmarked (bench/kernels.py)
SOURCES = KERNELS + ("im2col",)  # every .cu in this folder

enabled = True  # False: the layers use the plain composition even on CUDA arrays


def active(*arrays) -> bool:
    """True when a layer should run its fused kernel on these arrays: `enabled`, and every array is a
    float32 or float64 CuPy array."""
    return enabled and all(_cuda.is_cuda(a) and _cuda.supports(a.dtype) for a in arrays)


__all__ = ["KERNELS", "SOURCES", "enabled", "active", *SOURCES]
