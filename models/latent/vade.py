"""Variational deep embedding, VaDE (Jiang, Zheng, Tan, Tang & Zhou, 2017): a VAE whose prior is a Gaussian
mixture, so that its components are clusters of the data.

    p(c) = Cat(pi),   p(z|c) = N(mu_c, diag sigma_c^2),   p(x|z) = the VAE's decoder
    q(z, c|x) = q(z|x) q(c|x),  q(z|x) = N(mu~(x), diag sigma~(x)^2),  q(c|x) ~= p(c|z) = gamma_c(z)   (eq. 16)
    ELBO = E_q[log p(x|z)]
           - 1/2 sum_c gamma_c sum_j (log sigma_cj^2 + sigma~_j^2 / sigma_cj^2 + (mu~_j - mu_cj)^2 / sigma_cj^2)
           + sum_c gamma_c log(pi_c / gamma_c) + 1/2 sum_j (1 + log sigma~_j^2)                      (eq. 17)

with gamma computed from the same reparameterized z as the reconstruction term. The cluster of x is
argmax_c gamma_c(mu~(x)) (`predict_cluster`).

Training, as in the paper: `pretrain_steps` steps of a plain autoencoder (the decoder at z = mu~(x), no KL;
`pretrain_loss` "mse" is the paper's squared error ||x - x^||^2, "nll" the decoder's -log p(x|z = mu~(x))),
then a Gaussian mixture fitted by EM to the training set's codes mu~(x) (gaussian_mixture.py: `gmm_restarts`
fits from k-means centres, the one with the highest likelihood kept, no labels) initialises pi, mu_c and
Sigma_c, and the whole ELBO is trained from there. The switch happens inside train_step at
step == pretrain_steps, so a resumed run is the same run. `lr_decay` < 1 multiplies the learning rate of the
ELBO phase by lr_decay every ten epochs (the paper: 0.9), `pretrain_noise` > 0 drops encoder inputs at that
rate during pretraining (a denoising autoencoder, as in the stacked denoising autoencoder the paper's
pretraining comes from).

`pretrain_restarts` = R > 1 (an extension) pretrains R autoencoders side by side from different starting
weights (their losses summed, so each gets its own gradient; with "nll" they share the decoder's per-pixel
log_scale) and, at the switch, fits the mixture to each one's codes and keeps the autoencoder whose mixture
assigns its training codes most surely, the highest mean_i max_c q(c|x_i): no labels. On 15 pretrainings
(seeds 0-14, a one-off check in issue 15's notes) that sureness ranked the validation accuracy of the codes'
GMM with Spearman 0.74, against 0.57 for the agreement with the other runs' clusters, 0.53 for a whitened
silhouette and -0.28 for the likelihood gain of the mixture over one Gaussian. Over five seeds the surest of
five autoencoders reached 0.864 validation accuracy against one autoencoder's 0.865: no gain (README: VaDE).

`restart_choice="consensus"` (an extension: a cluster ensemble, Strehl & Ghosh 2002, Fred & Jain 2005) uses
all R clusterings instead of one: each autoencoder's mixture assigns the training codes (argmax_c q(c|x)),
k-means on the R concatenated one-hot assignments (that is, on the co-association: the share of the R that
put two digits together) gives one consensus clustering (evaluation/clustering.py consensus_clusters), the
autoencoder whose own clusters agree with it most (Hungarian-matched share) is kept, and the prior is the EM
fit to its codes started from the consensus clusters (gaussian_mixture.py fit_gmm_from_clusters). No labels.
If the consensus leaves a cluster with fewer than two digits, the surest autoencoder's own fit is kept.

What decides the clustering is the pretraining: the ELBO phase ends near the accuracy of the GMM fitted on
the pretrained codes (bench/vade_valid.py's `gmm_fit`). On the validation digits, squared-error pretraining
clusters better than the likelihood (whose learned per-pixel scales weight the near-constant border pixels
most, a guess); input dropout, lr decay, wider or narrower networks and codes did not help (README: VaDE).

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
import minigen.functional as F
from minigen import backend, nn, optim
from minigen.autograd import Tensor
from minigen.data import load_digits
from minigen.distributions import Bernoulli, Normal

from ..evaluation.clustering import cluster_acc, consensus_clusters, kmeans_cluster_acc
from ..nets import mlp
from .gaussian_mixture import (
    COVARIANCES,
    fit_gmm,
    fit_gmm_from_clusters,
    precision_cholesky,
    responsibilities,
)
from .vae import LEVELS, VAE, apply_rows, reconstruction_figure

LOG_2PI = math.log(2 * math.pi)
PRETRAIN_LOSSES = ("nll", "mse")  # the decoder's negative log-likelihood, or squared error (the paper's)
RESTART_CHOICES = ("sureness", "consensus")  # how pretrain_restarts > 1 become one initialisation


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
                "pretrain_steps": 1000, "eval_k": 1000, "covariance": "diagonal", "gmm_restarts": 10,
                "pretrain_noise": 0.0, "lr_decay": 1.0, "pretrain_loss": "mse", "pretrain_restarts": 1,
                "restart_choice": "sureness"}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 10,
                 hidden: int = 256, likelihood: str = "gaussian", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, clusters: int = 10, pretrain_steps: int = 1000, covariance: str = "diagonal",
                 gmm_restarts: int = 10, pretrain_noise: float = 0.0,
                 lr_decay: float = 1.0, pretrain_loss: str = "mse", pretrain_restarts: int = 1,
                 restart_choice: str = "sureness"):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        if clusters < 1 or pretrain_steps < 0 or gmm_restarts < 1 or pretrain_restarts < 1:
            raise ValueError(f"{self.name}: need clusters >= 1, pretrain_steps >= 0, gmm_restarts >= 1 and "
                             f"pretrain_restarts >= 1, got {clusters}, {pretrain_steps}, {gmm_restarts}, "
                             f"{pretrain_restarts}")
        if not 0.0 <= pretrain_noise < 1.0:
            raise ValueError(f"{self.name}: pretrain_noise is a dropout probability in [0, 1), got {pretrain_noise}")
        if not 0.0 < lr_decay <= 1.0:
            raise ValueError(f"{self.name}: lr_decay is a factor in (0, 1], got {lr_decay}")
        if pretrain_loss not in PRETRAIN_LOSSES:
            raise ValueError(f"{self.name}: pretrain_loss must be one of {PRETRAIN_LOSSES}, got {pretrain_loss!r}")
        if restart_choice not in RESTART_CHOICES:
            raise ValueError(f"{self.name}: restart_choice must be one of {RESTART_CHOICES}, got {restart_choice!r}")
        if covariance not in COVARIANCES:
            raise ValueError(f"{self.name}: covariance must be one of {COVARIANCES}, got {covariance!r}")
        self.clusters, self.pretrain_steps = int(clusters), int(pretrain_steps)
        self.covariance, self.gmm_restarts = covariance, int(gmm_restarts)
        self.pretrain_noise, self.lr_decay = float(pretrain_noise), float(lr_decay)
        self.pretrain_loss_kind, self.pretrain_restarts = pretrain_loss, int(pretrain_restarts)
        self.restart_choice = restart_choice
        pixels = int(np.prod(self.event_shape))  # more autoencoders, pretrained beside the model's own
        self.pretrain_candidates = nn.ModuleList([
            nn.ModuleList([mlp([pixels, hidden, hidden, 2 * self.latent]), mlp([self.latent, hidden, hidden, pixels])])
            for _ in range(self.pretrain_restarts - 1)])
        self.pretrain_choice: dict = {}
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

    def autoencoders(self) -> list:
        """(encoder, decoder) of each pretraining restart: the model's own first, then pretrain_candidates."""
        return [(self.encoder, self.decoder)] + [(c[0], c[1]) for c in self.pretrain_candidates]

    def pretrain_loss(self, batch) -> Tensor:
        """The autoencoder phase, averaged over the batch and summed over the pretrain_restarts autoencoders
        (independent parameters, so each gets its own gradient): -log p(x | z = mu~(x~)) ("nll"), or the
        squared error ||x - mean(x | z = mu~(x~))||^2 summed over pixels ("mse", the paper's least-squares
        autoencoder), where x~ is x with input dropout at rate pretrain_noise (a denoising autoencoder; x~ = x
        when it is 0)."""
        x, _ = self._split(batch)
        total = None
        for encoder, decoder in self.autoencoders():
            obs = self._observed(x)
            noisy = F.dropout(obs, self.pretrain_noise) if self.pretrain_noise > 0 else obs
            out = apply_rows(decoder, apply_rows(encoder, noisy)[..., :self.latent])
            if self.pretrain_loss_kind == "mse":
                diff = (out.sigmoid() if self.likelihood == "bernoulli" else out) - obs
                loss = (diff * diff).sum(axis=-1).mean()
            else:
                p = Bernoulli(logits=out) if self.likelihood == "bernoulli" else Normal(out, self.log_scale.exp())
                loss = -(p.log_prob(obs).sum(axis=-1) + self._log_px_offset).mean()
            total = loss if total is None else total + loss
        return total

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """The autoencoder loss before pretrain_steps; afterwards -mean ELBO (the GMM is fitted on entry)."""
        if step is not None and step < self.pretrain_steps:
            loss = self.pretrain_loss(batch)
            return loss, {"recon": -loss / self.pretrain_restarts}
        if step is not None and step == self.pretrain_steps:
            self.init_prior_from_codes()
        return super().objective(batch, step)

    def decay_every(self) -> int:
        """Steps in ten epochs of the training set: the lr of the ELBO phase is multiplied by lr_decay after
        each such period (the paper: 0.9 every 10 epochs)."""
        return 10 * math.ceil(len(self.split_arrays("train")[0]) / self.batch_size)

    def lr_factor(self, step: int, every: int | None = None) -> float:
        """1 during pretraining, then lr_decay ** (whole ten-epoch periods since the ELBO phase began)."""
        if step < self.pretrain_steps or self.lr_decay == 1.0:
            return 1.0
        return self.lr_decay ** ((step - self.pretrain_steps) // (every or self.decay_every()))

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """The ELBO phase's step decay (lr_factor); none when lr_decay is 1."""
        if self.lr_decay == 1.0:
            return []
        every = self.decay_every()  # once: the scheduler evaluates the factor at every step
        return [optim.lr_scheduler.LambdaLR(opt, lambda t: self.lr_factor(t, every)) for opt in optimizers]

    def init_prior_from_codes(self) -> None:
        """pi, mu_c, Sigma_c <- the best by likelihood of `gmm_restarts` EM fits of a Gaussian mixture (of the
        model's covariance type) to mu~(x) of the training set. With pretrain_restarts > 1 the mixture is fitted
        to each autoencoder's codes, and the autoencoder whose mixture assigns the training codes most surely
        (the highest mean over x of max_c q(c|x), no labels) becomes the model's encoder and decoder."""
        fits, sureness, codes, assignments = [], [], [], []
        for encoder, _ in self.autoencoders():
            codes.append(self._codes_of(encoder, "train"))
            fits.append(fit_gmm(codes[-1], self.clusters, self.covariance, self.gmm_restarts))
            r = responsibilities(codes[-1], fits[-1])
            sureness.append(float(r.max(-1).mean()))
            assignments.append(r.argmax(-1))
        best = int(np.argmax(sureness))
        self.pretrain_choice = {"chosen": best, "sureness": sureness}
        if self.restart_choice == "consensus" and len(fits) > 1:
            consensus = consensus_clusters(assignments, self.clusters)
            agreement = [cluster_acc(consensus, a) for a in assignments]
            if np.bincount(consensus, minlength=self.clusters).min() > 1:  # else keep the surest's own fit
                best = int(np.argmax(agreement))
                fits[best] = fit_gmm_from_clusters(codes[best], consensus, self.clusters, self.covariance)
            self.pretrain_choice = {"chosen": best, "sureness": sureness, "agreement": agreement}
        if best > 0:  # swapped, not copied, so that the R autoencoders stay R different ones (a second call
            for (net, chosen) in zip((self.encoder, self.decoder), self.autoencoders()[best]):  # chooses the same)
                for p, q in zip(net.parameters(), chosen.parameters()):
                    p.data, q.data = q.data, p.data
        fit = fits[best]
        xp = backend.array_module(self.prior_mean.data)
        as_param = lambda a: xp.asarray(np.asarray(a, np.float32))
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
        return self._codes_of(self.encoder, split)

    def _codes_of(self, encoder: nn.Module, split: str) -> np.ndarray:
        """mu~(x) of the given encoder for every example of a split, (N, Z)."""
        with self.evaluating():
            x = self._encoder_input(self.eval_batch(split))
            return apply_rows(encoder, x)[..., :self.latent].numpy()

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

