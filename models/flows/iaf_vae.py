"""The VAE with an inverse autoregressive flow posterior (IAF, Kingma, Salimans, Jozefowicz, Chen, Sutskever
& Welling, 2016, sec. 4 and Algorithm 1): the encoder outputs mu, sigma and a context h, and q(z|x) is
N(mu(x), sigma(x)^2) pushed through T IAF steps (models/flows/autoregressive.py), each MADE fed h:

    [mu, log sigma^2, h] = encoder(x),   z_0 = mu + sigma * eps
    z_t = sigmoid(s_t) z_{t-1} + (1 - sigmoid(s_t)) m_t,   [m_t, s_t] = MADE_t(z_{t-1}, h)
    log q(z_T|x) = log N(z_0; mu, sigma^2) - sum_t sum_d log sigmoid(s_td)
    ELBO = E_q[log p(x|z_T) + log p(z_T) - log q(z_T|x)]           (the KL by Monte Carlo: no closed form)

With `analytic_kl` the KL term is the plain VAE's closed form plus the flow's correction by Monte Carlo,

    KL(q_T || p) = KL(q_0 || N(0, I)) + E_q0[log N(z_0; 0, I) - log N(z_T; 0, I) - log |det dz_T/dz_0|]

(an unbiased bound either way; the papers use the draw's log q_0(z_0)): the correction is small and nearly
noiseless where the flow is near the identity, as on the latent dimensions the posterior leaves at the prior,
where the single-draw KL is pure noise that the plain VAE's analytic KL does not have.

h enters each MADE as an unmasked linear map added to its first hidden layer (the masks keep z_t
autoregressive in z_{t-1}; h depends on x only, so the Jacobian stays triangular). Everything else (the
decoder, the Bernoulli likelihood on statically binarized digits, training, iwae_nll with k = 1000) is the
plain VAE's (models/latent/vae.py), so the bounds compare like for like. Consecutive steps reverse the
ordering, as the paper does. `context=0` gives the context-free variant (x reaches the flow through mu and
sigma only).

Subclasses (planar_vae.py) reuse the bound and change `extra_outputs` (what the encoder adds after mu and
log sigma^2) and `posterior_flow(extra, rows)` (the flow's transforms for one batch of encoder outputs).
"""
from __future__ import annotations

import numpy as np

from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import ComposeTransform, Normal, Transform, kl_divergence

from ..latent.vae import VAE, apply_rows, standard_normal_like
from ..nets import mlp
from .autoregressive import IAFLayer


class IAFVAE(VAE):
    """The VAE whose posterior is followed by `flows` IAF steps (MADEs of `flow_hidden` units, each fed the
    encoder's `context` outputs h)."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "flows": 2, "flow_hidden": 128, "context": 32,
                "analytic_kl": False}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, flows: int = 2, flow_hidden: int = 128, context: int = 32,
                 analytic_kl: bool = False):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        self.context, self.analytic_kl = int(context), bool(analytic_kl)
        orders = [np.arange(self.latent), np.arange(self.latent)[::-1].copy()]
        self.flow = nn.ModuleList([IAFLayer(self.latent, int(flow_hidden), 1, orders[k % 2], seed=k,
                                            context=self.context) for k in range(int(flows))])
        self._widen_encoder()

    @property
    def extra_outputs(self) -> int:
        """Encoder outputs after [mu, log sigma^2]: the context h."""
        return self.context

    def extra_init(self) -> np.ndarray:
        """The extra outputs' starting values (bias; their weights start at 0): h = 0, the context-free IAF."""
        return np.zeros(self.extra_outputs, np.float32)

    def _widen_encoder(self) -> None:
        """The plain VAE's encoder with `extra_outputs` more outputs in its last layer, whose weights start at
        0 and biases at extra_init(): the flow starts the same for every x and learns to depend on it."""
        if self.extra_outputs:
            pixels = int(np.prod(self.event_shape))
            self.encoder = mlp([pixels, self.hidden, self.hidden, 2 * self.latent + self.extra_outputs])
            last = [m for m in self.encoder.modules() if isinstance(m, nn.Linear)][-1]
            weight, bias = last.weight.numpy().copy(), last.bias.numpy().copy()
            weight[2 * self.latent:], bias[2 * self.latent:] = 0, self.extra_init()
            last.weight.data, last.bias.data = weight, bias

    def encode_with_extra(self, x: Tensor) -> tuple[Normal, Tensor]:
        """(q_0(z|x) = N(mu, sigma^2), the encoder's extra outputs (..., extra_outputs))."""
        h = apply_rows(self.encoder, x)
        z = self.latent
        return Normal(h[..., :z], (h[..., z:2 * z] * 0.5).exp()), h[..., 2 * z:]

    def encode(self, x: Tensor, y: Tensor | None = None) -> Normal:
        """q_0(z|x), the Gaussian before the flow."""
        return self.encode_with_extra(x)[0]

    def posterior_flow(self, extra: Tensor, draws: int | None) -> list[Transform]:
        """The IAF steps given the context h (B, C), repeated for `draws` draws per example (rows k * B)."""
        h = extra if self.context else None
        if h is not None and draws is not None:
            h = h.unsqueeze(0).expand((draws,) + tuple(h.shape)).reshape(-1, h.shape[-1])
        return [layer.given(h) for layer in self.flow]

    def posterior_sample(self, obs: Tensor, k: int | None = None,
                         analytic_kl: bool = False) -> tuple[Tensor, Tensor]:
        """(z_T, log q(z_T|x)) for one draw per example, or k draws (shape (k, B, Z)) when k is given. With
        `analytic_kl`, log q_0(z_0) is replaced by KL(q_0 || N(0, I)) + log N(z_0; 0, I), which has the same
        mean (for the bound's KL term; importance weights need the density of the very draw)."""
        q, extra = self.encode_with_extra(obs)
        z0 = q.rsample() if k is None else q.rsample((k,))
        if analytic_kl:
            prior = standard_normal_like(q.loc)
            log_q0 = kl_divergence(q, prior).sum(axis=-1) + prior.log_prob(z0).sum(axis=-1)
        else:
            log_q0 = q.log_prob(z0).sum(axis=-1)
        flat = z0.reshape(-1, self.latent)
        z, log_det = ComposeTransform(self.posterior_flow(extra, k)).forward_and_log_det(flat)
        return z.reshape(z0.shape), log_q0 - log_det.reshape(log_q0.shape)

    def _log_joint_minus_q(self, obs: Tensor, z: Tensor, log_q: Tensor) -> tuple[Tensor, Tensor]:
        recon = self.decode(z).log_prob(obs).sum(axis=-1) + self._log_px_offset
        return recon, log_q - standard_normal_like(z).log_prob(z).sum(axis=-1)

    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(log p(x|z_T), log q(z_T|x) - log p(z_T)) with one reparameterized draw: the KL term by Monte Carlo."""
        x, _ = self._split(batch)
        obs = self._observed(x)
        z, log_q = self.posterior_sample(obs, analytic_kl=self.analytic_kl)
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
