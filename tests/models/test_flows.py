"""Flow layers and models (models/flows/): every layer inverts exactly and its log-determinant equals
log |det J| of the full Jacobian from the engine's autodiff (tests/flow_checks.py), in float64 over
hypothesis-drawn shapes and parameters; MAF's layer is autoregressive; whole models (preprocessing included)
are bijections with the right log-determinant; 2-D densities integrate to 1 on a grid."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigen as mg
import minigen.models as models
from flow_checks import check_bijection, full_jacobian
from minigen.models.flows.autoregressive import IAFLayer, MAFLayer
from minigen.models.flows.base import mlp_net
from minigen.models.flows.coupling import (AdditiveCoupling, AffineCoupling, Scaling, channel_mask,
                                           checkerboard_mask, half_mask)
from minigen.models.flows.multiscale import MultiScale, Squeeze
from minigen.models.flows.normalization import ActNorm, BatchNormFlow
from minigen.models.flows.realnvp import conv_net

seeds = st.integers(0, 2**16)


def randomized(module, seed: int, scale: float = 0.3):
    """The module in float64 eval mode with every parameter and buffer redrawn (variances kept positive), so
    that no layer is the identity it starts as."""
    rng = np.random.default_rng(seed)
    module.double()
    for p in module.parameters():
        p.data = rng.normal(0, scale, p.shape)
    for name, b in module.named_buffers():
        if name.endswith("running_var"):
            b.data = rng.uniform(0.5, 2.0, b.shape)
        elif name.endswith("running_mean"):
            b.data = rng.normal(0, 0.5, b.shape)
    return module.eval()


@given(seeds, st.integers(2, 5), st.integers(0, 1), st.integers(1, 3))
def test_vector_couplings_and_scaling(seed, dims, parity, batch):
    x = np.random.default_rng(seed + 1).standard_normal((batch, dims))
    mask = half_mask(dims, parity)
    check_bijection(randomized(AdditiveCoupling(mask, mlp_net([dims, 8, dims])), seed), x)
    for bound in ("tanh", "sigmoid"):
        check_bijection(randomized(AffineCoupling(mask, mlp_net([dims, 8, 2 * dims]), bound), seed), x)
    check_bijection(randomized(Scaling((dims,)), seed), x)


@settings(max_examples=4)
@given(seeds, st.integers(1, 2), st.sampled_from([2, 4]), st.integers(0, 1), st.booleans())
def test_image_affine_coupling(seed, channels, size, parity, by_channel):
    c = 2 * channels if by_channel else channels
    mask = (channel_mask if by_channel else checkerboard_mask)(c, size, size, parity)
    layer = randomized(AffineCoupling(mask, conv_net(c, 4, 2 * c)), seed)
    check_bijection(layer, np.random.default_rng(seed + 1).standard_normal((2, c, size, size)))


@given(seeds, st.sampled_from([(3,), (2, 2, 2)]), st.integers(1, 3))
def test_batch_norm_and_actnorm(seed, shape, batch):
    x = np.random.default_rng(seed + 1).standard_normal((batch,) + shape)
    check_bijection(randomized(BatchNormFlow(shape), seed), x)
    check_bijection(randomized(ActNorm(shape), seed), x)


def test_batch_norm_trains_on_batch_statistics_and_actnorm_initialises_from_data():
    rng = np.random.default_rng(0)
    x = mg.tensor(3 + 2 * rng.standard_normal((256, 2, 2, 2)))
    bn = BatchNormFlow((2, 2, 2)).double()
    y, ldj = bn.forward_and_log_det(x)
    np.testing.assert_allclose(y.numpy().mean(axis=(0, 2, 3)), 0, atol=1e-8)
    np.testing.assert_allclose(ldj.numpy(), 4 * -0.5 * np.log(x.numpy().var(axis=(0, 2, 3)) + bn.eps).sum())
    assert np.all(bn.running_mean.numpy() > 0.1)  # moved toward the batch's mean of ~3
    an = ActNorm((2, 2, 2)).double()
    z = an(x).numpy()
    np.testing.assert_allclose(z.mean(axis=(0, 2, 3)), 0, atol=1e-8)
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1, atol=1e-5)
    first = an.bias.numpy().copy()
    an(mg.tensor(rng.standard_normal((8, 2, 2, 2))))
    np.testing.assert_array_equal(an.bias.numpy(), first)  # initialised once


@settings(max_examples=3)
@given(seeds, st.integers(1, 2))
def test_squeeze_and_multiscale(seed, channels):
    x = np.random.default_rng(seed + 1).standard_normal((1, channels, 4, 4))
    check_bijection(Squeeze(), x)
    c = 4 * channels
    head = [Squeeze(), AffineCoupling(channel_mask(c, 2, 2, 0), conv_net(c, 4, 2 * c)), BatchNormFlow((c, 2, 2))]
    tail = [AffineCoupling(checkerboard_mask(c // 2, 2, 2, 1), conv_net(c // 2, 4, c))]
    check_bijection(randomized(MultiScale(head, tail), seed), x)


def test_squeeze_moves_each_2x2_block_into_channels():
    x = mg.tensor(np.arange(16.0).reshape(1, 1, 4, 4))
    y = Squeeze()(x).numpy()
    assert y.shape == (1, 4, 2, 2)
    np.testing.assert_array_equal(y[0, :, 0, 0], [0, 1, 4, 5])


@given(seeds, st.integers(2, 5), st.booleans(), st.sampled_from(["random", "sequential"]))
def test_maf_and_iaf_layers(seed, dims, reverse, degrees):
    order = np.arange(dims)[::-1].copy() if reverse else np.arange(dims)
    x = np.random.default_rng(seed + 1).standard_normal((2, dims))
    check_bijection(randomized(MAFLayer(dims, 8, 2, order, seed, degrees=degrees), seed), x)
    check_bijection(randomized(IAFLayer(dims, 8, 1, order, seed), seed), x)


@given(seeds, st.integers(2, 5), st.integers(1, 3))
def test_iaf_layer_given_a_context(seed, dims, batch):
    """IAF's step fed the encoder's h (one row per example): still a bijection of z with the triangular
    log-det, and h changes the map."""
    rng = np.random.default_rng(seed + 1)
    x, h = rng.standard_normal((batch, dims)), rng.standard_normal((2, batch, 3))
    layer = randomized(IAFLayer(dims, 8, 1, np.arange(dims), seed, context=3), seed)
    check_bijection(layer.given(mg.tensor(h[0])), x)
    outs = [layer.given(mg.tensor(c)).forward(mg.tensor(x)).numpy() for c in h]
    assert np.abs(outs[0] - outs[1]).max() > 1e-6


@pytest.mark.parametrize("degrees", ["random", "sequential"])
def test_maf_layer_is_autoregressive_in_its_order(degrees):
    """u_d depends on x_d and on the coordinates before d in the layer's order only (a triangular Jacobian);
    with sequential degrees every coordinate before d reaches u_d (the lower triangle is full)."""
    dims = 6
    order = np.random.default_rng(3).permutation(dims)
    layer = randomized(MAFLayer(dims, 16, 2, order, 0, degrees=degrees), 0)
    jac = full_jacobian(layer.forward, np.random.default_rng(1).standard_normal((1, dims)))
    position = np.empty(dims, int)
    position[order] = np.arange(dims)
    allowed = position[None, :] <= position[:, None]
    assert np.all(jac[~allowed] == 0)
    assert np.all(np.diag(jac) != 0)
    if degrees == "sequential":
        assert np.all(jac[allowed] != 0)


def test_sequential_degrees_give_every_degree_the_same_number_of_units():
    from minigen.models.flows.autoregressive import sequential_degrees

    inputs, first, second = sequential_degrees(5, [8, 12], np.array([4, 2, 0, 1, 3]))
    np.testing.assert_array_equal(inputs, [3, 4, 2, 5, 1])
    np.testing.assert_array_equal(np.bincount(first, minlength=5)[1:], [2, 2, 2, 2])
    np.testing.assert_array_equal(np.bincount(second, minlength=5)[1:], [3, 3, 3, 3])
    with pytest.raises(ValueError, match="degrees"):
        MAFLayer(4, 8, 1, np.arange(4), degrees="cyclic")


SMALL_MODELS = {"nice": {"hidden": 8, "layers": 1}, "maf": {"hidden": 16, "flows": 2},
                "realnvp": {"hidden": 4}, "glow": {"hidden": 4, "steps": 2}}


@pytest.mark.parametrize("name", sorted(SMALL_MODELS))
def test_whole_model_is_a_bijection_with_the_right_log_det(name):
    model = randomized(models.create(name, "digits", **SMALL_MODELS[name]), 0, scale=0.1)
    x = np.random.default_rng(0).uniform(0.2, 16.8, (1, *model.flow_shape))
    check_bijection(model.transform(), x, atol=1e-6)


@pytest.mark.parametrize("name", ["maf", "nice", "realnvp"])
@pytest.mark.parametrize("data", ["moons", "grid25"])
def test_2d_density_integrates_to_one(name, data):
    mg.manual_seed(0)
    model = models.create(name, data, **SMALL_MODELS[name])
    opt = model.configure_optimizers()
    for step, batch in zip(range(10), model.loader("train", seed=0)):
        model.train_step(batch, opt, step)
    lim = 14.0 if data == "grid25" else 5.0
    centres, p = model.density_grid(lim, 250)
    mass = p.sum() * (centres[1] - centres[0]) ** 2
    assert abs(mass - 1) < 0.02, mass


def test_digit_samples_are_levels_and_log_prob_checks_shapes():
    model = models.create("maf", "digits", **SMALL_MODELS["maf"])
    s = model.sample(4)
    assert s.shape == (4, 1, 8, 8) and set(np.unique(s.numpy())) <= set(range(17))
    with pytest.raises(ValueError, match="maf"):
        model.log_prob(mg.zeros((2, 64)))


@given(seeds, st.integers(1, 4), st.sampled_from([1, 2]))
def test_invertible_1x1_conv_in_lu_form(seed, channels, size):
    from minigen.models.flows.invertible_conv import Invertible1x1Conv, lu_decompose

    a = np.random.default_rng(seed).standard_normal((channels, channels))
    p, lower, upper = lu_decompose(a)
    np.testing.assert_allclose(p @ lower @ upper, a, atol=1e-10)
    layer = randomized(Invertible1x1Conv(channels, seed), seed, scale=0.2)
    w = layer.weight().numpy()
    np.testing.assert_allclose(np.linalg.slogdet(w)[1], layer.log_s.numpy().sum(), atol=1e-10)
    check_bijection(layer, np.random.default_rng(seed + 1).standard_normal((2, channels, size, size)))


@given(seeds, st.integers(1, 4), st.integers(1, 3))
def test_planar_and_radial_flows(seed, dims, batch):
    """Including parameters that would break invertibility without u_hat / beta_hat (scale 2)."""
    from minigen.models.flows.planar import PlanarFlow, RadialFlow

    x = np.random.default_rng(seed + 1).standard_normal((batch, dims))
    planar = randomized(PlanarFlow(dims, seed), seed, scale=2.0)
    assert float((planar.w * planar.u_hat()).sum().item()) >= -1 - 1e-12
    check_bijection(planar, x)
    check_bijection(randomized(RadialFlow(dims, seed), seed, scale=1.0), x)


@given(seeds, st.integers(1, 4), st.integers(1, 3))
def test_amortized_planar_and_radial_flows(seed, dims, batch):
    """Per-example parameters (the encoder's outputs in planar-vae): each example's map is a bijection with
    the lemma's log-det, the constraint holds row by row, and no example's output depends on another's."""
    from minigen.models.flows.planar import AmortizedPlanar, AmortizedRadial

    rng = np.random.default_rng(seed + 1)
    x = rng.standard_normal((batch, dims))
    planar = AmortizedPlanar(mg.tensor(rng.normal(0, 2.0, (batch, 2 * dims + 1))))
    w = planar.params.numpy()[:, dims:2 * dims]
    assert np.all((w * planar.u_hat().numpy()).sum(-1) >= -1 - 1e-12)
    check_bijection(planar, x)
    check_bijection(AmortizedRadial(mg.tensor(rng.normal(0, 1.0, (batch, dims + 2)))), x)


def test_maf_decay_steps_lowers_the_rate_linearly_to_zero_across_pieces_of_a_run(tmp_path):
    """decay_steps = 4: rates 1, 3/4, 1/2, 1/4 of lr, then 0 (parameters stop moving), also when the run is
    trained in pieces as bench/flows_valid.py does; decay_steps = 0 keeps the rate."""
    from minigen.trainer import Training

    model = models.create("maf", "digits", lr=1e-3, decay_steps=4, **SMALL_MODELS["maf"])
    training = Training(model, 1, str(tmp_path), checkpoint_every=10 ** 9)
    (opt,) = training.optimizers
    rates = [opt.param_groups[0]["lr"]]
    for stop in range(1, 5):
        training.steps = stop
        training.run(progress=False)
        rates.append(opt.param_groups[0]["lr"])
    assert np.allclose(rates, [1e-3, 7.5e-4, 5e-4, 2.5e-4, 0.0])
    before = [p.numpy().copy() for p in model.parameters()]
    training.steps = 6
    training.run(progress=False)
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))
    constant = models.create("maf", "digits", **SMALL_MODELS["maf"])
    assert constant.configure_schedulers(constant.configure_optimizers(), 100) == []
