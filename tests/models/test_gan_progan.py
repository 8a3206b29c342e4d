"""ProGAN's layers against NumPy (equalized learning rate, pixel norm, minibatch stddev, fade-in), its schedule,
the growing networks' shapes, and the fade of real images."""
import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.gan.progan import downsample, to_eight, upsample_bilinear2
from minigen.models.gan.progan_layers import EqualizedConv2d, EqualizedLinear, MinibatchStddev, PixelNorm, fade

TINY = {"channels": 8, "z_dim": 4, "batch_size": 8, "stable_steps": 2, "fade_steps": 4}


def conv_reference(x, w, b, pad):
    """Cross-correlation in NumPy (N, C, H, W) * (O, C, k, k), zero padding."""
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    k = w.shape[-1]
    out = np.zeros((x.shape[0], w.shape[0], x.shape[2], x.shape[3]))
    for i in range(x.shape[2]):
        for j in range(x.shape[3]):
            out[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i:i + k, j:j + k], w)
    return out + b[None, :, None, None]


def test_equalized_linear_scales_its_weight_by_he_constant_at_run_time():
    mg.manual_seed(0)
    layer = EqualizedLinear(6, 3)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 6)).astype(np.float32)
    layer.weight.data = w  # set after construction: the constant must be applied in forward, not at init
    x = rng.standard_normal((5, 6)).astype(np.float32)
    y = layer(mg.tensor(x))
    np.testing.assert_allclose(y.numpy(), x @ (w * math.sqrt(2 / 6)).T, rtol=1e-5, atol=1e-6)
    y.sum().backward()  # d/dw of sum(x (c w)^T) = c * sum_n x_n: the gradient carries c too
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.tile(x.sum(0) * math.sqrt(2 / 6), (3, 1)), rtol=1e-5)


def test_equalized_weights_start_unit_normal():
    mg.manual_seed(0)
    w = EqualizedConv2d(16, 32, 3).weight.numpy()
    assert abs(w.std() - 1) < 0.05 and abs(w.mean()) < 0.05


def test_equalized_conv_scales_by_fan_in_of_channels_and_taps():
    mg.manual_seed(0)
    layer = EqualizedConv2d(3, 4, 3, gain=1.5)
    rng = np.random.default_rng(2)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    layer.weight.data, layer.bias.data = w, b
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    expected = conv_reference(x.astype(np.float64), w * 1.5 / math.sqrt(27), b, 1)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_pixel_norm_against_numpy():
    x = np.random.default_rng(3).standard_normal((4, 5, 3, 2)).astype(np.float32) * 3
    expected = x / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + 1e-8)
    y = PixelNorm()(mg.tensor(x)).numpy()
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    np.testing.assert_allclose((y ** 2).mean(axis=1), 1.0, rtol=1e-4)  # unit mean square per pixel


def test_minibatch_stddev_against_numpy():
    x = np.random.default_rng(4).standard_normal((6, 3, 2, 2)).astype(np.float32)
    x[:, 1] *= 5  # one channel varies more
    s = np.sqrt(x.astype(np.float64).var(axis=0) + 1e-8).mean()
    y = MinibatchStddev()(mg.tensor(x)).numpy()
    assert y.shape == (6, 4, 2, 2)
    np.testing.assert_array_equal(y[:, :3], x)
    np.testing.assert_allclose(y[:, 3], np.full((6, 2, 2), s), rtol=1e-5)
    same = MinibatchStddev()(mg.tensor(np.repeat(x[:1], 6, axis=0))).numpy()
    assert np.all(same[:, 3] < 1e-3)  # a collapsed batch shows zero spread


def test_minibatch_stddev_in_groups_against_numpy():
    """The paper's code: groups of G examples, example n in group n mod (N / G); each gets its group's value."""
    x = np.random.default_rng(7).standard_normal((8, 3, 2, 2)).astype(np.float32)
    x[1::2] *= 4  # the odd examples (group 1 of 2 when G = 4) vary more
    groups = x.astype(np.float64).reshape(4, 2, 3, 2, 2)
    s = np.sqrt(groups.var(axis=0) + 1e-8).mean(axis=(1, 2, 3))  # one value per group
    y = MinibatchStddev(group_size=4)(mg.tensor(x)).numpy()
    assert y.shape == (8, 4, 2, 2)
    np.testing.assert_array_equal(y[:, :3], x)
    np.testing.assert_allclose(y[:, 3], np.broadcast_to(s[np.arange(8) % 2, None, None], (8, 2, 2)), rtol=1e-5)
    assert s[1] > 2 * s[0]
    whole = MinibatchStddev(group_size=8)(mg.tensor(x)).numpy()  # one group of the whole batch = the default
    np.testing.assert_allclose(whole, MinibatchStddev()(mg.tensor(x)).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="multiple of the group size 3"):
        MinibatchStddev(group_size=3)(mg.tensor(x))
    with pytest.raises(ValueError, match="at least 2"):
        MinibatchStddev(group_size=1)


def test_minibatch_stddev_groups_gradient_stays_in_its_group():
    x = mg.tensor(np.random.default_rng(8).standard_normal((8, 2, 2, 2)).astype(np.float32), requires_grad=True)
    MinibatchStddev(group_size=4)(x)[0, -1].sum().backward()  # example 0's feature: group 0 = examples 0, 2, 4, 6
    moved = np.abs(x.grad.numpy()).sum(axis=(1, 2, 3)) > 0
    np.testing.assert_array_equal(moved, np.arange(8) % 2 == 0)


def test_minibatch_stddev_gradient_reaches_every_example():
    x = mg.tensor(np.random.default_rng(5).standard_normal((4, 2, 2, 2)).astype(np.float32), requires_grad=True)
    MinibatchStddev()(x)[:, -1].sum().backward()
    assert np.all(np.abs(x.grad.numpy()).sum(axis=(1, 2, 3)) > 0)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0])
def test_fade_blends_with_weight_alpha(alpha):
    rng = np.random.default_rng(6)
    new, old = rng.standard_normal((2, 3, 4)).astype(np.float32)
    out = fade(mg.tensor(new), mg.tensor(old), alpha).numpy()
    np.testing.assert_allclose(out, alpha * new + (1 - alpha) * old, rtol=1e-6, atol=1e-7)


def test_generator_fade_blends_the_new_and_the_upsampled_old_output():
    mg.manual_seed(0)
    model = models.create("progan", **TINY)
    z = mg.randn(3, 4)
    g = model.generator
    with mg.no_grad():
        new = g(z, 1, 1.0).numpy()
        old = np.repeat(np.repeat(g(z, 0, 1.0).numpy(), 2, 2), 2, 3)
        mid = g(z, 1, 0.25).numpy()
    np.testing.assert_allclose(mid, 0.25 * new + 0.75 * old, rtol=1e-4, atol=1e-5)


def test_discriminator_at_alpha_zero_sees_only_the_pooled_image():
    """With alpha = 0 the new level's layers are off: D_1(x) = D_0(avgpool(x)) exactly."""
    mg.manual_seed(0)
    model = models.create("progan", **TINY)
    x = mg.tensor(np.random.default_rng(7).standard_normal((3, 1, 4, 4)).astype(np.float32))
    with mg.no_grad():
        d1 = model.discriminator(x, 1, 0.0).numpy()
        d0 = model.discriminator(mg.tensor(downsample(x.numpy(), 2)), 0, 1.0).numpy()
    np.testing.assert_allclose(d1, d0, rtol=1e-4, atol=1e-5)


def test_mbstd_group_option_reaches_the_critic():
    """`mbstd_group=G` gives D's stddev feature one value per group of G; 0 (default) the whole batch."""
    mg.manual_seed(0)
    x = mg.rand(8, 1, 2, 2)
    for group, distinct in ((0, 1), (4, 2), (2, 4)):
        model = models.create("progan", **TINY, mbstd_group=group)
        layer = model.discriminator.final[0]
        assert isinstance(layer, MinibatchStddev) and layer.group_size == (group or None)
        with mg.no_grad():
            feats = layer(model.discriminator.from_rgb[0](x)).numpy()[:, -1, 0, 0]
        assert len(np.unique(feats)) == distinct
    assert not any(isinstance(m, MinibatchStddev)
                   for m in models.create("progan", **TINY, minibatch_stddev=False).discriminator.final)


def test_schedule_levels_and_alpha():
    model = models.create("progan", **TINY)  # stable 2, fade 4, stable 2, fade 4, then 8x8 for good
    phases = [model.phase(s) for s in range(14)]
    assert phases[:2] == [(0, 1.0), (0, 1.0)]
    assert [p[0] for p in phases[2:6]] == [1] * 4 and [p[1] for p in phases[2:6]] == [0.25, 0.5, 0.75, 1.0]
    assert phases[6:8] == [(1, 1.0)] * 2
    assert [p[1] for p in phases[8:12]] == [0.25, 0.5, 0.75, 1.0] and phases[12] == (2, 1.0) == phases[13]
    assert model.stage_end(0) == 2 and model.stage_end(1) == 8
    no_fade = models.create("progan", **TINY, fade=False)
    assert no_fade.phase(2) == (1, 1.0)
    with pytest.raises(ValueError, match="stable_steps"):
        models.create("progan", stable_steps=[1, 2, 3])


def test_training_grows_and_records_each_level():
    mg.manual_seed(0)
    model = models.create("progan", **{**TINY, "fade_steps": 1, "stable_steps": 1})
    opts = model.configure_optimizers()
    batches = iter(model.loader("train"))
    for step in range(5):
        logs = model.train_step(next(batches), opts, step)
        assert all(np.isfinite(v) for v in logs.values())
    assert (model.level, model.alpha) == (2, 1.0)
    scores = model.stage_scores.numpy()
    assert np.isfinite(scores).all() and (scores[:, 0] > 0).all()
    kept = model.stage_samples.numpy()  # each lower level's samples, kept at 8x8: blocks of 4 and 2 pixels
    assert kept.shape == (2, 16, 1, 8, 8) and np.isfinite(kept).all()
    np.testing.assert_array_equal(kept[0], np.repeat(np.repeat(kept[0][:, :, ::4, ::4], 4, axis=2), 4, axis=3))
    np.testing.assert_array_equal(kept[1], np.repeat(np.repeat(kept[1][:, :, ::2, ::2], 2, axis=2), 2, axis=3))
    assert model.sample(2).shape == (2, 1, 8, 8)


def test_real_images_fade_between_resolutions():
    model = models.create("progan", **TINY)
    x = np.random.default_rng(8).random((2, 1, 8, 8)).astype(np.float32)
    model.grown.data[...] = (1, 0.5)  # 4x4, half faded in
    low = downsample(x, 2)
    expected = 0.5 * low + 0.5 * np.repeat(np.repeat(downsample(low, 2), 2, 2), 2, 3)
    np.testing.assert_allclose(model.real_at_level(mg.tensor(x)).numpy(), expected, rtol=1e-5)


def test_resolution_16_upsamples_digits_and_measures_them_at_8x8():
    x = np.random.default_rng(9).random((2, 1, 8, 8)).astype(np.float32)
    up = upsample_bilinear2(x)
    assert up.shape == (2, 1, 16, 16)
    w = np.array([0.75, 0.25])  # output pixel 1 sits at input coordinate 0.25 (half-pixel centres)
    np.testing.assert_allclose(up[:, 0, 1, 1], np.einsum("i,nij,j->n", w, x[:, 0, :2, :2], w), rtol=1e-5)
    np.testing.assert_allclose(up[:, 0, 0, 0], x[:, 0, 0, 0], rtol=1e-6)  # edges clamped
    np.testing.assert_allclose(upsample_bilinear2(np.full((1, 1, 8, 8), 0.3, np.float32)), 0.3, rtol=1e-6)
    assert to_eight(up).shape == (2, 1, 8, 8) and to_eight(x[:, :, :2, :2]).shape == (2, 1, 8, 8)
    model = models.create("progan", resolution=16, **TINY)
    assert model.event_shape == (1, 16, 16) and model.levels == 4
    assert model.split_arrays("valid")[0].shape[1:] == (1, 16, 16)


def test_averaged_generator_follows_g_by_ema_and_draws_the_samples():
    mg.manual_seed(0)
    model = models.create("progan", **{**TINY, "stable_steps": 50, "ema": 0.9})
    assert not any(p.requires_grad for p in model.generator_ema.parameters())
    before = [p.data.copy() for p in model.generator_ema.parameters()]
    opts = model.configure_optimizers()
    model.train_step(next(iter(model.loader("train"))), opts, 0)
    live = [p.data for p in model.generator.parameters()]
    for avg, old, new in zip(model.generator_ema.parameters(), before, live):
        np.testing.assert_allclose(avg.data, 0.9 * old + 0.1 * new, rtol=1e-5, atol=1e-7)
    assert any(not np.allclose(a.data, p) for a, p in zip(model.generator_ema.parameters(), live))
    z = model.noise(3, np.random.default_rng(1))
    with model.evaluating():
        drawn = model.sample(3, rng=np.random.default_rng(1)).numpy()
        averaged = model.generate(z, averaged=True).numpy()
        trained = model.generate(z).numpy()
    np.testing.assert_allclose(drawn, np.repeat(np.repeat(averaged, 4, axis=2), 4, axis=3), rtol=1e-6)
    assert not np.allclose(drawn, np.repeat(np.repeat(trained, 4, axis=2), 4, axis=3))
    with pytest.raises(ValueError, match="ema"):
        models.create("progan", ema=1.0)
