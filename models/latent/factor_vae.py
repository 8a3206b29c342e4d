"""FactorVAE (Kim & Mnih, 2018): the VAE's bound with a penalty on the total correlation of the aggregate
posterior, estimated by a discriminator between samples of q(z) and dimension-wise permuted samples.

    L = (1/N) sum_i [E_q(z|x_i) log p(x_i|z) - KL(q(z|x_i) || p(z))] - gamma TC(z)
    TC(z) = KL(q(z) || prod_j q(z_j)) ~= E_q(z)[log D(z) / (1 - D(z))] = E_q(z)[T(z)]
    D: logistic regression of z ~ q(z) against permute_dims(z'), each coordinate shuffled across the batch

As in the paper's Algorithm 2, each batch is split in two halves: the first gives the VAE's loss and the TC
term (D frozen, gradients reach the encoder through z), the second, detached and permuted dimension by
dimension, gives the discriminator's "product of marginals" samples against the first half's codes.
`tc` (the discriminator's estimate on the first half) is logged every step. Deviations: the discriminator is
the shared DensityRatioEstimator (two hidden layers of 256 instead of six of 1000) with Adam betas (0.5, 0.9)
as in the paper, lr 1e-3 for both networks on this small data set. It trains on shapes only (the default
data): its metric, `disentanglement`, needs the known factors that digits lack.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, optim
from minigen.autograd import Tensor
from minigen.distributions import kl_divergence

from ..gan.base import frozen
from .density_ratio import DensityRatioEstimator
from .vae import BetaVAE, standard_normal_like


def permute_dims(z: Tensor, rng: np.random.Generator) -> Tensor:
    """Each column of z (B, Z) shuffled by its own permutation of the batch: samples of prod_j q(z_j)."""
    b, d = z.shape
    rows = np.stack([rng.permutation(b) for _ in range(d)], axis=1)
    flat = mg.tensor((rows * d + np.arange(d)).reshape(-1).astype(np.int64), device=z.device)
    return z.reshape(-1)[flat].reshape(b, d)


class FactorVAE(BetaVAE):
    """The VAE (beta = 1) plus gamma times the discriminator's total-correlation estimate."""

    datasets = ("shapes",)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "beta": 1.0, "latent": 10, "gamma": 10.0, "d_hidden": [256, 256]}

    def __init__(self, data: str = "shapes", lr: float = 1e-3, batch_size: int = 64, latent: int = 10,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, gamma: float = 10.0, d_hidden=(256, 256)):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        self.gamma = float(gamma)
        self.discriminator = DensityRatioEstimator(self.latent, tuple(d_hidden))

    def configure_optimizers(self) -> list:
        """[Adam on the VAE, Adam(betas 0.5, 0.9) on the discriminator]."""
        d = {id(p) for p in self.discriminator.parameters()}
        return [optim.Adam([p for p in self.parameters() if id(p) not in d], lr=self.lr),
                optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.9))]

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """-mean(recon - beta KL) + gamma mean T(z), z ~ q(z|x) of the batch."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        q = self.encode(obs)
        z = q.rsample()
        recon = self.decode(z).log_prob(obs).sum(axis=-1)
        kl = kl_divergence(q, standard_normal_like(q.loc)).sum(axis=-1)
        tc = self.discriminator(z).mean()
        loss = -(recon - self.kl_weight(step) * kl).mean() + self.gamma * tc
        return loss, {"elbo": (recon - kl).mean(), "recon": recon.mean(), "kl": kl.mean(), "tc": tc}

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """The VAE + TC update on the first half of the batch, then the discriminator's on codes of the first
        half against permuted codes of the second."""
        opt_vae, opt_d = optimizers
        n = batch.shape[0] // 2
        if n < 2:
            raise ValueError(f"{self.name}: a batch of {batch.shape[0]} is too small to split in two halves")
        first, second = batch[:n], batch[n:2 * n]
        with frozen(self.discriminator):
            loss, logs = self.objective(first, step)
            opt_vae.zero_grad()
            loss.backward()
        opt_vae.step()
        with mg.no_grad():
            z1 = self.encode(self._observed(self._split(first)[0])).rsample()
            z2 = self.encode(self._observed(self._split(second)[0])).rsample()
        d_loss = self.discriminator.loss(z1, permute_dims(z2, backend.rng("cpu")))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        return {"loss": loss.item(), "d_loss": d_loss.item(), **{k: float(v.item()) for k, v in logs.items()}}

    def metrics(self, split: str = "test") -> dict:
        """beta-VAE's metrics (disentanglement on shapes) and the TC estimate on the split's codes."""
        out = super().metrics(split)
        with self.evaluating():
            z = self.encode(self._observed(self._split(self.eval_batch(split))[0])).rsample()
            out["test_tc"] = float(self.discriminator(z).numpy().mean())
        return out
