"""The README pictures of ProGAN, GAN-CLS and Puzzle-GAN (docs/images/gan-progan-*.png, gan-cls-*.png,
gan-puzzle-*.png), drawn from the zoo runs in runs/zoo.

    python bench/zoo.py --only progan,gan-cls,puzzle-gan   # first: the runs
    python bench/figures_issue19.py                        # every picture whose run exists

ProGAN's lower resolutions are the samples the run kept at the end of each lower level (its stage_samples
buffer, z from seed 0, the same z as the 8x8 row).
"""
from __future__ import annotations

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigen as mg  # noqa: E402
from minigen import viz  # noqa: E402

from figures import load_run  # noqa: E402

UNIT = (0.0, 1.0)
CAPTIONS = ("a zero", "a thin one", "a thick one", "a two slanted left", "a two slanted right", "a small three",
            "a large three", "a thin four", "a thick four", "an eight slanted left", "an eight slanted right",
            "a thick seven slanted right")
INTERPOLATIONS = (("a thin one", "a thick one"), ("a four slanted left", "a four slanted right"),
                  ("a small zero", "a large zero"), ("a three", "an eight"), ("a one", "a seven"))


def progan_levels_figure(folder: str, path: str, n: int = 16) -> str:
    """Rows: samples at 2x2, 4x4 (kept by the run at the end of those levels) and 8x8 (the run's end), the same z
    (seed 0) in each column."""
    final = load_run(folder)
    kept = final.stage_samples.numpy()
    if not np.isfinite(kept).all():
        raise RuntimeError(f"{folder}: the run ended before its lower levels did (no per-level samples)")
    rows = [level[:n] for level in kept] + [final.sample(n, rng=np.random.default_rng(0)).numpy()]
    return viz.save_image_grid(np.concatenate(rows), path, nrow=n, value_range=UNIT)


def progan_samples_figure(folder: str, path: str, n: int = 64) -> str:
    model = load_run(folder)
    return viz.save_image_grid(model.sample(n, rng=np.random.default_rng(1)), path, value_range=UNIT)


def _rows_with_labels(rows: list, labels: list, path: str, title: str | None = None) -> str:
    """One row of images per label, the label written on the left."""
    fig, axes = plt.subplots(len(rows), 1, figsize=(0.45 * len(rows[0]) + 2.6, 0.5 * len(rows) + 0.3),
                             squeeze=False)
    for ax, images, label in zip(axes[:, 0], rows, labels):
        ax.imshow(viz.image_grid(images, nrow=len(images), value_range=UNIT), cmap="gray", vmin=0, vmax=255)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    if title:
        axes[0, 0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def gan_cls_captions_figure(folder: str, path: str, n: int = 10) -> str:
    """caption | n samples (z from a fixed seed, the same z in each column)."""
    model = load_run(folder)
    z = model.noise(n, np.random.default_rng(0))
    with model.evaluating():
        rows = [model.generate(z, h=model.embed([text] * n)).numpy() for text in CAPTIONS]
    return _rows_with_labels(rows, list(CAPTIONS), path)


def gan_cls_interpolation_figure(folder: str, path: str, steps: int = 9) -> str:
    """GAN-INT: G(z, (1 - t) phi(t1) + t phi(t2)) for t in [0, 1], one z per row."""
    model = load_run(folder)
    rows = []
    with model.evaluating():
        for k, (a, b) in enumerate(INTERPOLATIONS):
            z = mg.tensor(np.repeat(np.random.default_rng(k).standard_normal((1, model.z_dim)), steps, 0)
                          .astype(np.float32))
            ha, hb = model.embed([a]), model.embed([b])
            t = mg.tensor(np.linspace(0, 1, steps, dtype=np.float32).reshape(-1, 1))
            rows.append(model.generate(z, h=ha * (1 - t) + hb * t).numpy())
    return _rows_with_labels(rows, [f"{a} -> {b}" for a, b in INTERPOLATIONS], path)


def puzzle_figure(folder: str, path: str, n: int = 12, seed: int = 0) -> str:
    """Rows: the given parts (half of them; missing parts drawn gray), the completion, the truth."""
    from minigen.models.gan.puzzle_gan import part_mask, random_parts

    model = load_run(folder)
    images = model.split_arrays("test")[0][:n]
    rng = np.random.default_rng(seed)
    given = random_parts(n, model.grid, rng, model.parts // 2)
    with model.evaluating():
        completed = model.complete(images, given, rng).numpy()
    mask = part_mask(given, model.grid)
    parts = images * mask + 0.3 * (1 - mask)
    return _rows_with_labels([parts, completed, images], ["parts", "completion", "truth"], path,
                             title=f"{model.grid}x{model.grid} grid, {model.parts // 2} of {model.parts} parts")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/zoo")
    p.add_argument("--out", default="docs/images")
    args = p.parse_args()
    run = lambda key: os.path.join(args.runs, key)
    out = lambda name: os.path.join(args.out, name)
    drawn = []
    if os.path.exists(run("progan")):
        drawn.append(progan_samples_figure(run("progan"), out("gan-progan-samples.png")))
        drawn.append(progan_levels_figure(run("progan"), out("gan-progan-levels.png")))
    if os.path.exists(run("gan-cls")):
        drawn.append(gan_cls_captions_figure(run("gan-cls"), out("gan-cls-captions.png")))
        drawn.append(gan_cls_interpolation_figure(run("gan-cls"), out("gan-cls-interpolation.png")))
    if os.path.exists(run("gan-cls@no-cls")):
        drawn.append(gan_cls_captions_figure(run("gan-cls@no-cls"), out("gan-cls-no-cls-captions.png")))
    for key, name in (("puzzle-gan", "gan-puzzle-grid4.png"), ("puzzle-gan@grid2", "gan-puzzle-grid2.png")):
        if os.path.exists(run(key)):
            drawn.append(puzzle_figure(run(key), out(name)))
    print("\n".join(drawn))


if __name__ == "__main__":
    main()
