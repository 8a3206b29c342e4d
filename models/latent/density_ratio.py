"""The density-ratio trick: a discriminator trained by logistic regression to tell samples of q from samples
of p has, at its optimum, the log density ratio as its logit (Sugiyama et al. 2012; Goodfellow et al. 2014):

    T* = argmax_T  E_q[log s(T(z))] + E_p[log(1 - s(T(z)))],   s(T*(z)) = q(z) / (q(z) + p(z)),
    so  T*(z) = log q(z) / p(z),   and  KL(q || p) = E_q[T*(z)].

The loss is GAN's discriminator loss with q in the "real" role (models/gan/losses.py), softplus(-T(z_q)) +
softplus(T(z_p)), averaged over each batch. The adversarial autoencoder (its T estimates log q(z)/p(z), the
code's aggregate posterior against the prior), FactorVAE (log q(z)/prod_j q(z_j), the total correlation)
and the prior-ELBO VAE (log q(z)/N(z; 0, I)) all use this one estimator.
"""
from __future__ import annotations

import minigen as mg
from minigen import nn
from minigen.autograd import Tensor

from ..gan.losses import discriminator_loss
from ..nets import mlp


class DensityRatioEstimator(nn.Module):
    """T(z) = an MLP's logit, shape (B,), trained so that T(z) ~= log q(z) / p(z) for z in R^dim.

    `extra` input features (e.g. a one-hot label in the label-conditioned AAE) are concatenated to z, so the
    ratio is then log q(z|y) / p(z|y).
    """

    def __init__(self, dim: int, hidden=(64, 64), extra: int = 0, activation=nn.LeakyReLU):
        super().__init__()
        if dim < 1:
            raise ValueError(f"DensityRatioEstimator: dim must be at least 1, got {dim}")
        self.dim, self.extra = int(dim), int(extra)
        self.net = mlp([self.dim + self.extra, *hidden, 1], activation=activation)

    def forward(self, z: Tensor, features: Tensor | None = None) -> Tensor:
        """The logit T(z) per row: an estimate of log q(z) / p(z)."""
        if z.ndim != 2 or z.shape[1] != self.dim:
            raise ValueError(f"DensityRatioEstimator: expected z of shape (B, {self.dim}), got {z.shape} on "
                             f"{z.device}")
        if (features is None) != (self.extra == 0):
            raise ValueError(f"DensityRatioEstimator: built with extra={self.extra} features, got "
                             f"{'none' if features is None else tuple(features.shape)}")
        h = z if features is None else mg.cat([z, features], axis=1)
        return self.net(h).reshape(z.shape[0])

    def log_ratio(self, z: Tensor, features: Tensor | None = None) -> Tensor:
        """log q(z) / p(z) as estimated (an alias of forward, for readers of the models)."""
        return self(z, features)

    def loss(self, q_samples: Tensor, p_samples: Tensor, q_features: Tensor | None = None,
             p_features: Tensor | None = None) -> Tensor:
        """The logistic-regression loss with q as class 1: softplus(-T(z_q)).mean() + softplus(T(z_p)).mean()."""
        return discriminator_loss("non-saturating", self(q_samples, q_features), self(p_samples, p_features))
