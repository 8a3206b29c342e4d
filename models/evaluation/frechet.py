"""The Frechet distance between two sets of features (Heusel et al., 2017, FID with the project's digits
classifier in place of Inception): the 2-Wasserstein distance between Gaussians fitted to each set,

    FD = ||mu_1 - mu_2||^2 + Tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)).

Tr (S_1 S_2)^(1/2) is computed as sum_k sqrt(lambda_k) over the eigenvalues of the symmetric S_1^(1/2) S_2
S_1^(1/2), which has the same spectrum as S_1 S_2 (no general matrix square root, no complex parts);
eigenvalues below zero from rounding are clipped to 0.
"""
from __future__ import annotations

import numpy as np


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) of features f1 (n1, d) and f2 (n2, d)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"frechet_distance: expected features (n1, d) and (n2, d), got {f1.shape} and {f2.shape}")
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)
