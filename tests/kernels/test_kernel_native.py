"""The kernels' actual .cu text on the CPU (native_cuda: g++, one host thread per CUDA thread, a barrier for
__syncthreads) against the NumPy references.

1. The launch tests of test_kernel_emulation.py and test_im2col.py (and the Functions' gradchecks on their
   kernel path), collected here a second time: their `emulated` fixture resolves to this module's, which
   installs the native backend with the emulator's small BLOCK, grids and tiles, so a disagreement with
   the Python port's run is the .cu's own.
2. The real launch configuration (BLOCK=256, MAX_BLOCKS=65535, implicit_gemm's default tiles) on small
   problems that still span several blocks, tiles and K slices.
3. The harness itself: a wrong kernel fails the comparison, a kernel that does not compile is an error.
"""
import numpy as np
import pytest

import native_cuda
import test_im2col as im2col_tests
import test_kernel_emulation as emulation
from minigen.kernels import _cuda, adam, bias_act, im2col, implicit_gemm, masked_conv2d, maxout, spectral_norm

REAL = dict(block=_cuda.BLOCK, max_blocks=_cuda.MAX_BLOCKS, tiles=dict(implicit_gemm.TILES))  # before any patch


@pytest.fixture(scope="module")
def emulated():
    """The fixture the collected tests below ask for: the native backend, the emulator's configuration."""
    with pytest.MonkeyPatch.context() as mp:
        native_cuda.install(mp, block=4, max_blocks=3)
        yield


# ------------------------------------------------ 1. the emulation tests, on the compiled kernels

test_masked_conv2d_launches = emulation.test_masked_conv2d_launches
test_implicit_gemm_launches = emulation.test_implicit_gemm_launches
test_maxout_launches = emulation.test_maxout_launches
test_maxout_ties_go_to_the_first_piece = emulation.test_maxout_ties_go_to_the_first_piece
test_spectral_norm_launches = emulation.test_spectral_norm_launches
test_bias_act_launches = emulation.test_bias_act_launches
test_adam_launches = emulation.test_adam_launches
test_emulator_catches_a_non_contiguous_argument = emulation.test_emulator_catches_a_non_contiguous_argument
test_emulator_catches_a_wrong_scalar_type = emulation.test_emulator_catches_a_wrong_scalar_type
kernel_path = emulation.kernel_path  # the Functions (gradcheck, gradgradcheck) on their kernel path
test_masked_conv2d_function_kernel_path_first_and_second_derivatives = \
    emulation.test_masked_conv2d_function_kernel_path_first_and_second_derivatives
test_maxout_function_kernel_path_first_and_second_derivatives = \
    emulation.test_maxout_function_kernel_path_first_and_second_derivatives
test_bias_act_function_kernel_path_first_and_second_derivatives = \
    emulation.test_bias_act_function_kernel_path_first_and_second_derivatives
test_spectral_norm_function_kernel_path = emulation.test_spectral_norm_function_kernel_path
test_im2col_and_col2im_launches_match_the_references = im2col_tests.test_im2col_and_col2im_launches_match_the_references
test_col2im_crops_like_conv_transpose2d = im2col_tests.test_col2im_crops_like_conv_transpose2d
test_im2col_reads_padding_as_zero_and_every_element_is_written_once = \
    im2col_tests.test_im2col_reads_padding_as_zero_and_every_element_is_written_once


# ---------------------------------------------------- 2. the real launch configuration

@pytest.fixture
def real(monkeypatch):
    native_cuda.install(monkeypatch, **REAL)


def _conv(rng, dt):
    """Groups, unequal strides and dilations: M = 2 x 7 x 5 spans two 64-row tiles, K two split-K slices."""
    x, wp, b = rng.standard_normal((2, 4, 9, 9)), rng.standard_normal((6, 2, 9)), rng.standard_normal(6)
    gy = rng.standard_normal((2, 6, 7, 5))
    x, wp, b, gy = (a.astype(dt) for a in (x, wp, b, gy))
    taps = implicit_gemm.all_taps(3, 3)
    geo = dict(stride=(1, 2), padding=(1, 2), dilation=(2, 1), groups=2)
    return [(implicit_gemm.cuda_conv(x, wp, b, taps, out_size=(7, 5), **geo),
             implicit_gemm.reference_conv(x, wp, b, taps, out_size=(7, 5), **geo)),
            (implicit_gemm.cuda_conv_grad_input(gy, wp, taps, image_size=(9, 9), **geo),
             implicit_gemm.reference_conv_grad_input(gy, wp, taps, image_size=(9, 9), **geo)),
            (implicit_gemm.cuda_conv_grad_weight(x, gy, taps, **geo),
             implicit_gemm.reference_conv_grad_weight(x, gy, taps, **geo))]


def _masked_conv(rng, dt):
    x, w, b = (rng.standard_normal(s).astype(dt) for s in ((1, 3, 10, 9), (5, 3, 5, 5), (5,)))
    pad = (2, 2, 2, 2)
    return [(masked_conv2d.cuda_masked_conv2d(x, w, b, "B", pad),
             masked_conv2d.reference_masked_conv2d(x, w, b, "B", pad))]


def _maxout(rng, dt):
    x = rng.permutation(2 * 9 * 40).reshape(2, 9, 40).astype(dt)  # 240 outputs, 720 inputs: several blocks
    (y, arg), (y_ref, arg_ref) = maxout.cuda_maxout(x, 3, 1), maxout.reference_maxout(x, 3, 1)
    gy = rng.standard_normal(y.shape).astype(dt)
    return [(y, y_ref), (arg, arg_ref), (maxout.cuda_maxout_backward(gy, arg, 3, 1),
                                         maxout.reference_maxout_backward(gy, arg_ref, 3, 1)),
            (maxout.cuda_maxout_select(x, arg, 3, 1), y_ref)]


def _spectral_norm(rng, dt):
    w, u, v = (rng.standard_normal(s).astype(dt) for s in ((5, 3, 200), (5,), (600,)))  # n > BLOCK
    return list(zip(spectral_norm.cuda_spectral_norm(w, u, v, 2), spectral_norm.reference_spectral_norm(w, u, v, 2)))


def _bias_act(rng, dt):
    x, b, gy = (rng.standard_normal(s).astype(dt) for s in ((3, 4, 70), (4,), (3, 4, 70)))
    y = bias_act.cuda_bias_act(x, b, "sigmoid", 0.2, 1)
    return [(y, bias_act.reference_bias_act(x, b, "sigmoid", 0.2, 1)),
            (bias_act.cuda_bias_act_backward(gy, y, "sigmoid"), bias_act.reference_bias_act_backward(gy, y, "sigmoid"))]


def _adam(rng, dt):
    shapes = [(7, 50), (3,), (300,)]
    pairs = []
    for multi_tensor in (True, False):
        groups = [[rng.uniform(0.1, 1, s).astype(dt) for s in shapes] for _ in range(4)]  # p, g, m, v
        want = [[a.copy() for a in group] for group in groups]
        adam.cuda_adam_step(*groups, 3, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1,
                            multi_tensor=multi_tensor)
        adam.reference_adam_step(*want, 3, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1)
        pairs += [(a, b) for j in (0, 2, 3) for a, b in zip(groups[j], want[j])]
    return pairs


def _im2col(rng, dt):
    x = rng.standard_normal((2, 3, 8, 7)).astype(dt)
    geo = ((3, 2), (2, 1), (1, 2), (1, 2))  # kernel, stride, padding, dilation
    cols = im2col.cuda_im2col(x, *geo, (4, 8))
    return [(cols, im2col.reference_im2col(x, *geo, (4, 8))),
            (im2col.cuda_col2im(cols, (8, 7), *geo[1:]), im2col.reference_col2im(cols, (8, 7), *geo[1:]))]


@pytest.mark.parametrize("case", [_conv, _masked_conv, _maxout, _spectral_norm, _bias_act, _adam, _im2col],
                         ids=lambda f: f.__name__[1:])
def test_real_launch_configuration(real, case):
    assert (_cuda.BLOCK, implicit_gemm.TILES) == (REAL["block"], REAL["tiles"])
    for got, want in case(np.random.default_rng(0), np.float32):
        assert got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------- 3. the harness

BROKEN = """
extern "C" __global__ void shifted_copy(const scalar_t* __restrict__ x, scalar_t* __restrict__ y, int n)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[(i + 1) % n] = x[i];
}
extern "C" __global__ void block_reverse(const scalar_t* __restrict__ x, scalar_t* __restrict__ y)
{
    __shared__ scalar_t sh[BLOCK];
    sh[threadIdx.x] = x[blockIdx.x * BLOCK + threadIdx.x];
    __syncthreads();
    y[blockIdx.x * BLOCK + threadIdx.x] = sh[BLOCK - 1 - threadIdx.x];
}
"""


def test_the_collected_tests_get_the_native_backend(emulated):
    assert _cuda.function is native_cuda.NativeKernel and _cuda.BLOCK == 4
    assert native_cuda.CACHE.is_dir()


@pytest.fixture
def broken(emulated, monkeypatch):
    """kernels/broken.cu is BROKEN: a copy that writes y[i + 1], and a correct shared-memory reversal."""
    source = _cuda.source
    monkeypatch.setattr(_cuda, "source", lambda name: BROKEN if name == "broken" else source(name))


def test_a_wrong_kernel_fails_the_comparison(broken):
    x = np.arange(10, dtype=np.float64)
    y = np.full_like(x, np.nan)
    _cuda.function("broken", "shifted_copy", np.float64)((3,), (_cuda.BLOCK,), (x, y, np.int32(x.size)))
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(y, np.roll(x, 1))  # and it is the kernel that ran, one thread per element


def test_shared_memory_and_syncthreads_span_the_block(broken):
    x = np.arange(3 * _cuda.BLOCK, dtype=np.float32)
    y = np.full_like(x, np.nan)
    _cuda.function("broken", "block_reverse", np.float32)((3,), (_cuda.BLOCK,), (x, y))
    np.testing.assert_array_equal(y, x.reshape(3, -1)[:, ::-1].reshape(-1))


def test_a_kernel_that_does_not_compile_is_an_error_not_a_skip(emulated):
    assert native_cuda.toolchain_problem() is None
    with pytest.raises(native_cuda.CompileError, match="undeclared|not declared"):
        native_cuda.library('extern "C" __global__ void k(int n) { undeclared_name = n; }', ("-DBLOCK=4",))
