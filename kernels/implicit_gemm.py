"""Convolution on the GPU as an implicit GEMM (implicit_gemm.cu): tiles of the im2col matrix are gathered
into shared memory as the GEMM walks over K, so no (C kh kw, N Ho Wo) buffer is ever stored (for a 7x7
layer it would be 49 times the input).

Everything is written for a list of kernel taps (dy[t], dx[t]) and a weight packed as wp (O, C/groups, T):
conv2d uses every tap, the masked convolutions of PixelCNN (minigen.kernels.masked_conv2d) only the
unmasked ones. With r = i sh + dy[t] dh - ph and s = j sw + dx[t] dw - pw (zero outside the image):

    conv              y[n, o, i, j] = b[o] + sum_(c, t) wp[o, c, t] x[n, g(o) C/g + c, r, s]
    conv_grad_input   gx = the adjoint of conv in x (also conv_transpose2d's forward)
    conv_grad_weight  gwp[o, c, t] = sum_(n, i, j) gy[n, o, i, j] x[n, g(o) C/g + c, r, s]

Plain array functions: the autograd Functions of minigen.ops.conv and minigen.kernels.masked_conv2d call
them in their forward passes. The NumPy `reference_*` functions (one strided slice per tap) define correct.
padding is (top, left): bottom and right padding only decide the output size, which the caller passes in.
"""
from __future__ import annotations

import functools

import numpy as np

from . import _cuda

Pair = tuple[int, int]
Taps = tuple[np.ndarray, np.ndarray]

TILES = dict(TILE_M=64, TILE_N=64, TILE_K=16, THREADS_M=16)  # compile-time tile shape (see the .cu)
TARGET_BLOCKS = 1024  # split-K in the weight gradient aims for about this many blocks


def all_taps(kh: int, kw: int) -> Taps:
    """(dy, dx) of every tap of a kh x kw kernel, row-major (the order of w.reshape(O, C, kh kw))."""
    dy, dx = np.divmod(np.arange(kh * kw, dtype=np.int32), np.int32(kw))
    return dy, dx


# ------------------------------------------------------------------------------------ NumPy reference

def _windows(xp: np.ndarray, dy: int, dx: int, stride: Pair, dilation: Pair, out_size: Pair):
    """The (N, C, Ho, Wo) view of padded xp that tap (dy, dx) reads: xp[:, :, i sh + dy dh, j sw + dx dw]."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out_size
    return xp[:, :, dy * dh:dy * dh + sh * (ho - 1) + 1:sh, dx * dw:dx * dw + sw * (wo - 1) + 1:sw]


def _padded_shape(image_size: Pair, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair):
    """Rows and columns of a zero-padded image that every window fits in (top/left padding first)."""
    return tuple(max(padding[a] + image_size[a],
                     (int(taps[a].max()) if taps[a].size else 0) * dilation[a] + stride[a] * (out_size[a] - 1) + 1)
                 for a in range(2))


def _padded(x: np.ndarray, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, out_size: Pair):
    rows, cols = _padded_shape(x.shape[2:], taps, stride, padding, dilation, out_size)
    xp = np.zeros(x.shape[:2] + (rows, cols), x.dtype)
    xp[:, :, padding[0]:padding[0] + x.shape[2], padding[1]:padding[1] + x.shape[3]] = x
    return xp


def reference_conv(x, wp, b, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, groups: int,
                   out_size: Pair) -> np.ndarray:
    """y (N, O, Ho, Wo) = b + sum over taps t of wp[:, :, t] (per group) applied to tap t's windows."""
    n, (o, cg, _) = x.shape[0], wp.shape
    xp = _padded(x, taps, stride, padding, dilation, out_size)
    y = np.zeros((n, groups, o // groups) + tuple(out_size), np.result_type(x, wp))
    for t, (dy, dx) in enumerate(zip(*taps)):
        window = _windows(xp, dy, dx, stride, dilation, out_size).reshape(n, groups, cg, *out_size)
        y += np.einsum("goc,ngchw->ngohw", wp[:, :, t].reshape(groups, o // groups, cg), window)
    y = y.reshape(n, o, *out_size)
    return y if b is None else y + b[None, :, None, None]


def reference_conv_grad_input(gy, wp, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, groups: int,
                              image_size: Pair) -> np.ndarray:
    """gx (N, C, H, W): each tap's weights transposed, added back through tap t's windows, then cropped."""
    (n, o), out_size, cg = gy.shape[:2], gy.shape[2:], wp.shape[1]
    rows, cols = _padded_shape(image_size, taps, stride, padding, dilation, out_size)
    gxp = np.zeros((n, groups * cg, rows, cols), np.result_type(gy, wp))
    for t, (dy, dx) in enumerate(zip(*taps)):
        part = np.einsum("goc,ngohw->ngchw", wp[:, :, t].reshape(groups, o // groups, cg),
                         gy.reshape(n, groups, o // groups, *out_size))
        _windows(gxp, dy, dx, stride, dilation, out_size)[...] += part.reshape(n, groups * cg, *out_size)
    return gxp[:, :, padding[0]:padding[0] + image_size[0], padding[1]:padding[1] + image_size[1]].copy()


def reference_conv_grad_weight(x, gy, taps: Taps, stride: Pair, padding: Pair, dilation: Pair,
                               groups: int) -> np.ndarray:
    """gwp (O, C/groups, T): per tap, gy against that tap's windows, summed over (n, i, j)."""
    (n, c), (o, *out_size) = x.shape[:2], gy.shape[1:]
    cg = c // groups
    xp = _padded(x, taps, stride, padding, dilation, out_size)
    gwp = np.zeros((o, cg, len(taps[0])), np.result_type(x, gy))
    for t, (dy, dx) in enumerate(zip(*taps)):
        window = _windows(xp, dy, dx, stride, dilation, out_size).reshape(n, groups, cg, *out_size)
        gwp[:, :, t] = np.einsum("ngohw,ngchw->goc", gy.reshape(n, groups, o // groups, *out_size),
                                 window).reshape(o, cg)
    return gwp


# ------------------------------------------------------------------------------------------ CUDA path

@functools.cache
def _taps_on_device(dy: bytes, dx: bytes):
    cp = _cuda.cupy()
    return cp.asarray(np.frombuffer(dy, np.int32)), cp.asarray(np.frombuffer(dx, np.int32))


def device_taps(taps: Taps):
    """The taps as int32 CuPy arrays (cached: the same few tap lists come back every step)."""
    return _taps_on_device(np.asarray(taps[0], np.int32).tobytes(), np.asarray(taps[1], np.int32).tobytes())


def _tiles(rows: int, columns: int) -> int:
    return -(-rows // TILES["TILE_M"]) * -(-columns // TILES["TILE_N"])


def _launch(kernel: str, tiles: int, arrays: tuple, x_shape, y_shape, o: int, taps: Taps, stride: Pair,
            padding: Pair, dilation: Pair, groups: int, extra: tuple = ()) -> None:
    """Launch one kernel of implicit_gemm.cu: its arrays, then the geometry every kernel takes, then extra."""
    n, c, h, w = x_shape
    geometry = (n, c, h, w, o, y_shape[2], y_shape[3], len(taps[0]), *stride, *padding, *dilation, groups) + extra
    _cuda.check_size(f"implicit_gemm ({kernel})", max(int(np.prod(x_shape)), int(np.prod(y_shape))), x_shape)
    f = _cuda.function("implicit_gemm", kernel, arrays[0].dtype, **TILES)
    f((min(tiles, _cuda.MAX_BLOCKS),), (_cuda.BLOCK,), arrays + tuple(np.int32(v) for v in geometry))


def cuda_conv(x, wp, b, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, groups: int, out_size: Pair):
    """y (N, O, Ho, Wo) on CuPy arrays; wp (O, C/groups, T) in x's dtype."""
    cp = _cuda.cupy()
    n, o = x.shape[0], wp.shape[0]
    y = cp.empty((n, o) + tuple(out_size), x.dtype)
    if y.size == 0:  # an empty batch: no launch (a grid of 0 blocks is invalid)
        return y
    bias = cp.ascontiguousarray(b, x.dtype) if b is not None else y  # y: not read when has_bias is 0
    dy, dx = device_taps(taps)
    _launch("implicit_gemm_forward", groups * _tiles(n * out_size[0] * out_size[1], o // groups),
            (cp.ascontiguousarray(x), cp.ascontiguousarray(wp, x.dtype), bias, dy, dx, y), x.shape, y.shape, o, taps,
            stride, padding, dilation, groups, (b is not None,))
    return y


@functools.cache
def _phases(dy: bytes, dx: bytes, stride: Pair, padding: Pair, dilation: Pair, image_size: Pair) -> tuple:
    """The stride's phases: (r0, s0, Hp, Wp, the taps that reach them) for every first row r0 < sh and
    column s0 < sw. Pixel (r0 + rp sh, s0 + sp sw) is read through tap t only if sh divides
    r0 + ph - dy[t] dh and sw divides s0 + pw - dx[t] dw, the same for every (rp, sp) of the phase."""
    dy, dx = np.frombuffer(dy, np.int32), np.frombuffer(dx, np.int32)
    (sh, sw), (ph, pw), (dh, dw), (h, w) = stride, padding, dilation, image_size
    phases = []
    for r0 in range(min(sh, h)):
        for s0 in range(min(sw, w)):
            keep = np.flatnonzero(((r0 + ph - dy * dh) % sh == 0) & ((s0 + pw - dx * dw) % sw == 0))
            phases.append((r0, s0, -(-(h - r0) // sh), -(-(w - s0) // sw), keep))
    return tuple(phases)


def cuda_conv_grad_input(gy, wp, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, groups: int,
                         image_size: Pair):
    """gx (N, C, H, W) on CuPy arrays: the adjoint of cuda_conv in x; one launch per phase of the stride,
    each over the taps that reach it (a stride-s layer does 1 / s^2 of the work of a dense pass)."""
    cp = _cuda.cupy()
    n, o, cg = gy.shape[0], wp.shape[0], wp.shape[1]
    gx = cp.empty((n, groups * cg) + tuple(image_size), gy.dtype)
    if gx.size == 0:
        return gx
    gy, wp = cp.ascontiguousarray(gy), cp.ascontiguousarray(wp, gy.dtype)
    dy, dx = (np.asarray(t, np.int32) for t in taps)
    for r0, s0, hp, wp_, keep in _phases(dy.tobytes(), dx.tobytes(), stride, padding, dilation, tuple(image_size)):
        phase_taps = (dy[keep], dx[keep])
        packed = wp if len(keep) == len(dy) else cp.ascontiguousarray(wp[:, :, cp.asarray(keep)])
        _launch("implicit_gemm_grad_input", groups * _tiles(n * hp * wp_, cg),
                (gy, packed, *device_taps(phase_taps), gx), gx.shape, gy.shape, o, phase_taps, stride, padding,
                dilation, groups, (r0, s0, hp, wp_))
    return gx


def split_k(k: int, tiles: int) -> tuple[int, int]:
    """(splits, slice): cut K into slices of a multiple of TILE_K, enough of them that about TARGET_BLOCKS
    blocks run, but no slice shorter than 4 TILE_K."""
    tk = TILES["TILE_K"]
    splits = max(1, min(TARGET_BLOCKS // tiles, -(-k // (4 * tk))))
    slice_ = -(-(-(-k // splits)) // tk) * tk
    return -(-k // slice_), slice_


def cuda_conv_grad_weight(x, gy, taps: Taps, stride: Pair, padding: Pair, dilation: Pair, groups: int):
    """gwp (O, C/groups, T) on CuPy arrays: split-K partial sums (S, O, C/groups T), then summed over S."""
    cp = _cuda.cupy()
    (n, c), (o, ho, wo) = x.shape[:2], gy.shape[1:]
    ct = c // groups * len(taps[0])
    if ct == 0 or n * ho * wo == 0:  # no taps (mask A of a 1x1 kernel), or an empty batch
        return cp.zeros((o, c // groups, len(taps[0])), x.dtype)
    tiles = groups * _tiles(o // groups, ct)
    splits, slice_ = split_k(n * ho * wo, tiles)
    partial = cp.empty((splits, o, ct), x.dtype)
    dy, dx = device_taps(taps)
    _launch("implicit_gemm_grad_weight", splits * tiles,
            (cp.ascontiguousarray(x), cp.ascontiguousarray(gy, x.dtype), dy, dx, partial), x.shape, gy.shape, o, taps,
            stride, padding, dilation, groups, (splits, slice_))
    return partial.sum(axis=0).reshape(o, c // groups, len(taps[0]))


# ------------------------------------------------------------- dense convolution (minigen.ops.conv)

def cuda_conv2d(x, w, b, stride: Pair, padding: Pair, dilation: Pair, groups: int, out_size: Pair):
    """F.conv2d's forward on CuPy arrays: every tap, w (O, C/groups, kh, kw)."""
    o, cg, kh, kw = w.shape
    return cuda_conv(x, w.reshape(o, cg, kh * kw), b, all_taps(kh, kw), stride, padding, dilation, groups,
                     out_size)


def cuda_conv_transpose2d(x, w, stride: Pair, padding: Pair, dilation: Pair, groups: int, out_size: Pair):
    """F.conv_transpose2d's forward (no bias) on CuPy arrays: w (in, out/groups, kh, kw) is the weight of
    the conv whose adjoint this is."""
    i, og, kh, kw = w.shape
    return cuda_conv_grad_input(x, w.reshape(i, og, kh * kw), all_taps(kh, kw), stride, padding, dilation,
                                groups, out_size)


def cuda_conv2d_grad_weight(x, gy, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int):
    """conv2d's weight gradient (O, C/groups, kh, kw) on CuPy arrays."""
    gwp = cuda_conv_grad_weight(x, gy, all_taps(*kernel), stride, padding, dilation, groups)
    return gwp.reshape(gwp.shape[:2] + tuple(kernel))
