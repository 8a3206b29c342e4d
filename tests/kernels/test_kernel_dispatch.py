"""The layers pick the fused kernels on CUDA arrays, and the kernels compute what the plain composition does.

On the CPU: `_cuda.is_cuda` is patched to call NumPy arrays "CUDA" and kernel_emulator runs every launch
(its log says which kernels ran). Each user-facing op is run twice, with `minigen.kernels.enabled` True
(the kernel path) and False (the composition, the engine's plain ops), and the outputs, gradients, buffers
and optimizer updates must agree: F.masked_conv2d and nn.MaskedConv2d (stride 1, dilation 1; other settings
keep the composition), F.maxout and nn.Maxout, spectral norm's power iteration, optim.Adam, and conv2d,
conv_transpose2d and conv1d through both convolution algorithms, the implicit-GEMM kernels and the
im2col/col2im kernels (second derivatives included)."""
import contextlib
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernel_emulator
import minigen as mg
import minigen.functional as F
from minigen import kernels, nn, optim
from minigen.kernels import _cuda
from minigen.testing import strategies as mst

TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.fixture(scope="module")
def on_cuda():
    """NumPy arrays count as CUDA arrays and every launch is emulated."""
    with pytest.MonkeyPatch.context() as mp:
        kernel_emulator.install(mp, block=4, max_blocks=3)
        mp.setattr(_cuda, "is_cuda", lambda a: True)
        yield kernel_emulator.EmulatedKernel.log


def run_both(fn, *args):
    """(kernel-path result, composition result, kernels launched on the kernel path) of fn(*args);
    fn gets deep copies, so in-place state (buffers, parameters) starts equal in both runs."""
    log = kernel_emulator.EmulatedKernel.log
    log.clear()
    got = fn(*copy.deepcopy(args))
    launched = set(log)
    kernels.enabled = False
    try:
        want = fn(*copy.deepcopy(args))
    finally:
        kernels.enabled = True
    return got, want, launched


def assert_all_close(got, want):
    for k, (a, b) in enumerate(zip(got, want, strict=True)):
        np.testing.assert_allclose(a, b, err_msg=f"output {k}", **TOL)


IMPLICIT_GEMM = {"implicit_gemm_forward", "implicit_gemm_grad_input", "implicit_gemm_grad_weight"}
CONV_KERNELS = {"implicit_gemm": IMPLICIT_GEMM, "im2col": {"im2col", "col2im"}}


@contextlib.contextmanager
def conv_algorithm(name: str):
    """minigen.kernels.conv_algorithm = name inside the block (not a fixture: hypothesis runs these)."""
    before, kernels.conv_algorithm = kernels.conv_algorithm, name
    try:
        yield CONV_KERNELS[name]
    finally:
        kernels.conv_algorithm = before


def _leaf(rng, shape):
    return mg.tensor(rng.standard_normal(shape), requires_grad=True)


def value_and_grads(fn, inputs, seed=0):
    """fn(*inputs) and its gradients with a random cotangent, as arrays."""
    y = fn(*inputs)
    gy = mg.tensor(np.random.default_rng(seed).standard_normal(y.shape))
    return [y.numpy()] + [g.numpy() for g in mg.grad(y, inputs, gy)]


# --------------------------------------------------------------------------------------- masked conv

@pytest.mark.parametrize("kernel,padding", [((3, 3), None), ((2, 4), None), ((3, 2), 1), ((1, 3), (2, 0))])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_functional_masked_conv2d_runs_the_fused_kernel(on_cuda, kernel, padding, mask_type):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, (2, 2, 4, 3)), _leaf(rng, (3, 2) + kernel), _leaf(rng, (3,))]
    fn = lambda x, w, b: F.masked_conv2d(x, w, b, mask_type, padding)  # noqa: E731
    got, want, launched = run_both(value_and_grads, fn, inputs)
    assert launched == IMPLICIT_GEMM  # over the unmasked taps: no im2col, no masked weight
    assert_all_close(got, want)


def test_masked_conv2d_layer_runs_the_fused_kernel(on_cuda):
    mg.manual_seed(0)
    layer = nn.MaskedConv2d(2, 3, (4, 3), "B", dtype=np.float64)
    x = _leaf(np.random.default_rng(1), (2, 2, 5, 4))

    def forward_and_grads(layer, x):
        return value_and_grads(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])
    got, want, launched = run_both(forward_and_grads, layer, x)
    assert "implicit_gemm_forward" in launched
    assert_all_close(got, want)


@pytest.mark.parametrize("stride,dilation", [(2, 1), (1, 2), ((1, 2), 1)])
def test_strided_or_dilated_masked_conv2d_runs_conv2d_on_masked_weights(on_cuda, stride, dilation):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, (1, 2, 5, 6)), _leaf(rng, (2, 2, 3, 3))]
    fn = lambda x, w: F.masked_conv2d(x, w, None, "A", stride=stride, dilation=dilation)  # noqa: E731
    with conv_algorithm("im2col") as expected:
        got, want, launched = run_both(value_and_grads, fn, inputs)
    assert launched == expected  # conv2d(x, w * mask): the masked-taps kernel needs stride and dilation 1
    assert_all_close(got, want)


# -------------------------------------------------------------------------------------------- maxout

@pytest.mark.parametrize("shape,pieces,axis", [((2, 6, 3), 3, 1), ((3, 8), 4, -1), ((2, 2, 4), 2, 2)])
def test_functional_maxout_runs_the_fused_kernel(on_cuda, shape, pieces, axis):
    x = mg.tensor(np.random.default_rng(0).permutation(int(np.prod(shape))).reshape(shape).astype(np.float64),
                  requires_grad=True)
    got, want, launched = run_both(value_and_grads, lambda x: F.maxout(x, pieces, axis), [x])
    assert {"maxout_forward", "maxout_backward"} <= launched
    assert_all_close(got, want)


def test_maxout_layer_runs_the_fused_kernel(on_cuda):
    mg.manual_seed(0)
    layer = nn.Maxout(4, 3, 5, dtype=np.float64)
    x = _leaf(np.random.default_rng(0), (6, 4))

    def forward_and_grads(layer, x):
        return value_and_grads(lambda x, w, b: layer(x), [x, layer.weight, layer.bias])
    got, want, launched = run_both(forward_and_grads, layer, x)
    assert "maxout_forward" in launched
    assert_all_close(got, want)


# ------------------------------------------------------------------------------------- spectral norm

def _spectral_norm_steps(layer, x):
    """Two training forwards (power iteration from the persistent u), one in eval mode; outputs, the
    gradients of the last training output and the final u, v."""
    out = []
    for training in (True, True, False):
        layer.train(training)
        y = layer(x)
        out.append(y.numpy())
        if training:
            gy = mg.tensor(np.random.default_rng(len(out)).standard_normal(y.shape))
            out += [g.numpy() for g in mg.grad(y, [x, layer.weight_orig], gy)]
    return out + [layer.weight_u.numpy(), layer.weight_v.numpy()]


@pytest.mark.parametrize("make,shape", [(lambda: nn.Linear(5, 3, dtype=np.float64), (4, 5)),
                                        (lambda: nn.Conv2d(2, 3, 2, dtype=np.float64), (1, 2, 3, 3))])
def test_spectral_norm_runs_the_fused_power_iteration(on_cuda, make, shape):
    mg.manual_seed(0)
    layer = nn.spectral_norm(make(), n_power_iterations=2)
    x = _leaf(np.random.default_rng(0), shape)
    got, want, launched = run_both(_spectral_norm_steps, layer, x)
    assert {"sn_wt_u", "sn_w_v", "sn_normalize", "sn_scale"} <= launched
    assert_all_close(got, want)


def test_spectral_norm_on_dim_1_keeps_the_composition(on_cuda):
    mg.manual_seed(0)
    layer = nn.spectral_norm(nn.ConvTranspose2d(2, 3, 2, dtype=np.float64))
    got, want, launched = run_both(_spectral_norm_steps, layer, _leaf(np.random.default_rng(0), (1, 2, 2, 2)))
    assert not any(k.startswith("sn_") for k in launched)
    assert_all_close(got, want)


# ---------------------------------------------------------------------------------------------- adam

def _adam_steps(params, skip_first: tuple = (), **hyper):
    """Three Adam steps; the parameters numbered in skip_first get no gradient in the first step."""
    opt = optim.Adam(params, **hyper)
    rng = np.random.default_rng(1)
    for step in range(3):
        for k, p in enumerate(params):
            p.grad = None if step == 0 and k in skip_first else mg.tensor(rng.standard_normal(p.shape))
        opt.step()
    return [p.numpy() for p in params] + [s[k] for s in opt.state.values() for k in ("exp_avg", "exp_avg_sq")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_runs_the_fused_update(on_cuda, dtype):
    rng = np.random.default_rng(0)
    params = [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in [(3, 4), (5,)]]
    got, want, launched = run_both(lambda ps: _adam_steps(ps, lr=0.01, betas=(0.8, 0.9), weight_decay=0.1), params)
    assert launched == {"adam_multi"} and kernel_emulator.EmulatedKernel.log.count("adam_multi") == 3  # per step
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, **(dict(rtol=2e-6, atol=1e-7) if dtype == np.float32 else TOL))


def test_adam_launches_once_per_step_count_and_dtype(on_cuda):
    rng = np.random.default_rng(0)
    params = [mg.tensor(rng.standard_normal(s), requires_grad=True) for s in [(3, 4), (5,), (2,)]]
    params[2] = mg.tensor(params[2].numpy().astype(np.float32), requires_grad=True)
    got, want, launched = run_both(lambda ps: _adam_steps(ps, skip_first=(1,), lr=0.01), params)
    # step 1: p0 (float64, t=1), p2 (float32, t=1); steps 2, 3: p0 and p1 (float64) differ in t, p2 alone
    assert kernel_emulator.EmulatedKernel.log.count("adam_multi") == 2 + 3 + 3
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=1e-7)


def test_adam_with_amsgrad_keeps_the_composition(on_cuda):
    params = [mg.tensor(np.random.default_rng(0).standard_normal((2, 3)), requires_grad=True)]
    got, want, launched = run_both(lambda ps: _adam_steps(ps, lr=0.01, amsgrad=True), params)
    assert not launched
    assert_all_close(got, want)


# -------------------------------------------------------------------------------------- convolutions

def _conv_value_grads_and_second(fn, inputs, seed=0):
    """fn's output, gradients, and the weight gradient of a penalty on the input gradient (double backward)."""
    first = value_and_grads(fn, inputs, seed)
    y = fn(*inputs)
    gy = mg.tensor(np.random.default_rng(seed + 1).standard_normal(y.shape))
    gx, = mg.grad(y, [inputs[0]], gy, create_graph=True)
    return first + [mg.grad((gx * gx).sum(), [inputs[1]])[0].numpy()]


@pytest.mark.parametrize("algorithm", kernels.CONV_ALGORITHMS)
@given(geo=mst.conv_geometries(max_size=5, max_channels=4), bias=st.booleans(), seed=st.integers(0, 2**16))
def test_conv2d_runs_the_conv_kernels(on_cuda, algorithm, geo, bias, seed):
    rng = np.random.default_rng(seed)
    inputs = [_leaf(rng, geo.input_shape), _leaf(rng, geo.weight_shape)] + ([_leaf(rng, (geo.out_channels,))] * bias)
    fn = lambda x, w, *b: F.conv2d(x, w, *b, stride=geo.stride, padding=geo.padding,  # noqa: E731
                                   dilation=geo.dilation, groups=geo.groups)
    with conv_algorithm(algorithm) as expected:
        got, want, launched = run_both(_conv_value_grads_and_second, fn, inputs)
    assert launched == expected
    assert_all_close(got, want)


@pytest.mark.parametrize("algorithm", kernels.CONV_ALGORITHMS)
@given(geo=mst.conv_geometries(max_size=5, max_channels=4), output_padding=st.integers(0, 1),
       seed=st.integers(0, 2**16))
def test_conv_transpose2d_runs_the_conv_kernels(on_cuda, algorithm, geo, output_padding, seed):
    output_padding = min(output_padding, max(geo.stride, geo.dilation) - 1)
    rng = np.random.default_rng(seed)
    w_shape = (geo.in_channels, geo.out_channels // geo.groups) + geo.kernel
    inputs = [_leaf(rng, geo.input_shape), _leaf(rng, w_shape), _leaf(rng, (geo.out_channels,))]
    fn = lambda x, w, b: F.conv_transpose2d(x, w, b, geo.stride, geo.padding, output_padding,  # noqa: E731
                                            geo.groups, geo.dilation)
    try:
        fn(*inputs)
    except ValueError:  # the output would be empty: not a valid problem
        return
    with conv_algorithm(algorithm) as expected:
        got, want, launched = run_both(_conv_value_grads_and_second, fn, inputs)
    assert launched == expected
    assert_all_close(got, want)


@pytest.mark.parametrize("algorithm", kernels.CONV_ALGORITHMS)
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("stride,padding,dilation,groups", [((1, 2), (2, 0), (2, 1), 2), ((3, 1), (0, 1), (1, 2), 1)])
def test_convolutions_with_unequal_settings_per_axis(on_cuda, algorithm, transpose, stride, padding, dilation,
                                                     groups):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, (2, 4, 5, 6)), _leaf(rng, (4, 4 // groups, 2, 3)), _leaf(rng, (4,))]
    if transpose:
        fn = lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, 0, groups, dilation)  # noqa: E731
    else:
        fn = lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups)  # noqa: E731
    with conv_algorithm(algorithm) as expected:
        got, want, launched = run_both(_conv_value_grads_and_second, fn, inputs)
    assert launched == expected
    assert_all_close(got, want)


@pytest.mark.parametrize("algorithm", kernels.CONV_ALGORITHMS)
def test_conv1d_runs_the_conv_kernels(on_cuda, algorithm):
    rng = np.random.default_rng(0)
    inputs = [_leaf(rng, (2, 3, 9)), _leaf(rng, (4, 3, 3))]
    with conv_algorithm(algorithm) as expected:
        got, want, launched = run_both(value_and_grads,
                                       lambda x, w: F.conv1d(x, w, stride=2, padding=2, dilation=2), inputs)
    assert launched == expected
    assert_all_close(got, want)


def test_an_unknown_conv_algorithm_is_a_clear_error(on_cuda):
    rng = np.random.default_rng(0)
    with conv_algorithm("im2col"):
        kernels.conv_algorithm = "winograd"
        with pytest.raises(ValueError, match="conv_algorithm must be one of"):
            F.conv2d(_leaf(rng, (1, 1, 3, 3)), _leaf(rng, (1, 1, 2, 2)))


# ------------------------------------------------------------------------------------------ the gate

def test_the_switch_and_the_cpu_run_no_kernel(on_cuda, monkeypatch):
    rng = np.random.default_rng(0)
    x, w = _leaf(rng, (1, 2, 4, 4)), _leaf(rng, (2, 2, 3, 3))

    def everything():
        F.masked_conv2d(x, w).sum().backward()
        F.maxout(x, 2).sum().backward()
        F.conv2d(x, w).sum().backward()
        optim.Adam([w]).step()

    log = kernel_emulator.EmulatedKernel.log
    log.clear()
    monkeypatch.setattr(kernels, "enabled", False)
    everything()
    assert log == []
    monkeypatch.setattr(kernels, "enabled", True)
    monkeypatch.setattr(_cuda, "is_cuda", lambda a: False)  # real NumPy arrays: the CPU path
    everything()
    assert log == []


def test_active_needs_every_array_on_cuda_in_a_kernel_dtype(on_cuda, monkeypatch):
    a = np.zeros(3)
    assert kernels.active(a, a.astype(np.float32))
    assert not kernels.active(a, a.astype(np.float16)) and not kernels.active(a.astype(np.int64))
    monkeypatch.setattr(_cuda, "is_cuda", lambda arr: arr is a)
    assert kernels.active(a) and not kernels.active(a, np.zeros(3))
    monkeypatch.setattr(kernels, "enabled", False)
    assert not kernels.active(a)
