"""Kim & Mnih's disentanglement metric (FactorVAE, 2018, Sec. 4) on a data set with known factors.

    scale each code dimension by its standard deviation over the whole data set (prune collapsed ones);
    one vote: pick a factor k, fix it at a random value, encode L images that share it (the other factors
    random), and record (d*, k) with d* = argmin_d Var[z_d / s_d] over the L codes;
    a majority-vote classifier maps each dimension d to its most frequent factor on the training votes;
    disentanglement = its accuracy on fresh votes (1: each factor owns a dimension; chance ~ 1/K).
"""
from __future__ import annotations

from typing import Callable

import numpy as np


def votes(codes: np.ndarray, factors: np.ndarray, scale: np.ndarray, active: np.ndarray, n: int, size: int,
          rng: np.random.Generator) -> np.ndarray:
    """n votes (d*, k), shape (n, 2), from groups of `size` examples sharing one factor's value."""
    out = np.zeros((n, 2), np.int64)
    for i in range(n):
        k = rng.integers(factors.shape[1])
        value = rng.choice(np.unique(factors[:, k]))
        pool = np.flatnonzero(factors[:, k] == value)
        group = rng.choice(pool, size=min(size, len(pool)), replace=False)
        var = (codes[group] / scale).var(axis=0)
        var[~active] = np.inf
        out[i] = (int(var.argmin()), k)
    return out


def disentanglement(encode: Callable[[np.ndarray], np.ndarray], images: np.ndarray, factors: np.ndarray,
                    train_votes: int = 800, eval_votes: int = 800, size: int = 100, seed: int = 0,
                    collapse: float = 0.05) -> dict:
    """{"disentanglement": the majority-vote accuracy on eval votes, "active_dims": dimensions kept};
    `encode(images) -> codes (N, Z)` (e.g. posterior means), `factors` (N, K) integer factor values;
    dimensions whose standard deviation is below `collapse` times the largest are pruned."""
    codes = np.asarray(encode(images), np.float64)
    if codes.ndim != 2 or len(codes) != len(factors):
        raise ValueError(f"disentanglement: codes {codes.shape} do not match factors {np.shape(factors)}")
    scale = codes.std(axis=0) + 1e-12
    active = scale > collapse * scale.max()
    rng = np.random.default_rng(seed)
    train = votes(codes, factors, scale, active, train_votes, size, rng)
    table = np.zeros((codes.shape[1], factors.shape[1]), np.int64)
    np.add.at(table, (train[:, 0], train[:, 1]), 1)
    predict = table.argmax(axis=1)
    test = votes(codes, factors, scale, active, eval_votes, size, rng)
    return {"disentanglement": float((predict[test[:, 0]] == test[:, 1]).mean()), "active_dims": int(active.sum())}
