"""A deterministic autoencoder: code c = f(x), reconstruction logits g(c), trained on the binary
cross-entropy -sum_d [x_d log s(g_d) + (1 - x_d) log s(-g_d)] (summed over pixels, mean over the batch).

It has no prior and hence no likelihood: its metrics are reconstruction numbers only. `sample` decodes codes
drawn from a diagonal Gaussian fitted to the training set's codes, which shows why the VAE's prior matters.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend
from minigen.autograd import Tensor

from ..base import DIGITS_SHAPE, GenerativeModel
from ..nets import mlp
from .vae import PIXELS, reconstruction_figure


class Autoencoder(GenerativeModel):
    """MLP encoder D -> h -> h -> Z and decoder Z -> h -> h -> D (the VAE's sizes), Bernoulli decoder."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "latent": 16, "hidden": 256}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256):
        super().__init__(data, lr, batch_size)
        self.latent = int(latent)
        self.encoder = mlp([PIXELS, hidden, hidden, self.latent])
        self.decoder = mlp([self.latent, hidden, hidden, PIXELS])

    def encode(self, x: Tensor) -> Tensor:
        return self.encoder(x.flatten(1))

    def decode_logits(self, code: Tensor) -> Tensor:
        return self.decoder(code)

    def reconstruction_bce(self, x: Tensor) -> Tensor:
        """-log p(x | g(f(x))) per example, summed over pixels (nats)."""
        logits = self.decode_logits(self.encode(x))
        return F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="none").sum(axis=1)

    def loss(self, batch: Tensor) -> Tensor:
        return self.reconstruction_bce(batch).mean()

    def reconstruct(self, x: Tensor) -> Tensor:
        """sigmoid(g(f(x))): pixel probabilities of the reconstruction."""
        with self.evaluating():
            return self.decode_logits(self.encode(x)).sigmoid().reshape(-1, *DIGITS_SHAPE)

    def code_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of the training set's codes, per coordinate."""
        with self.evaluating():
            x = mg.tensor(self.split_arrays("train")[0], device=self.device)
            codes = self.encode(x).numpy()
        return codes.mean(0), codes.std(0)

    def sample(self, n: int, y=None, *, mean: bool = False) -> Tensor:
        """Decode c ~ N(mean, diag std^2) of the training codes; binary draws (or probabilities if mean)."""
        self.labels(n, y)
        mu, sd = self.code_statistics()
        with self.evaluating():
            noise = mg.randn(n, self.latent).numpy()
            code = mg.tensor(backend.to_device((mu + sd * noise).astype(np.float32), self.device))
            p = self.decode_logits(code).sigmoid()
            out = p if mean else mg.tensor((mg.rand_like(p).data < p.data).astype(p.dtype))
            return out.reshape(-1, *DIGITS_SHAPE)

    def sample_figure(self, path: str, n: int = 60) -> str:
        """Test digits, their reconstructions, then n decoded Gaussian codes (pixel probabilities)."""
        return reconstruction_figure(self, path, n)

    def metrics(self, split: str = "test") -> dict:
        """test_recon_bce (nats per image) and test_pixel_error (share of pixels wrong at threshold 1/2)."""
        x = self.eval_batch(split)
        with self.evaluating():
            bce = self.reconstruction_bce(x).numpy()
            wrong = ((self.reconstruct(x).numpy() > 0.5) != (x.numpy() > 0.5)).mean()
        return {"test_recon_bce": float(bce.mean()), "test_pixel_error": float(wrong)}
