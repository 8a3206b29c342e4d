"""Masked 2-D convolution (PixelCNN masks A/B, Gated PixelCNN vertical/horizontal stacks).

y = conv2d(x, w * mask, b) with stride 1 and zero padding (top, bottom, left, right), computed over the
unmasked taps only: on CuPy arrays the implicit-GEMM kernels (implicit_gemm.cu, which conv2d shares) walk
the list of unmasked (dy, dx) offsets instead of multiplying by zero. On NumPy arrays the `reference_*`
functions below run; they define correct.

Backward is three Functions that differentiate each other (so double backward works):
forward conv, grad-input (a transposed masked conv over the flipped taps) and grad-weight
(a reduction per (o, c, tap)); the bias gradient is gy summed over (N, H, W).
"""
from __future__ import annotations

import functools

import numpy as np

from minigen.function import Function
from minigen.tensor import Tensor

from . import _cuda, implicit_gemm

Padding = tuple[int, int, int, int]  # (top, bottom, left, right)
MASK_TYPES = ("A", "B", "V_A", "V_B", "H_A", "H_B")


def pixelcnn_mask(kh: int, kw: int, mask_type: str, dtype=np.float32) -> np.ndarray:
    """The (kh, kw) 0/1 mask around the centre (kh // 2, kw // 2); the one definition in minigen.

    PixelCNN's raster-order masks: "A" the rows above the centre and the pixels left of it in its row,
    "B" those and the centre. Gated PixelCNN (van den Oord et al. 2016): "V_A" the rows strictly above
    the centre, "V_B" those and the centre row (vertical stack: first layer, later layers); "H_A" the
    pixels left of the centre in its row, "H_B" those and the centre (horizontal stack).
    """
    if mask_type not in MASK_TYPES:
        raise ValueError(f"masked_conv2d: unknown mask type {mask_type!r}; expected one of {MASK_TYPES}")
    if kh < 1 or kw < 1:
        raise ValueError(f"masked_conv2d: kernel size must be positive, got ({kh}, {kw})")
    ci, cj = kh // 2, kw // 2
    centre = mask_type.endswith("B")
    mask = np.zeros((kh, kw), dtype)
    if mask_type in ("A", "B"):
        mask[:ci] = 1
    if mask_type.startswith("V"):
        mask[:ci + centre] = 1
    else:
        mask[ci, :cj + centre] = 1
    return mask


@functools.cache
def mask_taps(kh: int, kw: int, mask_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Kernel offsets (dy, dx) of the unmasked taps, row-major, as int32 arrays."""
    dy, dx = np.nonzero(pixelcnn_mask(kh, kw, mask_type))
    return dy.astype(np.int32), dx.astype(np.int32)


# ------------------------------------------------------------------------------ reference and CUDA path
# padding is (top, bottom, left, right); output (Ho, Wo) = (H + top + bottom - kh + 1, W + left + right - kw + 1).
# Both paths are implicit_gemm's convolution over the unmasked taps (stride 1, dilation 1, one group),
# with the weight packed as wp (O, C, T) = w[:, :, dy, dx]: the NumPy reference on NumPy arrays, the
# shared-memory tile kernel on CuPy arrays.

def _output_size(h: int, w: int, kernel_size: tuple[int, int], padding: Padding) -> tuple[int, int]:
    return h + padding[0] + padding[1] - kernel_size[0] + 1, w + padding[2] + padding[3] - kernel_size[1] + 1


def _input_size(ho: int, wo: int, kernel_size: tuple[int, int], padding: Padding) -> tuple[int, int]:
    return ho - padding[0] - padding[1] + kernel_size[0] - 1, wo - padding[2] - padding[3] + kernel_size[1] - 1


def _geometry(padding: Padding) -> dict:
    return dict(stride=(1, 1), padding=(padding[0], padding[2]), dilation=(1, 1), groups=1)


def _packed(w, mask_type: str, dtype):
    """wp (O, C, T) = w[:, :, dy, dx] of a CuPy weight, in `dtype`."""
    dy, dx = implicit_gemm.device_taps(mask_taps(*w.shape[2:], mask_type))
    return w.astype(dtype, copy=False)[:, :, dy, dx]


def reference_masked_conv2d(x, w, b, mask_type: str, padding: Padding) -> np.ndarray:
    """y[n,o,i,j] = b[o] + sum_(c, unmasked (dy,dx)) w[o,c,dy,dx] xpad[n,c,i+dy,j+dx]."""
    taps = mask_taps(*w.shape[2:], mask_type)
    out = _output_size(*x.shape[2:], w.shape[2:], padding)
    return implicit_gemm.reference_conv(x, w[:, :, taps[0], taps[1]], b, taps, out_size=out, **_geometry(padding))


def reference_masked_conv2d_grad_input(gy, w, mask_type: str, padding: Padding) -> np.ndarray:
    """gx = d<gy, y>/dx: each tap's weight transposed, scattered back through the padding."""
    taps = mask_taps(*w.shape[2:], mask_type)
    image = _input_size(*gy.shape[2:], w.shape[2:], padding)
    return implicit_gemm.reference_conv_grad_input(gy, w[:, :, taps[0], taps[1]], taps, image_size=image,
                                                   **_geometry(padding))


def reference_masked_conv2d_grad_weight(x, gy, kernel_size: tuple[int, int], mask_type: str,
                                        padding: Padding) -> np.ndarray:
    """gw[o,c,dy,dx] = sum_(n,i,j) gy[n,o,i,j] xpad[n,c,i+dy,j+dx] on unmasked taps, 0 elsewhere."""
    taps = mask_taps(*kernel_size, mask_type)
    gw = np.zeros((gy.shape[1], x.shape[1]) + tuple(kernel_size), np.result_type(x, gy))
    gw[:, :, taps[0], taps[1]] = implicit_gemm.reference_conv_grad_weight(x, gy, taps, **_geometry(padding))
    return gw


def cuda_masked_conv2d(x, w, b, mask_type: str, padding: Padding):
    """The forward on CuPy arrays (the weight cast to x's dtype)."""
    taps = mask_taps(*w.shape[2:], mask_type)
    return implicit_gemm.cuda_conv(x, _packed(w, mask_type, x.dtype), b, taps,
                                   out_size=_output_size(*x.shape[2:], w.shape[2:], padding), **_geometry(padding))


def cuda_masked_conv2d_grad_input(gy, w, mask_type: str, padding: Padding):
    """gx on CuPy arrays."""
    taps = mask_taps(*w.shape[2:], mask_type)
    image = _input_size(*gy.shape[2:], w.shape[2:], padding)
    return implicit_gemm.cuda_conv_grad_input(gy, _packed(w, mask_type, gy.dtype), taps, image_size=image,
                                              **_geometry(padding))


def cuda_masked_conv2d_grad_weight(x, gy, kernel_size: tuple[int, int], mask_type: str, padding: Padding):
    """gw on CuPy arrays, zeros at the masked taps."""
    cp = _cuda.cupy()
    taps = mask_taps(*kernel_size, mask_type)
    dy, dx = implicit_gemm.device_taps(taps)
    gw = cp.zeros((gy.shape[1], x.shape[1]) + tuple(kernel_size), x.dtype)
    gw[:, :, dy, dx] = implicit_gemm.cuda_conv_grad_weight(x, gy, taps, **_geometry(padding))
    return gw


# ------------------------------------------------------------------------------------------ Functions

class MaskedConv2d(Function):
    """y = conv2d(x, w * mask, b); dx, dw, db through the two Functions below and a sum."""

    def forward(self, x, w, b=None):
        if _cuda.is_cuda(x):
            return cuda_masked_conv2d(x, w, b, self.mask_type, self.padding)
        return reference_masked_conv2d(x, w, b, self.mask_type, self.padding)

    def backward(self, gy):
        x, w = self.inputs[:2]
        kw = dict(mask_type=self.mask_type, padding=self.padding)
        gx = MaskedConv2dGradInput.apply(gy, w, **kw) if x.requires_grad else None
        gw = MaskedConv2dGradWeight.apply(x, gy, kernel_size=w.shape[2:], **kw) if w.requires_grad else None
        if len(self.inputs) == 2:
            return gx, gw
        gb = gy.sum(axis=(0, 2, 3)) if self.inputs[2].requires_grad else None
        return gx, gw, gb


class MaskedConv2dGradInput(Function):
    """gx = conv_transpose(gy, w * mask); linear in gy and w: d gy = conv(ggx, w), d w = grad_weight(ggx, gy)."""

    def forward(self, gy, w):
        if _cuda.is_cuda(gy):
            return cuda_masked_conv2d_grad_input(gy, w, self.mask_type, self.padding)
        return reference_masked_conv2d_grad_input(gy, w, self.mask_type, self.padding)

    def backward(self, ggx):
        gy, w = self.inputs
        kw = dict(mask_type=self.mask_type, padding=self.padding)
        g_gy = MaskedConv2d.apply(ggx, w, **kw) if gy.requires_grad else None
        g_w = MaskedConv2dGradWeight.apply(ggx, gy, kernel_size=w.shape[2:], **kw) if w.requires_grad else None
        return g_gy, g_w


class MaskedConv2dGradWeight(Function):
    """gw = sum_(n,i,j) gy x-patch per unmasked tap; d x = grad_input(gy, ggw), d gy = conv(x, ggw)."""

    def forward(self, x, gy):
        if _cuda.is_cuda(x):
            return cuda_masked_conv2d_grad_weight(x, gy, self.kernel_size, self.mask_type, self.padding)
        return reference_masked_conv2d_grad_weight(x, gy, self.kernel_size, self.mask_type, self.padding)

    def backward(self, ggw):
        x, gy = self.inputs
        kw = dict(mask_type=self.mask_type, padding=self.padding)
        g_x = MaskedConv2dGradInput.apply(gy, ggw, **kw) if x.requires_grad else None
        g_gy = MaskedConv2d.apply(x, ggw, **kw) if gy.requires_grad else None
        return g_x, g_gy


def same_padding(kh: int, kw: int) -> Padding:
    """(top, bottom, left, right) that keeps the image size: k // 2 before, the rest after."""
    return kh // 2, kh - 1 - kh // 2, kw // 2, kw - 1 - kw // 2


def masked_conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, mask_type: str = "A",
                  padding: int | tuple[int, int] | Padding | None = None) -> Tensor:
    """conv2d(x, weight * pixelcnn_mask(kh, kw, mask_type), bias) with stride 1.

    padding: an int, (ph, pw), (top, bottom, left, right), or None for "same" (as F.masked_conv2d)."""
    kh, kw = weight.shape[2:] if weight.ndim == 4 else (0, 0)
    if padding is None:
        padding = same_padding(kh, kw)
    elif isinstance(padding, int):
        padding = (padding,) * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[0], padding[1], padding[1])
    padding = tuple(int(p) for p in padding)
    where = f"(input {x.shape}, weight {weight.shape}, padding {padding}, device {x.device})"
    if x.ndim != 4 or weight.ndim != 4 or x.shape[1] != weight.shape[1]:
        raise ValueError(f"masked_conv2d: expected x (N, C, H, W) and weight (O, C, kh, kw) {where}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"masked_conv2d: bias of shape {bias.shape} should be ({weight.shape[0]},) {where}")
    if len(padding) != 4 or min(padding) < 0 or x.shape[2] + padding[0] + padding[1] < kh \
            or x.shape[3] + padding[2] + padding[3] < kw:
        raise ValueError(f"masked_conv2d: padding must be non-negative and the padded input at least the "
                         f"kernel's size {where}")
    pixelcnn_mask(kh, kw, mask_type)  # validates mask_type
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return MaskedConv2d.apply(*inputs, mask_type=mask_type, padding=padding)
