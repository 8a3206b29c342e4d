"""The GAN pictures of the README (docs/images/gan-*.png), drawn from the trained zoo runs in runs/zoo.

    python bench/zoo.py --only gan,cgan,dcgan,...  # first: the runs (runs/zoo/NAME, runs/zoo/NAME@toy)
    python bench/figures.py                        # every picture whose runs exist
    python bench/figures.py --gradient-magnitude   # also the GAN loss figure (trains for about a minute)

Every picture samples through the model protocol (sample(n, y, rng=...), evaluating()) from parameters loaded
with minigen.trainer.load_model, at fixed seeds, so redrawing a picture from the same runs gives the same
picture. Figures are analysis, not models: nothing here is imported by minigen.models.
"""
from __future__ import annotations

import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minigen as mg  # noqa: E402
import minigen.models as models  # noqa: E402
from minigen import trainer, viz  # noqa: E402
from minigen.data.toys import TOYS, toy_centres  # noqa: E402
from minigen.models.evaluation.gan_metrics import digits01, sampler  # noqa: E402
from minigen.models.evaluation.mode_coverage import TOY_SAMPLES, toy_metrics  # noqa: E402

GAN_NAMES = ("gan", "cgan", "dcgan", "infogan", "wgan", "wgan-gp", "sngan")
UNIT = (0.0, 1.0)  # the GANs' pixel range


def load_run(folder: str):
    """The trained model of a `minigen train` output folder (run.json + checkpoint.npz)."""
    path = os.path.join(folder, "run.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{folder} holds no training run (run.json missing)")
    with open(path) as f:
        run = json.load(f)
    return trainer.load_model(models.create(run["name"], data=run["data"], **run["config"]), folder)


# ------------------------------------------------------------------------------- one model's pictures
def interpolation_figure(model, path: str, rows: int = 8, steps: int = 10, seed: int = 0) -> str:
    """DCGAN: each row walks linearly from one latent z to another, G((1 - t) z0 + t z1), t in [0, 1]."""
    rng = np.random.default_rng(seed)
    z0, z1 = rng.standard_normal((2, rows, 1, model.z_dim))
    t = np.linspace(0, 1, steps)[None, :, None]
    z = ((1 - t) * z0 + t * z1).reshape(rows * steps, model.z_dim).astype(np.float32)
    with model.evaluating():
        images = model.generate(mg.tensor(z, device=model.device))
    return viz.save_image_grid(images, path, nrow=steps, value_range=UNIT)


def traversal_figure(model, path: str, code: int = 0, steps: int = 9, seed: int = 0) -> str:
    """InfoGAN: rows are the categorical code's values, columns continuous code `code` from -2 to 2, with z
    and the other codes fixed (one z for the whole picture): what each code controls."""
    rng = np.random.default_rng(seed)
    z = np.repeat(rng.standard_normal((1, model.noise_dim)), steps, 0)
    cont = np.zeros((steps, model.n_cont))
    cont[:, code] = np.linspace(-2, 2, steps)
    rows = [np.concatenate([z, model.codes(steps, cat=c, cont=cont)], axis=1) for c in range(model.n_cat)]
    with model.evaluating():
        images = model.generate(mg.tensor(np.concatenate(rows).astype(np.float32), device=model.device))
    return viz.save_image_grid(images, path, nrow=steps, value_range=UNIT)


def class_rows_figure(model, path: str, per_class: int = 8, seed: int = 0) -> str:
    """cGAN: one row of samples per label."""
    labels = np.repeat(np.arange(model.num_classes), per_class)
    images = model.sample(len(labels), labels, rng=np.random.default_rng(seed))
    return viz.save_image_grid(images, path, nrow=per_class, value_range=UNIT)


def gradient_magnitude_figure(path: str, steps: int = 300, d_warmup: int = 300, seed: int = 0,
                              run_steps: int = 3000) -> dict:
    """The GAN paper's argument for the non-saturating loss, measured: early training with each generator
    loss from the same start. The discriminator first trains alone for `d_warmup` steps at 5x the learning
    rate (so that, as early in training, it rejects G's samples confidently), then both train as in a zoo run
    of `run_steps` steps (its learning-rate schedule). Plots ||dL_G/dtheta_G|| and D's mean logit on
    generated samples per generator step; returns each loss's mean gradient norm over the first 50 steps."""
    curves = {}
    for loss in ("minimax", "non-saturating"):
        mg.manual_seed(seed)
        model = models.create("gan", data="digits", loss=loss)
        opt_g, opt_d = model.configure_optimizers()
        batches = _batches(model, seed)
        for group in opt_d.param_groups:
            group["lr"] *= 5
        for _ in range(d_warmup):
            model.discriminator_step(next(batches)[0], None, opt_d)
        for group in opt_d.param_groups:
            group["lr"] /= 5
        schedulers = model.configure_schedulers([opt_g, opt_d], run_steps)
        logs = []
        for step in range(steps):
            logs.append(model.train_step(next(batches), [opt_g, opt_d], step))
            for scheduler in schedulers:
                scheduler.step()
        curves[loss] = ([r["g_grad_norm"] for r in logs], [r["d_fake"] for r in logs])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    t = np.arange(1, steps + 1)
    for loss, (norms, d_fake) in curves.items():
        label = f"{loss}: " + ("log(1 - D(G(z)))" if loss == "minimax" else "-log D(G(z))")
        ax1.semilogy(t, norms, label=label)
        ax2.plot(t, d_fake, label=label)
    ax1.set(xlabel="generator step", ylabel="||grad of generator loss||")
    ax1.set_title(f"after {d_warmup} discriminator-only steps", fontsize=9)
    ax2.set(xlabel="generator step", ylabel="mean logit of D(G(z))")
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {k: float(np.mean(v[0][:50])) for k, v in curves.items()}


def _batches(model, seed: int):
    """Endless training batches."""
    while True:
        yield from model.loader("train", seed=seed)


# ------------------------------------------------------------------------------- the zoo's pictures
def toys_panel(runs: str, path: str) -> str:
    """Every GAN on both toys (rows), its samples over the modes with its mode coverage in the title."""
    fig, axes = plt.subplots(len(TOYS), len(GAN_NAMES), figsize=(2.2 * len(GAN_NAMES), 4.6), squeeze=False)
    for j, name in enumerate(GAN_NAMES):
        for i, toy in enumerate(TOYS):
            ax = axes[i, j]
            folder = os.path.join(runs, f"{name}@{toy}")
            if os.path.exists(folder):
                model = load_run(folder)
                pts = sampler(model)(TOY_SAMPLES, np.random.default_rng(0)).numpy()
                m = toy_metrics(sampler(model), toy)
                ax.scatter(pts[:, 0], pts[:, 1], s=0.5, alpha=0.4)
                ax.set_title(f"{name}: {m[f'modes_{toy}']:.3g} modes, hq {m[f'hq_{toy}']:.2f}", fontsize=7)
            centres = toy_centres(toy)
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="red", s=8, lw=0.7)
            lim = np.abs(centres).max() * 1.35
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def digits_panel(runs: str, path: str) -> str:
    """64 real test digits next to 64 samples of every GAN trained on digits."""
    panels = [("real (test)", digits01("test")[:64])]
    for name in GAN_NAMES:
        folder = os.path.join(runs, name)
        if os.path.exists(folder):
            panels.append((name, sampler(load_run(folder))(64, np.random.default_rng(0)).numpy()))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.4), squeeze=False)
    for ax, (title, images) in zip(axes[0], panels):
        ax.imshow(viz.image_grid(images, nrow=8, value_range=UNIT), cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path


def zoo_figures(runs: str = "runs/zoo", out: str = "docs/images") -> list:
    """docs/images/gan-*.png from the zoo's runs: toy scatter plots and digit samples of every GAN, DCGAN's
    latent interpolation, InfoGAN's code traversals, cGAN's class rows and its generated words."""
    os.makedirs(out, exist_ok=True)
    have = lambda key: os.path.exists(os.path.join(runs, key))
    written = [toys_panel(runs, os.path.join(out, "gan-toys.png")),
               digits_panel(runs, os.path.join(out, "gan-digits.png"))]
    if have("dcgan"):
        written.append(interpolation_figure(load_run(os.path.join(runs, "dcgan")),
                                            os.path.join(out, "gan-dcgan-interpolation.png")))
    if have("infogan"):
        model = load_run(os.path.join(runs, "infogan"))
        for code in range(model.n_cont):
            written.append(traversal_figure(model, os.path.join(out, f"gan-infogan-traversal-c{code + 1}.png"),
                                            code=code))
    if have("cgan"):
        written.append(class_rows_figure(load_run(os.path.join(runs, "cgan")),
                                         os.path.join(out, "gan-cgan-by-class.png")))
    if have("cgan-words"):
        written.append(load_run(os.path.join(runs, "cgan-words")).sample_figure(
            os.path.join(out, "gan-cgan-words.png")))
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/zoo", help="the zoo's run folders (default: runs/zoo)")
    p.add_argument("--out", default="docs/images", help="where the pictures go (default: docs/images)")
    p.add_argument("--gradient-magnitude", action="store_true", help="also train and draw the GAN loss figure")
    args = p.parse_args()
    written = zoo_figures(args.runs, args.out)
    if args.gradient_magnitude:
        path = os.path.join(args.out, "gan-gradient-magnitude.png")
        print(gradient_magnitude_figure(path))
        written.append(path)
    print("\n".join(written))


if __name__ == "__main__":
    main()
