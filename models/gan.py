"""GAN (Goodfellow et al., 2014): an MLP generator and a maxout discriminator with dropout.

min_G max_D E_x log D(x) + E_z log(1 - D(G(z))). The generator minimises either the minimax objective
log(1 - D(G(z))) itself, whose gradient vanishes when D confidently rejects early samples, or the
non-saturating -log D(G(z)) that the paper recommends; `gradient_magnitude_figure` plots both.
"""
from __future__ import annotations

import numpy as np

from minigen import nn

from .gan_toolkit import GANModel, mlp


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

    zoo_run = {"data": "digits", "steps": 3000, "set": {}}
    zoo_runs = [zoo_run, {"data": "ring8", "steps": 3000, "set": {}},
                {"data": "grid25", "steps": 3000, "set": {}}]

    @classmethod
    def default_config(cls, data: str) -> dict:
        if data == "digits":
            return {"lr": 2e-4, "batch_size": 64, "z_dim": 32, "g_hidden": [256, 256], "d_hidden": [128, 128],
                    "pieces": 5, "dropout": 0.5, "input_dropout": 0.2, "loss": "non-saturating"}
        return {"lr": 2e-4, "batch_size": 256, "z_dim": 16, "g_hidden": [128, 128], "d_hidden": [128, 128],
                "pieces": 5, "dropout": 0.0, "input_dropout": 0.0, "loss": "non-saturating"}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(128, 128), pieces: int = 5, dropout: float = 0.5,
                 input_dropout: float = 0.2, loss: str = "non-saturating"):
        if loss not in ("minimax", "non-saturating"):
            raise ValueError(f"GAN: loss must be 'minimax' or 'non-saturating', got {loss!r}")
        super().__init__(data, lr, batch_size, n_critic=1, loss=loss)
        self.z_dim = z_dim
        out_dim = int(np.prod(self.data_shape))
        self.generator = mlp(z_dim, g_hidden, out_dim, out_activation=None if self.is_toy else nn.Sigmoid)
        self.discriminator = maxout_discriminator(out_dim, tuple(d_hidden), pieces, dropout, input_dropout)


def gradient_magnitude_figure(path: str, steps: int = 300, seed: int = 0) -> dict:
    """Train the digits GAN with each generator loss from the same start; plot ||dL_G/dtheta_G|| per step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minigen as mg

    curves = {}
    for loss in ("minimax", "non-saturating"):
        mg.manual_seed(seed)
        model = GAN("digits", **{**GAN.default_config("digits"), "loss": loss})
        opts = model.configure_optimizers()
        batches = iter(model.loader("train", seed=seed))
        norms = []
        for _ in range(steps):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(model.loader("train", seed=seed))
                batch = next(batches)
            norms.append(model.train_step(batch, opts)["g_grad_norm"])
        curves[loss] = norms
    fig, ax = plt.subplots(figsize=(5, 3.2))
    for loss, norms in curves.items():
        ax.semilogy(np.arange(1, steps + 1), norms, label=f"{loss}: " +
                    ("log(1 - D(G(z)))" if loss == "minimax" else "-log D(G(z))"))
    ax.set(xlabel="generator step", ylabel="||grad of generator loss||", title="GAN on digits: early training")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {k: float(np.mean(v[:50])) for k, v in curves.items()}


if __name__ == "__main__":
    print(gradient_magnitude_figure("docs/images/gan-gradient-magnitude.png"))
