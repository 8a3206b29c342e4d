"""Ladder VAE (Sønderby, Raiko, Maaløe, Sønderby & Winther, 2016): L stochastic layers whose inference
network shares the generative model's top-down path.

    generative:  z_L ~ N(0, I),  z_i ~ p(z_i | z_{i+1}) = N(mu_p, sigma_p^2),  x ~ Bernoulli(g(z_1))
    bottom-up:   d_i = f_i(d_{i-1}) with d_0 = x, giving a Gaussian (mu_hat_i, sigma_hat_i) per layer
    top-down:    q(z_L|x) = N(mu_hat_L, sigma_hat_L^2); for i < L the precision-weighted merge
                 sigma_q^2 = 1 / (sigma_hat^-2 + sigma_p^-2),  mu_q = (mu_hat sigma_hat^-2 + mu_p sigma_p^-2) sigma_q^2
    ELBO = E_q[log p(x|z_1)] - KL(q(z_L|x) || N(0, I)) - sum_{i<L} E_q[KL(q(z_i|.) || p(z_i|z_{i+1}))]

The KL terms (each analytic given the sampled z_{i+1}) are weighted by beta_t, warmed up linearly from 0 to 1
over the first `warmup` steps (t: the trainer's step, passed by train_step to objective), which keeps the upper
layers from collapsing early.
"""
from __future__ import annotations

import minigen as mg
from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import Bernoulli, Normal, kl_divergence

from ..base import DIGITS_SHAPE
from ..nets import mlp
from .vae import PIXELS, VariationalModel, apply_rows, check_binary, standard_normal_like

MIN_SCALE = 1e-3


def gaussian(h: Tensor) -> Normal:
    """N(mu, sigma^2) from 2Z outputs: mu = h[:Z], sigma = softplus(h[Z:]) + MIN_SCALE."""
    z = h.shape[-1] // 2
    return Normal(h[..., :z], h[..., z:].softplus() + MIN_SCALE)


def precision_merge(a: Normal, b: Normal) -> Normal:
    """The normalized product of two Gaussians: precisions add, means are precision-weighted."""
    pa, pb = 1.0 / (a.scale * a.scale), 1.0 / (b.scale * b.scale)
    var = 1.0 / (pa + pb)
    return Normal((a.loc * pa + b.loc * pb) * var, var.sqrt())


class LadderVAE(VariationalModel):
    """Latent sizes latents[0] (bottom, z_1) .. latents[-1] (top, z_L); two ReLU layers of hidden[i] units
    per rung, bottom-up and top-down (mlp(..., head=False): a ReLU after the last layer too)."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "latents": [16, 8, 4], "hidden": [256, 128, 64],
                "warmup": 3000, "eval_k": 1000}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64,
                 latents: tuple = (16, 8, 4), hidden: tuple = (256, 128, 64), warmup: int = 3000,
                 eval_k: int = 1000):
        super().__init__(data, lr, batch_size)
        self.latents, self.hidden = [int(z) for z in latents], [int(h) for h in hidden]
        if len(self.latents) != len(self.hidden) or not self.latents:
            raise ValueError(f"LadderVAE: latents {latents} and hidden {hidden} need the same, non-zero length")
        self.warmup, self.eval_k = int(warmup), int(eval_k)
        ins = [PIXELS] + self.hidden[:-1]
        self.up = nn.ModuleList([mlp([i, h, h], head=False) for i, h in zip(ins, self.hidden)])
        self.up_heads = nn.ModuleList([nn.Linear(h, 2 * z) for h, z in zip(self.hidden, self.latents)])
        self.down = nn.ModuleList([mlp([self.latents[i + 1], h, h], head=False)
                                   for i, h in enumerate(self.hidden[:-1])])
        self.down_heads = nn.ModuleList([nn.Linear(h, 2 * z) for h, z in zip(self.hidden, self.latents[:-1])])
        self.decoder = mlp([self.latents[0], self.hidden[0], self.hidden[0], PIXELS])

    # ------------------------------------------------------------------------------------- pieces
    def prior_step(self, i: int, z_above: Tensor) -> Normal:
        """p(z_i | z_{i+1}) for rung i < L - 1 (0-based)."""
        return gaussian(apply_rows(self.down_heads[i], apply_rows(self.down[i], z_above)))

    def decode(self, z1: Tensor, y=None) -> Bernoulli:
        """p(x|z_1)."""
        self.no_labels(y, "decode")
        return Bernoulli(logits=apply_rows(self.decoder, z1))

    def encode(self, x: Tensor, y=None, k: int | None = None) -> list[tuple[Tensor, Normal, Normal]]:
        """q(z|x) of the ladder, drawn top-down from flattened images x (B, D): it is a chain (each rung's
        Gaussian q_i depends on the z_{i+1} drawn above it), so it comes as the rungs (z_i, q_i, p_i) from
        the top down to z_1, p_i the prior rung; with k, k samples of every z (leading axis)."""
        self.no_labels(y, "encode")
        h, up = x, []
        for net, head in zip(self.up, self.up_heads):
            h = net(h)
            up.append(gaussian(head(h)))
        q = up[-1]
        z = q.rsample(() if k is None else (k,))
        rungs = [(z, q, standard_normal_like(q.loc))]
        for i in reversed(range(len(up) - 1)):
            p = self.prior_step(i, z)
            q = precision_merge(up[i], p)
            z = q.rsample()
            rungs.append((z, q, p))
        return rungs

    # ------------------------------------------------------------------------------------ the bound
    def _kl_terms(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        rungs = self.encode(x)
        recon = self.decode(rungs[-1][0]).log_prob(x).sum(axis=-1)
        kls = [kl_divergence(q, p).sum(axis=-1) for _, q, p in reversed(rungs)]  # z_1 first
        return recon, kls

    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(log p(x|z_1), sum of the rungs' KLs) per example, with one sample of every z."""
        recon, kls = self._kl_terms(check_binary(batch.flatten(1), self.name))
        return recon, sum(kls[1:], kls[0])

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """-mean_b (recon - beta_t sum_i KL_i), beta_t = kl_weight(step) the warm-up weight; logs each
        rung's KL."""
        recon, kls = self._kl_terms(check_binary(batch.flatten(1), self.name))
        kl = sum(kls[1:], kls[0])
        beta = self.kl_weight(step)
        loss = -(recon - beta * kl).mean()
        logs = {"elbo": (recon - kl).mean(), "recon": recon.mean(), "beta": beta}
        logs.update({f"kl{i + 1}": term.mean() for i, term in enumerate(kls)})
        return loss, logs

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x|z_1) + log p(z_L) + sum_{i<L} log p(z_i|z_{i+1}) - sum_i log q(z_i|.): shape (k, B)."""
        x = check_binary(batch.flatten(1), self.name)
        rungs = self.encode(x, k=k)
        log_w = self.decode(rungs[-1][0]).log_prob(x).sum(axis=-1)
        for z, q, p in rungs:
            log_w = log_w + (p.log_prob(z) - q.log_prob(z)).sum(axis=-1)
        return log_w

    def active_units(self, split: str = "test", threshold: float = 0.01) -> list[int]:
        """Per rung (z_1 first), how many coordinates have Cov_x(E_q[z]) > threshold (Burda et al.)."""
        with self.evaluating():
            rungs = self.encode(self.eval_batch(split).flatten(1))
        return [int((q.loc.numpy().var(axis=0) > threshold).sum()) for _, q, _ in reversed(rungs)]

    def metrics(self, split: str = "test") -> dict:
        out = super().metrics(split)
        out.update({f"active_units_z{i + 1}": n for i, n in enumerate(self.active_units(split))})
        return out

    def sample(self, n: int, y=None, *, mean: bool = False) -> Tensor:
        """Ancestral sampling down the ladder: z_L ~ N(0, I), z_i ~ p(z_i|z_{i+1}), x ~ p(x|z_1)."""
        self.labels(n, y)
        with self.evaluating():
            z = mg.randn(n, self.latents[-1], device=self.device)
            for i in reversed(range(len(self.latents) - 1)):
                z = self.prior_step(i, z).sample()
            p = self.decode(z)
            return (p.probs if mean else p.sample()).reshape(-1, *DIGITS_SHAPE)

    def reconstruct(self, x: Tensor) -> Tensor:
        """Decoder mean at z_1 drawn top-down from q (one posterior sample)."""
        with self.evaluating():
            return self.decode(self.encode(x.flatten(1))[-1][0]).probs.reshape(-1, *DIGITS_SHAPE)
