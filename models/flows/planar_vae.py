"""The VAE with a planar-flow posterior (Rezende & Mohamed, 2015, sec. 4 and 6):

    z_0 = mu(x) + sigma(x) eps,  z_K = f_K o ... o f_1(z_0),  f_k planar (models/flows/planar.py)
    log q(z_K|x) = log N(z_0; mu, sigma^2) - sum_k log |1 + u_hat_k . psi_k(z_{k-1})|
    ELBO = E_q[log p(x|z_K) + log p(z_K) - log q(z_K|x)]

The training and evaluation are iaf-vae's (models/flows/iaf_vae.py) with planar steps in place of the IAF
steps, so both compare with the plain VAE like for like. Deviation: the flow parameters are global (learned
directly) rather than output by the encoder per data point as in the paper's amortised version; `radial=True`
uses radial flows instead.
"""
from __future__ import annotations

from minigen import nn

from .iaf_vae import IAFVAE
from .planar import PlanarFlow, RadialFlow


class PlanarVAE(IAFVAE):
    """The VAE whose posterior is followed by `flows` planar (or radial) flows."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        config = {**super().default_config(data), "flows": 8, "radial": False}
        config.pop("flow_hidden")
        return config

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, flows: int = 8, radial: bool = False):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k, flows=0)
        step = RadialFlow if radial else PlanarFlow
        self.flow = nn.ModuleList([step(self.latent, seed=k) for k in range(int(flows))])
