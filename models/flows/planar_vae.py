"""The VAE with a planar-flow posterior (Rezende & Mohamed, 2015, sec. 4 and 6), amortised as in the paper:
the encoder outputs the parameters of every flow step for each data point, beside mu and sigma,

    [mu, log sigma^2, (u_k, w_k, b_k)_{k=1..K}] = encoder(x)
    z_0 = mu(x) + sigma(x) eps,  z_K = f_K o ... o f_1(z_0),  f_k(z) = z + u_hat_k tanh(w_k.z + b_k)
    log q(z_K|x) = log N(z_0; mu, sigma^2) - sum_k log |1 + u_hat_k . psi_k(z_{k-1})|
    ELBO = E_q[log p(x|z_K) + log p(z_K) - log q(z_K|x)]

(u_hat_k from u_k, w_k by the invertibility constraint, models/flows/planar.py). The training and evaluation
are iaf-vae's (models/flows/iaf_vae.py) with planar steps in place of the IAF steps, so both compare with the
plain VAE like for like. `radial=True` uses radial flows (z0_k, alpha_k, beta_k per example) instead;
`amortized=False` learns one global set of flow parameters instead of the encoder's (the variant this model
had before: x then reaches the flow through mu and sigma only).
"""
from __future__ import annotations

import numpy as np

from minigen import nn
from minigen.autograd import Tensor
from minigen.distributions import Transform

from .iaf_vae import IAFVAE
from .planar import AmortizedPlanar, AmortizedRadial, PlanarFlow, RadialFlow


class PlanarVAE(IAFVAE):
    """The VAE whose posterior is followed by `flows` planar (or radial) flows, their parameters output by
    the encoder per example (`amortized`) or global."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        config = {**super().default_config(data), "flows": 8, "radial": False, "amortized": True}
        config.pop("flow_hidden")
        config.pop("context")
        return config

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, flows: int = 8, radial: bool = False, amortized: bool = True,
                 analytic_kl: bool = False):
        self.steps, self.amortized = int(flows), bool(amortized)
        self.step_type = AmortizedRadial if radial else AmortizedPlanar
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k, flows=0,
                         context=0, analytic_kl=analytic_kl)
        if not self.amortized:
            step = RadialFlow if radial else PlanarFlow
            self.flow = nn.ModuleList([step(self.latent, seed=k) for k in range(self.steps)])
        self._widen_encoder()

    @property
    def extra_outputs(self) -> int:
        """The flow parameters: K steps of P values each (P = 2Z + 1 planar, Z + 2 radial), if amortised."""
        return self.steps * self.step_type.size(self.latent) if self.amortized else 0

    def extra_init(self) -> np.ndarray:
        """Each step's parameters start as the global steps do (planar: u, w ~ N(0, 0.1^2), b = 0; radial:
        z0 ~ N(0, 0.1^2), alpha_raw = beta_raw = 0), then become functions of x."""
        rng, z = np.random.default_rng(0), self.latent
        parts = []
        for _ in range(self.steps):
            head = rng.normal(0, 0.1, z if self.step_type is AmortizedRadial else 2 * z)
            parts.append(np.concatenate([head, np.zeros(self.step_type.size(z) - len(head))]))
        return np.concatenate(parts).astype(np.float32)

    def posterior_flow(self, extra: Tensor, draws: int | None) -> list[Transform]:
        """The K steps with the encoder's parameters (rows repeated for `draws` draws), or the global ones."""
        if not self.amortized:
            return list(self.flow)
        if draws is not None:
            extra = extra.unsqueeze(0).expand((draws,) + tuple(extra.shape)).reshape(-1, extra.shape[-1])
        p = self.step_type.size(self.latent)
        return [self.step_type(extra[:, k * p:(k + 1) * p]) for k in range(self.steps)]
