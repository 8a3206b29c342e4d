"""models/evaluation/: Parzen windows against SciPy, width selection, Frechet distance against
scipy.linalg.sqrtm, the classifier score's extremes, mode coverage on perfect and collapsed samplers, the
digits classifier (accuracy, no training on load), the real-data ceiling, evaluate() on a GAN."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import linalg, stats
from scipy.special import logsumexp

import minigen as mg
import minigen.models as models
from minigen.data.toys import toy_centres, toy_sample
from minigen.models.evaluation import digits_classifier, gan_metrics
from minigen.models.evaluation.classifier_score import inception_score
from minigen.models.evaluation.frechet import frechet_distance
from minigen.models.evaluation.mode_coverage import TOY_SAMPLES, TOY_SEEDS, toy_metrics
from minigen.models.evaluation.parzen import parzen_log_likelihood, parzen_score, parzen_select


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 5), sigma=st.floats(0.1, 1.0))
def test_parzen_matches_scipy_mixture(seed, d, sigma):
    rng = np.random.default_rng(seed)
    samples, x = rng.standard_normal((30, d)), rng.standard_normal((7, d))
    ours = parzen_log_likelihood(samples, x, sigma, chunk=3)
    cov = sigma ** 2 * np.eye(d)
    logpdf = np.stack([stats.multivariate_normal(mean=s, cov=cov).logpdf(x).reshape(-1) for s in samples])
    np.testing.assert_allclose(ours, logsumexp(logpdf, axis=0) - np.log(len(samples)), rtol=1e-9, atol=1e-9)


def test_parzen_width_is_chosen_on_validation():
    rng = np.random.default_rng(0)
    samples = 0.4 * rng.standard_normal((2000, 2))
    valid = 0.4 * rng.standard_normal((300, 2))
    sigma, table = parzen_select(samples, valid)
    assert len(table) == 10 and np.isclose(table[0][0], 0.1) and np.isclose(table[-1][0], 1.0)
    assert sigma == max(table, key=lambda t: t[1])[0]
    assert 0.1 < sigma < 0.5  # a 0.4-sd Gaussian is neither over- nor under-smoothed at the extremes
    out = parzen_score(samples, valid, 0.4 * rng.standard_normal((300, 2)))
    assert out["parzen_sigma"] == sigma and out["parzen_ll_sem"] > 0


@given(seed=st.integers(0, 2**31 - 1))
def test_frechet_distance_matches_sqrtm(seed):
    rng = np.random.default_rng(seed)
    f1 = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 4))
    f2 = rng.standard_normal((50, 4)) @ rng.standard_normal((4, 4)) + rng.standard_normal(4)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    np.testing.assert_allclose(frechet_distance(f1, f2), expected, rtol=1e-6, atol=1e-8)
    # FID(f, f) = 0 up to the square roots of rounding errors: sqrt(eps) times the covariance's scale
    # (a nearly singular covariance, say seed 201, gives -7e-8)
    assert abs(frechet_distance(f1, f1)) < 1e-6 * np.trace(s1)


def test_inception_score_extremes():
    assert inception_score(np.full((20, 10), 0.1)) == pytest.approx(1.0)
    assert inception_score(np.eye(10)[np.arange(40) % 10]) == pytest.approx(10.0, rel=1e-6)
    assert inception_score(np.eye(10)[np.zeros(40, int)]) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("name,total", [("ring8", 8), ("grid25", 25)])
def test_mode_coverage_of_perfect_and_collapsed_samplers(name, total):
    perfect = toy_metrics(lambda n, rng: toy_sample(name, n, int(rng.integers(1 << 30))), name)
    assert perfect[f"modes_{name}"] == total and perfect[f"hq_{name}"] > 0.98
    centre = toy_centres(name)[0]
    collapsed = toy_metrics(lambda n, rng: centre + 0.01 * rng.standard_normal((n, 2)), name)
    assert collapsed[f"modes_{name}"] == 1 and collapsed[f"hq_{name}"] == 1.0
    blurred = toy_metrics(lambda n, rng: 3 * rng.standard_normal((n, 2)), name)
    assert blurred[f"hq_{name}"] < 0.1


def test_digits_classifier_and_real_ceiling():
    assert digits_classifier.accuracy("test") > 0.95
    real = gan_metrics.real_digits_scores("test")
    assert real["score_digits_real"] > 7 and real["fd_digits_real"] < 10
    noise = gan_metrics.classifier_scores(np.random.default_rng(0).random((300, 1, 8, 8)))
    assert noise["fd_digits"] > 5 * real["fd_digits_real"]


def test_frechet_distance_names_mismatched_features():
    with pytest.raises(ValueError, match=r"\(5, 3\) and \(5, 4\)"):
        frechet_distance(np.zeros((5, 3)), np.zeros((5, 4)))


def test_digits_classifier_never_trains_on_load(tmp_path):
    """A missing weights file is an error naming the command that makes it, and nothing is written."""
    missing = str(tmp_path / "none.npz")
    with pytest.raises(FileNotFoundError, match="bench/train_digits_classifier.py"):
        digits_classifier.load(missing)
    assert list(tmp_path.iterdir()) == []
    path = digits_classifier.save(digits_classifier.load(), str(tmp_path / "copy.npz"))
    np.testing.assert_array_equal(digits_classifier.features_and_probs(np.ones((2, 64)) * 0.5, path=path)[1],
                                  digits_classifier.features_and_probs(np.ones((2, 64)) * 0.5)[1])


@pytest.mark.parametrize("module", ["digits_classifier", "tones_classifier", "domain_classifier"])
def test_loading_a_classifier_leaves_the_callers_random_stream_alone(module):
    """Building a classifier draws initial weights that its file then overwrites: that happens inside
    backend.fork_rng, so scoring samples mid-run does not change the rest of the run's noise (it did: two
    WaveGAN pilots that scored at different steps diverged after the first score)."""
    import importlib

    from minigen import backend
    classifier = importlib.import_module(f"minigen.models.evaluation.{module}")
    classifier.load.cache_clear()  # the first load builds the model
    mg.manual_seed(3)
    expected = backend.rng("cpu").random(4)
    mg.manual_seed(3)
    classifier.load()
    np.testing.assert_array_equal(backend.rng("cpu").random(4), expected)


def test_sampler_draws_labels_then_z_from_the_seed():
    """The metrics' samples of a conditional GAN are sample(n, labels, rng) with the labels drawn first from
    the same generator, so they are a function of the parameters and the seed alone."""
    mg.manual_seed(0)
    model = models.create("cgan", data="ring8", sizes=[8, 8, 8, 8, 4, 8], z_dim=4, select_every=0)
    got = gan_metrics.sampler(model)(50, np.random.default_rng(7)).numpy()
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 8, 50)
    np.testing.assert_array_equal(got, model.sample(50, labels, rng=rng).numpy())
    assert set(gan_metrics.evaluate(model)) == {"modes_ring8", "hq_ring8", "modes_ring8_min"}


def test_a_pilot_split_never_draws_the_test_samples(monkeypatch):
    """fd_digits, score_digits and the toys' modes compare samples with references that do not change with
    the split, so a validation pilot must draw other z than the test metrics (or it would read them)."""
    seen = []

    def sample(n, rng):
        seen.append(int(rng.integers(1 << 30)))  # the seed's first draw identifies it
        return np.random.default_rng(seen[-1]).random((n, 1, 8, 8) if n != TOY_SAMPLES else (n, 2), dtype=np.float32)

    def seeds_drawn(data, split):
        seen.clear()
        monkeypatch.setattr(gan_metrics, "sampler", lambda model: sample)
        gan_metrics.evaluate(type("Model", (), {"data_name": data})(), split)
        return list(seen)

    def first_draws(seeds):
        return [int(np.random.default_rng(s).integers(1 << 30)) for s in seeds]

    test = seeds_drawn("digits", "test")
    assert test == first_draws((gan_metrics.PARZEN_SEED,) + gan_metrics.SCORE_SEEDS)  # the recorded seeds
    assert not set(seeds_drawn("digits", "valid")) & set(test)
    assert seeds_drawn("ring8", "test") == first_draws(TOY_SEEDS)
    assert not set(seeds_drawn("ring8", "valid")) & set(first_draws(TOY_SEEDS))
