"""Captions of digits made from their labels and three attributes measured on each image (GAN-CLS's text).

Attributes of an image x in [0, 1]^(8x8), with ink weights w = x / sum(x) over pixel coordinates (row r
growing downwards, column c):

    thickness   sum(x)                                   the amount of ink
    slant       -Cov_w(c, r) / Var_w(r)                  > 0 when the top leans right
    size        sqrt(Var_w(c) + Var_w(r))                the spread of the ink around its centre

Each attribute is cut at its class-wise terciles on the train split (`thresholds`): the low third is -1
(thin, slanted left, small), the high third +1 (thick, slanted right, large), the middle 0 (never named).
A caption names the digit and a random subset of the image's non-middle attributes, e.g. "a thick seven
slanted right", "a small zero", "an eight": several true captions per image, as in Reed et al.'s data.
"""
from __future__ import annotations

import functools

import numpy as np

from .digits import load_digits

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ATTRIBUTES = ("thickness", "slant", "size")
ATTRIBUTE_WORDS = {"thickness": {-1: "thin", 1: "thick"}, "slant": {-1: "slanted left", 1: "slanted right"},
                   "size": {-1: "small", 1: "large"}}
VOCAB = ("<pad>", "a", "an", "thin", "thick", "small", "large", "slanted", "left", "right") + DIGIT_WORDS
WORD_ID = {w: i for i, w in enumerate(VOCAB)}
MAX_WORDS = 7  # "a thick large seven slanted right" has 6


def measure(images) -> np.ndarray:
    """(N, 3) float64 [thickness, slant, size] of images (N, 1, 8, 8) or (N, 8, 8) with pixels in [0, 1]."""
    x = np.asarray(images, np.float64).reshape(len(images), 8, 8).clip(0, None)
    ink = x.sum(axis=(1, 2))
    w = x / np.maximum(ink, 1e-8)[:, None, None]
    r, c = np.meshgrid(np.arange(8.0), np.arange(8.0), indexing="ij")
    mr, mc = (w * r).sum((1, 2)), (w * c).sum((1, 2))
    dr, dc = r[None] - mr[:, None, None], c[None] - mc[:, None, None]
    var_r, var_c, cov = (w * dr * dr).sum((1, 2)), (w * dc * dc).sum((1, 2)), (w * dr * dc).sum((1, 2))
    return np.stack([ink, -cov / np.maximum(var_r, 1e-8), np.sqrt(var_r + var_c)], axis=1)


@functools.lru_cache(maxsize=1)
def thresholds() -> np.ndarray:
    """(10, 3, 2): per digit and attribute, the 1/3 and 2/3 quantiles on the train split."""
    d = load_digits("train")
    values = measure(d.images / 16.0)
    return np.stack([np.quantile(values[d.labels == k], [1 / 3, 2 / 3], axis=0).T for k in range(10)])


def categories(images, labels) -> np.ndarray:
    """(N, 3) int64 in {-1, 0, 1}: each attribute's tercile among train digits of the same class."""
    values, cuts = measure(images), thresholds()[np.asarray(labels)]
    return (values > cuts[..., 1]).astype(np.int64) - (values < cuts[..., 0]).astype(np.int64)


def caption(label: int, mentioned) -> str:
    """The caption of a digit with the attribute codes `mentioned` (3,) in {-1, 0, 1} (0: not named)."""
    thickness, slant, size = (int(v) for v in mentioned)
    words = [ATTRIBUTE_WORDS["thickness"].get(thickness), ATTRIBUTE_WORDS["size"].get(size), DIGIT_WORDS[label],
             ATTRIBUTE_WORDS["slant"].get(slant)]
    words = [w for w in words if w]
    return " ".join(["an" if words[0][0] in "aeiou" else "a"] + words)


def random_mentions(cats: np.ndarray, rng: np.random.Generator, p: float = 0.5) -> np.ndarray:
    """The attribute codes a random caption names: each non-middle attribute kept with probability p."""
    return np.where(rng.random(cats.shape) < p, cats, 0)


def parse(text: str) -> tuple[int, np.ndarray]:
    """(digit, codes (3,)) named by a caption; a ValueError naming unknown words or a missing digit."""
    words = tokens(text)
    digits = [DIGIT_WORDS.index(w) for w in words if w in DIGIT_WORDS]
    if len(digits) != 1:
        raise ValueError(f"caption {text!r} must name exactly one digit ({', '.join(DIGIT_WORDS)})")
    codes = np.zeros(3, np.int64)
    for i, attr in enumerate(ATTRIBUTES):
        for code, phrase in ATTRIBUTE_WORDS[attr].items():
            if phrase in " ".join(words):
                codes[i] = code
    return digits[0], codes


def tokens(text: str) -> list:
    """The words of a caption (lower case); a ValueError naming every unknown word and the vocabulary."""
    words = text.lower().replace(",", " ").split()
    unknown = [w for w in words if w not in WORD_ID or w == "<pad>"]
    if unknown:
        raise ValueError(f"caption {text!r}: unknown word(s) {', '.join(map(repr, unknown))}; the vocabulary is "
                         f"{' '.join(VOCAB[1:])}")
    if not words or len(words) > MAX_WORDS:
        raise ValueError(f"caption {text!r}: expected 1 to {MAX_WORDS} words, got {len(words)}")
    return words


def encode(texts) -> np.ndarray:
    """(N, MAX_WORDS) int64 word ids of captions, padded with 0 (<pad>)."""
    out = np.zeros((len(texts), MAX_WORDS), np.int64)
    for i, text in enumerate(texts):
        ids = [WORD_ID[w] for w in tokens(text)]
        out[i, :len(ids)] = ids
    return out
