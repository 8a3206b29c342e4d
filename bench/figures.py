"""The zoo's pictures (docs/images/*.png), drawn from the trained runs in runs/zoo (bench/zoo.py makes them).

    python bench/figures.py                  # every picture whose runs exist
    python bench/figures.py --gradient-magnitude   # also the GAN loss figure (trains for about a minute)
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
from minigen.data.toys import toy_centres  # noqa: E402
from minigen.models.evaluation.gan_metrics import TOY_SAMPLES, sampler, toy_metrics  # noqa: E402

def interpolation_figure(model: DCGAN, path: str, rows: int = 8, steps: int = 10, seed: int = 0) -> None:
    """Each row walks linearly from one latent z to another: G((1 - t) z0 + t z1), t in [0, 1]."""
    from . import gan_eval

    rng = np.random.default_rng(seed)
    z0, z1 = rng.standard_normal((2, rows, 1, model.z_dim))
    t = np.linspace(0, 1, steps)[None, :, None]
    z = ((1 - t) * z0 + t * z1).reshape(rows * steps, model.z_dim).astype(np.float32)
    model.eval()
    with mg.no_grad():
        images = model.generate(mg.tensor(z, device=model.device))
    model.train()
    gan_eval.image_grid_figure(images.numpy(), path, nrow=steps)


def traversal_figure(model: InfoGAN, path: str, code: int = 0, steps: int = 9, seed: int = 0) -> None:
    """Rows: the categorical code's values; columns: continuous code `code` from -2 to 2 (the others and z
    fixed per row), i.e. what each code controls."""
    from minigen import viz

    rng = np.random.default_rng(seed)
    z = np.repeat(rng.standard_normal((1, model.noise_dim)), steps, 0)
    rows = []
    for c in range(model.n_cat):
        cont = np.zeros((steps, model.n_cont))
        cont[:, code] = np.linspace(-2, 2, steps)
        rows.append(np.concatenate([z, model.codes(steps, cat=c, cont=cont)], axis=1))
    model.eval()
    with mg.no_grad():
        images = model.generate(mg.tensor(np.concatenate(rows).astype(np.float32)))
    model.train()
    gan_eval.image_grid_figure(images.numpy(), path, nrow=steps)


def gradient_magnitude_figure(path: str, steps: int = 300, d_warmup: int = 300, seed: int = 0) -> dict:
    """Early training with each generator loss from the same start: the discriminator first trains alone
    for `d_warmup` steps at 5x the learning rate (so that, as early in training, it rejects G's samples
    confidently), then both train as usual.
    Plots ||dL_G/dtheta_G|| and D's mean logit on generated samples per generator step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minigen as mg

    curves = {}
    for loss in ("minimax", "non-saturating"):
        mg.manual_seed(seed)
        model = GAN("digits", **{**GAN.default_config("digits"), "loss": loss})
        opt_g, opt_d = model.configure_optimizers()
        batches = _batches(model, seed)
        for group in opt_d.param_groups:
            group["lr"] *= 5
        for _ in range(d_warmup):
            model.discriminator_step(next(batches)[0], None, opt_d)
        for group in opt_d.param_groups:
            group["lr"] /= 5
        logs = [model.train_step(next(batches), [opt_g, opt_d]) for _ in range(steps)]
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


def _batches(model: GAN, seed: int):
    """Endless training batches."""
    while True:
        yield from model.loader("train", seed=seed)


if __name__ == "__main__":
    print(gradient_magnitude_figure("docs/images/gan-gradient-magnitude.png"))


# ------------------------------------------------------------------------------- the zoo's pictures
GAN_NAMES = ("gan", "cgan", "dcgan", "infogan", "wgan", "wgan-gp", "sngan")


def _load_run(folder: str):
    """The trained model of a `minigen train` output folder (run.json + checkpoint.npz), in eval mode."""
    import json
    import os

    import minigen.models as models
    from minigen import trainer

    with open(os.path.join(folder, "run.json")) as f:
        run = json.load(f)
    model = models.create(run["name"], data=run["data"], **run["config"])
    return trainer.load_model(model, folder).eval()


def zoo_figures(runs: str = "runs/zoo", out: str = "docs/images") -> list:
    """docs/images/gan-*.png from the zoo's runs: toy scatter plots and digit samples of every GAN, DCGAN's
    latent interpolation, InfoGAN's code traversals, cGAN's class rows and its generated words."""
    import os

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from minigen import viz

    from .dcgan import interpolation_figure
    from .gan_toolkit import toy_centres
    from .infogan import traversal_figure

    written = []
    fig, axes = plt.subplots(2, len(GAN_NAMES), figsize=(2.2 * len(GAN_NAMES), 4.6))
    for j, name in enumerate(GAN_NAMES):
        for i, toy in enumerate(("ring8", "grid25")):
            ax = axes[i, j]
            folder = os.path.join(runs, f"{name}@{toy}")
            if os.path.exists(folder):
                model = _load_run(folder)
                pts = _numpy(model.sample(TOY_SAMPLES, np.random.default_rng(0)))
                m = toy_metrics(model.sample, toy)
                ax.scatter(pts[:, 0], pts[:, 1], s=0.5, alpha=0.4)
                ax.set_title(f"{name}: {m[f'modes_{toy}']:.3g} modes, hq {m[f'hq_{toy}']:.2f}", fontsize=7)
            centres = toy_centres(toy)
            ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="red", s=8, lw=0.7)
            lim = np.abs(centres).max() * 1.35
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
    fig.tight_layout()
    written.append(os.path.join(out, "gan-toys.png"))
    fig.savefig(written[-1], dpi=90)
    plt.close(fig)

    panels = [("real (test)", _digits("test")[:64])]
    for name in GAN_NAMES:
        folder = os.path.join(runs, name)
        if os.path.exists(folder):
            panels.append((name, _numpy(_load_run(folder).sample(64, np.random.default_rng(0)))))
    fig, axes = plt.subplots(1, len(panels), figsize=(2.1 * len(panels), 2.4))
    for ax, (title, images) in zip(np.atleast_1d(axes), panels):
        ax.imshow(viz.image_grid(images, nrow=8, value_range=(0.0, 1.0)), cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    written.append(os.path.join(out, "gan-digits.png"))
    fig.savefig(written[-1], dpi=60)
    plt.close(fig)

    if os.path.exists(os.path.join(runs, "dcgan")):
        written.append(os.path.join(out, "gan-dcgan-interpolation.png"))
        interpolation_figure(_load_run(os.path.join(runs, "dcgan")), written[-1])
    if os.path.exists(os.path.join(runs, "infogan")):
        model = _load_run(os.path.join(runs, "infogan"))
        for code in range(model.n_cont):
            written.append(os.path.join(out, f"gan-infogan-traversal-c{code + 1}.png"))
            traversal_figure(model, written[-1], code=code)
    if os.path.exists(os.path.join(runs, "cgan")):
        model = _load_run(os.path.join(runs, "cgan"))
        rows = model.sample(80, np.random.default_rng(0), y=np.repeat(np.arange(10), 8))
        written.append(os.path.join(out, "gan-cgan-by-class.png"))
        image_grid_figure(_numpy(rows), written[-1], nrow=8)
    if os.path.exists(os.path.join(runs, "cgan@words")):
        written.append(os.path.join(out, "gan-cgan-words.png"))
        _load_run(os.path.join(runs, "cgan@words")).sample_figure(written[-1])
    return written




def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", default="runs/zoo")
    p.add_argument("--out", default="docs/images")
    p.add_argument("--gradient-magnitude", action="store_true")
    args = p.parse_args()
    written = zoo_figures(args.runs, args.out)
    if args.gradient_magnitude:
        path = os.path.join(args.out, "gan-gradient-magnitude.png")
        print(gradient_magnitude_figure(path))
        written.append(path)
    print("\n".join(written))


if __name__ == "__main__":
    main()
