"""The discretized logistic mixture likelihood of PixelCNN++ (Salimans, Karpathy, Chen & Kingma, 2017, eq. 2).

Level k of L is the point x_k = 2 k / (L - 1) - 1 in [-1, 1], with half-width delta = 1 / (L - 1). With a
mixture of K logistics (weights pi_i, means mu_i, scales s_i):

    P(k) = sum_i pi_i [sigma((x_k + delta - mu_i) / s_i) - sigma((x_k - delta - mu_i) / s_i)]

where the first level's lower edge is -inf (sigma(...) - 0) and the last level's upper edge is +inf
(1 - sigma(...)), so the L probabilities telescope to exactly 1. For a stable log in the tails the
difference of sigmoids is never formed: with a = (x + delta - mu) / s and b = (x - delta - mu) / s,

    log(sigma(a) - sigma(b)) = -softplus(-a) - softplus(b) + log(1 - exp(-(a - b))),   a - b = 2 delta / s

(an identity: sigma(a) (1 - sigma(b)) (1 - e^{b - a}) = sigma(a) - sigma(b)), and the edges are
log sigma(a) = -softplus(-a) and log(1 - sigma(b)) = -softplus(b). Every term is a sum of finite logs, so
log P(k) stays finite and accurate however far k lies in a component's tail. log s is clipped below at
-7 (the paper's choice), which keeps 2 delta / s finite; 1 - exp(-2 delta / s) is formed as
-expm1(-2 delta / s), which stays positive for a wide component (large s) where 1 - exp(...) rounds to 0.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend
from minigen.autograd import Tensor

MIN_LOG_SCALE = -7.0


def discretized_logistic_mixture_log_prob(levels_index: Tensor, logit_pi: Tensor, mu: Tensor, log_s: Tensor,
                                          levels: int) -> Tensor:
    """log P(k) for integer levels k (any shape S) under mixtures whose parameters have shape S + (K,)."""
    if logit_pi.shape != mu.shape or mu.shape != log_s.shape or tuple(mu.shape[:-1]) != tuple(levels_index.shape):
        raise ValueError(f"discretized_logistic_mixture: parameters {logit_pi.shape}, {mu.shape}, {log_s.shape} "
                         f"must all be levels' shape {levels_index.shape} + (K,) ({levels_index.device})")
    k = levels_index.unsqueeze(-1)
    delta = 1.0 / (levels - 1)
    x = k * (2.0 * delta) - 1.0
    log_s = log_s.clip(MIN_LOG_SCALE, None)
    inv_s = (-log_s).exp()
    a, b = (x + delta - mu) * inv_s, (x - delta - mu) * inv_s
    log_cdf_upper = -(-a).softplus()                              # log sigma(a)
    log_sf_lower = -b.softplus()                                  # log (1 - sigma(b))
    log_width = (-(-2.0 * delta * inv_s).expm1()).log()           # log(1 - exp(-(a - b))), finite for large s
    first, last = (k == 0), (k == levels - 1)
    middle = log_cdf_upper + log_sf_lower + log_width
    log_p = mg.where(first, log_cdf_upper, mg.where(last, log_sf_lower, middle))
    return (logit_pi.log_softmax(axis=-1) + log_p).logsumexp(axis=-1)


def discretized_logistic_mixture_cdf(logit_pi, mu, log_s, levels: int):
    """Raw arrays: P(level <= k) for k = 0..L-2 (shape S + (L - 1,)) under mixtures with parameters S + (K,).
    The discretization keeps the mixture's CDF at the bin edges, so P(level <= k) = sum_i pi_i
    sigma((x_k + delta - mu_i) / s_i) (P(level <= L - 1) = 1): the telescoped sum of P(0..k), without logs."""
    xp = backend.array_module(mu)
    pi = xp.exp(logit_pi - logit_pi.max(axis=-1, keepdims=True))
    pi = pi / pi.sum(axis=-1, keepdims=True)
    delta = 1.0 / (levels - 1)
    edges = (xp.arange(levels - 1, dtype=mu.dtype) * (2.0 * delta) - 1.0 + delta)[:, None]   # (L - 1, 1)
    inv_s = xp.exp(-xp.maximum(log_s, MIN_LOG_SCALE))[..., None, :]
    with np.errstate(over="ignore"):  # exp(-z) = inf far below a component: sigma = 0, as it should
        sigma = 1 / (1 + xp.exp(-(edges - mu[..., None, :]) * inv_s))
    return (pi[..., None, :] * sigma).sum(axis=-1)
