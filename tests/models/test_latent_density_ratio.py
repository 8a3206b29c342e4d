"""The density-ratio estimator (models/latent/density_ratio.py): trained by logistic regression on samples
of two known Gaussians, its logit recovers their analytic log density ratio, and E_q[T] their KL."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
from minigen import optim
from minigen.models.latent.density_ratio import DensityRatioEstimator

Q_MEAN, Q_SD = np.array([0.5, -0.5]), np.array([1.0, 0.7])
P_MEAN, P_SD = np.array([0.0, 0.0]), np.array([1.3, 1.0])


def log_normal(z: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return (-0.5 * ((z - mean) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)).sum(axis=1)


def analytic_kl() -> float:
    """KL(N(mq, sq^2) || N(mp, sp^2)) summed over the two independent coordinates."""
    return float((np.log(P_SD / Q_SD) + (Q_SD ** 2 + (Q_MEAN - P_MEAN) ** 2) / (2 * P_SD ** 2) - 0.5).sum())


def trained_estimator(q_mean=Q_MEAN, q_sd=Q_SD, steps: int = 600, seed: int = 0) -> DensityRatioEstimator:
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    t = DensityRatioEstimator(2, hidden=(32, 32))
    opt = optim.Adam(t.parameters(), lr=3e-3)
    for _ in range(steps):
        zq = (q_mean + q_sd * rng.standard_normal((256, 2))).astype(np.float32)
        zp = (P_MEAN + P_SD * rng.standard_normal((256, 2))).astype(np.float32)
        opt.zero_grad()
        t.loss(mg.tensor(zq), mg.tensor(zp)).backward()
        opt.step()
    return t


@pytest.fixture(scope="module")
def estimator() -> DensityRatioEstimator:
    return trained_estimator()


def test_logit_recovers_the_analytic_log_ratio(estimator):
    rng = np.random.default_rng(1)
    z = np.concatenate([Q_MEAN + Q_SD * rng.standard_normal((500, 2)),
                        P_MEAN + P_SD * rng.standard_normal((500, 2))]).astype(np.float32)
    truth = log_normal(z, Q_MEAN, Q_SD) - log_normal(z, P_MEAN, P_SD)
    with mg.no_grad():
        estimate = estimator.log_ratio(mg.tensor(z)).numpy()
    error = np.abs(estimate - truth)
    assert np.median(error) < 0.15, f"median |T - log q/p| = {np.median(error):.3f}"
    assert np.corrcoef(estimate, truth)[0, 1] > 0.97


def test_mean_logit_under_q_estimates_the_kl(estimator):
    rng = np.random.default_rng(2)
    z = (Q_MEAN + Q_SD * rng.standard_normal((4000, 2))).astype(np.float32)
    with mg.no_grad():
        kl = float(estimator.log_ratio(mg.tensor(z)).numpy().mean())
    assert abs(kl - analytic_kl()) < 0.08, (kl, analytic_kl())


def test_identical_distributions_give_a_ratio_near_zero():
    t = trained_estimator(q_mean=P_MEAN, q_sd=P_SD, steps=200)
    z = (P_MEAN + P_SD * np.random.default_rng(3).standard_normal((500, 2))).astype(np.float32)
    with mg.no_grad():
        estimate = t.log_ratio(mg.tensor(z)).numpy()
    assert np.abs(estimate).mean() < 0.1, np.abs(estimate).mean()


def test_shape_errors_name_the_estimator():
    t = DensityRatioEstimator(3)
    with pytest.raises(ValueError, match=r"DensityRatioEstimator.*\(B, 3\)"):
        t(mg.zeros(4, 2))
    with pytest.raises(ValueError, match="extra=0"):
        t(mg.zeros(4, 3), mg.zeros(4, 1))
