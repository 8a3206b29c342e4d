"""WGAN (Arjovsky et al., 2017) and WGAN-GP (Gulrajani et al., 2017): a critic f estimates the Wasserstein-1
distance max_{||f||_L <= 1} E_x f(x) - E_z f(G(z)); the generator minimises -E_z f(G(z)).

WGAN keeps f Lipschitz by clipping its weights to [-c, c] after every update (RMSprop, n_critic = 5).
WGAN-GP adds lambda E[(||grad f(x_hat)||_2 - 1)^2] at random interpolates x_hat instead (Adam(0.5, 0.9),
n_critic = 5), one interpolation weight per example and the norm over all non-batch axes
(models/gan/losses.py). lambda = 10 on digits, as in the paper; on the 2-D toys lambda = 1, since with
10 the critic failed to separate the 25-Gaussian grid from the generator's samples in our budget (the same in
PyTorch), and the authors' own toy script uses 0.1 ("smaller lambda seems to help for toy tasks").
On the toys the learning rate decays linearly to 0 over the run (decay_steps); WGAN's paper rate 5e-5 left the
toy generators where they started in our budget, so the toys start WGAN at 5e-4.
"""
from __future__ import annotations

from minigen import optim

from .base import MLPGAN
from .losses import clip_weights_, gradient_penalty


class WGAN(MLPGAN):
    """MLP generator and critic; critic weights clipped to [-clip, clip]; RMSprop(5e-5)."""

    loss_kind = "wasserstein"

    @classmethod
    def default_config(cls, data: str) -> dict:
        toy = data != "digits"
        return {**cls.mlp_config(data), "lr": 5e-4 if toy else 5e-5, "n_critic": 5, "clip": 0.01,
                "decay_steps": None if toy else 0}

    def __init__(self, data: str = "digits", lr: float = 5e-5, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(256, 256), n_critic: int = 5, clip: float = 0.01,
                 decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size, z_dim, g_hidden, d_hidden, n_critic, "wasserstein", decay_steps)
        self.clip = clip

    def configure_optimizers(self) -> list:
        return [optim.RMSprop(self.generator_parameters(), lr=self.lr),
                optim.RMSprop(self.discriminator_parameters(), lr=self.lr)]

    def after_d_step(self) -> None:
        clip_weights_(self.discriminator, self.clip)


class WGANGP(MLPGAN):
    """MLP generator and critic (no batch norm in the critic, as the penalty is per example); Adam(0.5, 0.9)."""

    loss_kind = "wasserstein"

    @classmethod
    def default_config(cls, data: str) -> dict:
        toy = data != "digits"
        return {**cls.mlp_config(data), "lr": 5e-4 if toy else 1e-4, "n_critic": 5,
                "gp_weight": 1.0 if toy else 10.0}

    def __init__(self, data: str = "digits", lr: float = 1e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(256, 256), n_critic: int = 5, gp_weight: float = 10.0,
                 decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size, z_dim, g_hidden, d_hidden, n_critic, "wasserstein", decay_steps)
        self.gp_weight = gp_weight

    def configure_optimizers(self) -> list:
        return [optim.Adam(self.generator_parameters(), lr=self.lr, betas=(0.5, 0.9)),
                optim.Adam(self.discriminator_parameters(), lr=self.lr, betas=(0.5, 0.9))]

    def extra_d_loss(self, real, fake, y, z):
        gp = gradient_penalty(lambda x: self.critic(x, y), real, fake, self.gp_weight)
        return gp, {"gp": gp.item()}

