"""On a GPU: convolutions on CuPy arrays (the implicit-GEMM kernels, the im2col/col2im kernels + cuBLAS, or the
stride-trick composition with minigen.kernels.enabled False) against NumPy, forward, backward and double
backward; the raw kernels against their references; and the layers that dispatch to fused kernels, checked
to have run them.
Marked gpu: skipped (by tests/conftest.py) when no GPU is present."""
import numpy as np
import pytest

import minigen as mg
import minigen.functional as F
from minigen import kernels, nn, optim
from minigen.kernels import im2col, implicit_gemm, masked_conv2d
from minigen.testing import gradgradcheck

pytestmark = pytest.mark.gpu
GEOMETRIES = [  # x shape, weight (O, C/g, kh, kw), stride, padding, dilation, groups
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, 1, 1, 1), ((1, 4, 8, 5), (6, 2, 2, 3), (2, 1), (0, 2), (1, 2), 2),
    ((3, 2, 9, 9), (2, 1, 3, 1), 3, 2, 2, 2), ((2, 1, 1, 1), (3, 1, 1, 1), 1, 0, 1, 1),
    ((4, 16, 28, 28), (32, 16, 5, 5), 2, 2, 1, 1)]


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def compare(fn, arrays, dtype, seed=0):
    """fn's output and gradients (one random cotangent) on CUDA equal those on the CPU."""
    cpu = [mg.tensor(a, requires_grad=True) for a in arrays]
    gpu = [mg.tensor(a, requires_grad=True, device="cuda") for a in arrays]
    y_cpu, y_gpu = fn(*cpu), fn(*gpu)
    assert y_gpu.device == "cuda"
    np.testing.assert_allclose(y_gpu.numpy(), y_cpu.numpy(), **tol(dtype))
    gy = np.random.default_rng(seed).standard_normal(y_cpu.shape).astype(dtype)
    g_gpu, g_cpu = mg.grad(y_gpu, gpu, mg.tensor(gy, device="cuda")), mg.grad(y_cpu, cpu, mg.tensor(gy))
    for k, (a, b) in enumerate(zip(g_gpu, g_cpu)):
        assert a.device == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), err_msg=f"gradient of input {k}", **tol(dtype))


@pytest.fixture(params=["implicit_gemm", "im2col", "composition"])
def kernels_enabled(request, monkeypatch):
    """Each convolution algorithm on CuPy arrays in turn."""
    monkeypatch.setattr(kernels, "enabled", request.param != "composition")
    monkeypatch.setattr(kernels, "conv_algorithm", "im2col" if request.param == "im2col" else "implicit_gemm")
    return request.param


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv2d_on_cuda_matches_numpy(kernels_enabled, geometry, dtype):
    shape, w_shape, stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (shape, w_shape, w_shape[:1])]
    compare(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), arrays, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_conv_transpose2d_on_cuda_matches_numpy(kernels_enabled, geometry, dtype):
    shape, (o, cg, kh, kw), stride, padding, dilation, groups = geometry
    rng = np.random.default_rng(0)
    w_shape = (shape[1], o // groups, kh, kw)  # (in, out/groups, kh, kw)
    arrays = [rng.standard_normal(s).astype(dtype) for s in (shape, w_shape, (o,))]
    # the largest output_padding allowed on each axis, 0 or 1: exercises the tail that no window reaches
    output_padding = tuple(int(max(s, d) > 1) for s, d in zip(np.broadcast_to(stride, 2), np.broadcast_to(dilation, 2)))
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, output_padding, groups, dilation),
            arrays, dtype)


def test_conv_second_derivatives_on_cuda(kernels_enabled):
    rng = np.random.default_rng(1)
    x, w = (mg.tensor(rng.standard_normal(s), requires_grad=True, device="cuda") for s in [(1, 2, 5, 6), (2, 1, 2, 3)])
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, None, (2, 1), (1, 0), (1, 2), 2), [x, w])
    assert gradgradcheck(lambda x, w: F.conv_transpose2d(x, w, None, 2, 1, 1, 2), [x, w])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_raw_im2col_and_col2im_kernels_match_the_references(geometry, dtype):
    cp = mg.backend.xp_for("cuda")
    shape, (_, _, kh, kw), stride, padding, dilation, _ = geometry
    stride, padding, dilation = (tuple(int(v) for v in np.broadcast_to(a, 2)) for a in (stride, padding, dilation))
    out = tuple((shape[2 + a] + 2 * padding[a] - dilation[a] * ((kh, kw)[a] - 1) - 1) // stride[a] + 1
                for a in range(2))
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    cols = im2col.cuda_im2col(cp.asarray(x), (kh, kw), stride, padding, dilation, out)
    np.testing.assert_array_equal(cols.get(), im2col.reference_im2col(x, (kh, kw), stride, padding, dilation, out))
    g = rng.standard_normal(cols.shape).astype(dtype)
    np.testing.assert_allclose(im2col.cuda_col2im(cp.asarray(g), shape[2:], stride, padding, dilation).get(),
                               im2col.reference_col2im(g, shape[2:], stride, padding, dilation), **tol(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("tiles", [None, dict(TILE_M=32, TILE_N=128, TILE_K=8, THREADS_M=8)])
@pytest.mark.parametrize("problem", [
    # n, groups, C/g, O/g, image, out, taps kernel (every tap) or a mask, stride, padding, dilation
    (2, 1, 3, 5, (7, 9), (7, 9), (3, 3), (1, 1), (1, 1), (1, 1)),
    (3, 2, 5, 3, (11, 6), (4, 5), (3, 2), (2, 1), (0, 2), (1, 2)),
    (1, 1, 1, 1, (1, 1), (1, 1), (1, 1), (1, 1), (0, 0), (1, 1)),
    (64, 1, 1, 64, (28, 28), (28, 28), "A7", (1, 1), (3, 3), (1, 1)),  # PixelCNN's first layer
    (8, 1, 64, 64, (28, 28), (28, 28), "B3", (1, 1), (1, 1), (1, 1)),
    (5, 3, 7, 65, (13, 13), (7, 7), (5, 5), (2, 2), (2, 2), (1, 1)),  # tiles cut through every axis
    (2, 1, 130, 67, (5, 70), (3, 69), (2, 2), (1, 1), (0, 0), (2, 1))])
def test_raw_implicit_gemm_kernels_match_the_references(monkeypatch, problem, tiles, dtype):
    cp = mg.backend.xp_for("cuda")
    n, g, cg, og, image, out, kernel, stride, padding, dilation = problem
    if tiles is not None:
        monkeypatch.setattr(implicit_gemm, "TILES", tiles)
    taps = (masked_conv2d.mask_taps(int(kernel[1]), int(kernel[1]), kernel[0]) if isinstance(kernel, str)
            else implicit_gemm.all_taps(*kernel))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, g * cg) + image).astype(dtype)
    wp = rng.standard_normal((g * og, cg, len(taps[0]))).astype(dtype)
    b = rng.standard_normal(g * og).astype(dtype)
    gy = rng.standard_normal((n, g * og) + out).astype(dtype)
    geometry = dict(stride=stride, padding=padding, dilation=dilation, groups=g)
    got = implicit_gemm.cuda_conv(cp.asarray(x), cp.asarray(wp), cp.asarray(b), taps, out_size=out, **geometry)
    np.testing.assert_allclose(got.get(), implicit_gemm.reference_conv(x, wp, b, taps, out_size=out, **geometry),
                               **tol(dtype))
    got = implicit_gemm.cuda_conv_grad_input(cp.asarray(gy), cp.asarray(wp), taps, image_size=image, **geometry)
    np.testing.assert_allclose(got.get(), implicit_gemm.reference_conv_grad_input(gy, wp, taps, image_size=image,
                                                                                  **geometry), **tol(dtype))
    got = implicit_gemm.cuda_conv_grad_weight(cp.asarray(x), cp.asarray(gy), taps, **geometry)
    want = implicit_gemm.reference_conv_grad_weight(x, gy, taps, **geometry)
    np.testing.assert_allclose(got.get(), want, **(tol(dtype) if dtype == np.float64 else dict(rtol=1e-3, atol=1e-3)))


def test_implicit_gemm_is_deterministic():
    cp = mg.backend.xp_for("cuda")
    rng = np.random.default_rng(0)
    x, gy = (cp.asarray(rng.standard_normal(s).astype(np.float32)) for s in [(16, 8, 20, 20), (16, 8, 20, 20)])
    taps = implicit_gemm.all_taps(3, 3)
    first = implicit_gemm.cuda_conv_grad_weight(x, gy, taps, (1, 1), (1, 1), (1, 1), 1)
    for _ in range(3):
        assert (implicit_gemm.cuda_conv_grad_weight(x, gy, taps, (1, 1), (1, 1), (1, 1), 1) == first).all()


# ------------------------------------------------------------------- the layers run the fused kernels

def _count(monkeypatch, module, name: str) -> list:
    """Wrap module.name so that each call is recorded in the returned list."""
    calls, original = [], getattr(module, name)

    def counted(*args, **kwargs):
        calls.append(name)
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, counted)
    return calls


def test_layers_dispatch_to_the_fused_kernels_on_cuda(monkeypatch):
    calls = []
    for module, name in [(kernels.masked_conv2d, "cuda_masked_conv2d"), (kernels.maxout, "cuda_maxout"),
                         (kernels.spectral_norm, "cuda_spectral_norm"), (kernels.adam, "cuda_adam_step"),
                         (kernels.implicit_gemm, "cuda_conv"), (kernels.implicit_gemm, "cuda_conv_grad_weight")]:
        calls += [_count(monkeypatch, module, name)]
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 4, 6, 6)).astype(np.float32), device="cuda")
    conv = nn.MaskedConv2d(4, 4, 3, "A", device="cuda")
    sn = nn.spectral_norm(nn.Conv2d(2, 2, 3, device="cuda"))
    opt = optim.Adam(list(conv.parameters()) + list(sn.parameters()))
    loss = sn(F.maxout(conv(x), 2)).sum()
    loss.backward()
    opt.step()
    assert all(len(c) > 0 for c in calls), calls
