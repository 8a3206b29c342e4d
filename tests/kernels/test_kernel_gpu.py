"""Each CUDA kernel against its NumPy reference on awkward shapes (odd sizes, size-1 axes, asymmetric
padding, non-contiguous inputs, several chunks), forward and backward, float32 and float64; plus second
derivatives through the kernels. Marked gpu: skipped (by tests/conftest.py) when no GPU is present."""
import numpy as np
import pytest

import minigen as mg
from minigen.kernels import adam, bias_act, masked_conv2d, maxout, spectral_norm
from minigen.testing import gradgradcheck

pytestmark = pytest.mark.gpu
DTYPES = [np.float32, np.float64]


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)


def pair(rng, shape, dtype, requires_grad=True):
    """The same leaf on the CPU and on the GPU."""
    a = rng.standard_normal(shape).astype(dtype)
    return mg.tensor(a, requires_grad=requires_grad), mg.tensor(a, requires_grad=requires_grad, device="cuda")


def compare(fn, cpu_inputs, gpu_inputs, dtype, seed=0):
    """fn's output and its gradients (with one random cotangent) agree between the devices."""
    y_cpu, y_gpu = fn(*cpu_inputs), fn(*gpu_inputs)
    assert y_gpu.device == "cuda"
    np.testing.assert_allclose(y_gpu.numpy(), y_cpu.numpy(), **tol(dtype))
    gy = np.random.default_rng(seed).standard_normal(y_cpu.shape).astype(dtype)
    g_cpu = mg.grad(y_cpu, cpu_inputs, mg.tensor(gy))
    g_gpu = mg.grad(y_gpu, gpu_inputs, mg.tensor(gy, device="cuda"))
    for k, (a, b) in enumerate(zip(g_gpu, g_cpu)):
        assert a.device == "cuda"
        np.testing.assert_allclose(a.numpy(), b.numpy(), err_msg=f"gradient of input {k}", **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mask_type", masked_conv2d.MASK_TYPES)
@pytest.mark.parametrize("shape,kernel,padding", [
    ((3, 5, 7, 9), (5, 3), None), ((1, 1, 1, 1), (1, 1), None), ((2, 3, 6, 5), (2, 4), (1, 0, 2, 1)),
    ((4, 16, 28, 28), (7, 7), None), ((2, 3, 5, 4), (3, 3), 2)])
def test_masked_conv2d_kernel(shape, kernel, padding, mask_type, dtype):
    rng = np.random.default_rng(0)
    (x, xg), (w, wg), (b, bg) = (pair(rng, s, dtype) for s in [shape, (6, shape[1]) + kernel, (6,)])
    fn = lambda x, w, b: masked_conv2d.masked_conv2d(x, w, b, mask_type, padding)  # noqa: E731
    compare(fn, [x, w, b], [xg, wg, bg], dtype)


def test_masked_conv2d_kernel_non_contiguous_input_and_no_bias():
    rng = np.random.default_rng(1)
    x, xg = pair(rng, (2, 3, 8, 6), np.float64)
    w, wg = pair(rng, (4, 3, 3, 3), np.float64)
    fn = lambda x, w: masked_conv2d.masked_conv2d(x.transpose(0, 1, 3, 2), w, None, "B")  # noqa: E731
    compare(fn, [x, w], [xg, wg], np.float64)


@pytest.mark.parametrize("mask_type", ["A", "V_B"])
def test_masked_conv2d_kernel_second_derivatives(mask_type):
    rng = np.random.default_rng(2)
    inputs = [pair(rng, s, np.float64)[1] for s in [(1, 2, 3, 3), (2, 2, 3, 3), (2,)]]
    assert gradgradcheck(lambda x, w, b: masked_conv2d.masked_conv2d(x, w, b, mask_type), inputs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,pieces,axis", [((3, 12, 5, 7), 3, 1), ((5, 260), 130, 1), ((7, 4), 2, -1),
                                               ((1, 6, 1), 6, 1), ((2, 3, 8), 4, 2)])
def test_maxout_kernel(shape, pieces, axis, dtype):
    rng = np.random.default_rng(0)
    a = rng.permutation(int(np.prod(shape))).reshape(shape).astype(dtype)  # one argmax per group
    x, xg = mg.tensor(a, requires_grad=True), mg.tensor(a, requires_grad=True, device="cuda")
    compare(lambda x: maxout.maxout(x, pieces, axis), [x], [xg], dtype)
    arg = maxout.cuda_maxout(xg.data, pieces, axis % len(shape))[1]
    np.testing.assert_array_equal(arg.get(), maxout.reference_maxout(a, pieces, axis % len(shape))[1])


def test_maxout_kernel_second_derivatives():
    a = np.random.default_rng(0).permutation(24).reshape(2, 6, 2).astype(np.float64)
    assert gradgradcheck(lambda x: maxout.maxout(x, 3), [mg.tensor(a, requires_grad=True, device="cuda")])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,iterations", [((64, 3, 4, 4), 1), ((7, 1), 3), ((1, 300), 2), ((513, 9), 1),
                                              ((10, 20), 0)])
def test_spectral_norm_kernel(shape, iterations, dtype):
    rng = np.random.default_rng(0)
    w, wg = pair(rng, shape, dtype)
    n = int(np.prod(shape[1:]))
    u = rng.standard_normal(shape[0]).astype(dtype)
    v = rng.standard_normal(n).astype(dtype)
    v /= np.linalg.norm(v)
    y_ref, u_ref, v_ref, sigma_ref = spectral_norm.reference_spectral_norm(w.numpy(), u, v, iterations)
    ug, vg = mg.tensor(u, device="cuda").data, mg.tensor(v, device="cuda").data
    y = spectral_norm.spectral_norm(wg, ug, vg, iterations)
    np.testing.assert_allclose(y.numpy(), y_ref, **tol(dtype))
    np.testing.assert_allclose(ug.get(), u_ref, **tol(dtype))
    np.testing.assert_allclose(vg.get(), v_ref, **tol(dtype))
    frozen_u, frozen_v = u_ref.copy(), v_ref.copy()
    frozen_ug, frozen_vg = ug.copy(), vg.copy()
    compare(lambda w: spectral_norm.spectral_norm(w, *((frozen_ug, frozen_vg) if w.device == "cuda"
                                                       else (frozen_u, frozen_v)), n_power_iterations=0),
            [w], [wg], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("act", list(bias_act.ACTIVATIONS))
@pytest.mark.parametrize("shape", [(3, 5, 7, 9), (17, 33), (1, 1), (2, 64, 1, 1)])
def test_bias_act_kernel(shape, act, dtype):
    rng = np.random.default_rng(0)
    (x, xg), (b, bg) = pair(rng, shape, dtype), pair(rng, (shape[1],), dtype)
    compare(lambda x, b: bias_act.bias_act(x, b, act, 0.2), [x, b], [xg, bg], dtype)


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "leaky_relu"])
def test_bias_act_kernel_second_derivatives(act):
    rng = np.random.default_rng(0)
    x, b = pair(rng, (2, 3, 2), np.float64)[1], pair(rng, (3,), np.float64)[1]
    assert gradgradcheck(lambda x, b: bias_act.bias_act(x, b, act, 0.2), [x, b])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("multi_tensor", [True, False])
def test_adam_kernel(multi_tensor, dtype):
    cp = mg.backend.xp_for("cuda")
    rng = np.random.default_rng(0)
    shapes = [(64, 3, 5, 5), (1,), (40001,), (7, 3)]  # 40001 spans three chunks and ends mid-chunk
    cpu = [[rng.standard_normal(s).astype(dtype) for s in shapes]] + \
          [[rng.uniform(0, 1, s).astype(dtype) for s in shapes] for _ in range(2)]
    gpu = [[cp.asarray(a) for a in group] for group in cpu]
    for step in range(1, 4):
        grads = [rng.standard_normal(s).astype(dtype) for s in shapes]
        adam.adam_step(cpu[0], grads, cpu[1], cpu[2], step, lr=0.01, weight_decay=0.01)
        adam.adam_step(gpu[0], [cp.asarray(g) for g in grads], gpu[1], gpu[2], step, lr=0.01, weight_decay=0.01,
                       multi_tensor=multi_tensor)
    for group_cpu, group_gpu in zip(cpu, gpu):
        for a, b in zip(group_cpu, group_gpu):
            np.testing.assert_allclose(b.get(), a, **tol(dtype))
