"""im2col / col2im for convolution on the GPU: CuPy ships no cuDNN convolution, so minigen.ops.conv runs
conv2d, conv_transpose2d and the weight gradient on CuPy arrays as these copies plus one cuBLAS GEMM
(cupy.matmul).

    im2col  cols[n, c, i, j, h, w] = x[n, c, h sh - ph + i dh, w sw - pw + j dw]   (0 outside the image)
    col2im  its adjoint: x[n, c, r, s] = the sum of the cols entries that im2col reads from (r, s)

Plain array functions, not autograd Functions: the conv Functions of minigen.ops.conv call them inside
their forward passes (and so inherit their derivatives). The NumPy references below, written straight
from the index formula, define correct; minigen.ops.conv's own CPU path uses stride tricks instead.
"""
from __future__ import annotations

import numpy as np

from . import _cuda

Pair = tuple[int, int]


def _rows_and_columns(kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair):
    """r (kh, 1, Ho, 1) and s (1, kw, 1, Wo): the image row and column read by tap (i, j) at (h, w)."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel, stride, padding, dilation, out_size
    r = np.arange(kh)[:, None] * dh + np.arange(ho)[None, :] * sh - ph
    s = np.arange(kw)[:, None] * dw + np.arange(wo)[None, :] * sw - pw
    return r[:, None, :, None], s[None, :, None, :]


# ------------------------------------------------------------------------------------ NumPy reference

def reference_im2col(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair,
                     out_size: Pair) -> np.ndarray:
    """cols (N, C, kh, kw, Ho, Wo) = x[:, :, r, s] where (r, s) lies in the image, 0 elsewhere."""
    r, s = _rows_and_columns(kernel, stride, padding, dilation, out_size)
    h, w = x.shape[2:]
    inside = (r >= 0) & (r < h) & (s >= 0) & (s < w)
    picked = x[:, :, r.clip(0, max(h - 1, 0)), s.clip(0, max(w - 1, 0))]
    return np.where(inside, picked, 0).astype(x.dtype)


def reference_col2im(cols: np.ndarray, image_size: Pair, stride: Pair, padding: Pair,
                     dilation: Pair) -> np.ndarray:
    """x (N, C, H, W): every entry of cols (N, C, kh, kw, Ho, Wo) added at the (r, s) im2col read it from."""
    n, c, kh, kw, ho, wo = cols.shape
    r, s = _rows_and_columns((kh, kw), stride, padding, dilation, (ho, wo))
    r, s = np.broadcast_arrays(r, s)
    inside = (r >= 0) & (r < image_size[0]) & (s >= 0) & (s < image_size[1])
    x = np.zeros((n, c) + tuple(image_size), cols.dtype)
    np.add.at(x, (slice(None), slice(None), r[inside], s[inside]), cols[:, :, inside])
    return x


# ------------------------------------------------------------------------------------------ CUDA path

def _launch(kernel: str, source, target, image_shape, cols_shape, stride: Pair, padding: Pair,
            dilation: Pair, total: int) -> None:
    """Launch im2col or col2im: both take (source, target) and then the whole geometry."""
    n, c, h, w = image_shape
    kh, kw, ho, wo = cols_shape[2:]
    geometry = (n, c, h, w, kh, kw, ho, wo, *stride, *padding, *dilation)
    f = _cuda.function("im2col", kernel, source.dtype)
    f((_cuda.blocks(total),), (_cuda.BLOCK,), (source, target) + tuple(np.int32(v) for v in geometry))


def cuda_im2col(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair):
    """cols (N, C, kh, kw, Ho, Wo) of a CuPy x (N, C, H, W), one thread per element of cols."""
    cp = _cuda.cupy()
    cols = cp.empty(tuple(x.shape[:2]) + tuple(kernel) + tuple(out_size), x.dtype)
    _cuda.check_size("im2col", max(x.size, cols.size), cols.shape)
    _launch("im2col", cp.ascontiguousarray(x), cols, x.shape, cols.shape, stride, padding, dilation, cols.size)
    return cols


def cuda_col2im(cols, image_size: Pair, stride: Pair, padding: Pair, dilation: Pair):
    """x (N, C, H, W) = col2im of CuPy cols (N, C, kh, kw, Ho, Wo), one thread per element of x."""
    cp = _cuda.cupy()
    x = cp.empty(tuple(cols.shape[:2]) + tuple(image_size), cols.dtype)
    _cuda.check_size("col2im", max(x.size, cols.size), cols.shape)
    _launch("col2im", cp.ascontiguousarray(cols), x, x.shape, cols.shape, stride, padding, dilation, x.size)
    return x
