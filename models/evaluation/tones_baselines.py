"""Count-based baselines for audio likelihoods, in bits per sample over mu-law levels 0..255, fitted on the
training clips and measured on the same test clips as the model they accompany:

    baseline_bits_per_sample   i.i.d. histogram   p(x_t) = (c(x_t) + a) / (N + 256 a)
    ar1_bits_per_sample        bigram (AR-1)      p(x_t | x_{t-1}) = (c(x_{t-1}, x_t) + a) / (c(x_{t-1}) + 256 a),
                                                  the first sample of each clip by the histogram

The smoothing a (add-a, Lidstone) of each is chosen among SMOOTHING on the validation clips, so neither
baseline is handicapped by a fixed choice.
"""
from __future__ import annotations

import numpy as np

LEVELS = 256
SMOOTHING = (0.01, 0.1, 1.0)


def _levels(q) -> np.ndarray:
    """Levels (N, ..., L) as an int64 array (N, L) with a check of their range."""
    q = np.asarray(q)
    if q.dtype.kind not in "iu" or (q.size and (q.min() < 0 or q.max() >= LEVELS)):
        raise ValueError(f"tones baselines: expected integer mu-law levels in 0..{LEVELS - 1}, got dtype "
                         f"{q.dtype} and shape {q.shape}")
    return q.reshape(len(q), -1).astype(np.int64)


def histogram_log2_probs(train, a: float) -> np.ndarray:
    """log2 p(level) of the add-a histogram of the training levels, (256,)."""
    counts = np.bincount(_levels(train).ravel(), minlength=LEVELS) + a
    return np.log2(counts / counts.sum())


def bigram_log2_probs(train, a: float) -> np.ndarray:
    """log2 p(next | previous) of the add-a bigram of the training levels, (256 previous, 256 next)."""
    q = _levels(train)
    counts = np.bincount((q[:, :-1] * LEVELS + q[:, 1:]).ravel(), minlength=LEVELS * LEVELS)
    table = counts.reshape(LEVELS, LEVELS) + a
    return np.log2(table / table.sum(axis=1, keepdims=True))


def histogram_bits(train, test, a: float) -> float:
    """Mean -log2 p(x_t) over every test sample."""
    return float(-histogram_log2_probs(train, a)[_levels(test)].mean())


def bigram_bits(train, test, a: float) -> float:
    """Mean -log2 p(x_t | x_{t-1}) over every test sample (the first of a clip under the histogram, with the
    same a)."""
    q = _levels(test)
    first = histogram_log2_probs(train, a)[q[:, 0]]
    rest = bigram_log2_probs(train, a)[q[:, :-1], q[:, 1:]]
    return float(-(first.sum() + rest.sum()) / q.size)


def baseline_bits(train, valid, test) -> dict:
    """{"baseline_bits_per_sample", "ar1_bits_per_sample"} on `test`, each with its a chosen on `valid`."""
    out = {}
    for key, bits in (("baseline_bits_per_sample", histogram_bits), ("ar1_bits_per_sample", bigram_bits)):
        best = min(SMOOTHING, key=lambda a: bits(train, valid, a))
        out[key] = bits(train, test, best)
    return out
