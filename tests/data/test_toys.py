"""2-D toys and the mode-coverage metric."""
import numpy as np
import pytest

import minigen as mg
from minigen.data import (grid25, grid25_centres, mode_coverage, ring8, ring8_centres, swiss_roll,
                          two_moons)
from minigen.data.toys import N_COVERAGE_SAMPLES


def test_centres():
    c = ring8_centres()
    np.testing.assert_allclose(np.linalg.norm(c, axis=1), 2.0)
    np.testing.assert_allclose(c[2], [0.0, 2.0], atol=1e-12)
    g = grid25_centres()
    assert g.shape == (25, 2) and set(g.ravel()) == {-4, -2, 0, 2, 4}
    assert len({tuple(r) for r in g}) == 25


@pytest.mark.parametrize("sample, centres, sd", [(ring8, ring8_centres(), 0.02),
                                                 (grid25, grid25_centres(), 0.05)])
def test_mixture_samples_cover_every_mode(sample, centres, sd):
    x = sample(N_COVERAGE_SAMPLES, seed=0)
    assert x.shape == (2500, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, sample(N_COVERAGE_SAMPLES, seed=0))
    nearest = np.linalg.norm(x[:, None] - centres[None], axis=-1)
    np.testing.assert_allclose(nearest.min(axis=1).std(), sd * np.sqrt(2 - np.pi / 2), rtol=0.1)
    modes, hq, total = mode_coverage(x, centres, sd)
    assert modes == total == len(centres) and hq > 0.98


def test_mode_coverage_counts_only_high_quality_samples_and_needs_20():
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    near0 = np.zeros((25, 2)) + [0.1, 0.0]
    near1 = np.tile([10.0, 0.29], (19, 1))
    far2 = np.tile([0.0, 10.5], (40, 1))
    cov = mode_coverage(np.concatenate([near0, near1, far2]), centres, sd=0.1)
    assert (cov.modes, cov.total) == (1, 3)
    assert cov.hq_share == pytest.approx(44 / 84)
    cov = mode_coverage(mg.tensor(np.concatenate([near0, near1, near1[:1]])), centres, sd=0.1)
    assert cov.modes == 2
    with pytest.raises(ValueError, match=r"samples of shape \(3,\)"):
        mode_coverage(np.zeros(3), centres, 0.1)


def test_collapsed_generator_covers_one_mode():
    x = np.tile(ring8_centres()[3], (2500, 1))
    assert mode_coverage(x, ring8_centres(), 0.02)[:2] == (1, 1.0)


def test_moons_and_swiss_roll_shapes_and_seeding():
    m = two_moons(400, noise=0.0, seed=1)
    upper = np.isclose(np.linalg.norm(m, axis=1), 1.0)
    lower = np.isclose(np.linalg.norm(m - [1.0, 0.5], axis=1), 1.0)
    assert np.all(upper | lower) and 150 < upper.sum() < 250
    s = swiss_roll(300, noise=0.0, seed=2)
    r = np.linalg.norm(s, axis=1) * 5
    angle = np.arctan2(s[:, 1], s[:, 0])
    assert r.min() >= 1.5 * np.pi - 1e-4 and r.max() <= 4.5 * np.pi + 1e-4
    np.testing.assert_allclose(np.cos(angle), np.cos(r), atol=1e-4)
    assert not np.array_equal(two_moons(10, seed=1), two_moons(10, seed=2))
    mg.manual_seed(4)
    a = swiss_roll(5)
    mg.manual_seed(4)
    np.testing.assert_array_equal(a, swiss_roll(5))
