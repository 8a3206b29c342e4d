"""The digit-domains classifier behind domain_acc: which of the seven domains (digit_domains.DOMAINS) an 8x8 image
is drawn in. An MLP 128 -> 64 -> 7 (ReLU) on [x, sort(x)], the 64 pixels and their sorted values: the sorted
values are a histogram of gray levels that tells thin, plain and thick strokes apart (on pixels alone an MLP
confused them 17 % of the time).

The weights are domain_classifier.npz next to this module, made by one explicit command,
`python bench/train_domain_classifier.py` (Adam(3e-3) on cross-entropy, batch 256, 15 epochs over every train
digit in every domain; deterministic; test accuracy 0.989 over the seven domains). Loading never trains.
"""
from __future__ import annotations

import functools
import os

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn
from minigen.data import digit_domains

from . import digits_classifier

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "domain_classifier.npz")
SIZES = (128, 64, len(digit_domains.DOMAINS))
TRAIN_COMMAND = "python bench/train_domain_classifier.py"


def domain_features(images) -> np.ndarray:
    """[x, sort(x)] (N, 128) of images (N, 1, 8, 8) or (N, 64) in [0, 1]."""
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if a.size != len(a) * 64:
        raise ValueError(f"domain classifier: expected images (N, 1, 8, 8) or (N, 64), got shape {a.shape}")
    flat = a.reshape(len(a), 64).astype(np.float32)
    return np.concatenate([flat, np.sort(flat, axis=1)], axis=1)


class DomainClassifier(nn.Module):
    """logits = W2 relu(W1 [x, sort(x)] + b1) + b2; W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), b = 0 from `seed`."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.layers = digits_classifier.seeded_linears(SIZES, seed)

    def forward(self, features: mg.Tensor) -> mg.Tensor:
        return self.layers[1](F.relu(self.layers[0](features)))


def save(model: DomainClassifier, path: str = WEIGHTS) -> str:
    return digits_classifier.save_weights(model, path)


@functools.lru_cache(maxsize=4)
def load(path: str = WEIGHTS) -> DomainClassifier:
    """The trained classifier in eval mode (cached); a FileNotFoundError naming the command when it is missing."""
    return digits_classifier.load_weights(DomainClassifier, path, "domain classifier", TRAIN_COMMAND)


def predictions(images, path: str = WEIGHTS) -> np.ndarray:
    """The domain index (into digit_domains.DOMAINS) of each image."""
    with mg.no_grad():
        return load(path)(mg.tensor(domain_features(images))).numpy().argmax(1)


def accuracy(split: str = "test", path: str = WEIGHTS) -> float:
    """Accuracy over every digit of a split in every domain."""
    hits = [predictions(digit_domains.domain_images(split, d)[0], path) == k
            for k, d in enumerate(digit_domains.DOMAINS)]
    return float(np.concatenate(hits).mean())
