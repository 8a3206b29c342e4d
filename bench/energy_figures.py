"""The energy-based models' pictures of the README (docs/images/energy-*.png), from the zoo runs in runs/zoo.

    python bench/zoo.py --only rbm,ebm,ebm@ring8,ebm@grid25   # first: the runs
    python bench/energy_figures.py                              # every picture whose run exists

- energy-rbm-chain.png: 10 Gibbs chains of the RBM (rows) from the base-rate model, p(v | h) shown at
  steps 0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000 (columns): the Markov chain mixing into digits.
- energy-ebm-chain-<toy>.png: 2,500 Langevin chains of the EBM from uniform noise (its `sample()`),
  snapshots along the run.
- energy-ebm-digits.png: the EBM's digit samples (left) beside as many test digits (right).
Chains start at fixed seeds, so a redraw from the same runs gives the same picture.
"""
from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from minigen.data.toys import toy_centres  # noqa: E402

from figures import load_run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
IMAGES = os.path.join(HERE, "..", "docs", "images")
RBM_STEPS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


def rbm_chain(folder: str, path: str, chains: int = 10) -> str:
    """Rows: chains; columns: p(v | h) after RBM_STEPS Gibbs steps."""
    model = load_run(folder)
    with model.evaluating():
        frames = model.chain(chains, RBM_STEPS[-1], every=1, rng=np.random.default_rng(0))
    fig, axes = plt.subplots(chains, len(RBM_STEPS), figsize=(len(RBM_STEPS) * 0.7, chains * 0.7))
    for j, t in enumerate(RBM_STEPS):
        for i in range(chains):
            ax = axes[i, j]
            ax.imshow(frames[t, i].reshape(8, 8), cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, j].set_title(str(t), fontsize=7)
    fig.suptitle("RBM: block-Gibbs chains (rows) after t steps (columns), p(v | h)", fontsize=8)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def ebm_toy_chain(folder: str, toy: str, path: str, shown: tuple = (0, 20, 100, 300)) -> str:
    """Langevin chains from uniform noise (the model's `sample()`: sample_steps steps): the 2,500 points at the
    steps in `shown` and at the end."""
    model = load_run(folder)
    steps = model.sample_steps
    shown = [t for t in shown if t < steps] + [steps]
    with model.evaluating():
        frames = model.chain(2500, steps, every=10, rng=np.random.default_rng(0))
    fig, axes = plt.subplots(1, len(shown), figsize=(len(shown) * 2.4, 2.6), sharex=True, sharey=True)
    centres = toy_centres(toy)
    for t, ax in zip(shown, axes):
        ax.scatter(frames[t // 10][:, 0], frames[t // 10][:, 1], s=1, alpha=0.4)
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="red", s=12)
        ax.set_title(f"step {t}", fontsize=8)
        ax.set_aspect("equal")
    fig.suptitle(f"EBM on {toy}: Langevin chains from uniform noise", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def ebm_digits(folder: str, path: str, n: int = 64) -> str:
    """The EBM's samples beside test digits (the model's sample_figure)."""
    return load_run(folder).sample_figure(path, n)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default=os.path.join("runs", "zoo"))
    args = p.parse_args()
    os.makedirs(IMAGES, exist_ok=True)
    jobs = [("rbm", lambda f: rbm_chain(f, os.path.join(IMAGES, "energy-rbm-chain.png"))),
            ("ebm", lambda f: ebm_digits(f, os.path.join(IMAGES, "energy-ebm-digits.png")))]
    jobs += [(f"ebm@{toy}", lambda f, toy=toy: ebm_toy_chain(f, toy, os.path.join(IMAGES, f"energy-ebm-chain-{toy}.png")))
             for toy in ("ring8", "grid25")]
    for key, draw in jobs:
        folder = os.path.join(args.runs, key)
        if os.path.exists(os.path.join(folder, "run.json")):
            print("wrote", draw(folder))
        else:
            print(f"skipped {key}: no run in {folder}")


if __name__ == "__main__":
    main()
