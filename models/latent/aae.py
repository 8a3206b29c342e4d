"""Adversarial autoencoder (Makhzani, Shlens, Jaitly, Goodfellow & Frey, 2016): an autoencoder whose aggregate
posterior q(z) = E_x q(z|x) is matched to a chosen prior p(z) by a discriminator on the code, in place of the
VAE's KL term.

    reconstruction phase:  min_{enc,dec}  -E_x E_q(z|x) log p(x|z)
    regularisation phase:  T <- logistic regression of codes z ~ q(z) against z ~ p(z)  (T ~= log q(z)/p(z))
                           min_enc  E_q(z) softplus(T(z))      (the generator's non-saturating loss)
    label-conditioned:     T(z, y) on the one-hot label too, and p(z|y) = the y-th mixture component, so
                           each class is pushed onto its own component (the paper's Fig. 4 / Sec. 2.3)

Priors: `gaussian` N(0, I); `mixture10`, ten 2-D Gaussians at radius 4 on the circle, each elongated along
its radius (sd 0.5 radially, 0.1 across, after the paper's Fig. 3); `swissroll`, minigen.data.toys.swiss_roll.
`regularizer="kl"` replaces the adversarial phase by the closed-form KL to N(0, I): the VAE in the same
networks, so that the two-sample statistic `code_mmd` (models/evaluation/mmd.py) of codes against the prior
can be read beside the VAE's on equal terms.

Deviations: q(z|x) is the VAE's Gaussian encoder with reparameterized codes (the paper's "Gaussian
posterior" option, Sec. 2.1) rather than a deterministic one, so the KL twin differs only in the
regulariser; both phases run on the same minibatch inside one train_step (D first, then the autoencoder with
the reconstruction and adversarial terms summed, `adv_weight` between them) rather than as two separate SGD
sweeps. Metrics: test_recon (E_q log p(x|z) in nats), code_mmd, and for priors with a density test_elbo and
iwae_nll of the marginal p(x) (the encoder was not trained on that bound, so they are loose).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, optim
from minigen.autograd import Tensor
from minigen.data.toys import swiss_roll
from minigen.distributions import kl_divergence

from ..evaluation.mmd import mmd2
from ..gan.base import frozen
from .density_ratio import DensityRatioEstimator
from .vae import VAE, reconstruction_figure, standard_normal_like

PRIORS = ("gaussian", "mixture10", "swissroll")
RADIUS, RADIAL_SD, TANGENT_SD = 4.0, 0.5, 0.1


def mixture10_sample(components: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One 2-D point from each given component k: centre R (cos a_k, sin a_k), a_k = 2 pi k / 10, plus noise
    with sd RADIAL_SD along the radius and TANGENT_SD across it."""
    angle = 2 * np.pi * np.asarray(components) / 10
    radial, across = np.stack([np.cos(angle), np.sin(angle)], 1), np.stack([-np.sin(angle), np.cos(angle)], 1)
    noise = rng.standard_normal((len(angle), 2))
    return (radial * (RADIUS + RADIAL_SD * noise[:, :1]) + across * TANGENT_SD * noise[:, 1:]).astype(np.float32)


def mixture10_log_density(z: Tensor) -> Tensor:
    """log (1/10) sum_k N(z; component k) for z (..., 2)."""
    angle = 2 * np.pi * np.arange(10) / 10
    cos, sin = mg.tensor(np.cos(angle).astype(np.float32)), mg.tensor(np.sin(angle).astype(np.float32))
    x, y = z[..., 0:1], z[..., 1:2]
    r, t = (x * cos + y * sin - RADIUS) / RADIAL_SD, (-x * sin + y * cos) / TANGENT_SD
    log_n = -0.5 * (r * r + t * t) - math.log(2 * math.pi * RADIAL_SD * TANGENT_SD)
    return log_n.logsumexp(axis=-1) - math.log(10)


class AdversarialAutoencoder(VAE):
    """The VAE's encoder and decoder with the KL term replaced by a code discriminator (DensityRatioEstimator)."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "latent": 2, "hidden": 256, "prior": "gaussian", "labels": False,
                "regularizer": "adversarial", "adv_weight": 1.0, "d_hidden": [64, 64], "eval_k": 1000}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 2,
                 hidden: int = 256, prior: str = "gaussian", labels: bool = False, regularizer: str = "adversarial",
                 adv_weight: float = 1.0, d_hidden=(64, 64), eval_k: int = 1000):
        super().__init__(data, lr, batch_size, latent, hidden, "bernoulli", 1.0, 0, eval_k)
        if prior not in PRIORS:
            raise ValueError(f"{self.name}: prior must be one of {', '.join(PRIORS)}, got {prior!r}")
        if prior != "gaussian" and self.latent != 2:
            raise ValueError(f"{self.name}: the {prior} prior is 2-D; got latent={latent}")
        if labels and prior != "mixture10":
            raise ValueError(f"{self.name}: labels=True puts each class on a component of the mixture10 prior; "
                             f"got prior={prior!r}")
        if regularizer not in ("adversarial", "kl") or (regularizer == "kl" and (prior != "gaussian" or labels)):
            raise ValueError(f"{self.name}: regularizer must be 'adversarial', or 'kl' (the VAE) with the "
                             f"gaussian prior and no labels; got {regularizer!r} with prior={prior!r}")
        self.prior, self.regularizer, self.adv_weight = prior, regularizer, float(adv_weight)
        self.conditional = bool(labels)  # labels reach only the discriminator and the prior, never the nets
        self.discriminator = DensityRatioEstimator(self.latent, tuple(d_hidden),
                                                   extra=self.num_classes if labels else 0)

    # ------------------------------------------------------------------------------------ the prior
    def prior_sample(self, n: int, labels: np.ndarray | None = None) -> Tensor:
        """n codes from p(z) (from p(z|y), the y-th component, when labels are given)."""
        rng = backend.rng("cpu")
        if self.prior == "gaussian":
            z = rng.standard_normal((n, self.latent)).astype(np.float32)
        elif self.prior == "mixture10":
            z = mixture10_sample(rng.integers(0, 10, n) if labels is None else labels, rng)
        else:
            z = swiss_roll(n, noise=0.05, seed=int(rng.integers(2 ** 31)))
        return mg.tensor(z, device=self.device)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) of the gaussian or mixture10 prior (the swiss roll has no density here)."""
        if self.prior == "gaussian":
            return super().log_prior(z)
        if self.prior == "mixture10":
            return mixture10_log_density(z)
        raise NotImplementedError(f"{self.name}: the swissroll prior has no density; log p(x) is unavailable")

    # ------------------------------------------------------------------------------------- training
    def configure_optimizers(self) -> list:
        """[Adam on the encoder and decoder, Adam(betas 0.5, 0.9) on the discriminator]."""
        ae = list(self.encoder.parameters()) + list(self.decoder.parameters())
        return [optim.Adam(ae, lr=self.lr),
                optim.Adam(self.discriminator.parameters(), lr=self.lr, betas=(0.5, 0.9))]

    def _batch(self, batch) -> tuple[Tensor, Tensor | None, np.ndarray | None]:
        """(binary pixels (B, D), one-hot labels or None, integer labels or None)."""
        x, y = batch if self.conditional else (batch, None)
        onehot = None if y is None else F.one_hot(y, self.num_classes, dtype=x.dtype)
        return self._observed(x.flatten(1)), onehot, None if y is None else y.numpy()

    def codes_and_recon(self, obs: Tensor):
        """(q(z|x), a reparameterized code z, log p(x|z) per example)."""
        q = self.encode(obs)
        z = q.rsample()
        return q, z, self.decode(z).log_prob(obs).sum(axis=-1)

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """The autoencoder's loss: -recon + adv_weight * softplus(T(z)) (or + KL to N(0, I) for the twin)."""
        obs, onehot, _ = self._batch(batch)
        q, z, recon = self.codes_and_recon(obs)
        if self.regularizer == "kl":
            kl = kl_divergence(q, standard_normal_like(q.loc)).sum(axis=-1)
            return -(recon - kl).mean(), {"recon": recon.mean(), "kl": kl.mean()}
        adv = F.softplus(self.discriminator(z, onehot)).mean()
        return -recon.mean() + self.adv_weight * adv, {"recon": recon.mean(), "adv": adv}

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """The discriminator's update on detached codes against prior samples, then the autoencoder's."""
        opt_ae, opt_d = optimizers
        logs = {}
        if self.regularizer == "adversarial":
            obs, onehot, labels = self._batch(batch)
            with mg.no_grad():
                z = self.codes_and_recon(obs)[1]
            d_loss = self.discriminator.loss(z, self.prior_sample(len(z), labels), onehot, onehot)
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            logs["d_loss"] = d_loss.item()
        with frozen(self.discriminator):
            loss, parts = self.objective(batch, step)
            opt_ae.zero_grad()
            loss.backward()
        opt_ae.step()
        return {"loss": loss.item(), **logs, **{k: float(v.item()) for k, v in parts.items()}}

    # --------------------------------------------------------------------------- bound and sampling
    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(E_q log p(x|z), KL(q(z|x) || p(z)) by one sample of z) of the marginal p(x), labels unused."""
        obs = self._batch(batch)[0]
        q, z, recon = self.codes_and_recon(obs)
        return recon, q.log_prob(z).sum(axis=-1) - self.log_prior(z)

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x): (k, B)."""
        obs = self._batch(batch)[0]
        q = self.encode(obs)
        z = q.rsample((k,))
        return self.decode(z).log_prob(obs).sum(axis=-1) + self.log_prior(z) - q.log_prob(z).sum(axis=-1)

    def sample(self, n: int, y=None, *, mean: bool = False) -> Tensor:
        """x ~ p(x|z), z ~ p(z) (z ~ p(z|y), the y-th component, for the label-conditioned model)."""
        labels = self.labels(n, y)
        with self.evaluating():
            z = self.prior_sample(n, None if labels is None else labels.numpy())
            return self._as_image(self.decode(z), mean)

    def reconstruct(self, batch) -> Tensor:
        """E[x | z = mu(x)]."""
        with self.evaluating():
            return self._as_image(self.decode(self.encode(self._batch(batch)[0]).loc), mean=True)

    # ----------------------------------------------------------------------------------- evaluation
    def test_codes(self, split: str = "test", copies: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """(codes z ~ q(z|x), `copies` per example, (copies N, Z); their labels)."""
        images, labels = self.split_arrays(split)
        with self.evaluating():
            q = self.encode(self._observed(mg.tensor(images, device=self.device).flatten(1)))
            return q.rsample((copies,)).numpy().reshape(-1, self.latent), np.tile(labels, copies)

    def metrics(self, split: str = "test") -> dict:
        """test_recon, code_mmd (codes of the split against as many prior samples), and test_elbo / iwae_nll
        of the marginal p(x) where the prior has a density."""
        codes, labels = self.test_codes(split)
        with self.evaluating():
            prior = self.prior_sample(len(codes), labels if self.conditional else None).numpy()
            recon = self.codes_and_recon(self._batch(self.eval_batch(split))[0])[2].numpy().astype(np.float64)
        out = {"test_recon": float(recon.mean()), "code_mmd": mmd2(codes, prior)}
        if self.prior != "swissroll":
            full = super().metrics(split)
            out.update({k: full[k] for k in ("test_elbo", "iwae_nll", "iwae_nll_sem", "iwae_k")})
        return out

    def sample_figure(self, path: str, n: int = 60) -> str:
        """The latent space (test codes coloured by label over prior samples in grey) beside test digits,
        their reconstructions and samples; a 2-D picture only when latent == 2."""
        if self.latent != 2:
            return reconstruction_figure(self, path, n)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from minigen import viz

        codes, labels = self.test_codes(copies=1)
        data = self.eval_batch("test")
        batch = (data[0][:10], data[1][:10]) if self.conditional else data[:10]
        y = np.arange(n) % 10 if self.conditional else None
        with self.evaluating():
            prior = self.prior_sample(2000).numpy()
            rows = [(batch[0] if self.conditional else batch).numpy(), self.reconstruct(batch).numpy(),
                    self.sample(n, y, mean=True).numpy()]
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 4.5))
        left.scatter(prior[:, 0], prior[:, 1], s=2, c="0.8")
        scatter = left.scatter(codes[:, 0], codes[:, 1], s=6, c=labels, cmap="tab10", vmin=-0.5, vmax=9.5)
        fig.colorbar(scatter, ax=left, ticks=range(10))
        left.set(aspect="equal", title=f"{self.name}: test codes, {self.prior} prior (grey)")
        right.imshow(viz.image_grid(np.concatenate(rows), nrow=10, value_range=(0.0, 1.0)), cmap="gray")
        right.set(title="test digits, reconstructions, samples", xticks=[], yticks=[])
        fig.tight_layout()
        fig.savefig(path, dpi=80)
        plt.close(fig)
        return path
