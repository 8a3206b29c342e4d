"""PixelCNN++: the discretized logistic mixture (sums to 1 over all levels, tails included; the paper's
formula where it is computable naively; finite far in the tails), the autoregressive property of the
shifted streams with down/up-sampling through the engine's gradients, the sampler's level draws, the cached
fast sampler (pixelcnn_pp_sampler.py: the network's parameters at every pixel without reading a pixel before
it is drawn, the naive sampler's samples and completions for the same seed), training."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.logistic_mixture import discretized_logistic_mixture_cdf
from minigen.models.autoregressive.logistic_mixture import discretized_logistic_mixture_log_prob as dlm
from minigen.models.autoregressive.pixelcnn_pp import PixelCNNPlusPlus
from test_baselines import randomize  # shared helper (tests/models is on sys.path)
from test_pixelcnn import both_samplers_agree, earlier, random_images

LEVELS = 17


def all_levels(pi, mu, log_s, levels=LEVELS) -> np.ndarray:
    """log P(k) for k = 0..L-1 (rows) under each mixture (columns)."""
    n = pi.shape[0]
    return np.stack([dlm(mg.tensor(np.full(n, float(k))), mg.tensor(pi), mg.tensor(mu), mg.tensor(log_s),
                         levels).numpy() for k in range(levels)])


@given(seed=st.integers(0, 2 ** 16), k=st.integers(1, 4), mu_scale=st.sampled_from([0.3, 3.0, 50.0]),
       log_s=st.sampled_from([-9.0, -7.0, -2.0, 0.0, 4.0]), levels=st.sampled_from([2, 17, 256]))
def test_probabilities_sum_to_one_over_all_levels_tails_included(seed, k, mu_scale, log_s, levels):
    rng = np.random.default_rng(seed)
    pi, mu = rng.standard_normal((4, k)) * 3, rng.standard_normal((4, k)) * mu_scale
    log_p = all_levels(pi, mu, log_s + 0.1 * rng.standard_normal((4, k)), levels)
    assert np.isfinite(log_p).all()
    np.testing.assert_allclose(np.logaddexp.reduce(log_p, axis=0), 0.0, atol=1e-9)


def test_matches_the_papers_formula_with_edges():
    rng = np.random.default_rng(1)
    pi, mu, log_s = rng.standard_normal((3, 2)), rng.uniform(-1, 1, (3, 2)), rng.uniform(-3, -1, (3, 2))
    sig = lambda a: 1 / (1 + np.exp(-a))
    delta, s = 1 / 16, np.exp(log_s)
    weights = np.exp(pi) / np.exp(pi).sum(1, keepdims=True)
    for k in range(LEVELS):
        x = 2 * k / 16 - 1
        upper = sig((x + delta - mu) / s) if k < 16 else 1.0
        lower = sig((x - delta - mu) / s) if k > 0 else 0.0
        expected = np.log((weights * (upper - lower)).sum(1))
        np.testing.assert_allclose(all_levels(pi, mu, log_s)[k], expected, rtol=1e-10)


def test_far_tail_is_finite_where_the_naive_difference_underflows():
    """Level 16 under a sharp component at level 0: sigma differences are 0 in float64, the log is not."""
    pi, mu, log_s = np.zeros((1, 1)), np.full((1, 1), -1.0), np.full((1, 1), -7.0)
    log_p = all_levels(pi, mu, log_s)
    b = (1 - 1 / 16 + 1) * np.exp(7.0)
    np.testing.assert_allclose(log_p[16], -b, rtol=1e-9)   # log(1 - sigma(b)) = -softplus(b) ~ -b
    assert np.isfinite(log_p).all() and (np.diff(log_p[:, 0]) < -60).all()  # every level finite, decreasing
    middle_b = (2 * 8 / 16 - 1 - 1 / 16 + 1) * np.exp(7.0)
    np.testing.assert_allclose(log_p[8], -middle_b, rtol=1e-9)  # ~ log sigma(a) + log(1 - sigma(b)) ~ -b


def test_a_wide_component_keeps_every_middle_level_finite_in_float32():
    """s = e^20: 1 - exp(-2 delta / s) rounds to 0 in float32 (log = -inf); -expm1(-2 delta / s) does not.
    Against sigma(a) - sigma(b) in float64, where the difference is still resolved."""
    pi, mu, log_s = np.zeros((1, 1)), np.zeros((1, 1)), np.full((1, 1), 20.0)
    got = np.stack([dlm(mg.tensor(np.full(1, float(k)), dtype=mg.float32), mg.tensor(pi, dtype=mg.float32),
                        mg.tensor(mu, dtype=mg.float32), mg.tensor(log_s, dtype=mg.float32), LEVELS).numpy()
                    for k in range(LEVELS)])[:, 0]
    assert np.isfinite(got).all()
    sig = lambda a: 1 / (1 + np.exp(-a))
    x, s = 2 * np.arange(1, LEVELS - 1) / 16 - 1, np.exp(20.0)
    expected = np.log(sig((x + 1 / 16) / s) - sig((x - 1 / 16) / s))
    np.testing.assert_allclose(got[1:-1], expected, rtol=1e-4)


def test_shifted_streams_with_down_and_up_sampling_are_autoregressive():
    model = randomize(PixelCNNPlusPlus(channels=4, components=2, resnets=1), seed=2, scale=0.3)
    dep = model.dependence(random_images(model, 3))
    assert not (dep & ~earlier(model)).any()
    assert dep.sum() >= 0.95 * earlier(model).sum()


def test_level_draws_follow_the_discretized_mixture():
    model = PixelCNNPlusPlus(channels=4, components=3)
    rng = np.random.default_rng(3)
    params = np.concatenate([rng.standard_normal(3), rng.uniform(-0.8, 0.8, 3), np.full(3, -2.0)])
    draws = model._draw(np.broadcast_to(params, (40000, 9)).copy(), rng.random(40000), np)
    p = np.exp(all_levels(params[None, :3], params[None, 3:6], params[None, 6:])[:, 0])
    np.testing.assert_allclose(np.bincount(draws.astype(int), minlength=17) / 40000, p, atol=0.01)
    u = (np.arange(2000) + 0.5) / 2000  # the inverse CDF exactly: the smallest level whose CDF reaches u
    grid = model._draw(np.broadcast_to(params, (2000, 9)).copy(), u, np)
    np.testing.assert_array_equal(grid, np.minimum(np.searchsorted(np.cumsum(p), u), 16))


@pytest.mark.parametrize("mu_scale,log_s", [(0.5, -2.0), (3.0, -7.0), (0.2, 3.0)])
def test_the_cdf_is_the_running_sum_of_the_level_probabilities(mu_scale, log_s):
    rng = np.random.default_rng(4)
    pi, mu = rng.standard_normal((5, 3)), rng.standard_normal((5, 3)) * mu_scale
    log_s = log_s + 0.3 * rng.standard_normal((5, 3))
    cdf = discretized_logistic_mixture_cdf(pi, mu, log_s, LEVELS)                       # (5, 16)
    np.testing.assert_allclose(cdf, np.cumsum(np.exp(all_levels(pi, mu, log_s)), axis=0)[:-1].T, atol=1e-12)


# ------------------------------------------------------------------------------------- fast sampler

@pytest.mark.parametrize("resnets,shape", [(1, (1, 8, 8)), (2, (1, 8, 8)), (1, (1, 6, 4))])
def test_cached_parameters_equal_the_network_and_read_only_drawn_pixels(resnets, shape):
    """The cache starts from another image and gets each true pixel only after its parameters are read
    (as in sampling), yet gives the whole network's parameters on the true image at every pixel."""
    model = randomize(PixelCNNPlusPlus(channels=4, components=2, resnets=resnets, dropout=0.5, event_shape=shape),
                      seed=2, scale=0.3)
    x, other = random_images(model, 3, seed=1), random_images(model, 3, seed=9)
    with model.evaluating():
        full = model.image_logits(x).data[:, 0]                        # (B, 3K, H, W)
        cache = model.start_cache(other.data / (LEVELS - 1), None)
        for i in range(shape[1]):
            model.row_start(cache, i)
            for j in range(shape[2]):
                np.testing.assert_allclose(model.logits_at(cache, i, j)[:, 0], full[:, :, i, j], rtol=1e-10,
                                           atol=1e-10)
                model.write(cache, 0, i, j, x.data[:, 0, i, j] / (LEVELS - 1))
    with model.evaluating():  # the images differ where it matters: a cache that read `other` would fail
        assert not np.allclose(model.image_logits(other).data[:, 0, :, 1:], full[:, :, 1:])


@pytest.mark.parametrize("resnets", [1, 2])
def test_fast_sampler_gives_the_naive_samples_and_completions_for_the_same_seed(resnets):
    model = randomize(PixelCNNPlusPlus(channels=4, components=2, resnets=resnets, dropout=0.3), seed=5, scale=0.3)
    x = random_images(model, 6, seed=1)
    observed = np.zeros((1, 8, 8), bool)
    observed[:, :4] = True
    naive = both_samplers_agree(lambda fast: model.sample(8, fast=fast), seed=7)
    completed = both_samplers_agree(lambda fast: model.complete(x, observed, fast=fast), seed=7)
    np.testing.assert_array_equal(completed[:, :, :4], x.numpy()[:, :, :4])
    assert len(np.unique(naive)) > 5 and (completed[:, :, 4:] != x.numpy()[:, :, 4:]).any()


def test_training_lowers_the_loss_on_the_seventeen_levels():
    mg.manual_seed(0)
    model = models.create("pixelcnn-pp", channels=8, components=2, lr=1e-2)
    opt = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=16)))
    assert batch.numpy().max() > 1  # the 17 levels, not binarized
    first = model.train_step(batch, opt, 0)["loss"]
    for step in range(1, 10):
        last = model.train_step(batch, opt, step)["loss"]
    assert last < first - 5.0
    with pytest.raises(ValueError, match="integers in 0..16"):
        model.log_prob(mg.tensor(np.full((1, 1, 8, 8), 17.0, np.float32)))
    assert model.has_fast_sampler and model.sample_speedup(n=4) > 1.5
