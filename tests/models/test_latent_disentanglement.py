"""Kim & Mnih's metric (models/evaluation/disentanglement.py) on the shapes factors: an encoder that is
the factors themselves scores 1, a rotation that mixes them scores lower, random codes near chance."""
from __future__ import annotations

import numpy as np
import pytest

from minigen.data.shapes import load_shapes
from minigen.models.evaluation.disentanglement import disentanglement


@pytest.fixture(scope="module")
def factors():
    return load_shapes().factors.astype(np.float64)


def score(codes: np.ndarray, factors: np.ndarray) -> float:
    return disentanglement(lambda _: codes, None, factors.astype(np.int64), 300, 300, 50)["disentanglement"]


def test_factors_as_codes_score_one_and_mixing_lowers_the_score(factors):
    rng = np.random.default_rng(0)
    noisy = (factors - factors.mean(0)) / factors.std(0) + 0.05 * rng.standard_normal(factors.shape)
    assert score(noisy, factors) == 1.0
    q, _ = np.linalg.qr(rng.standard_normal((5, 5)))
    assert score(noisy @ q, factors) < 0.9
    assert score(rng.standard_normal((len(factors), 5)), factors) < 0.5


def test_collapsed_dimensions_are_pruned(factors):
    codes = np.concatenate([(factors - factors.mean(0)) / factors.std(0), np.zeros((len(factors), 3))], 1)
    out = disentanglement(lambda _: codes, None, factors.astype(np.int64), 200, 200, 50)
    assert out["active_dims"] == 5 and out["disentanglement"] == 1.0
