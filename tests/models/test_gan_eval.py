"""GAN evaluation: Parzen windows against SciPy, width selection, Frechet distance against scipy.linalg.sqrtm,
the inception-style score's extremes, mode coverage on perfect and collapsed samplers, the real-data ceiling."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import linalg, stats
from scipy.special import logsumexp

from minigen.models.evaluation import digits_classifier
from minigen.models.evaluation import gan_metrics as gan_eval
from minigen.data.toys import toy_centres, toy_sample


@given(seed=st.integers(0, 2**31 - 1), d=st.integers(1, 5), sigma=st.floats(0.1, 1.0))
def test_parzen_matches_scipy_mixture(seed, d, sigma):
    rng = np.random.default_rng(seed)
    samples, x = rng.standard_normal((30, d)), rng.standard_normal((7, d))
    ours = gan_eval.parzen_log_likelihood(samples, x, sigma, chunk=3)
    cov = sigma ** 2 * np.eye(d)
    logpdf = np.stack([stats.multivariate_normal(mean=s, cov=cov).logpdf(x).reshape(-1) for s in samples])
    np.testing.assert_allclose(ours, logsumexp(logpdf, axis=0) - np.log(len(samples)), rtol=1e-9, atol=1e-9)


def test_parzen_width_is_chosen_on_validation():
    rng = np.random.default_rng(0)
    samples = 0.4 * rng.standard_normal((2000, 2))
    valid = 0.4 * rng.standard_normal((300, 2))
    sigma, table = gan_eval.parzen_select(samples, valid)
    assert len(table) == 10 and np.isclose(table[0][0], 0.1) and np.isclose(table[-1][0], 1.0)
    assert sigma == max(table, key=lambda t: t[1])[0]
    assert 0.1 < sigma < 0.5  # a 0.4-sd Gaussian is neither over- nor under-smoothed at the extremes
    out = gan_eval.parzen_score(samples, valid, 0.4 * rng.standard_normal((300, 2)))
    assert out["parzen_sigma"] == sigma and out["parzen_ll_sem"] > 0


@given(seed=st.integers(0, 2**31 - 1))
def test_frechet_distance_matches_sqrtm(seed):
    rng = np.random.default_rng(seed)
    f1 = rng.standard_normal((60, 4)) @ rng.standard_normal((4, 4))
    f2 = rng.standard_normal((50, 4)) @ rng.standard_normal((4, 4)) + rng.standard_normal(4)
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    np.testing.assert_allclose(gan_eval.frechet_distance(f1, f2), expected, rtol=1e-6, atol=1e-8)
    # FID(f, f) = 0 up to the square roots of rounding errors: sqrt(eps) times the covariance's scale
    # (a nearly singular covariance, say seed 201, gives -7e-8)
    assert abs(gan_eval.frechet_distance(f1, f1)) < 1e-6 * np.trace(s1)


def test_inception_score_extremes():
    assert gan_eval.inception_score(np.full((20, 10), 0.1)) == pytest.approx(1.0)
    assert gan_eval.inception_score(np.eye(10)[np.arange(40) % 10]) == pytest.approx(10.0, rel=1e-6)
    assert gan_eval.inception_score(np.eye(10)[np.zeros(40, int)]) == pytest.approx(1.0, rel=1e-6)


@pytest.mark.parametrize("name,total", [("ring8", 8), ("grid25", 25)])
def test_mode_coverage_of_perfect_and_collapsed_samplers(name, total):
    perfect = gan_eval.toy_metrics(lambda n, rng: toy_sample(name, n, int(rng.integers(1 << 30))), name)
    assert perfect[f"modes_{name}"] == total and perfect[f"hq_{name}"] > 0.98
    centre = toy_centres(name)[0]
    collapsed = gan_eval.toy_metrics(lambda n, rng: centre + 0.01 * rng.standard_normal((n, 2)), name)
    assert collapsed[f"modes_{name}"] == 1 and collapsed[f"hq_{name}"] == 1.0
    blurred = gan_eval.toy_metrics(lambda n, rng: 3 * rng.standard_normal((n, 2)), name)
    assert blurred[f"hq_{name}"] < 0.1


def test_digits_classifier_and_real_ceiling():
    assert digits_classifier.accuracy("test") > 0.95
    real = gan_eval.real_digits_scores("test")
    assert real["score_digits_real"] > 7 and real["fd_digits_real"] < 10
    noise = gan_eval.classifier_scores(np.random.default_rng(0).random((300, 1, 8, 8)))
    assert noise["fd_digits"] > 5 * real["fd_digits_real"]
