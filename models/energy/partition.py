"""The partition function of a binary RBM: exactly by enumeration (small models) and by annealed importance
sampling (Salakhutdinov & Murray, 2008).

The RBM (models/energy/rbm.py) has E(v, h) = -b.v - c.h - v.W h over v in {0,1}^V, h in {0,1}^H, and
Z = sum_{v,h} exp(-E(v, h)). Summing out one layer in closed form:

    Z = sum_v exp(b.v) prod_j (1 + exp(c_j + (v W)_j))      (2^V terms)
      = sum_h exp(c.h) prod_i (1 + exp(b_i + (W h)_i))      (2^H terms)

so `exact_log_partition` enumerates the smaller layer (2^20 states in about a second).

AIS anneals from a base-rate model p_0(v) = prod_i Bernoulli(v_i; sigmoid(b_A,i)) (b_A from the data's
pixel means) with hidden units that ignore v, Z_0 = 2^H prod_i (1 + exp(b_A,i)), through the intermediate
unnormalised marginals

    p*_k(v) = exp((1 - beta_k) b_A.v + beta_k b.v) prod_j (1 + exp(beta_k (c_j + (v W)_j))),

0 = beta_0 < ... < beta_K = 1, each chain moving by one block-Gibbs step that leaves p_k invariant
(h ~ p_k(h | v), v ~ p_k(v | h)), and weight log w = sum_k log p*_k(v_{k-1}) - log p*_{k-1}(v_{k-1}).
Then Z / Z_0 ~= mean(w) over M independent chains: log Z ~= log Z_0 + log mean(w), an unbiased estimate of
Z (a stochastic lower bound on log Z in expectation, by Jensen). Its error bar is the delta method's
standard error of log mean(w): sd(w) / (sqrt(M) mean(w)).
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

EXACT_LIMIT = 20  # enumerate at most 2^20 states
_CHUNK = 1 << 14


class LogPartition(NamedTuple):
    """log Z, its standard error (0 when exact), and how it was obtained ("exact" or "ais")."""

    value: float
    sem: float
    method: str


def softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + exp(a)), stable for large |a|."""
    return np.logaddexp(0.0, a)


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))


def free_energy(v: np.ndarray, W: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """F(v) = -b.v - sum_j softplus(c_j + (v W)_j), so that p(v) = exp(-F(v)) / Z; v is (N, V)."""
    return -v @ b - softplus(v @ W + c).sum(axis=1)


def binary_states(n: int, start: int = 0, stop: int | None = None) -> np.ndarray:
    """The binary vectors of the integers start..stop-1 (all 2^n by default), shape (count, n), float64."""
    codes = np.arange(start, (1 << n) if stop is None else stop, dtype=np.int64)
    return ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)


def exact_log_partition(W: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """log Z by enumerating the smaller layer (at most 2^EXACT_LIMIT states), in float64."""
    W, b, c = (np.asarray(a, np.float64) for a in (W, b, c))
    V, H = W.shape
    if min(V, H) > EXACT_LIMIT:
        raise ValueError(f"exact_log_partition: an RBM with {V} visible and {H} hidden units has 2^{min(V, H)} "
                         f"states in its smaller layer; enumeration stops at 2^{EXACT_LIMIT} (use AIS)")
    if H <= V:  # sum over h: the free energy of the transposed RBM
        W, b, c = W.T, c, b
    n = W.shape[0]
    parts = [-free_energy(binary_states(n, s, min(s + _CHUNK, 1 << n)), W, b, c)
             for s in range(0, 1 << n, _CHUNK)]
    terms = np.concatenate(parts)
    top = terms.max()
    return float(top + np.log(np.exp(terms - top).sum()))


def ais_betas(steps: int) -> np.ndarray:
    """Salakhutdinov & Murray's schedule, scaled to `steps` intermediate distributions: uniform spacing on
    [0, 0.5], [0.5, 0.9], [0.9, 1] in the proportions 1,000 : 4,000 : 10,000."""
    n1, n2 = max(1, steps * 1000 // 15000), max(1, steps * 4000 // 15000)
    n3 = max(1, steps - n1 - n2)
    return np.concatenate([np.linspace(0, 0.5, n1, endpoint=False), np.linspace(0.5, 0.9, n2, endpoint=False),
                           np.linspace(0.9, 1.0, n3 + 1)])


def ais_log_partition(W: np.ndarray, b: np.ndarray, c: np.ndarray, base_bias: np.ndarray, steps: int = 15000,
                      chains: int = 100, rng: np.random.Generator | None = None) -> LogPartition:
    """log Z by AIS from the base-rate model with visible biases `base_bias` (module docstring), with the
    delta-method standard error over `chains` independent runs of `steps` intermediate distributions."""
    W, b, c, base = (np.asarray(a, np.float64) for a in (W, b, c, base_bias))
    V, H = W.shape
    if b.shape != (V,) or c.shape != (H,) or base.shape != (V,):
        raise ValueError(f"ais_log_partition: W {W.shape}, b {b.shape}, c {c.shape}, base_bias {base.shape} "
                         f"do not describe one RBM with (V, H) = ({V}, {H})")
    rng = rng if rng is not None else np.random.default_rng(0)
    betas = ais_betas(steps)
    v = (rng.random((chains, V)) < sigmoid(base)).astype(np.float64)
    log_w = np.zeros(chains)
    shift = b - base
    for prev, beta in zip(betas[:-1], betas[1:]):
        a = v @ W + c
        log_w += (beta - prev) * (v @ shift) + (softplus(beta * a) - softplus(prev * a)).sum(axis=1)
        h = (rng.random((chains, H)) < sigmoid(beta * a)).astype(np.float64)
        v = (rng.random((chains, V)) < sigmoid((1 - beta) * base + beta * (h @ W.T + b))).astype(np.float64)
    log_z0 = softplus(base).sum() + H * math.log(2.0)
    top = log_w.max()
    w = np.exp(log_w - top)
    mean = w.mean()
    sem = float(w.std(ddof=1) / (math.sqrt(chains) * mean)) if chains > 1 else float("inf")
    return LogPartition(float(log_z0 + top + math.log(mean)), sem, "ais")
