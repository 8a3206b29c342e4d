"""WaveNet: causality and the receptive field through the engine's gradients, cached (Fast WaveNet) generation
against the naive sampler, the likelihood against the sampler's own conditionals, metrics beside baselines."""
import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.data import mu_law_decode, mu_law_encode
from minigen.models.autoregressive.wavenet import dilation_schedule, draw_levels
from minigen.models.evaluation.tones_baselines import bigram_bits, histogram_bits

SMALL = {"residual_channels": 4, "skip_channels": 6, "dilation_cycles": 2, "max_dilation": 4, "window": 64,
         "clip_length": 256, "speedup_samples": 0}


def small_wavenet(**overrides):
    mg.manual_seed(0)
    return models.create("wavenet", data="tones", **{**SMALL, **overrides})


def test_receptive_field_is_the_formula():
    for cycles, top in ((1, 1), (2, 4), (3, 64)):
        model = small_wavenet(dilation_cycles=cycles, max_dilation=top)
        assert model.dilations == dilation_schedule(cycles, top)
        assert model.receptive_field == cycles * (2 * top - 1) + 1
    with pytest.raises(ValueError, match="power of two"):
        dilation_schedule(2, 6)


@pytest.mark.parametrize("conditional", [True, False])
def test_each_output_depends_on_exactly_its_receptive_field_before_it(conditional):
    """d logits_t / d e_s (e: input embeddings) is nonzero exactly for t - receptive_field <= s <= t - 1
    somewhere in a batch of 8 random sequences (one sequence may have every ReLU of the head off)."""
    model = small_wavenet(class_conditional=conditional, skip_channels=16)
    length, field, batch = 40, model.receptive_field, 8
    rng = np.random.default_rng(0)
    levels = mg.tensor(rng.integers(0, 256, (batch, length)))
    y = mg.tensor(np.arange(batch)) if conditional else None
    e = mg.tensor(model.embed_inputs(levels).numpy(), requires_grad=True)
    with model.evaluating(grad=True):
        logits = model.conditionals_from_embedding(e, y)
        for t in range(length):
            weights = mg.tensor(rng.standard_normal((batch, 256)).astype(np.float32))
            (g,) = mg.grad((logits[:, :, t] * weights).sum(), [e], retain_graph=True, allow_unused=True)
            seen = set() if g is None else set(np.flatnonzero(np.abs(g.numpy()).sum(axis=(0, 1))))
            assert seen == set(range(max(0, t - field), t)), f"output {t} sees inputs {sorted(seen)}"


def test_cached_and_naive_steppers_give_the_same_conditionals():
    model = small_wavenet()
    n, length = 3, 60
    levels = np.random.default_rng(1).integers(0, 256, (n, length))
    y = model.labels(n, np.array([0, 4, 9]))
    with model.evaluating():
        cached, naive = model._cached_stepper(n, y), model._naive_stepper(levels, y)
        full = model.conditionals_from_embedding(model.embed_inputs(mg.tensor(levels)), y).numpy()
        for t in range(length):
            previous = levels[:, t - 1] if t else None
            a, b = cached(t, previous), naive(t, previous)
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4, err_msg=f"step {t}")
            np.testing.assert_allclose(a, full[:, :, t], rtol=1e-4, atol=1e-4, err_msg=f"step {t}")


def test_cached_generation_draws_exactly_the_naive_samples():
    model = small_wavenet()
    y = model.labels(4, np.array([1, 3, 5, 8]))
    cached = model.generate(4, y, 120, rng=np.random.default_rng(7), cached=True)
    naive = model.generate(4, y, 120, rng=np.random.default_rng(7), cached=False)
    np.testing.assert_array_equal(cached, naive)
    other = model.generate(4, y, 120, rng=np.random.default_rng(8), cached=True)
    assert (other != cached).any()


def test_log_prob_is_the_sum_of_the_samplers_conditionals():
    model = small_wavenet()
    clips, labels = model.split_arrays("test")
    x = mg.tensor(clips[:2, :, :50])
    y = mg.tensor(labels[:2])
    levels = mu_law_encode(clips[:2, 0, :50])
    with model.evaluating():
        terms = model.log_prob((x, y), reduce=False).numpy()
        step = model._cached_stepper(2, y)
        expected = np.zeros((2, 50))
        for t in range(50):
            logits = step(t, levels[:, t - 1] if t else None).astype(np.float64)
            logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
                - logits.max(1, keepdims=True)
            expected[:, t] = logp[np.arange(2), levels[:, t]]
    assert terms.shape == (2, 1, 50)
    np.testing.assert_allclose(terms[:, 0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(model.log_prob((x, y)).numpy(), expected.sum(1), rtol=1e-4)


def test_draw_levels_follows_the_softmax():
    logits = np.log(np.array([[0.5, 0.25, 0.25] + [0.0] * 253]) + 1e-30)
    u = np.random.default_rng(0).random(5000)
    draws = draw_levels(np.repeat(logits, len(u), 0), u)
    np.testing.assert_allclose(np.bincount(draws, minlength=3)[:3] / len(u), [0.5, 0.25, 0.25], atol=0.03)


def test_samples_are_mu_law_waveforms_and_the_y_rules_hold():
    model = small_wavenet(clip_length=32)
    samples = model.sample(3, np.array([0, 1, 2])).numpy()
    assert samples.shape == (3, 1, 32)
    np.testing.assert_allclose(mu_law_decode(mu_law_encode(samples)), samples, atol=1e-6)
    with pytest.raises(TypeError, match="wavenet"):
        model.sample(2)
    unconditional = small_wavenet(class_conditional=False, clip_length=32)
    assert unconditional.sample(2).shape == (2, 1, 32)


def test_training_lowers_the_loss_and_metrics_sit_beside_the_baselines():
    model = small_wavenet(lr=0.01)
    (opt,) = model.configure_optimizers()
    batches = iter(model.loader("train", batch_size=8, seed=0))
    first = model.loss(next(batches)).item()
    assert abs(first - math.log(256)) < 0.5
    for step in range(30):
        model.train_step(next(batches), [opt], step)
    assert model.loss(next(batches)).item() < first - 0.3
    out = model.metrics("test")
    levels = {s: mu_law_encode(model.split_arrays(s)[0]) for s in ("train", "test")}
    assert out["receptive_field"] == model.receptive_field
    assert out["baseline_bits_per_sample"] <= histogram_bits(levels["train"], levels["test"], 1.0) + 0.05
    assert out["ar1_bits_per_sample"] < out["baseline_bits_per_sample"]
    bits = model.bits_per_sample("test")
    assert out["test_bits_per_sample"] == pytest.approx(bits.mean())
    assert abs(out["ar1_bits_per_sample"] - bigram_bits(levels["train"], levels["test"], 0.1)) < 0.5
