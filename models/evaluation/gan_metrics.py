"""The evaluation every GAN here shares: mode coverage on the 2-D toys, Parzen windows and classifier scores
on digits, each also computed for real held-out data as the ceiling.

- Toys: 2,500 samples per fixed evaluation seed (0..4); a sample is high quality within 3 sd of its nearest
  mode, a mode is covered with >= 20 high-quality samples (minigen.data's mode_coverage); the mean over the
  seeds is reported.
- parzen_ll: log p(x) = logsumexp_i -||x - s_i||^2 / (2 s^2) - log n - (d/2) log(2 pi s^2) over n = 10,000
  samples s_i, in nats per image on [0, 1] pixels, the width s chosen on the validation split among
  logspace(-1, 0, 10); its standard error over the test images is parzen_ll_sem.
- fd_digits: ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2)) between the digits classifier's features
  of the train split (reference) and of 300 generated images (the size of the test split, so that the
  ceiling, computed on the 300 real test images, carries the same small-sample bias); mean over 5 seeds.
- score_digits: exp(E_x KL(p(y|x) || p(y))) of the classifier on the same 300 images, mean over 5 seeds.
"""
from __future__ import annotations

import functools
import math

import numpy as np

PARZEN_SIGMAS = np.logspace(-1, 0, 10)
PARZEN_SAMPLES = 10_000
TOY_SEEDS = (0, 1, 2, 3, 4)
TOY_SAMPLES = 2500
SCORE_SAMPLES = 300
SCORE_SEEDS = (0, 1, 2, 3, 4)


# ------------------------------------------------------------------------------------------- Parzen
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


# ------------------------------------------------------------------------------- classifier scores
def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)), with Tr (S1 S2)^(1/2) = sum sqrt eig(S1^1/2 S2 S1^1/2)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * cross)


def inception_score(probs: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))), p(y) the mean of p(y|x) over the images."""
    p_y = probs.mean(0, keepdims=True)
    kl = (probs * (np.log(probs + eps) - np.log(p_y + eps))).sum(1)
    return float(np.exp(kl.mean()))


@functools.lru_cache(maxsize=1)
def _reference_features() -> np.ndarray:
    from minigen.data import load_digits

    from . import digits_classifier

    return digits_classifier.features_and_probs(load_digits("train").images / 16.0)[0]


def classifier_scores(images: np.ndarray) -> dict:
    """{fd_digits, score_digits} of images in [0, 1] against the train split's classifier features."""
    from . import digits_classifier

    feats, probs = digits_classifier.features_and_probs(images)
    return {"fd_digits": frechet_distance(_reference_features(), feats), "score_digits": inception_score(probs)}


def _digits(split: str) -> np.ndarray:
    from minigen.data import load_digits

    return (load_digits(split).images / 16.0).astype(np.float32)


@functools.lru_cache(maxsize=4)
def real_digits_scores(split: str = "test") -> dict:
    """The ceiling: the same numbers for real held-out digits (Parzen windows on the 1,297 train images)."""
    parzen = parzen_score(_digits("train"), _digits("valid"), _digits(split))
    scores = classifier_scores(_digits(split))
    return {"parzen_ll_real": parzen["parzen_ll"], "fd_digits_real": scores["fd_digits"],
            "score_digits_real": scores["score_digits"]}


def digits_metrics(sample, split: str = "test") -> dict:
    """parzen_ll (+ sem, width), fd_digits and score_digits of `sample(n, rng)`, and the real-data ceiling."""
    samples = _numpy(sample(PARZEN_SAMPLES, np.random.default_rng(1234)))
    out = parzen_score(samples, _digits("valid"), _digits(split))
    runs = [classifier_scores(_numpy(sample(SCORE_SAMPLES, np.random.default_rng(seed)))) for seed in SCORE_SEEDS]
    for key in ("fd_digits", "score_digits"):
        values = np.array([r[key] for r in runs])
        out[key] = float(values.mean())
        out[key + "_sem"] = float(values.std(ddof=1) / math.sqrt(len(values)))
    out.update(real_digits_scores(split))
    return out


# ------------------------------------------------------------------------------------------- toys
def toy_metrics(sample, name: str) -> dict:
    """modes_<name> and hq_<name>: means over the fixed evaluation seeds of 2,500 samples each."""
    from minigen.data.toys import toy_coverage

    modes, hq = [], []
    for seed in TOY_SEEDS:
        m, h, _ = toy_coverage(_numpy(sample(TOY_SAMPLES, np.random.default_rng(seed))), name)
        modes.append(m)
        hq.append(h)
    return {f"modes_{name}": float(np.mean(modes)), f"hq_{name}": float(np.mean(hq)),
            f"modes_{name}_min": int(np.min(modes))}


def _numpy(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def sampler(model):
    """sample(n, rng) of a GAN: labels (conditional models), then z, drawn from rng."""
    return lambda n, rng: model.sample(n, model.random_labels(n, rng), rng=rng)


def evaluate(model, split: str = "test") -> dict:
    """The GAN metrics of a GAN model on its data (a toy or "digits")."""
    if model.data_name in ("ring8", "grid25"):
        return toy_metrics(sampler(model), model.data_name)
    return digits_metrics(sampler(model), split)
