"""Hand-written CUDA kernels (minigen.kernels), each an autograd Function with a NumPy reference.

One concept per pair of files: NAME.cu holds the `extern "C"` kernels compiled at run time by CuPy
(NVRTC), NAME.py the Function whose forward runs the NumPy `reference_*` on CPU arrays and the kernel
on CuPy arrays. `_cuda.py` compiles and caches the sources; `common.cuh` is the shared block reduction.
Convolution on CuPy arrays (CuPy has no cuDNN) has two algorithms, plain array functions that
minigen.ops.conv calls: implicit_gemm.py (tiles of the patch matrix gathered in shared memory; also the
masked convolution's kernel, over the unmasked taps only) and im2col.py (im2col/col2im copies + cuBLAS).
The package exposes the modules, so the user-facing function is one level down:

    from minigen.kernels.masked_conv2d import masked_conv2d
    from minigen.kernels.adam import adam_step

The engine's layers pick the kernels by themselves on CUDA arrays (F.masked_conv2d, F.maxout, the
convolutions, spectral norm's power iteration, optim.Adam), each with one `if kernels.active(...)`. Setting
`minigen.kernels.enabled = False` makes them run the plain CuPy composition instead (benchmarks, tests);
`minigen.kernels.conv_algorithm` picks "implicit_gemm" (the default) or "im2col" for the convolutions.
"""
from . import _cuda, adam, bias_act, im2col, implicit_gemm, masked_conv2d, maxout, spectral_norm

KERNELS = ("masked_conv2d", "maxout", "spectral_norm", "bias_act", "adam")  # benchmarked (bench/kernels.py)
SOURCES = ("implicit_gemm", "maxout", "spectral_norm", "bias_act", "adam", "im2col")  # every .cu in this folder

enabled = True  # False: the layers use the plain composition even on CUDA arrays
conv_algorithm = "implicit_gemm"  # or "im2col": how conv2d, conv_transpose2d and conv1d run on CUDA arrays
CONV_ALGORITHMS = ("implicit_gemm", "im2col")


def active(*arrays) -> bool:
    """True when a layer should run its fused kernel on these arrays: `enabled`, and every array is a
    float32 or float64 CuPy array."""
    return enabled and all(_cuda.is_cuda(a) and _cuda.supports(a.dtype) for a in arrays)


def conv_by(algorithm: str, *arrays) -> bool:
    """True when the convolutions should run `algorithm` on these arrays: `active(*arrays)`, one dtype for
    all, and `conv_algorithm == algorithm` (checked to be one of CONV_ALGORITHMS)."""
    if conv_algorithm not in CONV_ALGORITHMS:
        raise ValueError(f"minigen.kernels.conv_algorithm must be one of {CONV_ALGORITHMS}, got {conv_algorithm!r}")
    return conv_algorithm == algorithm and active(*arrays) and len({a.dtype for a in arrays}) == 1


__all__ = ["KERNELS", "SOURCES", "enabled", "conv_algorithm", "CONV_ALGORITHMS", "active", "conv_by", *SOURCES, "masked_conv2d"]
