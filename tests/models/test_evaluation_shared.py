"""The shared measures of models/evaluation/ that no model's tests pin down alone: the dequantized NLL of
RNADE and the flows, and the packaged domain classifier behind issue 18's domain_acc."""
import contextlib
import math

import numpy as np

import minigen as mg
from minigen.models.evaluation import domain_classifier
from minigen.models.evaluation.dequantized_nll import dequantized_nll


class UniformBox:
    """log p(y) = 0 on [0, 17)^D minus D log 17 for the uniform density: any draw u gives the same value."""

    def __init__(self, levels: int = 17):
        self.levels = levels

    def evaluating(self):
        return contextlib.nullcontext()

    def log_prob(self, y):
        return mg.tensor(np.full(y.shape[0], -y.shape[1] * math.log(self.levels), np.float32))


def test_dequantized_nll_of_the_uniform_density_is_d_log_17_nats_and_log2_17_bits_per_dim():
    x = mg.tensor(np.random.default_rng(0).integers(0, 17, (5, 64)).astype(np.float32))
    out = dequantized_nll(UniformBox(), x, draws=3)
    assert abs(out["test_nll"] - 64 * math.log(17)) < 1e-3
    assert abs(out["test_bpd"] - math.log2(17)) < 1e-5 and out["test_nll_sem"] == 0.0
    assert "test_bpd" not in dequantized_nll(UniformBox(), x, draws=0)  # the toys: the plain density


def test_the_dequantizing_noise_is_fixed_by_the_seed_and_added_to_x():
    seen = []

    class Recorder(UniformBox):
        def log_prob(self, y):
            seen.append(y.numpy().copy())
            return super().log_prob(y)

    x = mg.zeros(4, 3)
    dequantized_nll(Recorder(), x, draws=2, seed=7)
    dequantized_nll(Recorder(), x, draws=2, seed=7)
    assert np.array_equal(seen[0], seen[2]) and not np.array_equal(seen[0], seen[1])
    assert all(((s >= 0) & (s < 1)).all() for s in seen)  # x + u with u ~ U[0, 1)


def test_the_packaged_domain_classifier_tells_the_domains_apart_on_test_digits():
    assert domain_classifier.accuracy("test") > 0.95
