"""Gaussian Parzen-window log-likelihood (Breuel's estimator as used by Goodfellow et al., 2014, and the
conditional GAN's model selection): a kernel density estimate on n generated samples s_i,

    log p(x) = logsumexp_i -||x - s_i||^2 / (2 sigma^2) - log n - (d/2) log(2 pi sigma^2),

with the width sigma chosen on a validation split among PARZEN_SIGMAS = logspace(-1, 0, 10). It is a weak
measure in 64 dimensions (it rewards blur and memorised training images alike); it is reported because the
papers of the period report it, next to the real data's own value as the ceiling.
"""
from __future__ import annotations

import math

import numpy as np

PARZEN_SIGMAS = np.logspace(-1, 0, 10)


def parzen_log_likelihood(samples: np.ndarray, x: np.ndarray, sigma: float, chunk: int = 100) -> np.ndarray:
    """log (1/n) sum_i N(x; s_i, sigma^2 I) for each row of x, as float64 (n samples s_i of dimension d)."""
    s = np.asarray(samples, np.float64).reshape(len(samples), -1)
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    if s.shape[1] != x.shape[1]:
        raise ValueError(f"parzen: samples of dimension {s.shape[1]} and data of dimension {x.shape[1]}")
    n, d = s.shape
    s_sq = (s * s).sum(1)
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        xb = x[i:i + chunk]
        d2 = np.maximum((xb * xb).sum(1)[:, None] + s_sq[None, :] - 2 * xb @ s.T, 0.0)
        a = -d2 / (2 * sigma * sigma)
        m = a.max(1, keepdims=True)
        out[i:i + chunk] = (m[:, 0] + np.log(np.exp(a - m).sum(1)))
    return out - math.log(n) - 0.5 * d * math.log(2 * math.pi * sigma * sigma)


def parzen_select(samples: np.ndarray, valid: np.ndarray, sigmas=PARZEN_SIGMAS) -> tuple[float, list]:
    """The width with the highest mean validation log-likelihood, and [(sigma, mean ll), ...]."""
    table = [(float(s), float(parzen_log_likelihood(samples, valid, s).mean())) for s in sigmas]
    best = max(table, key=lambda t: t[1])
    return best[0], table


def parzen_score(samples: np.ndarray, valid: np.ndarray, test: np.ndarray) -> dict:
    """{parzen_ll, parzen_ll_sem, parzen_sigma}: width chosen on `valid`, mean log-likelihood on `test`."""
    sigma, _ = parzen_select(samples, valid)
    ll = parzen_log_likelihood(samples, test, sigma)
    return {"parzen_ll": float(ll.mean()), "parzen_ll_sem": float(ll.std(ddof=1) / math.sqrt(len(ll))),
            "parzen_sigma": sigma}
