"""The 8x8 handwritten digits bundled with scikit-learn (1,797 images, 17 gray levels, 10 classes).

One split for everyone, so that numbers compare: perm = default_rng(0).permutation(1797); train is
perm[:1297], valid perm[1297:1497], test perm[1497:]. Static binarization is pixel >= 8; dynamic
binarization samples Bernoulli(pixel / 16) afresh each epoch (done by the DataLoader); otherwise the
17 integer levels 0..16 are kept.
"""
from __future__ import annotations

import functools

import numpy as np

N_DIGITS = 1797
SPLITS = {"train": slice(0, 1297), "valid": slice(1297, 1497), "test": slice(1497, N_DIGITS)}
BINARIZE = (None, "static", "dynamic")
MAX_LEVEL = 16


@functools.lru_cache(maxsize=1)
def _raw_digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images as uint8 (1797, 8, 8) and their labels as int64, in scikit-learn's order."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError as e:
        raise ImportError("the digits data set is scikit-learn's bundled copy; install it with "
                          "`pip install scikit-learn` (or `pip install minigen[data]`)") from e
    d = sk_load_digits()
    images = d.images.astype(np.uint8)
    labels = d.target.astype(np.int64)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def split_indices(split: str) -> np.ndarray:
    """Indices (into scikit-learn's order) of the images in a split: train, valid or test."""
    if split not in SPLITS:
        raise ValueError(f"digits: unknown split {split!r}; expected one of {sorted(SPLITS)}")
    return np.random.default_rng(0).permutation(N_DIGITS)[SPLITS[split]]


class Digits:
    """A digits split: `.images` (N, 1, 8, 8) in `dtype`, `.labels` (N,) int64; items are (image, label).

    binarize=None keeps the levels 0..16, "static" gives pixel >= 8 as 0/1, "dynamic" keeps the levels
    and tells a DataLoader to sample Bernoulli(pixel / 16) for every batch.
    """

    max_value = float(MAX_LEVEL)

    def __init__(self, split: str = "train", binarize: str | None = None, dtype=np.float32):
        if binarize not in BINARIZE:
            raise ValueError(f"digits: unknown binarize {binarize!r}; expected one of {BINARIZE}")
        images, labels = _raw_digits()
        idx = split_indices(split)
        x = images[idx][:, None]
        if binarize == "static":
            x = x >= MAX_LEVEL // 2
        self.split, self.binarize = split, binarize
        self.images = x.astype(dtype)
        self.labels = labels[idx].copy()

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels), what a DataLoader batches."""
        return self.images, self.labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def __repr__(self) -> str:
        return (f"Digits(split={self.split!r}, binarize={self.binarize!r}, images={self.images.shape} "
                f"{self.images.dtype})")


def load_digits(split: str = "train", binarize: str | None = None, dtype=np.float32) -> Digits:
    """The digits split `split` (train/valid/test), binarized as asked (None, "static" or "dynamic")."""
    return Digits(split, binarize, dtype)
