"""Mode coverage on the 2-D toys (the unrolled-GAN / VEEGAN protocol, minigen.data.toys.toy_coverage): a
sample is high quality within 3 sd of its nearest mode, a mode is covered by >= 20 high-quality samples.

Each evaluation draws TOY_SAMPLES = 2,500 samples at each fixed seed in TOY_SEEDS and reports the mean number
of covered modes (modes_<toy>), the mean high-quality share (hq_<toy>) and the worst seed's modes
(modes_<toy>_min).
"""
from __future__ import annotations

import numpy as np

from minigen.data.toys import N_COVERAGE_SAMPLES, toy_coverage

TOY_SEEDS = (0, 1, 2, 3, 4)
TOY_SAMPLES = N_COVERAGE_SAMPLES


def toy_metrics(sample, name: str, seeds=TOY_SEEDS) -> dict:
    """modes_<name>, hq_<name>, modes_<name>_min of `sample(n, rng)` over the evaluation seeds (TOY_SEEDS: the
    test split's)."""
    modes, hq = [], []
    for seed in seeds:
        points = sample(TOY_SAMPLES, np.random.default_rng(seed))
        cov = toy_coverage(points.numpy() if hasattr(points, "numpy") else np.asarray(points), name)
        modes.append(cov.modes)
        hq.append(cov.hq_share)
    return {f"modes_{name}": float(np.mean(modes)), f"hq_{name}": float(np.mean(hq)),
            f"modes_{name}_min": int(np.min(modes))}
