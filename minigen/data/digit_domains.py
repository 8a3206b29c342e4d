"""digit-domains: the 8x8 digits drawn in several styles ("domains"), made in code from each image, for the
image-to-image GANs (pix2pix, CycleGAN, StarGAN). `--data digit-domains`.

Every domain is a deterministic function of one digit x in [0, 1] (gray level / 16), shape (8, 8):

    digit      x itself
    outline    the morphological gradient (edge map): clip(dilate(x) - erode(x), 0, 1), 3x3 cross element
    thick      strokes one pixel wider: grey dilation by a horizontal 1x2 element, max(x[i, j-1], x[i, j])
    thin       the strokes' cores: clip(2 x - 1, 0, 1) (the soft gray rims below half intensity vanish)
    inverted   1 - x
    rotated    x turned 90 degrees counter-clockwise (np.rot90: exact on the 8x8 grid)
    slanted    x sheared to the right, column j -> j + 0.25 (3.5 - i) (bilinear, zero outside)

Splits keep the digits' split (minigen.data.digits): a domain image of split s is made from a digit of
split s only, so no test digit trains any domain. Paired data gives every digit of a split in two domains
(pix2pix); unpaired data gives each digit in one domain only, digit k of the split (in the split's order) in
domain k mod D (CycleGAN, StarGAN), so the training set holds no pair at all.

`read(domain, images)` is what the digits classifier reads to say which digit an image shows: the exact
inverse where the domain has one (inverted: 1 - x; rotated: turned back), the image itself otherwise.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from .digits import MAX_LEVEL, load_digits

DOMAINS = ("digit", "outline", "thick", "thin", "inverted", "rotated", "slanted")
CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool)
SHEAR = 0.25


# each function maps a stack of images (N, 8, 8) to the stack in its domain, image by image
def _outline(a: np.ndarray) -> np.ndarray:
    cross = CROSS[None]
    return np.clip(ndimage.grey_dilation(a, footprint=cross, mode="constant", cval=0.0)
                   - ndimage.grey_erosion(a, footprint=cross, mode="constant", cval=0.0), 0.0, 1.0)


def _thick(a: np.ndarray) -> np.ndarray:
    left = np.zeros_like(a)
    left[:, :, 1:] = a[:, :, :-1]
    return np.maximum(a, left)


def _slanted(a: np.ndarray) -> np.ndarray:
    # output (n, i, j) reads input (n, i, j - SHEAR (3.5 - i)): affine_transform maps output to input coordinates
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, SHEAR, 1.0]])
    return np.clip(ndimage.affine_transform(a, matrix, offset=(0.0, 0.0, -SHEAR * 3.5), order=1, mode="constant"),
                   0.0, 1.0)


_STACK = {
    "digit": lambda a: a,
    "outline": _outline,
    "thick": _thick,
    "thin": lambda a: np.clip(2.0 * a - 1.0, 0.0, 1.0),
    "inverted": lambda a: 1.0 - a,
    "rotated": lambda a: np.rot90(a, axes=(1, 2)),
    "slanted": _slanted,
}


def check_domain(domain: str) -> None:
    if domain not in DOMAINS:
        raise ValueError(f"digit-domains: unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")


def _as_images(images, what: str) -> np.ndarray:
    a = np.asarray(images, dtype=np.float64)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1:] != (1, 8, 8):
        raise ValueError(f"digit-domains.{what}: expected images (N, 1, 8, 8) or (N, 8, 8) in [0, 1], got shape "
                         f"{np.shape(images)}")
    return a


def transform(domain: str, images) -> np.ndarray:
    """Digits in [0, 1] (N, 1, 8, 8) or (N, 8, 8) drawn in `domain`, float32 (N, 1, 8, 8) in [0, 1]."""
    check_domain(domain)
    a = _as_images(images, "transform")
    return np.ascontiguousarray(_STACK[domain](a[:, 0])[:, None], dtype=np.float32)


def read(domain: str, images) -> np.ndarray:
    """Images of `domain` as the digits classifier should read them: turned back (rotated) or inverted back
    (inverted), unchanged for the other domains (they have no exact inverse)."""
    check_domain(domain)
    a = _as_images(images, "read").astype(np.float32)
    if domain == "inverted":
        return 1.0 - a
    if domain == "rotated":
        return np.ascontiguousarray(np.rot90(a, k=-1, axes=(2, 3)))
    return a


class Paired(NamedTuple):
    """source (N, 1, 8, 8), target (N, 1, 8, 8) float32 in [0, 1]: the same digits in two domains; labels (N,)."""

    source: np.ndarray
    target: np.ndarray
    labels: np.ndarray


class Unpaired(NamedTuple):
    """images (N, 1, 8, 8) float32 in [0, 1], each digit in one domain; labels (N,) its digit; domains (N,) the
    index of its domain in the requested tuple."""

    images: np.ndarray
    labels: np.ndarray
    domains: np.ndarray


@functools.lru_cache(maxsize=64)
def _split_in_domain(split: str, domain: str) -> tuple[np.ndarray, np.ndarray]:
    d = load_digits(split)
    images = transform(domain, d.images / MAX_LEVEL)
    images.setflags(write=False)
    return images, d.labels


def domain_images(split: str, domain: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 1, 8, 8) float32, labels (N,)): every digit of a split drawn in `domain`."""
    check_domain(domain)
    images, labels = _split_in_domain(split, domain)
    return images.copy(), labels.copy()


def paired(split: str, source: str, target: str) -> Paired:
    """Every digit of `split` in the `source` and the `target` domain (pix2pix's aligned pairs)."""
    a, labels = domain_images(split, source)
    b, _ = domain_images(split, target)
    return Paired(a, b, labels)


def assignment(split: str, num_domains: int) -> np.ndarray:
    """The domain index of each digit of the split in unpaired data: digit k (split order) -> k mod D."""
    if num_domains < 1:
        raise ValueError(f"digit-domains: unpaired data needs at least one domain, got {num_domains}")
    return np.arange(len(load_digits(split))) % num_domains


def unpaired(split: str, domains: tuple) -> Unpaired:
    """Each digit of `split` in exactly one of `domains` (digit k in domain k mod D): no digit appears twice,
    so no pair (x in A, the same x in B) exists to learn from."""
    domains = tuple(domains)
    for dom in domains:
        check_domain(dom)
    which = assignment(split, len(domains))
    stacked = np.stack([_split_in_domain(split, dom)[0] for dom in domains])  # (D, N, 1, 8, 8)
    labels = _split_in_domain(split, domains[0])[1]
    return Unpaired(stacked[which, np.arange(len(which))].astype(np.float32), labels.copy(), which.astype(np.int64))

