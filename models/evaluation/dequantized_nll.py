"""Test NLL of a density on continuous data: for the 17-level digits the density of y = x + u, u ~ U[0, 1)^D,
averaged over fixed draws of u (docs/design.md, "Continuous digits"); for the 2-D toys the plain density.
Shared by RNADE and the flows so that their numbers are measured by the same code."""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen.autograd import Tensor


def dequantized_nll(model, x: Tensor, draws: int, seed: int = 1234) -> dict:
    """{"test_nll", "test_nll_sem"} in nats per example, and "test_bpd" when `draws` > 0 (dequantized data):
    log p(x) = mean over `draws` fixed uniform draws u of model.log_prob(x + u) (no draws: model.log_prob(x))."""
    rng = np.random.default_rng(seed)
    with model.evaluating():
        if draws:
            log_p = np.mean([model.log_prob(x + mg.tensor(rng.random(x.shape).astype(np.float32), device=x.device)
                                            ).numpy() for _ in range(draws)], axis=0)
        else:
            log_p = model.log_prob(x).numpy()
    out = {"test_nll": float(-log_p.mean()), "test_nll_sem": float(log_p.std(ddof=1) / math.sqrt(len(log_p)))}
    if draws:
        out["test_bpd"] = out["test_nll"] / (int(np.prod(x.shape[1:])) * math.log(2))
    return out
