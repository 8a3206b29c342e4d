"""The classifier score (Salimans et al., 2016, the "Inception score" with the project's digits classifier):

    score = exp(E_x KL(p(y|x) || p(y))),   p(y) = E_x p(y|x),

between 1 (every image gets the same class distribution, or none is confident) and the number of classes
(each image confidently one class, all classes equally often). eps = 1e-12 inside the logarithms keeps
one-hot probabilities finite.
"""
from __future__ import annotations

import numpy as np


def inception_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))) of class probabilities (n, classes), p(y) their mean over the images."""
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2:
        raise ValueError(f"inception_score: expected class probabilities (n, classes), got shape {probs.shape}")
    p_y = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(p_y + eps))).sum(1)
    return float(np.exp(kl.mean()))
