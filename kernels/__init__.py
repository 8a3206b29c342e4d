"""Hand-written CUDA kernels (minigen.kernels), each an autograd Function with a NumPy reference.

One concept per pair of files: NAME.cu holds the `extern "C"` kernels compiled at run time by CuPy
(NVRTC), NAME.py the Function whose forward runs the NumPy `reference_*` on CPU arrays and the kernel
on CuPy arrays. `_cuda.py` compiles and caches the sources; `common.cuh` is the shared block reduction.
The package exposes the modules, so the user-facing function is one level down:

    from minigen.kernels.masked_conv2d import masked_conv2d
    from minigen.kernels.adam import adam_step
"""
from . import adam, bias_act, masked_conv2d, maxout, spectral_norm

KERNELS = ("masked_conv2d", "maxout", "spectral_norm", "bias_act", "adam")

__all__ = ["KERNELS", *KERNELS]
