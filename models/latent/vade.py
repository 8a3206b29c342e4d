"""Variational deep embedding, VaDE (Jiang, Zheng, Tan, Tang & Zhou, 2017): a VAE whose prior is a Gaussian
mixture, so that its components are clusters of the data.

    p(c) = Cat(pi),   p(z|c) = N(mu_c, diag sigma_c^2),   p(x|z) = the VAE's decoder
    q(z, c|x) = q(z|x) q(c|x),  q(z|x) = N(mu~(x), diag sigma~(x)^2),  q(c|x) ~= p(c|z) = gamma_c(z)   (eq. 16)
    ELBO = E_q[log p(x|z)]
           - 1/2 sum_c gamma_c sum_j (log sigma_cj^2 + sigma~_j^2 / sigma_cj^2 + (mu~_j - mu_cj)^2 / sigma_cj^2)
           + sum_c gamma_c log(pi_c / gamma_c) + 1/2 sum_j (1 + log sigma~_j^2)                      (eq. 17)

with gamma computed from the same reparameterized z as the reconstruction term. The cluster of x is
argmax_c gamma_c(mu~(x)) (`predict_cluster`).

Training, as in the paper: `pretrain_steps` steps of a plain autoencoder (the decoder at z = mu~(x), no KL),
then a diagonal Gaussian mixture fitted by EM to the training set's codes mu~(x) (from k-means centres)
initialises pi, mu_c, sigma_c, and the whole ELBO is trained from there. The switch happens inside
train_step at step == pretrain_steps, so a resumed run is the same run.

Deviations: the paper pretrains a stacked autoencoder layer by layer; one end-to-end autoencoder phase with
the same networks does the same job here (initial codes with cluster structure). pi is parameterized by
logits (softmax) instead of being clipped and renormalised after each step, so it stays a distribution.
On the 17-level digits the decoder is the VAE's Gaussian on dequantized levels (the paper's MNIST decoder is
Bernoulli on gray values, which is not a likelihood for non-binary pixels).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.data import load_digits

from ..evaluation.clustering import cluster_acc, kmeans, kmeans_cluster_acc, squared_distances
from .vae import LEVELS, VAE, reconstruction_figure

LOG_2PI = math.log(2 * math.pi)


def fit_diagonal_gmm(x: np.ndarray, k: int, seed: int = 0, iterations: int = 200,
                     floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (k,), means (k, D), variances (k, D)) of a diagonal Gaussian mixture fitted to x (N, D) by EM
    from the k-means centres; variances are floored at `floor` times the data's variance."""
    x = np.asarray(x, np.float64)
    means = kmeans(x, k, seed, restarts=5)
    floor_var = floor * x.var(0) + 1e-12
    assign = squared_distances(x, means).argmin(1)
    variances = np.array([x[assign == j].var(0) if (assign == j).sum() > 1 else x.var(0) for j in range(k)])
    variances = np.maximum(variances, floor_var)
    weights = np.bincount(assign, minlength=k) / len(x) + 1e-6
    for _ in range(iterations):
        log_p = (np.log(weights)[None] - 0.5 * (np.log(2 * np.pi * variances)[None]
                                                 + (x[:, None] - means[None]) ** 2 / variances[None]).sum(-1))
        resp = np.exp(log_p - log_p.max(1, keepdims=True))
        resp /= resp.sum(1, keepdims=True)
        mass = resp.sum(0) + 1e-10
        weights = mass / len(x)
        means = resp.T @ x / mass[:, None]
        variances = np.maximum(resp.T @ x ** 2 / mass[:, None] - means ** 2, floor_var)
    return weights, means, variances


class VaDE(VAE):
    """The VAE's networks with a K-component Gaussian-mixture prior, AE pretraining and GMM initialisation."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "latent": 10, "likelihood": "gaussian", "clusters": 10,
                "pretrain_steps": 1000, "eval_k": 1000}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 10,
                 hidden: int = 256, likelihood: str = "gaussian", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, clusters: int = 10, pretrain_steps: int = 1000):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        if clusters < 1 or pretrain_steps < 0:
            raise ValueError(f"{self.name}: need clusters >= 1 and pretrain_steps >= 0, got {clusters}, "
                             f"{pretrain_steps}")
        self.clusters, self.pretrain_steps = int(clusters), int(pretrain_steps)
        rng = np.random.default_rng(0)
        self.pi_logits = nn.Parameter(np.zeros(self.clusters, np.float32))
        self.prior_mean = nn.Parameter(rng.standard_normal((self.clusters, self.latent)).astype(np.float32))
        self.prior_logvar = nn.Parameter(np.zeros((self.clusters, self.latent), np.float32))

    # --------------------------------------------------------------------------------- the mixture
    def log_joint_c(self, z: Tensor) -> Tensor:
        """log p(c) + log p(z|c) for every component: z (..., Z) -> (..., K)."""
        diff = z.unsqueeze(-2) - self.prior_mean
        log_pz_c = -0.5 * (LOG_2PI + self.prior_logvar + diff * diff * (-self.prior_logvar).exp()).sum(axis=-1)
        return self.pi_logits.log_softmax(axis=-1) + log_pz_c

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) = log sum_c pi_c N(z; mu_c, sigma_c^2)."""
        return self.log_joint_c(z).logsumexp(axis=-1)

    def prior_sample(self, n: int) -> Tensor:
        """c ~ Cat(pi), z ~ N(mu_c, sigma_c^2)."""
        pi = self.pi_logits.softmax(axis=-1).numpy().astype(np.float64)
        c = backend.rng("cpu").choice(self.clusters, size=n, p=pi / pi.sum())
        return self.component_sample(c)

    def component_sample(self, c: np.ndarray) -> Tensor:
        """z ~ N(mu_c, sigma_c^2) for each given component index."""
        idx = mg.tensor(np.asarray(c, np.int64), device=self.device)
        noise = mg.randn(len(c), self.latent, device=self.device)
        return self.prior_mean[idx] + (self.prior_logvar[idx] * 0.5).exp() * noise

    # ------------------------------------------------------------------------------------ the bound
    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(E_q log p(x|z), the KL part of eq. 17) per example, gamma from the reparameterized z."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        q = self.encode(obs)
        z = q.rsample()
        recon = self.decode(z).log_prob(obs).sum(axis=-1) + self._log_px_offset
        log_gamma = self.log_joint_c(z).log_softmax(axis=-1)
        gamma = log_gamma.exp()
        var_q = q.scale * q.scale
        diff = q.loc.unsqueeze(-2) - self.prior_mean
        mismatch = (self.prior_logvar + (var_q.unsqueeze(-2) + diff * diff) * (-self.prior_logvar).exp()).sum(-1)
        log_pi = self.pi_logits.log_softmax(axis=-1)
        kl = (0.5 * (gamma * mismatch).sum(-1) - (gamma * (log_pi - log_gamma)).sum(-1)
              - 0.5 * (1 + var_q.log()).sum(-1))
        return recon, kl

    def pretrain_loss(self, batch) -> Tensor:
        """The autoencoder phase: -log p(x | z = mu~(x)) averaged over the batch."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        return -(self.decode(self.encode(obs).loc).log_prob(obs).sum(axis=-1) + self._log_px_offset).mean()

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """The autoencoder loss before pretrain_steps; afterwards -mean ELBO (the GMM is fitted on entry)."""
        if step is not None and step < self.pretrain_steps:
            loss = self.pretrain_loss(batch)
            return loss, {"recon": -loss}
        if step is not None and step == self.pretrain_steps:
            self.init_prior_from_codes()
        return super().objective(batch, step)

    def init_prior_from_codes(self) -> None:
        """pi, mu_c, sigma_c^2 <- a diagonal GMM fitted by EM to mu~(x) of the training set."""
        weights, means, variances = fit_diagonal_gmm(self.codes("train"), self.clusters)
        xp = backend.array_module(self.prior_mean.data)
        self.pi_logits.data = xp.asarray(np.log(weights).astype(np.float32))
        self.prior_mean.data = xp.asarray(means.astype(np.float32))
        self.prior_logvar.data = xp.asarray(np.log(variances).astype(np.float32))

    # ----------------------------------------------------------------------------------- clustering
    def _encoder_input(self, x: Tensor) -> Tensor:
        """What the encoder reads without noise: binary pixels, or gray levels at their cells' centres."""
        x = x.flatten(1)
        return x if self.likelihood == "bernoulli" else (x + 0.5) * (1.0 / LEVELS)

    def codes(self, split: str) -> np.ndarray:
        """mu~(x) for every example of a split, (N, Z)."""
        with self.evaluating():
            return self.encode(self._encoder_input(self.eval_batch(split))).loc.numpy()

    def predict_cluster(self, x) -> np.ndarray:
        """argmax_c q(c|x), q(c|x) = gamma_c(mu~(x)): one cluster index per example (x: images (B, 1, 8, 8))."""
        x = x if isinstance(x, Tensor) else mg.tensor(np.asarray(x, np.float32), device=self.device)
        with self.evaluating():
            return self.log_joint_c(self.encode(self._encoder_input(x)).loc).numpy().argmax(-1)

    def metrics(self, split: str = "test") -> dict:
        """The VAE's metrics (with the mixture prior), cluster_acc of predict_cluster on the split, and
        kmeans_cluster_acc: k-means on the raw gray-level pixels (fitted on train) scored by the same code."""
        out = super().metrics(split)
        labels = self.split_arrays(split)[1]
        out["cluster_acc"] = cluster_acc(labels, self.predict_cluster(self.eval_batch(split)))
        gray = {s: load_digits(s).images.reshape(-1, int(np.prod(self.event_shape))) for s in ("train", split)}
        out["kmeans_cluster_acc"] = kmeans_cluster_acc(gray["train"], gray[split], labels, self.clusters)
        return out

    def sample_figure(self, path: str, n: int = 100) -> str:
        """Test digits, their reconstructions, then ten samples from each of the first ten components (a row
        per component)."""
        rows = min(self.clusters, 10)
        with self.evaluating():
            z = self.component_sample(np.repeat(np.arange(rows), 10))
            extra = self._as_image(self.decode(z), mean=True)
        return reconstruction_figure(self, path, extra=extra)

