"""The maximum mean discrepancy between two samples (Gretton et al. 2012), the two-sample statistic the
adversarial autoencoder's codes are compared with their prior by:

    MMD^2_u = 1/(m(m-1)) sum_{i!=j} k(x_i, x_j) + 1/(n(n-1)) sum_{i!=j} k(y_i, y_j) - 2/(mn) sum_{i,j} k(x_i, y_j)

with k the sum of Gaussian kernels exp(-||a - b||^2 / (2 h^2)) at h = (1/2, 1, 2) x the median distance
between the two samples pooled. The unbiased estimate has mean 0 when the two distributions are equal (it
can then come out slightly negative) and grows with their difference.
"""
from __future__ import annotations

import numpy as np

from .clustering import squared_distances


def median_distance(x: np.ndarray, y: np.ndarray) -> float:
    """The median pairwise distance in the pooled sample (the kernel's scale)."""
    pooled = np.concatenate([x, y])
    d = squared_distances(pooled, pooled)[np.triu_indices(len(pooled), 1)]
    return float(np.sqrt(np.median(d)))


def mmd2(x: np.ndarray, y: np.ndarray, scales=(0.5, 1.0, 2.0)) -> float:
    """The unbiased MMD^2 between samples x (m, D) and y (n, D) (kernel widths: `scales` x the median)."""
    x, y = np.asarray(x, np.float64).reshape(len(x), -1), np.asarray(y, np.float64).reshape(len(y), -1)
    if x.shape[1] != y.shape[1] or len(x) < 2 or len(y) < 2:
        raise ValueError(f"mmd2: need two samples of at least 2 points in the same dimension, got {x.shape} "
                         f"and {y.shape}")
    h = median_distance(x, y)
    widths = [2 * (s * h) ** 2 for s in scales]
    kernel = lambda a, b: sum(np.exp(-squared_distances(a, b) / w) for w in widths)  # noqa: E731
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())
