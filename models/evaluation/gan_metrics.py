"""The evaluation every GAN here shares (`evaluate(model, split)`, GANModel.metrics): mode coverage on the
2-D toys, Parzen windows and classifier scores on digits, each also computed for real held-out data as the
ceiling.

- Toys (mode_coverage.py): 2,500 samples per fixed evaluation seed (0..4); modes covered and the
  high-quality share, means over the seeds.
- parzen_ll (parzen.py): the Parzen-window log-likelihood of the test split under n = 10,000 samples, in
  nats per image on [0, 1] pixels, the width chosen on the validation split; its standard error over the
  test images is parzen_ll_sem.
- fd_digits (frechet.py): the Frechet distance between the digits classifier's features of the train split
  (reference) and of 300 generated images (the size of the test split, so that the ceiling, computed on
  the 300 real test images, carries the same small-sample bias); mean over 5 seeds.
- score_digits (classifier_score.py): exp(E_x KL(p(y|x) || p(y))) of the digits classifier on the same 300
  images, mean over 5 seeds.

Samples come from `sampler(model)`: labels (conditional models) and then z, both drawn from the seed's rng,
so the numbers are a function of the trained parameters alone.

The seeds above are the test split's. Every other split (a pilot's `--eval-split valid`) draws its samples at
the same seeds shifted by OTHER_SPLIT_OFFSET (split_seeds): fd_digits, score_digits and the toys' mode counts
compare the samples with references that do not change with the split (the train features, the toy's modes),
so with the test seeds a pilot "on validation" would read the test numbers themselves.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from minigen.data import load_digits
from minigen.data.toys import TOYS

from . import digits_classifier
from .classifier_score import inception_score
from .frechet import frechet_distance
from .mode_coverage import TOY_SEEDS, toy_metrics
from .parzen import parzen_score

PARZEN_SAMPLES = 10_000
SCORE_SAMPLES = 300
SCORE_SEEDS = (0, 1, 2, 3, 4)
PARZEN_SEED = 1234
OTHER_SPLIT_OFFSET = 100


def split_seeds(seeds, split: str) -> tuple:
    """The evaluation seeds of `split`: `seeds` for test, each shifted by OTHER_SPLIT_OFFSET for any other."""
    return tuple(seeds) if split == "test" else tuple(s + OTHER_SPLIT_OFFSET for s in seeds)


def digits01(split: str) -> np.ndarray:
    """A digits split as float32 images (N, 1, 8, 8) in [0, 1] (gray level / 16): the GANs' data space."""
    return (load_digits(split).images / 16.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _reference_features() -> np.ndarray:
    return digits_classifier.features_and_probs(load_digits("train").images / 16.0)[0]


def classifier_scores(images) -> dict:
    """{fd_digits, score_digits} of images in [0, 1] against the train split's classifier features."""
    feats, probs = digits_classifier.features_and_probs(images)
    return {"fd_digits": frechet_distance(_reference_features(), feats), "score_digits": inception_score(probs)}


@functools.lru_cache(maxsize=4)
def real_digits_scores(split: str = "test") -> dict:
    """The ceiling: the same numbers for real held-out digits (Parzen windows on the 1,297 train images)."""
    parzen = parzen_score(digits01("train"), digits01("valid"), digits01(split))
    scores = classifier_scores(digits01(split))
    return {"parzen_ll_real": parzen["parzen_ll"], "fd_digits_real": scores["fd_digits"],
            "score_digits_real": scores["score_digits"]}


def _numpy(x) -> np.ndarray:
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def digits_metrics(sample, split: str = "test") -> dict:
    """parzen_ll (+ sem, width), fd_digits and score_digits (+ sems) of `sample(n, rng)`, and the ceiling."""
    (parzen_seed,) = split_seeds([PARZEN_SEED], split)
    samples = _numpy(sample(PARZEN_SAMPLES, np.random.default_rng(parzen_seed)))
    out = parzen_score(samples, digits01("valid"), digits01(split))
    runs = [classifier_scores(_numpy(sample(SCORE_SAMPLES, np.random.default_rng(seed))))
            for seed in split_seeds(SCORE_SEEDS, split)]
    for key in ("fd_digits", "score_digits"):
        values = np.array([r[key] for r in runs])
        out[key] = float(values.mean())
        out[key + "_sem"] = float(values.std(ddof=1) / math.sqrt(len(values)))
    out.update(real_digits_scores(split))
    return out


def sampler(model):
    """`sample(n, rng)` of a GAN for the metrics: labels (conditional models), then z, drawn from rng."""
    return lambda n, rng: model.sample(n, model.random_labels(n, rng), rng=rng)


def evaluate(model, split: str = "test") -> dict:
    """The GAN metrics of a GAN model on its data: toy_metrics on a toy, digits_metrics on "digits"."""
    if model.data_name in TOYS:
        return toy_metrics(sampler(model), model.data_name, split_seeds(TOY_SEEDS, split))
    return digits_metrics(sampler(model), split)
