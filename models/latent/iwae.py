"""Importance-weighted autoencoder (Burda, Grosse & Salakhutdinov, 2016): the VAE's networks trained on
the k-sample bound

    L_k(x) = E_{z_1..z_k ~ q(z|x)} [ log (1/k) sum_i p(x, z_i) / q(z_i|x) ],   L_1 = ELBO <= L_k <= L_{k+1} <= log p(x)

whose gradient weights each sample's ELBO gradient by its normalized importance weight.
"""
from __future__ import annotations

from minigen.autograd import Tensor

from .vae import VAE, log_mean_exp


class IWAE(VAE):
    """The VAE architecture trained on L_k with k importance samples per example (k = 1 is the VAE)."""

    default_k = 5

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "k": cls.default_k}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000, k: int | None = None):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)
        self.k = int(self.default_k if k is None else k)
        if self.k < 1:
            raise ValueError(f"IWAE: k must be at least 1, got {k}")
        if self.beta != 1.0 or self.warmup:
            raise ValueError("IWAE: the k-sample bound has no KL term to weight; use beta=1, warmup=0")

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """-mean_b L_k(x_b), reparameterized through all k samples (no schedule: the step is not used)."""
        bound = log_mean_exp(self.log_weights(batch, self.k), axis=0)
        return -bound.mean(), {f"iwae_bound_k{self.k}": bound.mean()}

    def metrics(self, split: str = "test") -> dict:
        """The VAE's metrics plus the training bound L_k on the split."""
        out = super().metrics(split)
        with self.evaluating():
            out[f"test_iwae_bound_k{self.k}"] = float(self.iwae_bound(self.eval_batch(split), self.k)
                                                        .numpy().mean())
        return out


class IWAE50(IWAE):
    """IWAE with k = 50 (registered as iwae-k50 so that the zoo records both k = 5 and k = 50)."""

    default_k = 50
