"""im2col.cu / col2im on the CPU: the NumPy references against minigen.ops.conv's channels-last stride-trick
im2col and col2im (rearranged to the references' layout), the kernels' index arithmetic (kernel_emulator's line-by-line port, tiny blocks and grids, write-once
bounds-checked pointers) against the references, on awkward geometries: unequal strides, paddings and
dilations per axis, windows that skip pixels (stride > kernel extent), padding wider than the kernel, groups."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernel_emulator
from minigen.kernels import im2col
from minigen.ops import conv


@st.composite
def geometries(draw):
    """(x shape, kernel, stride, padding, dilation, out_size, groups) with an output of at least 1 pixel."""
    groups = draw(st.integers(1, 3))
    channels = groups * draw(st.integers(1, 2))
    kernel = tuple(draw(st.integers(1, 3)) for _ in range(2))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(2))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(2))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(2))
    size = tuple(draw(st.integers(max(1, dilation[a] * (kernel[a] - 1) + 1 - 2 * padding[a]), 6)) for a in range(2))
    out = tuple(conv.conv_output_size(size[a], kernel[a], stride[a], padding[a], dilation[a]) for a in range(2))
    return (draw(st.integers(1, 2)), channels) + size, kernel, stride, padding, dilation, out, groups


def _reference_layout(patches, shape, kernel, out):
    """minigen.ops.conv's patches (g, N Ho Wo, kh kw C/g) in the references' (N, C, kh, kw, Ho, Wo) layout."""
    (n, c), g = shape[:2], patches.shape[0]
    return patches.reshape(g, n, *out, *kernel, c // g).transpose(1, 0, 6, 4, 5, 2, 3).reshape(n, c, *kernel, *out)


@given(geo=geometries(), seed=st.integers(0, 2**16))
def test_references_match_the_stride_trick_im2col_and_col2im(geo, seed):
    shape, kernel, stride, padding, dilation, out, groups = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    cols = im2col.reference_im2col(x, kernel, stride, padding, dilation, out)
    assert cols.shape == shape[:2] + kernel + out
    patches = conv._patches(x, kernel, stride, padding, dilation, groups, out)
    np.testing.assert_array_equal(cols, _reference_layout(patches, shape, kernel, out))
    g = rng.standard_normal(patches.shape)
    back = im2col.reference_col2im(_reference_layout(g, shape, kernel, out), shape[2:], stride, padding, dilation)
    mine = conv._add_patches(g, shape[0], shape[2:], out, kernel, stride, padding, dilation)
    np.testing.assert_allclose(back, mine, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose((patches * g).sum(), (x * back).sum(), rtol=1e-10)  # col2im is im2col's adjoint


@pytest.fixture(scope="module")
def emulated():
    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.install(mp, block=4, max_blocks=3)
        yield


@given(geo=geometries(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 2**16))
def test_im2col_and_col2im_launches_match_the_references(emulated, geo, dtype, seed):
    shape, kernel, stride, padding, dilation, out, _ = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    cols = im2col.cuda_im2col(x, kernel, stride, padding, dilation, out)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(cols, im2col.reference_im2col(x, kernel, stride, padding, dilation, out))
    g = rng.standard_normal(cols.shape).astype(dtype)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(im2col.cuda_col2im(g, shape[2:], stride, padding, dilation),
                               im2col.reference_col2im(g, shape[2:], stride, padding, dilation), rtol=tol, atol=tol)


def test_col2im_crops_like_conv_transpose2d(emulated):
    """conv_transpose2d's output can be smaller than the windows' extent (padding) and have a tail no window
    reaches (output_padding): both come out right."""
    rng = np.random.default_rng(0)
    g = rng.standard_normal((1, 2, 3, 2, 3, 4))  # kh=3, kw=2 over a (3, 4) input
    for image_size, padding in [((6, 7), (1, 0)), ((9, 9), (0, 0)), ((2, 3), (2, 1))]:
        np.testing.assert_allclose(im2col.cuda_col2im(g, image_size, (2, 2), padding, (1, 2)),
                                   im2col.reference_col2im(g, image_size, (2, 2), padding, (1, 2)), atol=1e-12)


def test_im2col_reads_padding_as_zero_and_every_element_is_written_once(emulated):
    x = np.arange(1, 7, dtype=np.float64).reshape(1, 1, 2, 3)
    cols = im2col.cuda_im2col(x, (1, 1), (1, 1), (1, 1), (1, 1), (4, 5))
    np.testing.assert_array_equal(cols[0, 0, 0, 0], np.pad(x[0, 0], 1))  # NaN-filled by the emulator otherwise
