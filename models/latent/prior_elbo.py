"""A VAE whose prior is learned as the aggregate posterior q(z) = E_x q(z|x), with the KL term made
tractable by the density-ratio trick (the "optimal prior" of Hoffman & Johnson's ELBO surgery, 2016; the
discriminator as in Mescheder et al.'s adversarial variational Bayes, 2017, and Makhzani's implicit priors):

    KL(q(z|x) || q(z)) = KL(q(z|x) || N(0, I)) + E_q(z|x)[log N(z; 0, I) - log q(z)]
                       = KL(q(z|x) || N(0, I)) - E_q(z|x)[T(z)],     T(z) ~= log q(z) / N(z; 0, I)
    training objective:  E_q[log p(x|z)] - KL(q(z|x) || N(0, I)) + T(z),   z ~ q(z|x) reparameterized

T is a DensityRatioEstimator trained by logistic regression of codes z ~ q(z|x) (the data's aggregate
posterior) against z ~ N(0, I); encoder, decoder and T are trained together, one T update then one VAE
update (T frozen; its gradient reaches the encoder through z) per step.

What the numbers mean. The training objective is a lower bound on log p(x) only if T is exactly the log
ratio, which a discriminator never is, so it is reported as test_elbo_dr and not as a bound. The prior the
model actually defines is the normalised tilt of the Gaussian by the discriminator,

    p_T(z) = N(z; 0, I) exp(T(z)) / Z_T,   Z_T = E_N(0,I)[exp T(z)]   (Z_T = 1 when T is exact),

an explicit density: log Z_T is estimated with `z_samples` Gaussian draws at evaluation, and test_elbo and
iwae_nll are the bounds of the model with prior p_T (valid up to the Monte Carlo error of log Z_T, reported as
prior_log_z). test_elbo - test_elbo_dr = -log Z_T measures how far T is from a normalised log ratio. Samples
come from p_T by sampling-importance-resampling of N(0, I) draws weighted by exp(T).

Deviation: the paper setting trains a separate aggregate-posterior prior; using the tilted Gaussian p_T
makes the learned prior a density that the same importance-sampled evaluation as every VAE here can use.
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

import minigen as mg
from minigen import backend, optim
from minigen.autograd import Tensor
from minigen.distributions import kl_divergence

from ..gan.base import frozen
from .density_ratio import DensityRatioEstimator
from .vae import VAE, standard_normal_like


class PriorELBOVAE(VAE):
    """The VAE with the aggregate posterior as its prior, the KL through a density-ratio discriminator."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "d_hidden": [128, 128], "z_samples": 200000}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, d_hidden=(128, 128), z_samples: int = 200000):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        self.discriminator = DensityRatioEstimator(self.latent, tuple(d_hidden))
        self.z_samples = int(z_samples)
        self._log_z: float | None = None  # log Z_T, cached inside normalizer_cached()

    def configure_optimizers(self) -> list:
        """[Adam on the encoder and decoder (and the Gaussian scale), Adam(betas 0.5, 0.9) on T]."""
        d = {id(p) for p in self.discriminator.parameters()}
        return [optim.Adam([p for p in self.parameters() if id(p) not in d], lr=self.lr),
                optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.9))]

    # ------------------------------------------------------------------------------------ the prior
    def log_normalizer(self) -> float:
        """log Z_T = log E_N(0,I)[exp T(z)] from z_samples Gaussian draws (the cached value inside metrics)."""
        if self._log_z is not None:
            return self._log_z
        parts = []
        with self.evaluating():
            for start in range(0, self.z_samples, 50000):
                n = min(50000, self.z_samples - start)
                parts.append(self.discriminator(mg.randn(n, self.latent, device=self.device)).numpy())
        t = np.concatenate(parts).astype(np.float64)
        return float(np.logaddexp.reduce(t) - math.log(len(t)))

    def log_prior(self, z: Tensor) -> Tensor:
        """log p_T(z) = log N(z; 0, I) + T(z) - log Z_T."""
        flat = z.reshape(-1, self.latent)
        t = self.discriminator(flat).reshape(*z.shape[:-1])
        return super().log_prior(z) + t - self.log_normalizer()

    def prior_sample(self, n: int) -> Tensor:
        """z ~ p_T by sampling-importance-resampling: 20 n draws of N(0, I), resampled with weights exp T."""
        with mg.no_grad():
            pool = mg.randn(20 * n, self.latent, device=self.device)
            t = self.discriminator(pool).numpy().astype(np.float64)
        w = np.exp(t - t.max())
        idx = backend.rng("cpu").choice(len(w), size=n, p=w / w.sum())
        return pool[mg.tensor(idx.astype(np.int64), device=self.device)]

    # ------------------------------------------------------------------------------------ the bound
    def dr_terms(self, batch) -> tuple[Tensor, Tensor, Tensor]:
        """(E_q log p(x|z), KL(q(z|x) || N(0, I)), T(z)) per example, one reparameterized z."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        q = self.encode(obs)
        z = q.rsample()
        recon = self.decode(z).log_prob(obs).sum(axis=-1) + self._log_px_offset
        kl_normal = kl_divergence(q, standard_normal_like(q.loc)).sum(axis=-1)
        return recon, kl_normal, self.discriminator(z)

    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(E_q log p(x|z), KL(q(z|x) || p_T)) = (recon, KL_N - T(z) + log Z_T): the bound under p_T."""
        recon, kl_normal, t = self.dr_terms(batch)
        return recon, kl_normal - t + self.log_normalizer()

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """-mean(recon - beta_t (KL_N - T(z))): the density-ratio ELBO (T's weights are not trained here)."""
        recon, kl_normal, t = self.dr_terms(batch)
        kl = kl_normal - t
        loss = -(recon - self.kl_weight(step) * kl).mean()
        return loss, {"elbo_dr": (recon - kl).mean(), "recon": recon.mean(), "kl_normal": kl_normal.mean(),
                      "t_mean": t.mean()}

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One update of T (codes of the batch against N(0, I)), then one of the VAE with T frozen."""
        opt_vae, opt_d = optimizers
        x, _ = self._split(batch)
        with mg.no_grad():
            z = self.encode(self._observed(x)).rsample()
        d_loss = self.discriminator.loss(z, mg.randn(*z.shape, device=self.device))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        with frozen(self.discriminator):
            loss, logs = self.objective(batch, step)
            opt_vae.zero_grad()
            loss.backward()
        opt_vae.step()
        return {"loss": loss.item(), "d_loss": d_loss.item(), **{k: float(v.item()) for k, v in logs.items()}}

    @contextlib.contextmanager
    def normalizer_cached(self):
        """Inside the block log Z_T is estimated once and reused (T does not change while evaluating)."""
        outer = self._log_z is not None
        if not outer:
            self._log_z = self.log_normalizer()
        try:
            yield self._log_z
        finally:
            if not outer:
                self._log_z = None

    def log_prob_estimate(self, batch, k: int = 1000, chunk_size: int | None = None) -> Tensor:
        """The VAE's importance-sampled log p(x) under p_T, with one estimate of log Z_T for all chunks."""
        with self.normalizer_cached():
            return super().log_prob_estimate(batch, k, chunk_size)

    def metrics(self, split: str = "test") -> dict:
        """The VAE's metrics under the normalised prior p_T, prior_log_z, and test_elbo_dr (the training
        objective with the discriminator's KL, not a bound)."""
        with self.normalizer_cached() as log_z:
            out = super().metrics(split)
            with self.evaluating():
                recon, kl_normal, t = (a.numpy().astype(np.float64) for a in self.dr_terms(self.eval_batch(split)))
        return {**out, "test_elbo_dr": float((recon - kl_normal + t).mean()), "prior_log_z": log_z}
