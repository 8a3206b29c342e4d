"""DCGAN (Radford et al., 2016) adapted to 8x8 digits: strided convolutions in D, transposed convolutions in G,
batch norm, ReLU in G and LeakyReLU(0.2) in D, a tanh output, Adam(2e-4, beta1 = 0.5), N(0, 0.02) init.

    G: z -> Linear -> BN -> ReLU -> (2c, 2, 2) -> ConvT(2c -> c, 4, s2, p1) 4x4 -> BN -> ReLU
         -> ConvT(c -> 1, 4, s2, p1) 8x8 -> tanh
    D: x -> Conv(1 -> c, 4, s2, p1) 4x4 -> LReLU -> Conv(c -> 2c, 4, s2, p1) 2x2 -> BN -> LReLU
         -> Conv(2c -> 1, 2) 1x1 (one logit)

Images are [0, 1] outside the model and [-1, 1] inside (G's tanh, D's input). On the 2-D toys the same
recipe is applied to MLPs (batch norm + ReLU in G, LeakyReLU + batch norm in D), as there are no pixels to
convolve.
"""
from __future__ import annotations

from minigen import nn

from ..nets import conv_body, conv_generator, dcgan_init_, mlp
from .base import GANModel


class DCGAN(GANModel):
    """Convolutional GAN on digits (MLP with DCGAN's recipe on the toys)."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        """Adam(2e-4, 0.5) as in the paper; on the toys decayed linearly to 0 over the run (decay_steps None)."""
        if data == "digits":
            return {"lr": 2e-4, "batch_size": 64, "z_dim": 32, "channels": 32, "hidden": [128, 128],
                    "decay_steps": 0}
        return {"lr": 2e-4, "batch_size": 128, "z_dim": 16, "channels": 32, "hidden": [256, 256],
                "decay_steps": None}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 channels: int = 32, hidden=(128, 128), decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating", decay_steps=decay_steps)
        self.z_dim = z_dim
        if self.is_toy:
            self.generator = mlp([z_dim, *hidden, 2], norm=nn.BatchNorm1d)
            self.discriminator = mlp([2, *hidden, 1], activation=lambda: nn.LeakyReLU(0.2), norm=nn.BatchNorm1d,
                                     norm_first=False)
        else:
            self.generator = conv_generator(z_dim, channels)
            self.discriminator = nn.Sequential(conv_body(channels), nn.Conv2d(2 * channels, 1, 2))
        dcgan_init_(self)

    def to_model(self, x):
        """Images in [0, 1] -> [-1, 1], the range of G's tanh (toys: scaled as in every GAN here)."""
        return super().to_model(x) if self.is_toy else x * 2 - 1

    def from_model(self, out):
        return super().from_model(out) if self.is_toy else (out + 1) * 0.5
