"""The kernels' index arithmetic on the CPU: every cuda_* launch path of minigen.kernels, run through
kernel_emulator (a line-by-line Python port of each .cu kernel with bounds-checked, write-once pointers
and tiny blocks and grids), must agree with the NumPy reference on small awkward shapes."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernel_emulator
import minigen as mg
from minigen.kernels import _cuda, adam, bias_act, implicit_gemm, masked_conv2d, maxout, spectral_norm
from minigen.testing import gradcheck, gradgradcheck


@pytest.fixture(scope="module")
def emulated():
    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.install(mp, block=4, max_blocks=3)
        yield


def close(a, b, dtype):
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


dtypes = st.sampled_from([np.float32, np.float64])


@given(n=st.integers(1, 2), c=st.integers(1, 3), o=st.integers(1, 3), h=st.integers(1, 4), w=st.integers(1, 5),
       kernel=st.sampled_from([(1, 1), (1, 3), (2, 2), (3, 3), (3, 2)]),
       mask_type=st.sampled_from(masked_conv2d.MASK_TYPES), pad=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       bias=st.booleans(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_masked_conv2d_launches(emulated, n, c, o, h, w, kernel, mask_type, pad, bias, dtype, seed):
    kh, kw = kernel
    pad = tuple(pad)
    if h + pad[0] + pad[1] < kh or w + pad[2] + pad[3] < kw:
        return
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((o, c, kh, kw)).astype(dtype)
    b = rng.standard_normal(o).astype(dtype) if bias else None
    y = masked_conv2d.cuda_masked_conv2d(x, wt, b, mask_type, pad)
    close(y, masked_conv2d.reference_masked_conv2d(x, wt, b, mask_type, pad), dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    close(masked_conv2d.cuda_masked_conv2d_grad_input(gy, wt, mask_type, pad),
          masked_conv2d.reference_masked_conv2d_grad_input(gy, wt, mask_type, pad), dtype)
    close(masked_conv2d.cuda_masked_conv2d_grad_weight(x, gy, kernel, mask_type, pad),
          masked_conv2d.reference_masked_conv2d_grad_weight(x, gy, kernel, mask_type, pad), dtype)


TILE_SHAPES = [dict(TILE_M=4, TILE_N=4, TILE_K=2, THREADS_M=2),  # BLOCK 4: 2 x 2 threads, 2 x 2 outputs each
               dict(TILE_M=2, TILE_N=8, TILE_K=3, THREADS_M=1),  # 1 x 4 threads, 2 x 2 each, an odd TILE_K
               dict(TILE_M=8, TILE_N=2, TILE_K=1, THREADS_M=4)]  # 4 x 1 threads, 2 x 2 each


@st.composite
def tap_problems(draw):
    """An implicit-GEMM problem: any subset of a kernel's taps in any order, per-axis stride, padding and
    dilation, groups, and an output size chosen freely (windows may leave the image on any side)."""
    groups, cg, og, n = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    chosen = draw(st.lists(st.integers(0, kh * kw - 1), unique=True, max_size=kh * kw))
    taps = tuple(np.array(v, np.int32).reshape(-1) for v in ([k // kw for k in chosen], [k % kw for k in chosen]))
    pair = lambda lo, hi: (draw(st.integers(lo, hi)), draw(st.integers(lo, hi)))  # noqa: E731
    return dict(n=n, groups=groups, cg=cg, og=og, taps=taps, stride=pair(1, 3), padding=pair(0, 2),
                dilation=pair(1, 2), image=pair(1, 5), out=pair(1, 4))


@given(p=tap_problems(), tiles=st.sampled_from(TILE_SHAPES), target_blocks=st.sampled_from([1, 3, 1024]),
       bias=st.booleans(), dtype=dtypes, seed=st.integers(0, 2**16))
def test_implicit_gemm_launches(emulated, p, tiles, target_blocks, bias, dtype, seed):
    rng = np.random.default_rng(seed)
    g, taps = p["groups"], p["taps"]
    x = rng.standard_normal((p["n"], g * p["cg"]) + p["image"]).astype(dtype)
    wp = rng.standard_normal((g * p["og"], p["cg"], len(taps[0]))).astype(dtype)
    b = rng.standard_normal(g * p["og"]).astype(dtype) if bias else None
    gy = rng.standard_normal((p["n"], g * p["og"]) + p["out"]).astype(dtype)
    geometry = dict(stride=p["stride"], padding=p["padding"], dilation=p["dilation"], groups=g)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(implicit_gemm, "TILES", tiles)
        mp.setattr(implicit_gemm, "TARGET_BLOCKS", target_blocks)  # 1 and 3: several K slices per tile
        close(implicit_gemm.cuda_conv(x, wp, b, taps, out_size=p["out"], **geometry),
              implicit_gemm.reference_conv(x, wp, b, taps, out_size=p["out"], **geometry), dtype)
        close(implicit_gemm.cuda_conv_grad_input(gy, wp, taps, image_size=p["image"], **geometry),
              implicit_gemm.reference_conv_grad_input(gy, wp, taps, image_size=p["image"], **geometry), dtype)
        close(implicit_gemm.cuda_conv_grad_weight(x, gy, taps, **geometry),
              implicit_gemm.reference_conv_grad_weight(x, gy, taps, **geometry), dtype)


@pytest.mark.parametrize("k,tiles", [(1, 1), (7, 1), (64, 1), (1000, 1), (1000, 4), (5, 2000)])
def test_split_k_covers_k_with_whole_tile_k_slices(k, tiles):
    splits, slice_ = implicit_gemm.split_k(k, tiles)
    tk = implicit_gemm.TILES["TILE_K"]
    assert slice_ % tk == 0 and splits >= 1
    assert (splits - 1) * slice_ < k <= splits * slice_  # every slice starts inside K, together they cover it
    assert splits == 1 or slice_ >= 4 * tk


@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), axis=st.integers(0, 3),
       pieces=st.sampled_from([1, 2, 3, 130]), dtype=dtypes, seed=st.integers(0, 2**16))
def test_maxout_launches(emulated, shape, axis, pieces, dtype, seed):
    if pieces > 127:  # int32 argmax; keep the emulation small
        shape = shape[:1]
    axis = axis % (len(shape) + 1)
    shape = tuple(shape[:axis]) + (pieces * (1 + seed % 2),) + tuple(shape[axis:])
    rng = np.random.default_rng(seed)
    x = rng.permutation(int(np.prod(shape))).reshape(shape).astype(dtype)  # distinct values: one argmax
    y, arg = maxout.cuda_maxout(x, pieces, axis)
    y_ref, arg_ref = maxout.reference_maxout(x, pieces, axis)
    assert arg.dtype == arg_ref.dtype == (np.int8 if pieces < 128 else np.int32)
    np.testing.assert_array_equal(arg, arg_ref)
    close(y, y_ref, dtype)
    gy = rng.standard_normal(y.shape).astype(dtype)
    close(maxout.cuda_maxout_backward(gy, arg, pieces, axis), maxout.reference_maxout_backward(gy, arg, pieces, axis),
          dtype)
    close(maxout.cuda_maxout_select(x, arg, pieces, axis), y_ref, dtype)


def test_maxout_ties_go_to_the_first_piece(emulated):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 2.0, 2.0]])
    y, arg = maxout.cuda_maxout(x, 3, 1)
    np.testing.assert_array_equal(arg, maxout.reference_maxout(x, 3, 1)[1])
    np.testing.assert_array_equal(arg, [[1, 0]])


@given(shape=st.sampled_from([(1, 1), (1, 5), (5, 1), (3, 4), (6, 2, 3), (9, 2)]),
       iterations=st.integers(0, 3), dtype=dtypes, seed=st.integers(0, 2**16))
def test_spectral_norm_launches(emulated, shape, iterations, dtype, seed):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    n = int(np.prod(shape[1:]))
    u = rng.standard_normal(shape[0]).astype(dtype)
    v = rng.standard_normal(n).astype(dtype)
    v /= np.linalg.norm(v)
    got = spectral_norm.cuda_spectral_norm(w, u, v, iterations)
    want = spectral_norm.reference_spectral_norm(w, u, v, iterations)
    for a, b in zip(got, want):
        close(a, b, dtype)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), axis=st.integers(0, 3),
       act=st.sampled_from(list(bias_act.ACTIVATIONS)), dtype=dtypes, seed=st.integers(0, 2**16))
def test_bias_act_launches(emulated, shape, axis, act, dtype, seed):
    axis = axis % len(shape)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[axis]).astype(dtype)
    y = bias_act.cuda_bias_act(x, b, act, 0.2, axis)
    close(y, bias_act.reference_bias_act(x, b, act, 0.2, axis), dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    close(bias_act.cuda_bias_act_backward(gy, y, act, 0.2), bias_act.reference_bias_act_backward(gy, y, act, 0.2),
          dtype)


@pytest.mark.parametrize("multi_tensor", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_launches(emulated, monkeypatch, multi_tensor, dtype):
    monkeypatch.setattr(adam, "CHUNK", 8)  # several chunks per tensor, chunks that end mid-block
    rng = np.random.default_rng(0)
    shapes = [(3, 5), (1,), (17,), (2, 2, 2)]
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    states = [[rng.uniform(0, 1, s).astype(dtype) for s in shapes] for _ in range(2)]
    want = [[a.copy() for a in group] for group in [params] + states]
    for step in (1, 2, 3):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        adam.cuda_adam_step(params, grads, *states, step, lr=0.01, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.1,
                            multi_tensor=multi_tensor)
        adam.reference_adam_step(want[0], grads, want[1], want[2], step, lr=0.01, betas=(0.8, 0.9), eps=1e-6,
                                 weight_decay=0.1)
        for got, ref in zip(params + states[0] + states[1], want[0] + want[1] + want[2]):
            close(got, ref, dtype)


def test_emulator_catches_a_non_contiguous_argument(emulated):
    f = _cuda.function("bias_act", "bias_act_backward", np.float64)
    gy = np.zeros((3, 4)).T
    with pytest.raises(AssertionError, match="not C-contiguous"):
        f((1,), (_cuda.BLOCK,), (gy, np.zeros((4, 3)), np.zeros((4, 3)), np.int32(12), np.int32(1), np.float64(0)))


def test_emulator_catches_a_wrong_scalar_type(emulated):
    f = _cuda.function("bias_act", "bias_act_backward", np.float32)
    a = np.zeros(4, np.float32)
    with pytest.raises(AssertionError, match="expected int32"):
        f((1,), (_cuda.BLOCK,), (a, a, a.copy(), 4, np.int32(1), np.float32(0)))


# ---------------------------------------------- the Functions on their kernel path, through the emulator

@pytest.fixture
def kernel_path(emulated, monkeypatch):
    """Every Function of minigen.kernels takes its CUDA branch (emulated) on NumPy arrays."""
    monkeypatch.setattr(_cuda, "is_cuda", lambda a: True)
    before = kernel_emulator.EmulatedKernel.launches
    yield
    assert kernel_emulator.EmulatedKernel.launches > before, "the kernel path was not taken"


def _leaf(rng, shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("mask_type", ["A", "V_B", "H_B"])
def test_masked_conv2d_function_kernel_path_first_and_second_derivatives(kernel_path, mask_type):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, (1, 2, 3, 3)), _leaf(rng, (2, 2, 3, 3)), _leaf(rng, (2,))]
    fn = lambda x, w, b: masked_conv2d.masked_conv2d(x, w, b, mask_type, (1, 0, 2, 1))  # noqa: E731
    assert gradcheck(fn, inputs)
    assert gradgradcheck(fn, inputs)


def test_maxout_function_kernel_path_first_and_second_derivatives(kernel_path):
    x = mg.tensor(np.random.default_rng(0).permutation(12).reshape(2, 6, 1).astype(np.float64), requires_grad=True)
    assert gradcheck(lambda x: maxout.maxout(x, 3), [x])
    assert gradgradcheck(lambda x: maxout.maxout(x, 3), [x])


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "leaky_relu"])
def test_bias_act_function_kernel_path_first_and_second_derivatives(kernel_path, act):
    rng = np.random.default_rng(0)
    x, b = _leaf(rng, (2, 3, 2)), _leaf(rng, (3,))
    assert gradcheck(lambda x, b: bias_act.bias_act(x, b, act, 0.2), [x, b])
    assert gradgradcheck(lambda x, b: bias_act.bias_act(x, b, act, 0.2), [x, b])


def test_spectral_norm_function_kernel_path(kernel_path):
    rng = np.random.default_rng(0)
    w = _leaf(rng, (3, 2, 2))
    u, v = rng.standard_normal(3), rng.standard_normal(4)
    u0, v0 = u.copy(), v.copy()
    y = spectral_norm.spectral_norm(w, u, v, 4)
    y_ref, u_ref, v_ref, _ = spectral_norm.reference_spectral_norm(w.numpy(), u0, v0, 4)
    np.testing.assert_allclose(y.numpy(), y_ref, rtol=1e-12)
    np.testing.assert_allclose(u, u_ref, rtol=1e-12)
    assert gradcheck(lambda w: spectral_norm.spectral_norm(w, u, v, 0), [w])

