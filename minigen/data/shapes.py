"""shapes: a small dSprites (Matthey et al. 2017) generated in code, for measuring disentanglement.

Binary 20x20 images of one white shape on black, every combination of five known factors exactly once:

    shape     square, ellipse (axes 1 : 0.6), triangle            3
    scale     0.6, 0.8, 1.0 of the largest size (radius 4.5 px)    3
    rotation  4 angles evenly in [0, pi/2)                         4
    x, y      centre columns / rows 6..13                          8 x 8     -> 2,304 images

Pixels are the shape's coverage of each pixel (4x4 supersampling) thresholded at 1/2; no two images are equal
(on 16x16, or with more rotations, small rotated shapes coincide after thresholding). The order is
C-order over the factors (`index(factors)` finds an image); the splits are a fixed permutation
(default_rng(0)): train 80 %, valid 10 %, test 10 %. The factors' values are integers per factor.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SIZE = 20
SHAPES = ("square", "ellipse", "triangle")
SCALES = (0.6, 0.8, 1.0)
ROTATIONS = tuple(np.arange(4) * (np.pi / 2) / 4)
POSITIONS = tuple(range(6, 14))
FACTOR_NAMES = ("shape", "scale", "rotation", "x", "y")
FACTOR_SIZES = (len(SHAPES), len(SCALES), len(ROTATIONS), len(POSITIONS), len(POSITIONS))
RADIUS = 4.5
SUPERSAMPLE = 4


class Shapes(NamedTuple):
    """images (N, 1, 20, 20) float32 in {0, 1}; factors (N, 5) int64 (FACTOR_NAMES order)."""

    images: np.ndarray
    factors: np.ndarray


def inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether the points (u, v), in the shape's own frame with unit radius, lie inside it."""
    if shape == "square":
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == "ellipse":
        return (u / 1.0) ** 2 + (v / 0.6) ** 2 <= 1.0
    if shape == "triangle":  # equilateral, centroid at the origin, circumradius 1
        return (v >= -0.5) & (v <= 1.0 - np.sqrt(3) * np.abs(u))
    raise ValueError(f"shapes: unknown shape {shape!r}; expected one of {SHAPES}")


def template(shape: str, scale: float, angle: float, centre: tuple[int, int]) -> np.ndarray:
    """One binary (20, 20) image: the shape at `scale`, rotated by `angle`, centred on pixel `centre`
    (column x, row y)."""
    offsets = (np.arange(SUPERSAMPLE) + 0.5) / SUPERSAMPLE - 0.5
    grid = np.arange(SIZE)[:, None] + offsets[None, :]
    ys, xs = np.meshgrid(grid.ravel(), grid.ravel(), indexing="ij")
    dx, dy = (xs - centre[0]) / (RADIUS * scale), -(ys - centre[1]) / (RADIUS * scale)
    c, s = np.cos(angle), np.sin(angle)
    cover = inside(shape, c * dx + s * dy, -s * dx + c * dy).astype(np.float64)
    cover = cover.reshape(SIZE, SUPERSAMPLE, SIZE, SUPERSAMPLE).mean(axis=(1, 3))
    return (cover >= 0.5).astype(np.float32)


def all_factors() -> np.ndarray:
    """Every factor combination (2304, 5), in C order."""
    return np.stack(np.meshgrid(*[np.arange(n) for n in FACTOR_SIZES], indexing="ij"), -1).reshape(-1, 5)


def index(factors: np.ndarray) -> np.ndarray:
    """The position in the full data set of each factor combination (..., 5)."""
    return np.ravel_multi_index(tuple(np.moveaxis(np.asarray(factors), -1, 0)), FACTOR_SIZES)


_CACHE: dict = {}


def generate() -> Shapes:
    """The whole data set, every factor combination once (cached after the first call)."""
    if "all" not in _CACHE:
        factors = all_factors()
        images = np.stack([template(SHAPES[f[0]], SCALES[f[1]], ROTATIONS[f[2]], (POSITIONS[f[3]], POSITIONS[f[4]]))
                           for f in factors])[:, None]
        _CACHE["all"] = Shapes(images, factors.astype(np.int64))
    return _CACHE["all"]


def split_indices(split: str) -> np.ndarray:
    """The indices of a split: a fixed permutation, train 80 %, valid 10 %, test 10 %."""
    n = int(np.prod(FACTOR_SIZES))
    perm = np.random.default_rng(0).permutation(n)
    cut = {"train": (0, int(0.8 * n)), "valid": (int(0.8 * n), int(0.9 * n)), "test": (int(0.9 * n), n)}
    if split not in cut:
        raise ValueError(f"shapes: unknown split {split!r}; expected train, valid or test")
    return perm[slice(*cut[split])]


def load_shapes(split: str | None = None) -> Shapes:
    """A split of the shapes data set (None: all of it, in factor order)."""
    data = generate()
    if split is None:
        return data
    idx = split_indices(split)
    return Shapes(data.images[idx], data.factors[idx])
