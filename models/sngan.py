"""SNGAN (Miyato et al., 2018): every discriminator layer's weight divided by its largest singular value
(one power iteration per forward, persistent u), trained with the hinge loss
E relu(1 - D(x)) + E relu(1 + D(G(z))); the generator minimises -E D(G(z)).
"""
from __future__ import annotations

from minigen import nn

from .gan_toolkit import MLPGAN, zoo_runs


class SNGAN(MLPGAN):
    """MLP generator; MLP discriminator with nn.spectral_norm on every Linear and LeakyReLU(0.1); Adam."""

    loss_kind = "hinge"
    d_activation = staticmethod(lambda: nn.LeakyReLU(0.1))
    d_wrap = staticmethod(nn.spectral_norm)
    zoo_runs = zoo_runs(3000, 3000)
    zoo_run = zoo_runs[0]

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**cls.mlp_config(data), "lr": 2e-4, "n_critic": 1}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(256, 256), n_critic: int = 1):
        super().__init__(data, lr, batch_size, z_dim, g_hidden, d_hidden, n_critic, "hinge")
