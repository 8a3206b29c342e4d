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
then a Gaussian mixture fitted by EM to the training set's codes mu~(x) (gaussian_mixture.py: `gmm_restarts`
fits from k-means centres, the one with the highest likelihood kept, no labels) initialises pi, mu_c and
Sigma_c, and the whole ELBO is trained from there. The switch happens inside train_step at
step == pretrain_steps, so a resumed run is the same run.

Full covariances (`covariance="full"`, an extension: the paper's components are diagonal): with
Sigma_c^-1 = P_c P_c^T, P_c lower triangular with diagonal exp(-prior_logvar_c / 2) (see precision_factor),

    log p(z|c) = -1/2 (Z log 2 pi + sum_j prior_logvar_cj + ||P_c^T (z - mu_c)||^2)
    eq. 17's bracket: log det Sigma_c + sum_j sigma~_j^2 (Sigma_c^-1)_jj + (mu~ - mu_c)^T Sigma_c^-1 (mu~ - mu_c)
                    = sum_j prior_logvar_cj + sum_j sigma~_j^2 sum_k P_cjk^2 + ||P_c^T (mu~ - mu_c)||^2

(E_q of the Gaussian log-density under the diagonal q(z|x)); the diagonal case is P_c = diag(1 / sigma_c).
The autoencoder's codes are correlated within a digit class, which a diagonal component cannot follow: on
the validation digits full components cluster better (README: VaDE; bench/vade_valid.py).

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

from ..evaluation.clustering import cluster_acc, kmeans_cluster_acc
from .gaussian_mixture import COVARIANCES, fit_gmm, precision_cholesky
from .vae import LEVELS, VAE, reconstruction_figure

LOG_2PI = math.log(2 * math.pi)


def fit_diagonal_gmm(x: np.ndarray, k: int, seed: int = 0, iterations: int = 200,
                     floor: float = 1e-4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(weights (k,), means (k, D), variances (k, D)) of a diagonal Gaussian mixture fitted to x (N, D) by EM
    from the k-means centres; variances are floored at `floor` times the data's variance."""
    return fit_gmm(x, k, "diagonal", 1, seed, iterations, floor)[:3]


class VaDE(VAE):
    """The VAE's networks with a K-component Gaussian-mixture prior, AE pretraining and GMM initialisation."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "latent": 10, "likelihood": "gaussian", "clusters": 10,
                "pretrain_steps": 1000, "eval_k": 1000, "covariance": "diagonal", "gmm_restarts": 10}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 10,
                 hidden: int = 256, likelihood: str = "gaussian", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, clusters: int = 10, pretrain_steps: int = 1000, covariance: str = "diagonal",
                 gmm_restarts: int = 10):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        if clusters < 1 or pretrain_steps < 0 or gmm_restarts < 1:
            raise ValueError(f"{self.name}: need clusters >= 1, pretrain_steps >= 0 and gmm_restarts >= 1, got "
                             f"{clusters}, {pretrain_steps}, {gmm_restarts}")
        if covariance not in COVARIANCES:
            raise ValueError(f"{self.name}: covariance must be one of {COVARIANCES}, got {covariance!r}")
        self.clusters, self.pretrain_steps = int(clusters), int(pretrain_steps)
        self.covariance, self.gmm_restarts = covariance, int(gmm_restarts)
        rng = np.random.default_rng(0)
        self.pi_logits = nn.Parameter(np.zeros(self.clusters, np.float32))
        self.prior_mean = nn.Parameter(rng.standard_normal((self.clusters, self.latent)).astype(np.float32))
        self.prior_logvar = nn.Parameter(np.zeros((self.clusters, self.latent), np.float32))
        if covariance == "full":  # the strictly lower part of P_c (its upper part is masked out)
            self.prior_precision_offdiag = nn.Parameter(np.zeros((self.clusters,) + (self.latent,) * 2, np.float32))

    # --------------------------------------------------------------------------------- the mixture
    def precision_factor(self) -> Tensor:
        """P_c (K, Z, Z), full covariance only: diag(exp(-prior_logvar_c / 2)) + the strictly lower part of
        prior_precision_offdiag_c, so Sigma_c^-1 = P_c P_c^T and log det Sigma_c = sum_j prior_logvar_cj."""
        eye = np.eye(self.latent, dtype=np.float32)
        lower = mg.tensor(np.tril(np.ones_like(eye), -1), device=self.device)
        diagonal = mg.tensor(eye, device=self.device) * (self.prior_logvar * -0.5).exp().unsqueeze(-2)
        return self.prior_precision_offdiag * lower + diagonal

    def _mahalanobis(self, diff: Tensor) -> Tensor:
        """(z - mu_c)^T Sigma_c^-1 (z - mu_c) from diff = z - mu_c (..., K, Z) -> (..., K)."""
        if self.covariance == "diagonal":
            return (diff * diff * (-self.prior_logvar).exp()).sum(axis=-1)
        projected = diff.unsqueeze(-2) @ self.precision_factor()  # ((z - mu_c)^T P_c): (..., K, 1, Z)
        return (projected * projected).sum(axis=(-2, -1))

    def _precision_diagonal(self) -> Tensor:
        """The diagonal of Sigma_c^-1, (K, Z): exp(-prior_logvar), or the squared row norms of P_c."""
        if self.covariance == "diagonal":
            return (-self.prior_logvar).exp()
        p = self.precision_factor()
        return (p * p).sum(axis=-1)

    def log_joint_c(self, z: Tensor) -> Tensor:
        """log p(c) + log p(z|c) for every component: z (..., Z) -> (..., K)."""
        maha = self._mahalanobis(z.unsqueeze(-2) - self.prior_mean)
        log_pz_c = -0.5 * (self.latent * LOG_2PI + self.prior_logvar.sum(axis=-1) + maha)
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
        """z ~ N(mu_c, Sigma_c) for each given component index: mu_c + sigma_c * eps, or with full covariance
        mu_c + P_c^-T eps (its covariance is P_c^-T P_c^-1 = Sigma_c)."""
        idx = mg.tensor(np.asarray(c, np.int64), device=self.device)
        noise = mg.randn(len(c), self.latent, device=self.device)
        if self.covariance == "diagonal":
            return self.prior_mean[idx] + (self.prior_logvar[idx] * 0.5).exp() * noise
        with mg.no_grad():
            root = np.linalg.inv(np.swapaxes(self.precision_factor().numpy().astype(np.float64), -1, -2))
        offset = np.einsum("nij,nj->ni", root[np.asarray(c, np.int64)], noise.numpy()).astype(np.float32)
        return self.prior_mean[idx] + mg.tensor(offset, device=self.device)

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
        mismatch = (self.prior_logvar.sum(-1) + (var_q.unsqueeze(-2) * self._precision_diagonal()).sum(-1)
                    + self._mahalanobis(q.loc.unsqueeze(-2) - self.prior_mean))
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
        """pi, mu_c, Sigma_c <- the best by likelihood of `gmm_restarts` EM fits of a Gaussian mixture (of the
        model's covariance type) to mu~(x) of the training set."""
        fit = fit_gmm(self.codes("train"), self.clusters, self.covariance, self.gmm_restarts)
        xp = backend.array_module(self.prior_mean.data)
        as_param = lambda a: xp.asarray(np.asarray(a, np.float32))  # noqa: E731
        self.pi_logits.data = as_param(np.log(fit.weights))
        self.prior_mean.data = as_param(fit.means)
        if self.covariance == "diagonal":
            self.prior_logvar.data = as_param(np.log(fit.covariances))
        else:
            p = precision_cholesky(fit.covariances)
            self.prior_logvar.data = as_param(-2 * np.log(np.diagonal(p, axis1=-2, axis2=-1)))
            self.prior_precision_offdiag.data = as_param(np.tril(p, -1))

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

