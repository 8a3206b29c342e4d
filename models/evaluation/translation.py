"""How image-to-image translations of the digit domains are measured (pix2pix, CycleGAN, StarGAN).

    class_acc    share of translations that the digits classifier (digits_classifier.py) assigns to the input's
                 digit, reading each output as its target domain's `read` (digit_domains.read: turned or inverted
                 back where the domain has an exact inverse); `class_acc_real` is the same on the true target
                 images, the ceiling of a perfect translation
    domain_acc   share of translations that the domain classifier puts in their target domain (among all seven
                 domains); `domain_acc_real` on the true target images
    test_l1      mean |G(x) - y| per pixel against the true target y (the data are paired at test time)

The domain classifier is domain_classifier.py's (weights packaged, made by bench/train_domain_classifier.py).
"""
from __future__ import annotations

import numpy as np

from minigen.data import digit_domains

from . import digits_classifier, domain_classifier


def domain_predictions(images) -> np.ndarray:
    """The domain index (into digit_domains.DOMAINS) the domain classifier gives each image (N, 1, 8, 8)."""
    return domain_classifier.predictions(images)


def digit_predictions(images, domain: str) -> np.ndarray:
    """The digit the digits classifier reads in images of `domain` (through digit_domains.read)."""
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    _, probs = digits_classifier.features_and_probs(digit_domains.read(domain, a))
    return probs.argmax(1)


def class_acc(images, labels: np.ndarray, domain: str) -> float:
    return float((digit_predictions(images, domain) == np.asarray(labels)).mean())


def domain_acc(images, domain: str) -> float:
    return float((domain_predictions(images) == digit_domains.DOMAINS.index(domain)).mean())


def test_l1(images, targets) -> float:
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    return float(np.abs(a - np.asarray(targets)).mean())


def scores(outputs, targets, labels, domain: str) -> dict:
    """test_l1, class_acc, domain_acc of translations into `domain` and the same numbers of the true targets
    (class_acc_real, domain_acc_real); the first three keep their names, the targets' get `_real`."""
    return {"test_l1": test_l1(outputs, targets), "class_acc": class_acc(outputs, labels, domain),
            "domain_acc": domain_acc(outputs, domain), "class_acc_real": class_acc(targets, labels, domain),
            "domain_acc_real": domain_acc(targets, domain)}


def mean_scores(parts: list) -> dict:
    """The mean of several `scores` dicts weighted by their numbers of images [(n, scores), ...]."""
    total = sum(n for n, _ in parts)
    return {k: float(sum(n * s[k] for n, s in parts) / total) for k in parts[0][1]}
