"""A learned mixture of K diagonal Gaussians as a flow's base density (the "MAF MoG" of Papamakarios,
Pavlakou & Murray, 2017, sec. 3.3, in its unconditional form):

    p(u) = sum_k pi_k prod_d N(u_d; m_kd, s_kd^2),   pi = softmax(logits),  s = exp(log_s)
    log p(u) = logsumexp_k [log pi_k + sum_d log N(u_d; m_kd, s_kd^2)]

Sampling draws k ~ Categorical(pi) then u ~ N(m_k, s_k^2) (no reparameterization through k: `rsample` is
not offered). Deviation: the paper's MAF MoG tops the stack with a MADE MoG, whose mixture parameters are
conditioned on u_<d (made_mog_base.py, MAF's `made_mog`); here they are global (one mixture over the whole
vector), a cheaper base whose extra modes the flow below can still move.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor, no_grad
from minigen.distributions import Distribution

__all__ = ["MixtureBase", "MixtureOfDiagonalNormals"]

LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


class MixtureOfDiagonalNormals(Distribution):
    """sum_k softmax(logits)_k N(loc_k, diag scale_k^2) over events of shape (D,)."""

    has_rsample = False

    def __init__(self, logits: Tensor, loc: Tensor, log_scale: Tensor):
        if loc.ndim != 2 or tuple(log_scale.shape) != tuple(loc.shape) or tuple(logits.shape) != loc.shape[:1]:
            raise ValueError(f"MixtureOfDiagonalNormals: expected logits (K,), loc and log_scale (K, D), got "
                             f"{logits.shape}, {loc.shape}, {log_scale.shape} on {loc.device}")
        self.logits, self.loc, self.log_scale = logits, loc, log_scale
        self.batch_shape, self.event_shape = (), (int(loc.shape[1]),)

    @property
    def device(self) -> str:
        return self.loc.device

    @property
    def dtype(self):
        return self.loc.dtype

    def log_prob(self, value: Tensor) -> Tensor:
        """logsumexp_k [log pi_k + sum_d log N(value_d; loc_kd, scale_kd^2)]: shape value.shape[:-1]."""
        u = value.unsqueeze(-2)  # (..., 1, D) against (K, D)
        z = (u - self.loc) * (-self.log_scale).exp()
        per_k = (-0.5 * z * z - self.log_scale - LOG_SQRT_2PI).sum(axis=-1)  # (..., K)
        log_pi = self.logits - self.logits.logsumexp(axis=-1, keepdims=True)
        return (per_k + log_pi).logsumexp(axis=-1)

    def sample(self, sample_shape=()) -> Tensor:
        """k ~ Categorical(pi), then loc_k + scale_k * eps (no graph)."""
        shape = tuple(sample_shape) if isinstance(sample_shape, (tuple, list)) else (int(sample_shape),)
        n = int(np.prod(shape, dtype=np.int64))
        with no_grad():
            logits = backend.to_device(self.logits.data, "cpu").astype(np.float64)
            pi = np.exp(logits - logits.max())
            rng = backend.rng("cpu")
            k = rng.choice(len(pi), size=n, p=pi / pi.sum())
            loc = backend.to_device(self.loc.data, "cpu")[k]
            scale = np.exp(backend.to_device(self.log_scale.data, "cpu"))[k]
            u = loc + scale * rng.standard_normal(loc.shape).astype(loc.dtype)
        return mg.tensor(u.reshape(shape + self.event_shape).astype(loc.dtype), device=self.device)


class MixtureBase(nn.Module):
    """The mixture's parameters, K components over D dimensions, initialised near N(0, I): spread means
    (0.5 standard deviations at random), unit scales, equal weights."""

    def __init__(self, dims: int, components: int, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.logits = nn.Parameter(np.zeros(components, np.float32))
        self.loc = nn.Parameter(rng.normal(0, 0.5, (components, dims)).astype(np.float32))
        self.log_scale = nn.Parameter(np.zeros((components, dims), np.float32))

    def distribution(self) -> MixtureOfDiagonalNormals:
        return MixtureOfDiagonalNormals(self.logits, self.loc, self.log_scale)
