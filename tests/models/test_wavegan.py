"""WaveGAN: the 1-D DCGAN's shapes (kernel 25, stride 4), phase shuffle, WGAN-GP reused from wgan.py through
double backward, the optional class conditioning, and the audio metrics."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.gan.losses import gradient_penalty
from minigen.models.gan.wavegan import KERNEL, STRIDE, phase_shuffle, reflect
from minigen.models.gan.wgan import WGANGP


def small_wavegan(**overrides):
    mg.manual_seed(0)
    return models.create("wavegan", data="tones", **{"model_size": 2, "upsamplings": 2, "z_dim": 8, **overrides})


@pytest.mark.parametrize("upsamplings", [1, 2, 3])
def test_generator_multiplies_the_length_by_four_per_layer_and_the_critic_divides_it(upsamplings):
    model = small_wavegan(upsamplings=upsamplings)
    length = 16 * 4 ** upsamplings
    assert model.event_shape == (1, length)
    assert all(layer.kernel_size == (1, KERNEL) and layer.stride == (1, STRIDE) for layer in model.generator.up)
    assert all(layer.kernel_size == (KERNEL,) and layer.stride == (STRIDE,) for layer in model.discriminator.down)
    x = model.sample(3, np.array([0, 1, 2]))
    assert x.shape == (3, 1, length) and np.abs(x.numpy()).max() <= 1.0
    assert model.critic(x, mg.tensor(np.array([0, 1, 2]))).shape == (3,)
    with pytest.raises(ValueError, match="wavegan"):
        model.critic(mg.zeros(3, 1, length + 4), mg.tensor(np.array([0, 1, 2])))


def test_phase_shuffle_shifts_each_example_with_reflection():
    h = mg.tensor(np.random.default_rng(0).standard_normal((64, 3, 20)).astype(np.float32), requires_grad=True)
    out = phase_shuffle(h, 2, np.random.default_rng(1)).numpy()
    t = np.arange(20)
    shifts = []
    for b in range(64):
        match = [n for n in range(-2, 3) if np.array_equal(out[b], h.numpy()[b][:, reflect(t - n, 20)])]
        assert match, f"example {b} is not a reflected shift of its input"
        shifts.append(match[0])
    assert set(shifts) == {-2, -1, 0, 1, 2}
    np.testing.assert_array_equal(reflect(np.array([-2, -1, 0, 19, 20, 21]), 20), [2, 1, 0, 19, 18, 17])
    assert phase_shuffle(h, 0, np.random.default_rng(1)) is h
    (g,) = mg.grad((phase_shuffle(h, 2, np.random.default_rng(1)) ** 2).sum(), [h])
    assert np.isfinite(g.numpy()).all() and (g.numpy() != 0).any()


def test_wgan_gp_penalty_is_reused_and_reaches_the_critic_through_double_backward(monkeypatch):
    model = small_wavegan()
    calls = []
    penalty = WGANGP.extra_d_loss
    monkeypatch.setattr(WGANGP, "extra_d_loss", lambda self, *args: calls.append(self) or penalty(self, *args))
    y = mg.tensor(np.arange(4) % 10)
    out = model.extra_d_loss(mg.tensor(model.split_arrays("train")[0][:4]), model.sample(4, y.numpy()), y, None)
    assert calls == [model] and set(out[1]) == {"gp"}  # wgan.py's penalty, and nothing else without aux_weight
    monkeypatch.undo()
    y = mg.tensor(np.arange(6) % 10)
    real = mg.tensor(model.split_arrays("train")[0][:6])
    fake = model.sample(6, y.numpy())
    gp = gradient_penalty(lambda x: model.critic(x, y), real, fake, 10.0)
    params = list(model.discriminator.parameters())
    grads = mg.grad(gp, params, allow_unused=True)
    first = model.discriminator.down[0].weight
    assert grads[params.index(first)] is not None and np.abs(grads[params.index(first)].numpy()).sum() > 0
    opt_g, opt_d = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=4)))
    assert batch[0].shape == (4 * model.n_critic, 1, 256)
    logs = model.train_step(batch, [opt_g, opt_d], 0)
    assert logs["gp"] > 0 and np.isfinite(list(logs.values())).all()


def test_class_conditioning_changes_the_critic_and_the_generator():
    model = small_wavegan()
    x = model.split_arrays("test")[0][:2]
    z = mg.randn(2, model.z_dim)
    with model.evaluating():
        a = model.critic(mg.tensor(x), mg.tensor(np.array([0, 0]))).numpy()
        b = model.critic(mg.tensor(x), mg.tensor(np.array([5, 5]))).numpy()
        ga = model.generate(z, mg.tensor(np.array([0, 0]))).numpy()
        gb = model.generate(z, mg.tensor(np.array([5, 5]))).numpy()
    assert not np.allclose(a, b) and not np.allclose(ga, gb)
    plain = small_wavegan(class_conditional=False)
    assert plain.sample(2).shape == (2, 1, 256)
    with pytest.raises(TypeError, match="wavegan"):
        plain.sample(2, np.array([0, 1]))


def test_metrics_compare_samples_with_real_clips():
    model = small_wavegan(upsamplings=3)
    out = model.metrics("test", n=40)
    assert set(out) == {"score_tones", "score_tones_real", "spectral_distance", "spectral_distance_real"}
    assert out["score_tones_real"] > 8 and 1.0 <= out["score_tones"] < out["score_tones_real"]
    assert out["spectral_distance"] > out["spectral_distance_real"]


def test_a_pilot_split_draws_other_clips_than_the_test_metric(monkeypatch):
    """score_tones reads the generated clips alone: a validation pilot on the test seed would read the
    test number itself."""
    model = small_wavegan(upsamplings=3)
    drawn, sample = [], model.sample
    monkeypatch.setattr(model, "sample", lambda n, y, rng: drawn.append(rng.bit_generator.state) or sample(n, y, rng=rng))
    test, valid = model.metrics("test", n=40), model.metrics("valid", n=40)
    assert drawn[0] == np.random.default_rng(0).bit_generator.state and drawn[1] != drawn[0]
    assert test["score_tones"] != valid["score_tones"] and test["score_tones_real"] != valid["score_tones_real"]


def test_phase_shuffle_follows_every_critic_convolution_but_the_last():
    x = mg.tensor(np.random.default_rng(0).standard_normal((8, 1, 64)).astype(np.float32))
    one = small_wavegan(upsamplings=1, class_conditional=False)  # one convolution: nothing to shuffle
    with one.evaluating():
        plain = one.critic(x).numpy()
    one.discriminator.train()
    np.testing.assert_array_equal(one.critic(x).numpy(), plain)
    two = small_wavegan(upsamplings=2, class_conditional=False)
    x2 = mg.tensor(np.random.default_rng(1).standard_normal((32, 1, 256)).astype(np.float32))
    with two.evaluating():
        plain = two.critic(x2).numpy()
    two.discriminator.train()
    assert not np.allclose(two.critic(x2).numpy(), plain)  # the first layer's output is shuffled


def test_nearest_upsampling_keeps_the_lengths_and_unknown_modes_are_refused():
    model = small_wavegan(upsample="nearest")
    assert all(layer.kernel_size == (KERNEL,) and layer.stride == (1,) for layer in model.generator.up)
    x = model.sample(3, np.array([0, 1, 2]))
    assert x.shape == (3, 1, 256) and np.abs(x.numpy()).max() <= 1.0
    with pytest.raises(ValueError, match="upsample"):
        small_wavegan(upsample="linear")


def test_post_filter_is_one_learned_filter_over_the_output_and_odd_lengths_are_refused():
    model = small_wavegan(post_filter=8, class_conditional=False)
    assert model.generator.post.weight.shape == (1, 1, 8) and model.generator.post.bias is None
    z = mg.randn(2, model.z_dim)
    with model.evaluating():
        out = model.generate(z).numpy()
        model.generator.post = None
        raw = model.generate(z).numpy()
    w = small_wavegan(post_filter=8, class_conditional=False).generator.post.weight.numpy()[0, 0]
    padded = np.pad(raw[:, 0], ((0, 0), (4, 4)))  # out[t] = sum_k w[k] raw[t + k - 4] ("same", length kept)
    expected = np.stack([np.convolve(p, w[::-1], "valid")[:256] for p in padded])
    np.testing.assert_allclose(out[:, 0], expected, atol=1e-5)
    with pytest.raises(ValueError, match="post_filter"):
        small_wavegan(post_filter=7)


def test_ema_averages_the_weights_and_is_the_result_of_a_run(tmp_path):
    from minigen.trainer import Training

    assert small_wavegan().configure_averaging() is None
    one = small_wavegan(batch_size=4)
    Training(one, 1, str(tmp_path / "one")).run()  # theta_1
    model = small_wavegan(batch_size=4, ema=0.5)
    training = Training(model, 2, str(tmp_path / "two"))
    training.run()  # the average starts at theta_1, then 0.5 theta_1 + 0.5 theta_2: the model holds it
    key = "generator.project.weight"
    theta1, theta2 = one.state_dict()[key].numpy(), training.trained[key].numpy()
    assert not np.allclose(theta1, theta2)
    np.testing.assert_allclose(model.state_dict()[key].numpy(), 0.5 * theta1 + 0.5 * theta2, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="ema"):
        small_wavegan(ema=1.0)


def test_mu_law_plays_the_game_on_companded_clips_and_samples_in_data_space():
    from minigen.data import mu_law_compress, mu_law_expand

    x = np.linspace(-1, 1, 101)
    np.testing.assert_allclose(mu_law_expand(mu_law_compress(x)), x, atol=1e-12)
    model = small_wavegan(mu_law=True, batch_size=4)
    seen = []
    critic = model.critic
    model.critic = lambda clips, y=None: seen.append(clips.numpy().copy()) or critic(clips, y)
    batch = next(iter(model.loader("train")))
    model.train_step(batch, model.configure_optimizers(), 0)
    np.testing.assert_allclose(seen[0], mu_law_compress(batch[0].numpy()[:4]), atol=1e-6)  # the first real half
    z = np.random.default_rng(3)
    with model.evaluating():
        raw = model.generate(model.noise(2, np.random.default_rng(3)), mg.tensor(np.array([0, 1]))).numpy()
    np.testing.assert_allclose(model.sample(2, np.array([0, 1]), rng=z).numpy(), mu_law_expand(raw), atol=1e-6)


def test_auxiliary_classifier_loss_is_the_cross_entropy_and_lower_for_correct_classes():
    model = small_wavegan(aux_weight=2.0)
    assert small_wavegan().discriminator.classify is None and small_wavegan().extra_g_loss(None, None, None)[0] is None
    with pytest.raises(ValueError, match="aux_weight"):
        small_wavegan(aux_weight=1.0, class_conditional=False)
    x = mg.tensor(model.split_arrays("test")[0][:6])
    with model.evaluating():  # no phase shuffle: the same features in every call
        logits = model.discriminator.class_logits(x).numpy()
        right, wrong = logits.argmax(1), logits.argmin(1)
        good = model.extra_g_loss(x, mg.tensor(right), None)[0].item()
        bad = model.extra_g_loss(x, mg.tensor(wrong), None)[0].item()
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    np.testing.assert_allclose(good, -2.0 * logp[np.arange(6), right].mean(), rtol=1e-5)
    assert good < bad


def test_auxiliary_classifier_trains_on_real_clips_and_its_gradient_reaches_the_generator():
    model = small_wavegan(aux_weight=1.0, batch_size=4)
    y = mg.tensor(np.arange(4) % 10)
    real = mg.tensor(model.split_arrays("train")[0][:4])
    head = model.discriminator.classify.weight
    d_loss, logs = model.extra_d_loss(real, model.sample(4, y.numpy()), y, None)
    assert set(logs) == {"gp", "d_cls"}
    (g_head,) = mg.grad(d_loss, [head])
    assert np.abs(g_head.numpy()).sum() > 0  # D_cls learns from the real clips
    params = list(model.generator.parameters())
    g_loss, logs = model.extra_g_loss(model.generate(model.noise(4), y), y, None)
    grads = mg.grad(g_loss, params, allow_unused=True)
    assert set(logs) == {"g_cls"} and all(g is not None and np.abs(g.numpy()).sum() > 0 for g in grads)
    logs = model.train_step(next(iter(model.loader("train"))), model.configure_optimizers(), 0)
    assert {"d_cls", "g_cls"} <= set(logs) and np.isfinite(list(logs.values())).all()


def test_aux_fake_adds_a_generated_class_that_d_cls_learns_on_g_clips():
    with pytest.raises(ValueError, match="aux_fake"):
        small_wavegan(aux_fake=True)
    model = small_wavegan(aux_weight=2.0, aux_fake=True)
    assert model.discriminator.classify.weight.shape[0] == 11  # 10 classes + "generated"
    y = mg.tensor(np.arange(4) % 10)
    real, fake = mg.tensor(model.split_arrays("train")[0][:4]), model.sample(4, y.numpy())
    model.discriminator.eval()  # no phase shuffle: D_cls reads the same features in both calls
    loss, logs = model.extra_d_loss(real, fake, y, None)
    logits = model.discriminator.class_logits(fake).numpy().astype(np.float64)
    logp = logits - logits.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    np.testing.assert_allclose(logs["d_cls_fake"], -logp[:, 10].mean(), rtol=1e-5)
    assert set(logs) == {"gp", "d_cls", "d_cls_fake"}
    assert np.isclose(loss.item(), logs["gp"] + 2.0 * (logs["d_cls"] + logs["d_cls_fake"]), rtol=1e-4)


def test_d_cls_reuses_the_critic_forward_features_of_the_same_clips(monkeypatch):
    model = small_wavegan(aux_weight=1.0, aux_fake=True, batch_size=4, n_critic=1)
    critic = model.discriminator
    calls = []
    features = critic.features
    monkeypatch.setattr(critic, "features", lambda x: calls.append(x) or features(x))
    y = mg.tensor(np.arange(4) % 10)
    x = mg.tensor(model.split_arrays("train")[0][:4])
    with model.evaluating():  # no phase shuffle: a reused phi(x) equals a new one
        model.critic(x, y)
        shared = critic.class_logits(x).numpy()
        assert len(calls) == 1  # the forward's phi(x), not a second pass
        other = mg.tensor(x.numpy())  # equal clips, another tensor: computed anew
        np.testing.assert_allclose(critic.class_logits(other).numpy(), shared, rtol=1e-6)
        assert len(calls) == 2
    calls.clear()
    model.train_step(next(iter(model.loader("train"))), model.configure_optimizers(), 0)
    assert len(calls) == 3 + 1  # critic step: real, fake, the penalty's x_hat; generator step: fake
    plain = small_wavegan(batch_size=4, n_critic=1)
    plain.train_step(next(iter(plain.loader("train"))), plain.configure_optimizers(), 0)
    assert plain.discriminator._shared == []  # without D_cls nothing is kept (training unchanged)
    calls.clear()
    model = small_wavegan(aux_weight=1.0, aux_fake=True, batch_size=4, n_critic=1, share_features=False)
    critic = model.discriminator
    features = critic.features
    monkeypatch.setattr(critic, "features", lambda x: calls.append(x) or features(x))
    model.train_step(next(iter(model.loader("train"))), model.configure_optimizers(), 0)
    assert len(calls) == 5 + 2 and critic._shared == []  # session 6's form: D_cls's own pass on real and fake


def test_decay_start_keeps_both_rates_then_takes_them_linearly_to_zero_at_the_run_end():
    assert small_wavegan().configure_schedulers(small_wavegan().configure_optimizers(), 100) == []
    model = small_wavegan(lr=1e-3, decay_start=0.6)
    optimizers = model.configure_optimizers()
    schedulers = model.configure_schedulers(optimizers, 100)
    rates = []
    for _ in range(100):
        rates.append([opt.param_groups[0]["lr"] for opt in optimizers])
        for scheduler in schedulers:
            scheduler.step()
    rates = np.array(rates)
    np.testing.assert_allclose(rates[:61], 1e-3)  # G and D constant up to t_0 = 60
    np.testing.assert_allclose(rates[61:], 1e-3 * (100 - np.arange(61, 100))[:, None] / 40 * np.ones((1, 2)))
    for bad in ({"decay_start": 1.0}, {"decay_start": -0.1}, {"decay_start": 0.5, "decay_steps": 100}):
        with pytest.raises(ValueError, match="decay_start"):
            small_wavegan(**bad)


def test_minibatch_std_feeds_the_group_stddev_to_the_last_convolution_only():
    model = small_wavegan(minibatch_std=4)
    last = model.discriminator.down[-1]
    assert [layer.in_channels for layer in model.discriminator.down] == [1, 2 + 1]
    seen = []
    forward = last.forward
    last.forward = lambda h: seen.append(h.numpy()) or forward(h)
    x = model.split_arrays("train")[0][:8]
    y = mg.tensor(np.arange(8) % 10)
    with model.evaluating():
        score = model.critic(mg.tensor(x), y).numpy()
        other = x.copy()
        other[1] = x[0]  # one clip of the group n mod 2 = 1 changed
        changed = model.critic(mg.tensor(other), y).numpy()
    h = seen[0][:, :-1].reshape(4, 2, seen[0].shape[1] - 1, -1)  # (G, N / G, C, L)
    std = np.sqrt(h.var(axis=0) + 1e-8).reshape(2, -1).mean(axis=1)  # group of example n: n mod 2
    np.testing.assert_allclose(seen[0][:, -1], np.tile(std, 4)[:, None] * np.ones_like(seen[0][:, -1]), rtol=1e-5)
    np.testing.assert_array_equal(score[0::2], changed[0::2])  # the other group's scores do not move
    assert not np.allclose(score[3::2], changed[3::2])  # the same clips in the changed group score differently
    plain = small_wavegan()
    assert [layer.in_channels for layer in plain.discriminator.down] == [1, 2] and plain.discriminator.stddev is None
    for bad in (-1, 1):
        with pytest.raises(ValueError, match="minibatch_std"):
            small_wavegan(minibatch_std=bad)


def test_aux_g_weight_scales_the_generator_classifier_term_only():
    model = small_wavegan(aux_weight=2.0, aux_fake=True, aux_g_weight=5.0)
    same = small_wavegan(aux_weight=2.0, aux_fake=True)
    y = mg.tensor(np.arange(4) % 10)
    real, fake = mg.tensor(model.split_arrays("train")[0][:4]), model.sample(4, y.numpy())
    for m in (model, same):
        m.discriminator.eval()  # no phase shuffle: the same features in every call
    g, logs = model.extra_g_loss(fake, y, None)
    g_same, _ = same.extra_g_loss(fake, y, None)
    d, d_logs = model.extra_d_loss(real, fake, y, None)
    assert np.isclose(g.item(), 5.0 * logs["g_cls"], rtol=1e-6)
    assert np.isclose(g_same.item(), 2.0 * logs["g_cls"], rtol=1e-5)  # same weights (seed 0): the default is aux_weight
    d_terms = d_logs["gp"] + 2.0 * (d_logs["d_cls"] + d_logs["d_cls_fake"])
    assert np.isclose(d.item(), d_terms, rtol=1e-4)  # D's classifier terms keep aux_weight
    for bad in ({"aux_weight": 2.0, "aux_g_weight": -1.0}, {"aux_g_weight": 1.0}):
        with pytest.raises(ValueError, match="aux_g_weight"):
            small_wavegan(**bad)
