"""The VAE with an inverse autoregressive flow posterior (IAF, Kingma, Salimans, Jozefowicz, Chen, Sutskever
& Welling, 2016): q(z|x) is N(mu(x), sigma(x)^2) pushed through T IAF steps (models/flows/autoregressive.py),

    z_0 = mu + sigma * eps,   z_t = sigmoid(s_t) z_{t-1} + (1 - sigmoid(s_t)) m_t,  [m_t, s_t] = MADE_t(z_{t-1})
    log q(z_T|x) = log N(z_0; mu, sigma^2) - sum_t sum_d log sigmoid(s_td)
    ELBO = E_q[log p(x|z_T) + log p(z_T) - log q(z_T|x)]           (the KL by Monte Carlo: no closed form)

Everything else (the decoder, the Bernoulli likelihood on statically binarized digits, training, iwae_nll
with k = 1000) is the plain VAE's (models/latent/vae.py), so the bounds compare like for like.

Deviations: the MADEs take no context h from the encoder (the paper feeds one); x reaches the flow through
mu(x) and sigma(x) only. Consecutive steps reverse the ordering, as the paper does.
"""
from __future__ import annotations

import numpy as np

from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import ComposeTransform

from ..latent.vae import VAE, standard_normal_like
from .autoregressive import IAFLayer


class IAFVAE(VAE):
    """The VAE whose posterior is followed by `flows` IAF steps (MADEs of `flow_hidden` units)."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "flows": 2, "flow_hidden": 128}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, flows: int = 2, flow_hidden: int = 128):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        orders = [np.arange(self.latent), np.arange(self.latent)[::-1].copy()]
        self.flow = nn.ModuleList([IAFLayer(self.latent, int(flow_hidden), 1, orders[k % 2], seed=k)
                                   for k in range(int(flows))])

    def posterior_sample(self, obs: Tensor, k: int | None = None) -> tuple[Tensor, Tensor]:
        """(z_T, log q(z_T|x)) for one draw per example, or k draws (shape (k, B, Z)) when k is given."""
        q = self.encode(obs)
        z0 = q.rsample() if k is None else q.rsample((k,))
        log_q0 = q.log_prob(z0).sum(axis=-1)
        flat = z0.reshape(-1, self.latent)
        z, log_det = ComposeTransform(list(self.flow)).forward_and_log_det(flat)
        return z.reshape(z0.shape), log_q0 - log_det.reshape(log_q0.shape)

    def _log_joint_minus_q(self, obs: Tensor, z: Tensor, log_q: Tensor) -> tuple[Tensor, Tensor]:
        recon = self.decode(z).log_prob(obs).sum(axis=-1) + self._log_px_offset
        return recon, log_q - standard_normal_like(z).log_prob(z).sum(axis=-1)

    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(log p(x|z_T), log q(z_T|x) - log p(z_T)) with one reparameterized draw: the KL term by Monte Carlo."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        z, log_q = self.posterior_sample(obs)
        return self._log_joint_minus_q(obs, z, log_q)

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x) through the flow: shape (k, B)."""
        x, _ = self._split(batch)
        if self.likelihood != "bernoulli":
            raise ValueError(f"{self.name}: importance weights are implemented for the Bernoulli likelihood")
        obs = self._observed(x)
        z, log_q = self.posterior_sample(obs, k)
        recon, kl = self._log_joint_minus_q(obs, z, log_q)
        return recon - kl
