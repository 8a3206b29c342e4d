"""Gaussian mixtures fitted by EM (Dempster, Laird & Rubin 1977): VaDE's prior initialisation.

    p(x) = sum_c pi_c N(x; mu_c, Sigma_c),   Sigma_c diagonal (diag sigma_c^2) or full
    E step: r_ic = pi_c N(x_i; mu_c, Sigma_c) / p(x_i)
    M step: pi_c = sum_i r_ic / N,  mu_c = sum_i r_ic x_i / sum_i r_ic,
            Sigma_c = sum_i r_ic (x_i - mu_c)(x_i - mu_c)^T / sum_i r_ic  (+ a floor on the variances)

EM only climbs to a local maximum of the likelihood, so `fit_gmm` runs it from `restarts` k-means
initialisations (k-means++ seeds with seeds 0, 1, ...) and keeps the fit with the highest training
log-likelihood: the choice uses no labels. The variances (the diagonal of Sigma_c) are floored at `floor`
times the data's variance, as a ridge, so that no component collapses onto a point.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..evaluation.clustering import kmeans, squared_distances

COVARIANCES = ("diagonal", "full")


class GaussianMixtureFit(NamedTuple):
    """weights (K,), means (K, D), covariances (K, D) variances or (K, D, D) matrices, mean log-likelihood."""
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float


def component_log_densities(x: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log N(x_i; mu_c, Sigma_c), shape (N, K); Sigma_c given as variances (K, D) or matrices (K, D, D)."""
    d = x.shape[1]
    diff = x[:, None] - means[None]  # (N, K, D)
    if covariances.ndim == 2:
        return -0.5 * (np.log(2 * np.pi * covariances)[None] + diff ** 2 / covariances[None]).sum(-1)
    p = precision_cholesky(covariances)  # Sigma^-1 = P P^T
    projected = np.swapaxes(diff, 0, 1) @ p  # (x - mu)^T P: (K, N, D)
    log_det = -2 * np.log(np.diagonal(p, axis1=-2, axis2=-1)).sum(-1)
    return -0.5 * (d * math.log(2 * math.pi) + log_det[None] + (projected ** 2).sum(-1).T)


def _em(x: np.ndarray, means: np.ndarray, covariance: str, iterations: int,
        floor_var: np.ndarray, start: np.ndarray | None = None) -> GaussianMixtureFit:
    """EM from hard assignments: `start` (N,) if given, else each point to its nearest of the given means."""
    n, k = len(x), len(means)
    resp = np.eye(k)[squared_distances(x, means).argmin(1) if start is None else start]
    log_lik = -np.inf
    for it in range(iterations + 1):
        mass = resp.sum(0) + 1e-10
        weights = mass / n
        means = resp.T @ x / mass[:, None]
        if covariance == "diagonal":
            covs = np.maximum(resp.T @ x ** 2 / mass[:, None] - means ** 2, floor_var)
        else:
            diff = np.swapaxes(x[:, None] - means[None], 0, 1)  # (K, N, D)
            covs = np.swapaxes(diff * resp.T[..., None], 1, 2) @ diff / mass[:, None, None]
            covs[:, np.arange(x.shape[1]), np.arange(x.shape[1])] += floor_var
        log_p = np.log(weights + 1e-300)[None] + component_log_densities(x, means, covs)
        top = log_p.max(1, keepdims=True)
        log_px = top[:, 0] + np.log(np.exp(log_p - top).sum(1))
        previous, log_lik = log_lik, float(log_px.mean())
        resp = np.exp(log_p - log_px[:, None])
        if it > 0 and abs(log_lik - previous) < 1e-7:
            break
    return GaussianMixtureFit(weights, means, covs, log_lik)


def fit_gmm(x: np.ndarray, k: int, covariance: str = "diagonal", restarts: int = 1, seed: int = 0,
            iterations: int = 200, floor: float = 1e-4) -> GaussianMixtureFit:
    """The best (highest mean log-likelihood on x) of `restarts` EM fits of a K-component mixture to x (N, D),
    the r-th from k-means centres with seed `seed + r` (five k-means++ restarts each)."""
    if covariance not in COVARIANCES:
        raise ValueError(f"fit_gmm: covariance must be one of {COVARIANCES}, got {covariance!r}")
    if restarts < 1:
        raise ValueError(f"fit_gmm: need restarts >= 1, got {restarts}")
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    floor_var = floor * x.var(0) + 1e-12
    fits = [_em(x, kmeans(x, k, seed + r, restarts=5), covariance, iterations, floor_var)
            for r in range(restarts)]
    return max(fits, key=lambda f: f.log_likelihood)


def fit_gmm_from_clusters(x: np.ndarray, clusters: np.ndarray, k: int, covariance: str = "diagonal",
                          iterations: int = 200, floor: float = 1e-4) -> GaussianMixtureFit:
    """One EM fit of a K-component mixture to x (N, D) started from a given hard clustering (N,) of x (its
    M step first: the clusters' shares, means and covariances)."""
    if covariance not in COVARIANCES:
        raise ValueError(f"fit_gmm_from_clusters: covariance must be one of {COVARIANCES}, got {covariance!r}")
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    clusters = np.asarray(clusters).astype(np.int64)
    if clusters.shape != (len(x),) or clusters.min() < 0 or clusters.max() >= k:
        raise ValueError(f"fit_gmm_from_clusters: need {len(x)} cluster indices in [0, {k}), got {clusters.shape}")
    return _em(x, np.zeros((k, x.shape[1])), covariance, iterations, floor * x.var(0) + 1e-12, start=clusters)


def responsibilities(x: np.ndarray, fit: GaussianMixtureFit) -> np.ndarray:
    """The posterior r_ic = p(c | x_i) under a fitted mixture, (N, K)."""
    log_p = np.log(fit.weights + 1e-300)[None] + component_log_densities(np.asarray(x, np.float64), fit.means,
                                                                         fit.covariances)
    log_p -= log_p.max(1, keepdims=True)
    r = np.exp(log_p)
    return r / r.sum(1, keepdims=True)


def precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    """P_c, lower triangular with a positive diagonal, with Sigma_c^-1 = P_c P_c^T: (K, D, D) (the Cholesky
    factor of the precision matrix)."""
    return np.linalg.cholesky(np.linalg.inv(covariances))
