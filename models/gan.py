"""GAN (Goodfellow et al., 2014): an MLP generator and a maxout discriminator with dropout.

min_G max_D E_x log D(x) + E_z log(1 - D(G(z))). The generator minimises either the minimax objective
log(1 - D(G(z))) itself, whose gradient vanishes when D confidently rejects early samples, or the
non-saturating -log D(G(z)) that the paper recommends; `gradient_magnitude_figure` plots both.
"""
from __future__ import annotations

import numpy as np

from minigen import nn

from .gan_toolkit import GANModel, mlp, run_steps, zoo_runs


def maxout_discriminator(in_dim: int, hidden: tuple, pieces: int, dropout: float,
                         input_dropout: float = 0.0) -> nn.Sequential:
    """x -> [Dropout] -> (Maxout, Dropout)* -> Linear -> one logit."""
    layers, width = [nn.Flatten()], in_dim
    if input_dropout:
        layers.append(nn.Dropout(input_dropout))
    for h in hidden:
        layers.append(nn.Maxout(width, h, pieces))
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class GAN(GANModel):
    """Goodfellow et al. (2014) scaled to 8x8 digits and to the 2-D toys."""

    zoo_runs = zoo_runs({"digits": 3000, "ring8": 5000, "grid25": 10000})
    zoo_run = zoo_runs[0]

    @classmethod
    def default_config(cls, data: str) -> dict:
        """lr decays linearly to 0 over the zoo run's length (vanilla GANs drift without it)."""
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "z_dim": 32, "g_hidden": [256, 256], "d_hidden": [128, 128],
                    "pieces": 5, "dropout": 0.5, "input_dropout": 0.2, "loss": "non-saturating",
                    "decay_steps": run_steps(cls, data)}
        return {"lr": 5e-4, "batch_size": 128, "z_dim": 16, "g_hidden": [128, 128], "d_hidden": [128, 128],
                "pieces": 5, "dropout": 0.0, "input_dropout": 0.0, "loss": "non-saturating",
                "decay_steps": run_steps(cls, data)}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(128, 128), pieces: int = 5, dropout: float = 0.5,
                 input_dropout: float = 0.2, loss: str = "non-saturating", decay_steps: int = 0):
        if loss not in ("minimax", "non-saturating"):
            raise ValueError(f"GAN: loss must be 'minimax' or 'non-saturating', got {loss!r}")
        super().__init__(data, lr, batch_size, n_critic=1, loss=loss, decay_steps=decay_steps)
        self.z_dim = z_dim
        out_dim = int(np.prod(self.data_shape))
        self.generator = mlp(z_dim, g_hidden, out_dim, out_activation=None if self.is_toy else nn.Sigmoid)
        self.discriminator = maxout_discriminator(out_dim, tuple(d_hidden), pieces, dropout, input_dropout)


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
