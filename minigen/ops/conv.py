"""Convolution Functions: conv2d, its transpose and its weight gradient, by im2col + GEMM.

Three Functions are closed under differentiation, so derivatives of any order exist (WGAN-GP needs the
second one):
    Conv2d(x, w)            y  = conv(x, w)
    ConvTranspose2d(y, w)   x' = conv^T(y, w)              the adjoint of conv in x
    Conv2dGradWeight(x, y)  w' = sum_windows y * x-window  the adjoint of conv in w
d conv/dx is a ConvTranspose2d, d conv/dw a Conv2dGradWeight, and their own derivatives are Conv2d and
each other. The same array code runs on NumPy and CuPy (`xp`):
- im2col: a strided view of every receptive field of the channels-last padded image (no copy), copied once
  into a (N Ho Wo, kh kw C/g) patch matrix per group; the conv is then one GEMM with the weights as
  (kh kw C/g, O/g), and its output an (N, O, Ho, Wo) view of channels-last memory, which the next layer's
  im2col reads without a transposing copy.
- col2im (the transpose): one GEMM with the transposed weights, then one strided slice added per kernel tap
  into a channels-last image (runs of C/g contiguous values).
- the weight gradient: one GEMM of the patches' transpose with the output gradient's pixel rows.
On CuPy arrays (CuPy has no cuDNN convolution) the three forwards run minigen.kernels.implicit_gemm (tiles
of the patch matrix gathered in shared memory, no im2col buffer) or, with
`minigen.kernels.conv_algorithm = "im2col"`, the two copies as CUDA kernels (minigen.kernels.im2col) and
cuBLAS for the GEMM; F.masked_conv2d with stride 1 and dilation 1 runs the masked-conv kernel (the implicit
GEMM over the unmasked taps). `minigen.kernels.enabled = False` keeps the stride-trick composition on CuPy.
"""
from __future__ import annotations

import numpy as np

from .. import backend, kernels
from ..function import Function
from ..tensor import Tensor
from ..kernels.masked_conv2d import pixelcnn_mask
from .shape import pad, reshape

Pair = tuple[int, int]


# ------------------------------------------------------------------------------------- array helpers

def pair(value, name: str, op: str) -> Pair:
    """An int or a pair of ints as a pair (PyTorch's `_pair`)."""
    if isinstance(value, (int, np.integer)):
        return int(value), int(value)
    items = tuple(value)
    if len(items) != 2 or not all(isinstance(v, (int, np.integer)) for v in items):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return int(items[0]), int(items[1])


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """floor((size + 2 padding - dilation (kernel - 1) - 1) / stride) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def pad_spatial(x, padding: Pair, value: float = 0.0):
    """x (N, C, H, W) padded by padding[0] rows and padding[1] columns on both sides."""
    if padding == (0, 0):
        return x
    (ph, pw), xp = padding, backend.array_module(x)
    return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=value)


def sliding_windows(x, kernel: Pair, stride: Pair, dilation: Pair, out_size: Pair):
    """A read-only view v (N, C, kh, kw, Ho, Wo), v[n, c, i, j, h, w] = x[n, c, h sh + i dh, w sw + j dw]."""
    xp = backend.array_module(x)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    n, c = x.shape[:2]
    bn, bc, bh, bw = x.strides
    return xp.lib.stride_tricks.as_strided(x, (n, c, kh, kw, ho, wo),
                                           (bn, bc, bh * dh, bw * dw, bh * sh, bw * sw))


# ------------------------------------------------------------------- channels-last im2col and col2im
#
# The CPU path (and CuPy's without kernels) reads images channels-last: in a padded (N, H, W, C) image a
# receptive field's row of kw pixels is kw C contiguous values (dilation 1), so im2col is one copy of long
# runs, and each convolution is ONE GEMM over all N Ho Wo output pixels (per group g):
#     patches P (g, N Ho Wo, kh kw C/g)  x  weights W (g, kh kw C/g, O/g)  =  pixel rows Y (g, N Ho Wo, O/g).
# Outputs are (N, O, Ho, Wo) views of channels-last memory, so the next layer's im2col reads them without a
# transposing copy (NumPy's elementwise ops keep their inputs' memory layout).

def channels_last(x):
    """(N, C, H, W) -> its (N, H, W, C) view (no copy: contiguous when x is channels-last in memory)."""
    return x.transpose(0, 2, 3, 1)


def _strided_patches(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int, out_size: Pair):
    """A view v (g, N, Ho, Wo, kh, kw, C/g), v[g, n, h, w, i, j, c] = x_pad[n, g C/g + c, h sh + i dh, w sw + j dw],
    of x padded into a new channels-last image (x itself when there is no padding)."""
    xp = backend.array_module(x)
    (n, c, rows, columns), (ph, pw) = x.shape, padding
    image = channels_last(x)
    if padding != (0, 0):
        image = xp.zeros((n, rows + 2 * ph, columns + 2 * pw, c), x.dtype)
        image[:, ph:ph + rows, pw:pw + columns] = channels_last(x)
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out_size
    bn, bh, bw, bc = image.strides
    cg = c // groups
    view = xp.lib.stride_tricks.as_strided(image, (n, ho, wo, kh, kw, groups, cg),
                                           (bn, bh * sh, bw * sw, bh * dh, bw * dw, bc * cg, bc))
    return view.transpose(5, 0, 1, 2, 3, 4, 6)


def _patches(x, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair, groups: int, out_size: Pair):
    """im2col: P (g, N Ho Wo, kh kw C/g), P[g, (n, h, w), (i, j, c)] = x_pad[n, g C/g + c, h sh + i dh, w sw + j dw];
    one copy of the strided view (of the im2col kernel's (N, C, kh, kw, Ho, Wo) columns on CUDA)."""
    xp = backend.array_module(x)
    (n, c), (kh, kw), (ho, wo) = x.shape[:2], kernel, out_size
    if kernels.conv_by("im2col", x):
        cols = kernels.im2col.cuda_im2col(x, kernel, stride, padding, dilation, out_size)
        view = cols.reshape(n, groups, c // groups, kh, kw, ho, wo).transpose(1, 0, 5, 6, 3, 4, 2)
    else:
        view = _strided_patches(x, kernel, stride, padding, dilation, groups, out_size)
    return xp.ascontiguousarray(view).reshape(groups, n * ho * wo, kh * kw * (c // groups))


def _add_patches(cols, n: int, image_size: Pair, grid: Pair, kernel: Pair, stride: Pair, padding: Pair,
                 dilation: Pair):
    """col2im, the adjoint of _patches: cols (g, N Ho Wo, kh kw C/g) of a (Ho, Wo) grid of windows added into
    the (N, C, H, W) image they would be read from, one strided slice per kernel tap (overlapping windows add
    up), padding cropped; a channels-last view (or the col2im kernel's image on CUDA)."""
    xp = backend.array_module(cols)
    (kh, kw), (ho, wo), (sh, sw), (dh, dw), (ph, pw) = kernel, grid, stride, dilation, padding
    groups, cg = cols.shape[0], cols.shape[2] // (kh * kw)
    cols = cols.reshape(groups, n, ho, wo, kh, kw, cg)
    if kernels.conv_by("im2col", cols):
        cols = xp.ascontiguousarray(cols.transpose(1, 0, 6, 4, 5, 2, 3)).reshape(n, groups * cg, kh, kw, ho, wo)
        return kernels.im2col.cuda_col2im(cols, image_size, stride, padding, dilation)
    rows = max(image_size[0] + 2 * ph, sh * (ho - 1) + dh * (kh - 1) + 1)
    columns = max(image_size[1] + 2 * pw, sw * (wo - 1) + dw * (kw - 1) + 1)
    image = xp.zeros((n, rows, columns, groups, cg), cols.dtype)
    for i in range(kh):
        for j in range(kw):
            image[:, i * dh:i * dh + sh * (ho - 1) + 1:sh, j * dw:j * dw + sw * (wo - 1) + 1:sw] += \
                cols[:, :, :, :, i, j].transpose(1, 2, 3, 0, 4)
    image = image.reshape(n, rows, columns, groups * cg)[:, ph:ph + image_size[0], pw:pw + image_size[1]]
    return image.transpose(0, 3, 1, 2)


def _weight_matrix(w, groups: int):
    """w (O, C/g, kh, kw) as the GEMM's (g, kh kw C/g, O/g), rows in the patches' (i, j, c) order."""
    o, cg, kh, kw = w.shape
    return w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1).reshape(groups, kh * kw * cg, -1)


def _weight_from_matrix(m, shape: tuple):
    """The inverse of _weight_matrix: m (g, kh kw C/g, O/g) as a contiguous (O, C/g, kh, kw) array."""
    o, cg, kh, kw = shape
    xp = backend.array_module(m)
    return xp.ascontiguousarray(m.reshape(m.shape[0], kh, kw, cg, -1).transpose(0, 4, 3, 1, 2)).reshape(shape)


def _pixel_rows(y, groups: int):
    """y (N, O, H, W) as (g, N H W, O/g): one row per pixel (a view when y is channels-last in memory)."""
    n, o, h, w = y.shape
    return channels_last(y).reshape(n * h * w, groups, o // groups).transpose(1, 0, 2)


def _image(rows, n: int, size: Pair):
    """The inverse of _pixel_rows: rows (g, N H W, O/g) as an (N, O, H, W) view of channels-last memory."""
    return rows.transpose(1, 0, 2).reshape(n, size[0], size[1], -1).transpose(0, 3, 1, 2)


def _conv2d(x, w, stride, padding, dilation, groups, out_size):
    """y[n, o, h, v] = sum_{c, i, j} x_pad[n, g(o) C/g + c, h sh + i dh, v sw + j dw] w[o, c, i, j]:
    patches times weights, one GEMM."""
    patches = _patches(x, w.shape[2:], stride, padding, dilation, groups, out_size)
    return _image(patches @ _weight_matrix(w, groups), x.shape[0], out_size)


def _flipped(w, groups: int):
    """w (C_in, C_out/g, kh, kw) of a transposed convolution as the (C_out, C_in/g, kh, kw) weight of a
    convolution, each kernel flipped in both spatial axes."""
    cin, cout_g, kh, kw = w.shape
    w = w.reshape(groups, cin // groups, cout_g, kh, kw).swapaxes(1, 2).reshape(groups * cout_g, -1, kh, kw)
    return w[:, :, ::-1, ::-1]


def _conv_transpose2d(x, w, stride, padding, dilation, groups, out_size):
    """The adjoint of _conv2d in its input: x's pixel rows times the transposed weights (one GEMM), then
    col2im. w (C_in, C_out/g, kh, kw) is the weight of the conv from C_out to C_in channels.
    At stride 1 it is itself a convolution, of x with the flipped kernels and padding d (k - 1) - p:
    x'[r] = sum_i x[r + p - i d] w[i] = sum_i' x_pad[r + i' d] w[k - 1 - i'], which gathers patches of x
    instead of scattering a k^2 times larger column matrix (used when that padding is >= 0)."""
    (h, v), (kh, kw), (dh, dw), (ph, pw) = x.shape[2:], w.shape[2:], dilation, padding
    full = (dh * (kh - 1) - ph, dw * (kw - 1) - pw)
    if (stride == (1, 1) and min(full) >= 0 and tuple(out_size) == (h + full[0] - ph, v + full[1] - pw)
            and not kernels.conv_by("im2col", x)):
        return _conv2d(x, _flipped(w, groups), stride, full, dilation, groups, out_size)
    cols = _pixel_rows(x, groups) @ _weight_matrix(w, groups).swapaxes(1, 2)
    return _add_patches(cols, x.shape[0], out_size, x.shape[2:], w.shape[2:], stride, padding, dilation)


def _conv2d_grad_weight(x, gy, kernel, stride, padding, dilation, groups):
    """gw[o, c, i, j] = sum_{n, h, v} gy[n, o, h, v] x_pad[n, g(o) C/g + c, h sh + i dh, v sw + j dw]:
    the patches' transpose times gy's pixel rows, one GEMM."""
    patches = _patches(x, kernel, stride, padding, dilation, groups, gy.shape[2:])
    gw = patches.swapaxes(1, 2) @ _pixel_rows(gy, groups)
    return _weight_from_matrix(gw, (gy.shape[1], x.shape[1] // groups) + tuple(kernel))


# ----------------------------------------------------------------------------------------- Functions

class _ConvFunction(Function):
    """Shared geometry (stride, padding, dilation, groups as set by `apply`) and the bias gradient."""

    def geometry(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, dilation=self.dilation, groups=self.groups)

    def bias_grad(self, gy: Tensor):
        b = self.inputs[2] if len(self.inputs) == 3 else None
        return gy.sum(axis=(0, 2, 3)) if b is not None and b.requires_grad else None


class Conv2d(_ConvFunction):
    """y = conv(x, w) + b (im2col + GEMM); dx = conv^T(gy, w), dw = Conv2dGradWeight(x, gy), db = sum gy."""

    def forward(self, x, w, b=None):
        if kernels.conv_by("implicit_gemm", x, w, *(() if b is None else (b,))):
            return kernels.implicit_gemm.cuda_conv2d(x, w, b, **self.geometry(), out_size=self.out_size)
        y = _conv2d(x, w, self.stride, self.padding, self.dilation, self.groups, self.out_size)
        return y if b is None else y + b.reshape(1, -1, 1, 1)

    def backward(self, gy):
        x, w = self.inputs[:2]
        geometry = self.geometry()
        gx = ConvTranspose2d.apply(gy, w, out_size=x.shape[2:], **geometry) if x.requires_grad else None
        gw = Conv2dGradWeight.apply(x, gy, kernel=w.shape[2:], **geometry) if w.requires_grad else None
        return gx, gw, self.bias_grad(gy)


class ConvTranspose2d(_ConvFunction):
    """y = conv^T(x, w) + b (GEMM + col2im), w laid out (in, out/groups, kh, kw);
    dx = conv(gy, w), dw = Conv2dGradWeight(gy, x), db = sum gy."""

    def forward(self, x, w, b=None):
        if kernels.conv_by("implicit_gemm", x, w):
            y = kernels.implicit_gemm.cuda_conv_transpose2d(x, w, **self.geometry(), out_size=self.out_size)
        else:
            y = _conv_transpose2d(x, w, self.stride, self.padding, self.dilation, self.groups, self.out_size)
        return y if b is None else y + b.reshape(1, -1, 1, 1)

    def backward(self, gy):
        x, w = self.inputs[:2]
        geometry = self.geometry()
        gx = Conv2d.apply(gy, w, out_size=x.shape[2:], **geometry) if x.requires_grad else None
        gw = Conv2dGradWeight.apply(gy, x, kernel=w.shape[2:], **geometry) if w.requires_grad else None
        return gx, gw, self.bias_grad(gy)


class Conv2dGradWeight(_ConvFunction):
    """gw = d<gy, conv(x, w)>/dw, bilinear in (x, gy); with ggw its output gradient,
    dx = conv^T(gy, ggw) and dgy = conv(x, ggw)."""

    def forward(self, x, gy):
        if kernels.conv_by("implicit_gemm", x, gy):
            return kernels.implicit_gemm.cuda_conv2d_grad_weight(x, gy, self.kernel, **self.geometry())
        return _conv2d_grad_weight(x, gy, self.kernel, self.stride, self.padding, self.dilation, self.groups)

    def backward(self, ggw):
        x, gy = self.inputs
        geometry = self.geometry()
        gx = ConvTranspose2d.apply(gy, ggw, out_size=x.shape[2:], **geometry) if x.requires_grad else None
        ggy = Conv2d.apply(x, ggw, out_size=gy.shape[2:], **geometry) if gy.requires_grad else None
        return gx, ggy


# ------------------------------------------------------------------------------------- the functions

def _where(x: Tensor, w: Tensor) -> str:
    return f"input {x.shape}, weight {w.shape} on {x.device}"


def _check_rank(op: str, x: Tensor, w: Tensor) -> None:
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D input (N, C, H, W) and a 4-D weight, got {_where(x, w)}")


def _check(op: str, x: Tensor, w: Tensor, b, groups: int, stride: Pair, padding: Pair, dilation: Pair,
           in_channels: int, out_channels: int) -> None:
    """Validate groups, bias and the settings, before anything is computed."""
    if groups < 1 or min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{op}: need groups >= 1, stride >= 1, dilation >= 1 and padding >= 0, got "
                         f"groups={groups}, stride={stride}, dilation={dilation}, padding={padding} "
                         f"({_where(x, w)})")
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"{op}: groups={groups} must divide the {in_channels} input and {out_channels} "
                         f"output channels ({_where(x, w)})")
    if b is not None and tuple(b.shape) != (out_channels,):
        raise ValueError(f"{op}: bias of shape {b.shape} does not match {out_channels} output channels "
                         f"({_where(x, w)})")


def _check_output(op: str, out_size: Pair, x: Tensor, w: Tensor) -> None:
    if min(out_size) < 1:
        raise ValueError(f"{op}: output size {out_size} is smaller than 1 ({_where(x, w)})")


def conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """y[n, o] = b[o] + sum_c w[o, c] (star) x[n, g(o) C/g + c] (cross-correlation, w (O, C/groups, kh, kw));
    im2col + GEMM."""
    stride, padding = pair(stride, "stride", "conv2d"), pair(padding, "padding", "conv2d")
    dilation = pair(dilation, "dilation", "conv2d")
    _check_rank("conv2d", x, w)
    _check("conv2d", x, w, b, groups, stride, padding, dilation, x.shape[1], w.shape[0])
    if x.shape[1] != w.shape[1] * groups:
        raise ValueError(f"conv2d: input has {x.shape[1]} channels but the weight expects "
                         f"{w.shape[1]} x groups={groups} = {w.shape[1] * groups} ({_where(x, w)})")
    out_size = tuple(conv_output_size(x.shape[2 + a], w.shape[2 + a], stride[a], padding[a], dilation[a])
                     for a in range(2))
    _check_output("conv2d", out_size, x, w)
    inputs = (x, w) if b is None else (x, w, b)
    return Conv2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        out_size=out_size)


def conv_transpose2d(x: Tensor, w: Tensor, b: Tensor | None = None, stride=1, padding=0, output_padding=0,
                     groups: int = 1, dilation=1) -> Tensor:
    """The adjoint of conv2d in its input, plus b; w laid out (in, out/groups, kh, kw) as in PyTorch;
    H_out = (H - 1) stride - 2 padding + dilation (kh - 1) + output_padding + 1. GEMM + col2im."""
    op = "conv_transpose2d"
    stride, padding = pair(stride, "stride", op), pair(padding, "padding", op)
    dilation = pair(dilation, "dilation", op)
    output_padding = pair(output_padding, "output_padding", op)
    _check_rank(op, x, w)
    _check(op, x, w, b, groups, stride, padding, dilation, w.shape[0], w.shape[1] * groups)
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"{op}: input has {x.shape[1]} channels but the weight (in, out/groups, kh, kw) "
                         f"expects {w.shape[0]} ({_where(x, w)})")
    if any(not 0 <= output_padding[a] < max(stride[a], dilation[a]) for a in range(2)):
        raise ValueError(f"{op}: output_padding {output_padding} must be >= 0 and smaller than stride "
                         f"{stride} or dilation {dilation} ({_where(x, w)})")
    out_size = tuple((x.shape[2 + a] - 1) * stride[a] - 2 * padding[a] + dilation[a] * (w.shape[2 + a] - 1)
                     + output_padding[a] + 1 for a in range(2))
    _check_output(op, out_size, x, w)
    inputs = (x, w) if b is None else (x, w, b)
    return ConvTranspose2d.apply(*inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                                 out_size=out_size)


def conv1d(x: Tensor, w: Tensor, b: Tensor | None = None, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1) -> Tensor:
    """conv2d over (N, C, 1, L) with a (O, C/groups, 1, k) weight: x (N, C, L), w (O, C/groups, k)."""
    if x.ndim != 3 or w.ndim != 3:
        raise ValueError(f"conv1d: expected a 3-D input (N, C, L) and a 3-D weight, got {_where(x, w)}")
    stride, padding, dilation = (int(v[0]) if isinstance(v, (tuple, list)) else v
                                 for v in (stride, padding, dilation))
    y = conv2d(reshape(x, (x.shape[0], x.shape[1], 1, x.shape[2])), reshape(w, w.shape[:2] + (1, w.shape[2])),
               b, stride=(1, stride), padding=(0, padding), dilation=(1, dilation), groups=groups)
    return reshape(y, (y.shape[0], y.shape[1], y.shape[3]))


def masked_conv2d(x: Tensor, w: Tensor, b: Tensor | None = None, mask_type: str = "A", padding=None,
                  stride=1, dilation=1) -> Tensor:
    """conv2d(x, w * pixelcnn_mask(kh, kw, mask_type), b). padding None keeps the size ("same": the kernel
    centre sits on the output pixel, dilation * (k // 2) before and the rest after), so output pixel (i, j)
    sees only input pixels before it in raster order (and (i, j) itself for mask B). On CUDA with stride 1
    and dilation 1 the masked-conv kernel runs (minigen.kernels.masked_conv2d: the masked taps are skipped)."""
    _check_rank("masked_conv2d", x, w)
    if mask_type not in ("A", "B"):
        raise ValueError(f"masked_conv2d: mask_type must be 'A' or 'B', got {mask_type!r} ({_where(x, w)})")
    stride, dilation = pair(stride, "stride", "masked_conv2d"), pair(dilation, "dilation", "masked_conv2d")
    same_dtype = x.dtype == w.dtype and (b is None or b.dtype == x.dtype)
    if kernels.active(x.data, w.data) and same_dtype and stride == dilation == (1, 1):
        return kernels.masked_conv2d.masked_conv2d(x, w, b, mask_type, padding)
    kh, kw = w.shape[2:]
    mask = backend.xp_for(w.device).asarray(pixelcnn_mask(kh, kw, mask_type), dtype=w.dtype)
    if padding is None:
        dh, dw = dilation
        before = (dh * (kh // 2), dw * (kw // 2))
        after = (dh * (kh - 1) - before[0], dw * (kw - 1) - before[1])
        if before != after:
            x = pad(x, (before[1], after[1], before[0], after[0]))
            before = (0, 0)
        padding = before
    return conv2d(x, w * Tensor._make(mask), b, stride=stride, padding=padding, dilation=dilation)
