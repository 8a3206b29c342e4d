"""GAN (Goodfellow et al., 2014): an MLP generator and a maxout discriminator with dropout.

min_G max_D E_x log D(x) + E_z log(1 - D(G(z))). The generator minimises either the minimax objective
log(1 - D(G(z))) itself, whose gradient vanishes when D confidently rejects early samples, or the
non-saturating -log D(G(z)) that the paper recommends; bench/figures.py's `gradient_magnitude_figure` plots
both.
"""
from __future__ import annotations

import numpy as np

from minigen import nn

from ..nets import mlp
from .base import GANModel


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

    @classmethod
    def default_config(cls, data: str) -> dict:
        """lr decays linearly to 0 over the run (decay_steps None; vanilla GANs drift without it)."""
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 64, "z_dim": 32, "g_hidden": [256, 256], "d_hidden": [128, 128],
                    "pieces": 5, "dropout": 0.5, "input_dropout": 0.2, "loss": "non-saturating",
                    "decay_steps": None}
        return {"lr": 5e-4, "batch_size": 128, "z_dim": 16, "g_hidden": [128, 128], "d_hidden": [128, 128],
                "pieces": 5, "dropout": 0.0, "input_dropout": 0.0, "loss": "non-saturating",
                "decay_steps": None}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(128, 128), pieces: int = 5, dropout: float = 0.5,
                 input_dropout: float = 0.2, loss: str = "non-saturating", decay_steps: int | None = 0):
        if loss not in ("minimax", "non-saturating"):
            raise ValueError(f"GAN: loss must be 'minimax' or 'non-saturating', got {loss!r}")
        super().__init__(data, lr, batch_size, n_critic=1, loss=loss, decay_steps=decay_steps)
        self.z_dim = z_dim
        out_dim = int(np.prod(self.event_shape))
        self.generator = mlp([z_dim, *g_hidden, out_dim], out_activation=None if self.is_toy else nn.Sigmoid,
                             flatten=True)
        self.discriminator = maxout_discriminator(out_dim, tuple(d_hidden), pieces, dropout, input_dropout)
