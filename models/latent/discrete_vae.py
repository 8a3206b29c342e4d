"""A VAE with categorical latents: N groups of K classes, q(z|x) = prod_n Cat(z_n; softmax(l_n(x))),
a uniform prior, and two gradient estimators for the encoder:

- Gumbel-softmax (Jang et al., 2017; Maddison et al., 2017): the decoder sees the relaxed sample
  y = softmax((l + g) / tau), g ~ Gumbel, tau annealed as max(tau_min, tau0 exp(-rate t)) over the trainer's
  step t (passed down by train_step, no counter of the model's own); with hard=True
  the forward pass uses one_hot(argmax y) and the backward pass y's gradient (straight-through).
  Reparameterized, low variance, biased for tau > 0.
- REINFORCE (score function; Williams, 1992; Mnih & Gregor, 2014): z ~ q exactly and
  grad E_q[f(z)] = E_q[(f(z) - b(x)) grad log q(z|x)], with the baseline b(x) = running mean of f plus a
  learned input-dependent correction trained on (f - b)^2. Unbiased, higher variance.

The KL to the uniform prior is analytic either way: KL = N log K - sum_n H(q_n). `metrics` reports the
variance of both estimators on the same model and batch (the sum over encoder parameters of each
coordinate's variance across repeated draws), the Gumbel one at the annealed temperature temperature()
(= tau_min when anneal_rate > 0, whatever the length of the run), reported as `tau`.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen.autograd import Tensor
from minigen.distributions import (Bernoulli, Categorical, OneHotCategorical, RelaxedOneHotCategorical,
                                   kl_divergence)

from ..base import DIGITS_SHAPE
from ..nets import mlp
from .vae import PIXELS, VariationalModel, apply_rows, check_binary

ESTIMATORS = ("gumbel", "reinforce")


class GumbelVAE(VariationalModel):
    """Encoder D -> h -> h -> N*K logits, decoder N*K -> h -> h -> D Bernoulli logits."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "groups": 8, "categories": 10, "hidden": 256,
                "estimator": "gumbel", "hard": False, "tau0": 1.0, "tau_min": 0.5, "anneal_rate": 3e-4,
                "baseline": True, "eval_k": 1000, "variance_draws": 50}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, groups: int = 8,
                 categories: int = 10, hidden: int = 256, estimator: str = "gumbel", hard: bool = False,
                 tau0: float = 1.0, tau_min: float = 0.5, anneal_rate: float = 3e-4, baseline: bool = True,
                 eval_k: int = 1000, variance_draws: int = 50):
        super().__init__(data, lr, batch_size)
        if estimator not in ESTIMATORS:
            raise ValueError(f"GumbelVAE: estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if not 0 < tau_min <= tau0:
            raise ValueError(f"GumbelVAE: need 0 < tau_min <= tau0, got tau_min={tau_min}, tau0={tau0}")
        if anneal_rate < 0:
            raise ValueError(f"GumbelVAE: anneal_rate must be >= 0, got {anneal_rate}")
        self.groups, self.categories = int(groups), int(categories)
        self.estimator, self.hard, self.use_baseline = estimator, bool(hard), bool(baseline)
        self.tau0, self.tau_min, self.anneal_rate = float(tau0), float(tau_min), float(anneal_rate)
        self.eval_k, self.variance_draws = int(eval_k), int(variance_draws)
        code = self.groups * self.categories
        self.encoder = mlp([PIXELS, hidden, hidden, code])
        self.decoder = mlp([code, hidden, hidden, PIXELS])
        self.baseline_net = mlp([PIXELS, 64, 1])
        self.register_buffer("signal_mean", np.zeros((), np.float32))

    # ------------------------------------------------------------------------------------- pieces
    def temperature(self, step: int | None = None) -> float:
        """tau_t = max(tau_min, tau0 exp(-anneal_rate t)) at training step t; with step None its limit for
        t -> infinity (tau_min, or tau0 when anneal_rate = 0): the temperature at which metrics() measures."""
        if step is None:
            return self.tau_min if self.anneal_rate > 0 else self.tau0
        return max(self.tau_min, self.tau0 * math.exp(-self.anneal_rate * float(step)))

    def encode(self, x: Tensor, y=None) -> OneHotCategorical:
        """q(z|x) over (B, N, K) one-hot codes, from flattened images x (B, D)."""
        self.no_labels(y, "encode")
        logits = apply_rows(self.encoder, x)
        return OneHotCategorical(logits=logits.reshape(*logits.shape[:-1], self.groups, self.categories))

    def decode(self, z: Tensor, y=None) -> Bernoulli:
        """p(x|z) from (one-hot or relaxed) codes of shape (..., N, K)."""
        self.no_labels(y, "decode")
        return Bernoulli(logits=apply_rows(self.decoder, z.reshape(*z.shape[:-2], -1)))

    def kl(self, q: Categorical) -> Tensor:
        """KL(q(z|x) || Uniform) = sum_n (log K - H(q_n)), per example."""
        uniform = Categorical(logits=mg.zeros_like(q.logits))
        return kl_divergence(q, uniform).sum(axis=-1)

    def _x(self, batch) -> Tensor:
        return check_binary(batch.flatten(1), self.name)

    # ----------------------------------------------------------------------------- the estimators
    def baseline(self, x: Tensor) -> Tensor:
        """b(x) = running mean of the learning signal + a learned input-dependent correction."""
        return self.signal_mean.detach() + apply_rows(self.baseline_net, x).reshape(-1)

    def learning_signal(self, x: Tensor) -> Tensor:
        """f = log p(x|z) at an exact draw z ~ q(z|x), the quantity REINFORCE weights (no gradient)."""
        with mg.no_grad():
            q = self.encode(x)
            return self.decode(q.sample()).log_prob(x).sum(axis=-1)

    def surrogate(self, batch, estimator: str | None = None, baseline: bool | None = None,
                  tau: float | None = None) -> tuple:
        """(loss whose gradient is the estimator's, recon per example, KL per example).

        gumbel: -(log p(x|y) - KL) at a relaxed (or straight-through) sample y of temperature tau (default
        temperature(), the annealed one); reinforce: -(f + (f - b(x)) log q(z|x) - KL) with f = log p(x|z),
        z ~ q exactly, (f - b) held constant."""
        estimator = estimator or self.estimator
        baseline = self.use_baseline if baseline is None else baseline
        x = self._x(batch)
        q = self.encode(x)
        kl = self.kl(q)
        if estimator == "gumbel":
            tau = self.temperature() if tau is None else tau
            y = RelaxedOneHotCategorical(tau, logits=q.logits).rsample()
            if self.hard:
                hard = mg.tensor((y.data == y.data.max(axis=-1, keepdims=True)).astype(y.dtype))
                y = hard - y.detach() + y
            recon = self.decode(y).log_prob(x).sum(axis=-1)
            return -(recon - kl).mean(), recon, kl
        if estimator != "reinforce":
            raise ValueError(f"GumbelVAE: estimator must be one of {ESTIMATORS}, got {estimator!r}")
        z = q.sample()
        recon = self.decode(z).log_prob(x).sum(axis=-1)
        signal = (recon - self.baseline(x)).detach() if baseline else recon.detach()
        return -(recon + signal * q.log_prob(z).sum(axis=-1) - kl).mean(), recon, kl

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """The estimator's loss at temperature tau_step plus the baseline's regression loss (f - b(x))^2,
        whatever the estimator, so that the REINFORCE variance measured on a Gumbel-trained model uses a
        fitted baseline too."""
        tau = self.temperature(step)
        loss, recon, kl = self.surrogate(batch, tau=tau)
        x = self._x(batch)
        signal = recon.detach() if self.estimator == "reinforce" else self.learning_signal(x)
        b_loss = ((signal - self.baseline(x)) ** 2).mean()
        self.signal_mean.data = 0.99 * self.signal_mean.data + 0.01 * signal.data.mean()
        logs = {"elbo": (recon - kl).mean(), "recon": recon.mean(), "kl": kl.mean(), "tau": tau,
                "baseline_mse": b_loss}
        return loss + b_loss, logs

    def gradient_variance(self, batch, estimator: str, baseline: bool = True, draws: int = 50,
                          tau: float | None = None) -> float:
        """Total variance sum_j Var[g_j] of the encoder's gradient g over `draws` fresh samples (Gumbel:
        at temperature tau, default temperature())."""
        params = list(self.encoder.parameters())
        grads = []
        for _ in range(draws):
            loss = self.surrogate(batch, estimator, baseline, tau)[0]
            grads.append(np.concatenate([g.numpy().ravel() for g in mg.grad(loss, params)]))
        return float(np.stack(grads).astype(np.float64).var(axis=0, ddof=1).sum())

    # ------------------------------------------------------------------------------- evaluation
    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(log p(x|z) with one exact draw z ~ q, KL(q || uniform)) per example."""
        x = self._x(batch)
        q = self.encode(x)
        return self.decode(q.sample()).log_prob(x).sum(axis=-1), self.kl(q)

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x|z_i) - N log K - log q(z_i|x) for exact draws z_i ~ q: shape (k, B)."""
        x = self._x(batch)
        q = self.encode(x)
        z = q.sample((k,))
        log_prior = -self.groups * math.log(self.categories)
        return self.decode(z).log_prob(x).sum(axis=-1) + log_prior - q.log_prob(z).sum(axis=-1)

    def metrics(self, split: str = "test") -> dict:
        """test_elbo, iwae_nll, and the encoder-gradient variance of each estimator on one batch (Gumbel at
        tau = temperature(), the annealed temperature, reported as `tau`)."""
        out = super().metrics(split)
        batch = self.eval_batch(split)[:self.batch_size]
        out["tau"] = self.temperature()
        with self.evaluating(grad=True):
            for name, est, base in (("gumbel", "gumbel", False), ("reinforce", "reinforce", True),
                                    ("reinforce_no_baseline", "reinforce", False)):
                out[f"grad_var_{name}"] = self.gradient_variance(batch, est, base, self.variance_draws,
                                                                 out["tau"])
        return out

    def reconstruct(self, batch) -> Tensor:
        """Decoder means at the most probable code argmax_z q(z|x)."""
        with self.evaluating():
            q = self.encode(self._x(batch))
            mode = (q.logits.data == q.logits.data.max(axis=-1, keepdims=True)).astype(q.logits.dtype)
            return self.decode(mg.tensor(mode)).probs.reshape(-1, *DIGITS_SHAPE)

    def sample(self, n: int, y=None, *, mean: bool = False) -> Tensor:
        """x ~ p(x|z) with z uniform over the K^N codes (probabilities instead of draws if mean)."""
        self.labels(n, y)
        with self.evaluating():
            z = OneHotCategorical(logits=mg.zeros(n, self.groups, self.categories, device=self.device)).sample()
            p = self.decode(z)
            return (p.probs if mean else p.sample()).reshape(-1, *DIGITS_SHAPE)
