"""SNGAN (Miyato et al., 2018): every discriminator layer's weight divided by its largest singular value
(one power iteration per forward, persistent u), trained with the hinge loss
E relu(1 - D(x)) + E relu(1 + D(G(z))); the generator minimises -E D(G(z)); n_critic = 5, Adam(0.5, 0.999).

On the 2-D toys a spectrally normalised D is 1-Lipschitz in coordinates where neighbouring modes are 0.7
apart, so its outputs cannot reach the hinge's margins and it barely tells the grid from its neighbourhood;
the toys therefore feed D its input times d_gain = 10 (a Lipschitz bound of 10), with the learning rate
decayed linearly to 0 over the run. With d_gain = 1 SNGAN collapsed on the grid in our runs (the same in
PyTorch).
"""
from __future__ import annotations

from minigen import nn

from .base import MLPGAN


class SNGAN(MLPGAN):
    """MLP generator; MLP discriminator with nn.spectral_norm on every Linear and LeakyReLU(0.1); Adam."""

    loss_kind = "hinge"
    d_activation = staticmethod(lambda: nn.LeakyReLU(0.1))
    d_wrap = staticmethod(nn.spectral_norm)

    @classmethod
    def default_config(cls, data: str) -> dict:
        toy = data != "digits"
        return {**cls.mlp_config(data), "lr": 5e-4 if toy else 2e-4, "n_critic": 5, "d_gain": 10.0 if toy else 1.0}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 g_hidden=(256, 256), d_hidden=(256, 256), n_critic: int = 5, decay_steps: int | None = 0,
                 d_gain: float = 1.0):
        super().__init__(data, lr, batch_size, z_dim, g_hidden, d_hidden, n_critic, "hinge", decay_steps)
        self.d_gain = d_gain

    def to_model(self, x):
        """The discriminator's input times d_gain: its Lipschitz bound in the (toy-normalised) data units."""
        return super().to_model(x) * self.d_gain if self.d_gain != 1 else super().to_model(x)
