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

import numpy as np

import minigen as mg
from minigen import nn

from .gan_toolkit import GANModel, run_steps, zoo_runs


def dcgan_init_(module: nn.Module) -> None:
    """Conv/Linear weights ~ N(0, 0.02), biases 0; batch-norm scales ~ N(1, 0.02), shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def conv_generator(in_dim: int, c: int) -> nn.Sequential:
    """z (n, in_dim) -> (n, 1, 8, 8) in [-1, 1]."""
    return nn.Sequential(
        nn.Linear(in_dim, 2 * c * 4, bias=False), nn.BatchNorm1d(2 * c * 4), nn.ReLU(),
        nn.Unflatten(1, (2 * c, 2, 2)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Tanh())


def conv_body(c: int) -> nn.Sequential:
    """x (n, 1, 8, 8) in [-1, 1] -> features (n, 2c, 2, 2)."""
    return nn.Sequential(
        nn.Conv2d(1, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2))


def mlp_generator_bn(in_dim: int, hidden, out_dim: int) -> nn.Sequential:
    layers, width = [], in_dim
    for h in hidden:
        layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers, nn.Linear(width, out_dim))


def mlp_body_bn(in_dim: int, hidden) -> nn.Sequential:
    """LeakyReLU(0.2) everywhere, batch norm on every hidden layer but the first (as in DCGAN's D)."""
    layers, width = [], in_dim
    for k, h in enumerate(hidden):
        layers += [nn.Linear(width, h, bias=k == 0)] + ([nn.BatchNorm1d(h)] if k else []) + [nn.LeakyReLU(0.2)]
        width = h
    return nn.Sequential(*layers)


class DCGAN(GANModel):
    """Convolutional GAN on digits (MLP with DCGAN's recipe on the toys)."""

    zoo_runs = zoo_runs({"digits": 2000, "ring8": 5000, "grid25": 10000})
    zoo_run = zoo_runs[0]

    @classmethod
    def default_config(cls, data: str) -> dict:
        """Adam(2e-4, 0.5) as in the paper; on the toys decayed linearly to 0 over the zoo run."""
        if data == "digits":
            return {"lr": 2e-4, "batch_size": 64, "z_dim": 32, "channels": 32, "hidden": [128, 128],
                    "decay_steps": 0}
        return {"lr": 2e-4, "batch_size": 128, "z_dim": 16, "channels": 32, "hidden": [256, 256],
                "decay_steps": run_steps(cls, data)}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 channels: int = 32, hidden=(128, 128), decay_steps: int = 0):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating", decay_steps=decay_steps)
        self.z_dim = z_dim
        if self.is_toy:
            self.generator = mlp_generator_bn(z_dim, hidden, 2)
            self.discriminator = nn.Sequential(mlp_body_bn(2, hidden), nn.Linear(hidden[-1], 1))
        else:
            self.generator = conv_generator(z_dim, channels)
            self.discriminator = nn.Sequential(conv_body(channels), nn.Conv2d(2 * channels, 1, 2))
        dcgan_init_(self)

    def to_model(self, x):
        """Images in [0, 1] -> [-1, 1], the range of G's tanh (toys: scaled as in every GAN here)."""
        return super().to_model(x) if self.is_toy else x * 2 - 1

    def from_model(self, out):
        return super().from_model(out) if self.is_toy else (out + 1) * 0.5


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
