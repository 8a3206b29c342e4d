"""Probability distributions with torch.distributions' names and semantics.

    from minigen.distributions import Normal, Bernoulli, Categorical, RelaxedOneHotCategorical, kl_divergence
    q = Normal(mu, sigma); z = q.rsample(); kl = kl_divergence(q, Normal(0.0, 1.0)).sum(axis=1)

`sample(sample_shape)` returns sample_shape + batch_shape + event_shape, cut from the graph;
`rsample` (where the family is reparameterizable) keeps the path to the parameters; `log_prob` and
`entropy` are elementwise over the batch (no summing over dimensions: the caller decides the reduction).
Random numbers come from `minigen.backend.rng(device)`, seeded by `mg.manual_seed`.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .. import backend
from ..autograd import Tensor, as_tensor
from ..functional import one_hot
from ..ops.elementwise import erfc, log, sigmoid, softplus
from ..ops.reduction import logsumexp, softmax
from ..ops.shape import broadcast_to

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "OneHotCategorical", "RelaxedOneHotCategorical", "kl_divergence",
           "register_kl", "gumbel", "gumbel_max"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _tensor(x, like: Tensor | None = None) -> Tensor:
    """A parameter as a Tensor: Python scalars take like's dtype/device (float32 when there is none)."""
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "dtype") and not isinstance(x, np.generic):
        return Tensor._make(x if x.dtype.kind == "f" else x.astype(np.float32))
    return as_tensor(float(x), like)


def _shape(sample_shape) -> tuple:
    return (int(sample_shape),) if isinstance(sample_shape, int) else tuple(sample_shape)


def _eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def gumbel(shape: tuple, dtype=np.float32, device: str = "cpu") -> Tensor:
    """Standard Gumbel noise g = -log(-log u), u ~ U(0, 1), drawn from the device's seeded generator."""
    xp = backend.xp_for(device)
    tiny = float(np.finfo(dtype).tiny)
    u = xp.clip(backend.rng(device).random(shape, dtype=np.float64), tiny, 1.0 - _eps(np.float64))
    return Tensor._make((-xp.log(-xp.log(u))).astype(dtype))


def gumbel_max(logits: Tensor, axis: int = -1) -> Tensor:
    """Exact categorical sample argmax_k (logits_k + g_k), g_k ~ Gumbel(0, 1) (the Gumbel-max trick)."""
    g = gumbel(logits.shape, logits.dtype, logits.device)
    return Tensor._make((logits.data + g.data).argmax(axis=axis))


class Distribution:
    """Base class: batch_shape, event_shape, sample via rsample when reparameterizable."""

    has_rsample = False
    batch_shape: tuple = ()
    event_shape: tuple = ()

    def _extended_shape(self, sample_shape=()) -> tuple:
        return _shape(sample_shape) + self.batch_shape + self.event_shape

    def sample(self, sample_shape=()) -> Tensor:
        """A sample of shape sample_shape + batch_shape + event_shape, with no gradient."""
        return self.rsample(sample_shape).detach()

    def rsample(self, sample_shape=()) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} has no reparameterized sampler (rsample); "
                                  "use sample() with a score-function estimator")

    def log_prob(self, value) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    @property
    def device(self) -> str:
        return self._param.device

    @property
    def dtype(self):
        return self._param.dtype

    def __repr__(self) -> str:
        return f"{type(self).__name__}(batch_shape={self.batch_shape}, event_shape={self.event_shape})"


# ---------------------------------------------------------------------------------------------- Normal

class Normal(Distribution):
    """N(loc, scale^2) elementwise; rsample z = loc + scale * eps with eps ~ N(0, 1)."""

    has_rsample = True

    def __init__(self, loc, scale):
        like = loc if isinstance(loc, Tensor) else scale if isinstance(scale, Tensor) else None
        self.loc, self.scale = _tensor(loc, like), _tensor(scale, like)
        self.batch_shape = tuple(np.broadcast_shapes(self.loc.shape, self.scale.shape))
        self._param = self.loc

    @property
    def mean(self) -> Tensor:
        return broadcast_to(self.loc, self.batch_shape)

    @property
    def stddev(self) -> Tensor:
        return broadcast_to(self.scale, self.batch_shape)

    @property
    def variance(self) -> Tensor:
        return self.stddev * self.stddev

    def rsample(self, sample_shape=()) -> Tensor:
        """loc + scale * eps, eps ~ N(0, 1): d z / d loc = 1, d z / d scale = eps."""
        shape = self._extended_shape(sample_shape)
        eps = backend.rng(self.device).standard_normal(shape, dtype=np.float64).astype(self.dtype)
        return self.loc + self.scale * Tensor._make(backend.xp_for(self.device).asarray(eps))

    def log_prob(self, value) -> Tensor:
        """log N(x; mu, s^2) = -(x - mu)^2 / (2 s^2) - log s - log sqrt(2 pi)."""
        x = _tensor(value, self.loc)
        d = (x - self.loc) / self.scale
        return -0.5 * d * d - log(self.scale) - _LOG_SQRT_2PI

    def entropy(self) -> Tensor:
        """H = 1/2 + log sqrt(2 pi) + log s."""
        return broadcast_to(0.5 + _LOG_SQRT_2PI + log(self.scale), self.batch_shape)

    def cdf(self, value) -> Tensor:
        """Phi((x - mu) / s) = erfc((mu - x) / (s sqrt 2)) / 2 (erfc keeps the lower tail's digits, which
        1 + erf would cancel)."""
        return 0.5 * erfc((self.loc - _tensor(value, self.loc)) / (self.scale * math.sqrt(2)))


# ------------------------------------------------------------------------------------------- Bernoulli

class Bernoulli(Distribution):
    """Bernoulli(p) with p = sigmoid(logits); give exactly one of probs= or logits=."""

    def __init__(self, probs=None, logits=None):
        if (probs is None) == (logits is None):
            raise ValueError("Bernoulli: give exactly one of probs= or logits=")
        if logits is not None:
            self.logits = _tensor(logits)
            self.probs = sigmoid(self.logits)
        else:
            self.probs = _tensor(probs)
            eps = _eps(self.probs.dtype)
            p = self.probs.clip(eps, 1 - eps)
            self.logits = log(p) - log(1 - p)
        self._param = self.logits
        self.batch_shape = self.logits.shape

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape=()) -> Tensor:
        """1 where u < p, u ~ U(0, 1); no gradient (not reparameterizable)."""
        shape = self._extended_shape(sample_shape)
        u = backend.rng(self.device).random(shape, dtype=np.float64)
        p = broadcast_to(self.probs, shape).data
        return Tensor._make((u < p).astype(self.dtype))

    def log_prob(self, value) -> Tensor:
        """x log p + (1 - x) log(1 - p) = x l - softplus(l), stable for any logit l."""
        x = _tensor(value, self.logits)
        return x * self.logits - softplus(self.logits)

    def entropy(self) -> Tensor:
        """H = softplus(l) - p l."""
        return softplus(self.logits) - self.probs * self.logits


# ----------------------------------------------------------------------------------------- Categorical

class Categorical(Distribution):
    """Categorical over the last axis (K classes); values are integer indices of shape batch_shape."""

    def __init__(self, probs=None, logits=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: give exactly one of probs= or logits=")
        if logits is not None:
            raw = _tensor(logits)
            self.logits = raw - logsumexp(raw, axis=-1, keepdims=True)
            self.probs = softmax(raw, axis=-1)
        else:
            p = _tensor(probs)
            self.probs = p / p.sum(axis=-1, keepdims=True)
            self.logits = log(self.probs.clip(float(np.finfo(p.dtype).tiny)))
        if self.logits.ndim < 1:
            raise ValueError(f"Categorical: parameters need a class axis, got shape {self.logits.shape}")
        self._param = self.logits
        self.num_categories = self.logits.shape[-1]
        self.batch_shape = self.logits.shape[:-1]

    def sample(self, sample_shape=()) -> Tensor:
        """Integer indices by the Gumbel-max trick: argmax_k (log p_k + g_k) is exactly Categorical(p)."""
        shape = _shape(sample_shape) + self.logits.shape
        return gumbel_max(broadcast_to(self.logits.detach(), shape), axis=-1)

    def log_prob(self, value) -> Tensor:
        """log p_value, by a one-hot contraction over the class axis (value broadcasts with batch_shape)."""
        v = value.data if isinstance(value, Tensor) else backend.to_device(backend.as_array(value),
                                                                          self.logits.device)
        if v.dtype.kind not in "iu":
            raise TypeError(f"Categorical.log_prob: value must hold integer class indices, got {v.dtype}")
        onehot = one_hot(v, self.num_categories, dtype=self.dtype)
        return (onehot * self.logits).sum(axis=-1)

    def entropy(self) -> Tensor:
        """H = -sum_k p_k log p_k."""
        return -(self.probs * self.logits).sum(axis=-1)


class OneHotCategorical(Categorical):
    """Categorical whose values are one-hot vectors (event_shape (K,))."""

    def __init__(self, probs=None, logits=None):
        super().__init__(probs, logits)
        self.event_shape = (self.num_categories,)

    def sample(self, sample_shape=()) -> Tensor:
        return one_hot(super().sample(sample_shape).data, self.num_categories, dtype=self.dtype)

    def log_prob(self, value) -> Tensor:
        """sum_k value_k log p_k."""
        return (_tensor(value, self.logits) * self.logits).sum(axis=-1)


# ------------------------------------------------------------------------- RelaxedOneHotCategorical

class RelaxedOneHotCategorical(Distribution):
    """Concrete / Gumbel-softmax (Maddison et al.; Jang et al.): y = softmax((logits + g) / tau).

    As tau -> 0 samples approach one-hot vectors distributed as Categorical(softmax(logits)).
    """

    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None):
        base = Categorical(probs=probs, logits=logits)
        self.logits, self.probs = base.logits, base.probs
        self.temperature = float(temperature)
        if self.temperature <= 0:
            raise ValueError(f"RelaxedOneHotCategorical: temperature must be positive, got {temperature}")
        self._param = self.logits
        self.num_categories = base.num_categories
        self.batch_shape = base.batch_shape
        self.event_shape = (self.num_categories,)

    def rsample(self, sample_shape=()) -> Tensor:
        """softmax((logits + g) / tau), g ~ Gumbel(0, 1); clamped into the open simplex as torch does."""
        shape = self._extended_shape(sample_shape)
        g = gumbel(shape, self.dtype, self.device)
        y = softmax((self.logits + g) * (1.0 / self.temperature), axis=-1)
        eps = _eps(self.dtype)
        return y.clip(eps, 1 - eps)

    def log_prob(self, value) -> Tensor:
        """Concrete density: log (K-1)! + (K-1) log tau + sum_k (l_k - (tau+1) log y_k)
        - K logsumexp_k (l_k - tau log y_k)."""
        y = _tensor(value, self.logits)
        k, tau = self.num_categories, self.temperature
        log_y = log(y)
        score = self.logits - tau * log_y
        return (math.lgamma(k) + (k - 1) * math.log(tau) + (self.logits - (tau + 1) * log_y).sum(axis=-1)
                - k * logsumexp(score, axis=-1))


# ------------------------------------------------------------------------------------------------ KL

_KL: dict = {}


def register_kl(type_p: type, type_q: type) -> Callable:
    """Decorator registering a closed-form KL(p || q) for a pair of distribution types."""
    def decorator(fn: Callable) -> Callable:
        _KL[(type_p, type_q)] = fn
        return fn
    return decorator


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """KL(p || q) = E_p[log p(x) - log q(x)] in closed form, elementwise over the batch."""
    for (tp, tq), fn in _KL.items():
        if type(p) is tp and type(q) is tq:
            return fn(p, q)
    for (tp, tq), fn in _KL.items():
        if isinstance(p, tp) and isinstance(q, tq):
            return fn(p, q)
    raise NotImplementedError(f"kl_divergence: no closed form registered for "
                              f"{type(p).__name__} || {type(q).__name__}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """log(s_q / s_p) + (s_p^2 + (mu_p - mu_q)^2) / (2 s_q^2) - 1/2."""
    ratio = p.scale / q.scale
    d = (p.loc - q.loc) / q.scale
    return 0.5 * (ratio * ratio + d * d - 1) - log(ratio)


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """p (log p - log q) + (1 - p)(log(1 - p) - log(1 - q)), with log p = -softplus(-l)."""
    return (p.probs * (softplus(-q.logits) - softplus(-p.logits))
            + (1 - p.probs) * (softplus(q.logits) - softplus(p.logits)))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """sum_k p_k (log p_k - log q_k)."""
    return (p.probs * (p.logits - q.logits)).sum(axis=-1)
