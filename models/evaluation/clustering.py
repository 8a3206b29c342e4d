"""Unsupervised clustering accuracy and the k-means baseline it is compared with.

    cluster_acc = max_m (1/N) sum_i 1[y_i = m(c_i)]

over one-to-one maps m from clusters to labels (the Hungarian algorithm on the confusion matrix, as in
Jiang et al. 2017 and Xie et al. 2016). k-means (Lloyd's iterations from k-means++ seeds, the best of several
restarts by within-cluster sum of squares) is the baseline VaDE's clusters are measured against, by the same
`cluster_acc`, and VaDE's Gaussian-mixture initialisation starts from it.

`consensus_clusters` combines several clusterings of the same points into one (evidence accumulation, Fred &
Jain 2005; the cluster ensembles of Strehl & Ghosh 2002): k-means on the concatenated one-hot assignments,
whose squared distances are 2 R (1 - C_ij), C_ij the share of the R clusterings that put i and j together.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment


def cluster_acc(labels: np.ndarray, clusters: np.ndarray) -> float:
    """The share of examples whose cluster maps to their label under the best one-to-one map (any numbers of
    clusters and labels: unmatched clusters count as wrong)."""
    labels, clusters = np.asarray(labels).astype(np.int64), np.asarray(clusters).astype(np.int64)
    if labels.shape != clusters.shape or labels.ndim != 1:
        raise ValueError(f"cluster_acc: labels {labels.shape} and clusters {clusters.shape} must be equal 1-D")
    if labels.size == 0:
        raise ValueError("cluster_acc: no examples")
    counts = np.zeros((clusters.max() + 1, labels.max() + 1), np.int64)
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / labels.size)


def squared_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """||x_i - c_j||^2, shape (N, K)."""
    return np.maximum((x ** 2).sum(1)[:, None] - 2 * x @ centres.T + (centres ** 2).sum(1)[None], 0.0)


def kmeans_plus_plus(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k seeds: the first uniform, each next drawn with probability proportional to D(x)^2 (Arthur &
    Vassilvitskii 2007)."""
    centres = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d = squared_distances(x, np.array(centres)).min(1)
        centres.append(x[rng.choice(len(x), p=d / d.sum())] if d.sum() > 0 else x[rng.integers(len(x))])
    return np.array(centres)


def kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 10, iterations: int = 100) -> np.ndarray:
    """The k centres (k, D) of the best of `restarts` runs of Lloyd's algorithm (lowest within-cluster sum of
    squares), each from k-means++ seeds."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    if len(x) < k:
        raise ValueError(f"kmeans: {len(x)} points cannot make {k} clusters")
    rng = np.random.default_rng(seed)
    best, best_cost = None, np.inf
    for _ in range(restarts):
        centres = kmeans_plus_plus(x, k, rng)
        for _ in range(iterations):
            assign = squared_distances(x, centres).argmin(1)
            moved = np.array([x[assign == j].mean(0) if (assign == j).any() else centres[j] for j in range(k)])
            if np.allclose(moved, centres):
                break
            centres = moved
        cost = squared_distances(x, centres).min(1).sum()
        if cost < best_cost:
            best, best_cost = centres, cost
    return best


def nearest_centre(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The index of each point's nearest centre."""
    return squared_distances(np.asarray(x, np.float64).reshape(len(x), -1), centres).argmin(1)


def kmeans_cluster_acc(train: np.ndarray, test: np.ndarray, test_labels: np.ndarray, k: int = 10,
                       seed: int = 0) -> float:
    """The baseline: k-means fitted on the training points, test points assigned to the nearest centre,
    scored by cluster_acc against the test labels."""
    return cluster_acc(test_labels, nearest_centre(test, kmeans(train, k, seed)))


def consensus_clusters(assignments: list, k: int, seed: int = 0) -> np.ndarray:
    """One clustering of N points from R clusterings of them (each (N,) ints): k-means with k centres on the
    (N, R * max) concatenated one-hot assignments, i.e. on the co-association C_ij = share of the R that put
    points i and j in one cluster. No labels."""
    assignments = [np.asarray(a).astype(np.int64) for a in assignments]
    width = max(int(a.max()) for a in assignments) + 1
    onehot = np.concatenate([np.eye(width)[a] for a in assignments], axis=1)
    return nearest_centre(onehot, kmeans(onehot, k, seed))
