"""2-D toy distributions (ring of 8 Gaussians, 5x5 grid, two moons, swiss roll) and mode coverage.

Mode coverage (the protocol of the unrolled-GAN / VEEGAN papers) is measured on N_COVERAGE_SAMPLES = 2,500
samples: a sample is high quality when it lies within 3 sd of its nearest mode; a mode is covered when
at least 20 high-quality samples fall to it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import backend
from ..autograd import Tensor

N_COVERAGE_SAMPLES = 2500
RING8_SD = 0.02
GRID25_SD = 0.05


def _rng(seed: int | None) -> np.random.Generator:
    """default_rng(seed), or minigen's CPU generator (mg.manual_seed) when seed is None."""
    return backend.rng("cpu") if seed is None else np.random.default_rng(seed)


def ring8_centres(radius: float = 2.0) -> np.ndarray:
    """The 8 modes (radius cos(2 pi k / 8), radius sin(2 pi k / 8)), shape (8, 2)."""
    angles = 2 * np.pi * np.arange(8) / 8
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid25_centres() -> np.ndarray:
    """The 25 modes {-4, -2, 0, 2, 4}^2, shape (25, 2)."""
    g = np.arange(-4.0, 5.0, 2.0)
    return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(25, 2)


def gaussian_mixture(n: int, centres: np.ndarray, sd: float, seed: int | None = None,
                     dtype=np.float32) -> np.ndarray:
    """n samples of an equal-weight mixture of isotropic Gaussians N(centre_k, sd^2 I)."""
    rng = _rng(seed)
    k = rng.integers(len(centres), size=n)
    return (centres[k] + sd * rng.standard_normal((n, centres.shape[1]))).astype(dtype)


def ring8(n: int, radius: float = 2.0, sd: float = RING8_SD, seed: int | None = None,
          dtype=np.float32) -> np.ndarray:
    """n samples (n, 2) of 8 Gaussians (sd `sd`) evenly spaced on a circle of radius `radius`."""
    return gaussian_mixture(n, ring8_centres(radius), sd, seed, dtype)


def grid25(n: int, sd: float = GRID25_SD, seed: int | None = None, dtype=np.float32) -> np.ndarray:
    """n samples (n, 2) of 25 Gaussians (sd `sd`) centred on {-4, -2, 0, 2, 4}^2."""
    return gaussian_mixture(n, grid25_centres(), sd, seed, dtype)


def two_moons(n: int, noise: float = 0.1, seed: int | None = None, dtype=np.float32) -> np.ndarray:
    """n samples (n, 2): half on the arc (cos t, sin t), half on (1 - cos t, 0.5 - sin t), t ~ U(0, pi),
    plus N(0, noise^2) noise."""
    rng = _rng(seed)
    t = rng.uniform(0, np.pi, n)
    upper = rng.random(n) < 0.5
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return (np.stack([x, y], axis=1) + noise * rng.standard_normal((n, 2))).astype(dtype)


def swiss_roll(n: int, noise: float = 0.1, seed: int | None = None, dtype=np.float32) -> np.ndarray:
    """n samples (n, 2) of (t cos t, t sin t) / 5 with t ~ U(1.5 pi, 4.5 pi), plus N(0, noise^2) noise."""
    rng = _rng(seed)
    t = rng.uniform(1.5 * np.pi, 4.5 * np.pi, n)
    xy = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5
    return (xy + noise * rng.standard_normal((n, 2))).astype(dtype)


class ModeCoverage(NamedTuple):
    """Modes covered (out of `total`) and the share of high-quality samples."""

    modes: int
    hq_share: float
    total: int


def mode_coverage(samples, centres: np.ndarray, sd: float, n_sd: float = 3.0,
                  min_count: int = 20) -> ModeCoverage:
    """Modes with >= min_count samples within n_sd * sd of them (their nearest mode), and the share of
    samples within n_sd * sd of their nearest mode."""
    if isinstance(samples, Tensor):
        samples = samples.data
    x = backend.to_device(samples, "cpu") if hasattr(samples, "dtype") else np.asarray(samples)
    centres = np.asarray(centres, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != centres.shape[1]:
        raise ValueError(f"mode_coverage: samples of shape {x.shape} do not match centres of shape "
                         f"{centres.shape}; expected (N, {centres.shape[1]})")
    d2 = ((x.astype(np.float64)[:, None, :] - centres[None]) ** 2).sum(-1)
    nearest = d2.argmin(axis=1)
    hq = d2[np.arange(len(x)), nearest] <= (n_sd * sd) ** 2
    counts = np.bincount(nearest[hq], minlength=len(centres))
    return ModeCoverage(int((counts >= min_count).sum()), float(hq.mean()) if len(x) else 0.0, len(centres))


# ------------------------------------------------------------------------------- named toys for models
TOYS = ("ring8", "grid25")
TOY_SD = {"ring8": RING8_SD, "grid25": GRID25_SD}


def _check_toy(name: str) -> None:
    if name not in TOYS:
        raise ValueError(f"unknown toy {name!r}; expected one of {', '.join(TOYS)}")


def toy_sample(name: str, n: int, seed: int | None) -> np.ndarray:
    """n points (n, 2) float32 of a toy ("ring8" or "grid25"), reproducible from `seed`."""
    _check_toy(name)
    return ring8(n, seed=seed) if name == "ring8" else grid25(n, seed=seed)


def toy_centres(name: str) -> np.ndarray:
    """The mode centres of a toy, (8, 2) or (25, 2)."""
    _check_toy(name)
    return ring8_centres() if name == "ring8" else grid25_centres()


def nearest_mode(x: np.ndarray, name: str) -> np.ndarray:
    """The index of each point's nearest mode (int64): the label of a toy point for conditional models."""
    return ((x[:, None, :] - toy_centres(name)[None]) ** 2).sum(-1).argmin(1).astype(np.int64)


def toy_coverage(samples, name: str) -> ModeCoverage:
    """mode_coverage of samples from the toy `name` with its own centres and sd: the one place every model's
    modes_<toy> and hq_<toy> come from."""
    return mode_coverage(samples, toy_centres(name), TOY_SD[name])


class ToyStream:
    """An endless, resumable stream of minibatches from a 2-D toy: batch k is drawn with seed (seed, k)."""

    def __init__(self, name: str, batch_size: int, seed: int = 0, labels: bool = False):
        _check_toy(name)
        self.name, self.batch_size, self.seed, self.labels, self.index = name, batch_size, seed, labels, 0

    def __iter__(self):
        while True:
            seed = int(np.random.SeedSequence([self.seed, self.index]).generate_state(1)[0])
            self.index += 1
            x = toy_sample(self.name, self.batch_size, seed)
            if self.labels:
                yield Tensor(x), Tensor(nearest_mode(x, self.name))
            else:
                yield (Tensor(x),)

    def state_dict(self) -> dict:
        return {"index": np.array(self.index)}

    def load_state_dict(self, state: dict) -> None:
        index = state["index"]
        self.index = int(index.item() if isinstance(index, (Tensor, np.ndarray)) else index)
