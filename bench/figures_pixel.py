"""The pixel models' pictures of the README (docs/images/pixel-*.png), drawn from the trained zoo runs.

    python bench/zoo.py --only pixelcnn,gated-pixelcnn,pixelcnn-pp,pixelrnn-row,pixelrnn-diag   # first: the runs
    python bench/figures_pixel.py                                              # every picture whose run exists

Per run: 64 samples (the fast sampler; class rows for the class-conditional model) and completions (rows:
a test digit, its top half given, four completions of the bottom half), at fixed seeds.
"""
from __future__ import annotations

import argparse
import os

import numpy as np

import minigen as mg
from minigen import viz
from minigen.data import load_digits
from figures import load_run

RUNS = ("pixelcnn", "gated-pixelcnn", "gated-pixelcnn@cond", "pixelcnn@levels17", "pixelcnn-pp", "pixelrnn-row",
        "pixelrnn-diag")


def completion_figure(model, path: str, rows: int = 8, draws: int = 4, seed: int = 0) -> str:
    """Rows: a test digit, its top half (the bottom zeroed), `draws` completions from the top half."""
    split = load_digits("test", binarize=model.binarize and "static")
    x = mg.tensor(split.images[:rows].astype(np.float32))
    observed = np.zeros(model.event_shape, bool)
    observed[:, : model.height // 2] = True
    mg.manual_seed(seed)
    panels = [x.numpy(), x.numpy() * observed]
    y = mg.tensor(split.labels[:rows]) if model.conditional else None
    panels += [model.complete(x, observed, y=y).numpy() for _ in range(draws)]
    grid = np.stack(panels, axis=1).reshape((-1,) + model.event_shape)
    return viz.save_image_grid(grid, path, nrow=2 + draws, value_range=model.value_range)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/zoo")
    p.add_argument("--out", default="docs/images")
    p.add_argument("--only", help="comma-separated run keys (default: all of RUNS)")
    args = p.parse_args()
    for key in args.only.split(",") if args.only else RUNS:
        folder = os.path.join(args.runs, key)
        if not os.path.exists(os.path.join(folder, "metrics.json")):
            print(f"[figures] {folder}: no finished run; skipped")
            continue
        model = load_run(folder)
        stem = os.path.join(args.out, f"pixel-{key.replace('@', '-')}")
        mg.manual_seed(0)
        with model.evaluating():
            print(model.sample_figure(stem + "-samples.png", 60 if model.conditional else 64))
            print(completion_figure(model, stem + "-completion.png"))


if __name__ == "__main__":
    main()
