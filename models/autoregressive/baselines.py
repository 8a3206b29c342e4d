"""Baselines from the chain-rule discussion, and the base class of the binary autoregressive models.

Every model here factorises p(x) = prod_k p(x_{o_k} | x_{o_1}, ..., x_{o_{k-1}}) over an ordering o of the
n pixels (the raster order unless a model says otherwise), each conditional a Bernoulli given by its logit:

    bernoulli  logit_d = l_d                                          n parameters
    ar1        logit_d = T_d[x_{d-k}, ..., x_{d-1}]  (a table, order k) sum_d 2^min(d, k): 2n - 1 for k = 1
    fvsbn      logit_d = b_d + sum_{j<d} W_dj x_j                     n + n(n - 1) / 2
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn

from ..base import DIGITS_SHAPE, LikelihoodModel


class AutoregressiveModel(LikelihoodModel):
    """Exact likelihood over binary pixels from per-pixel logits; generic sampling and completion.

    A subclass defines `conditionals(x)`: the (B, n) logits of p(x_d = 1 | x's pixels before d in
    `ordering()`), from the flattened images x (B, n). `event_shape` is the image shape (digits unless a
    test asks for a smaller one, e.g. (1, 2, 5) to enumerate all 2^10 images).
    """

    value_range = (0.0, 1.0)  # how viz.save_samples scales the sampled pixels

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size)
        self.event_shape = tuple(event_shape) if event_shape is not None else DIGITS_SHAPE
        self.dims = int(np.prod(self.event_shape))

    def ordering(self) -> np.ndarray:
        """ordering()[k] is the flat (raster) index of the pixel generated at step k."""
        return np.arange(self.dims)

    def conditionals(self, x: mg.Tensor) -> mg.Tensor:
        """(B, n) logits of p(x_d = 1 | x_<d) for flattened images x of shape (B, n) (RNADE: (B, n, 3K)
        mixture parameters): what `dependence` differentiates."""
        raise NotImplementedError(f"{self.name} must define conditionals(x)")

    def dependence(self, x: mg.Tensor) -> np.ndarray:
        """(n, n) booleans, [i, j] True when d conditionals(x)[:, i] / d x_j is nonzero somewhere in the
        batch, from the engine's own gradients (one backward pass per pixel, random cotangents, eval mode)."""
        flat = mg.tensor(self.flat(x).data, requires_grad=True)
        rng = np.random.default_rng(0)
        dep = np.zeros((self.dims, self.dims), bool)
        with self.evaluating(grad=True):
            out = self.conditionals(flat)
            for i in range(self.dims):
                row = out[:, i]
                if not row.requires_grad:
                    continue
                weights = mg.tensor(rng.standard_normal(row.shape).astype(row.dtype), device=row.device)
                (g,) = mg.grad((row * weights).sum(), [flat], retain_graph=True, allow_unused=True)
                if g is not None:
                    dep[i] = (g.numpy() != 0).any(axis=0)
        return dep

    def flat(self, x: mg.Tensor) -> mg.Tensor:
        """Images (B, *event_shape) as (B, n), with a clear error for a wrong shape."""
        if tuple(x.shape[1:]) != self.event_shape:
            shape = ", ".join(map(str, self.event_shape))
            raise ValueError(f"{self.name}: expected images of shape (B, {shape}), got {x.shape} "
                             f"on {x.device}")
        return x.reshape(x.shape[0], self.dims)

    def log_prob(self, x: mg.Tensor, reduce: bool = True) -> mg.Tensor:
        """sum_d x_d log s(l_d) + (1 - x_d) log s(-l_d), l = conditionals(x); per pixel (shaped like x)
        when reduce=False."""
        flat = self.flat(x)
        terms = -F.binary_cross_entropy_with_logits(self.conditionals(flat), flat, reduction="none")
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape)

    def sample(self, n: int, y=None) -> mg.Tensor:
        """n images (n, *event_shape) by ancestral sampling in `ordering()` (unconditional: y must be None)."""
        self.labels(n, y)
        zeros = mg.zeros((n,) + self.event_shape, device=self.device)
        return self.complete(zeros, mg.zeros(self.event_shape, device=self.device))

    def complete(self, x: mg.Tensor, observed) -> mg.Tensor:
        """Sample the pixels of x where `observed` (shaped like one image, or like x) is 0, keeping the
        others: exact draws from p(x_unobserved | x_observed) when the observed pixels come first in
        `ordering()` (e.g. the top rows in raster order)."""
        xp = backend.array_module(x.data)
        seen = xp.asarray(observed.data if isinstance(observed, mg.Tensor) else observed).astype(bool)
        seen = xp.broadcast_to(seen.reshape(-1, self.dims), (x.shape[0], self.dims))
        order = self.ordering()
        self._check_prefix(backend.to_device(seen, "cpu"), order)
        cur = xp.array(self.flat(x).data, copy=True)
        with self.evaluating():
            state = self._start(cur)
            for d in order:
                todo = ~seen[:, d]
                if todo.any():
                    p = self._next_probability(cur, int(d), state)
                    u = backend.rng(self.device).random(p.shape)
                    cur[:, d] = xp.where(todo, (u < p).astype(cur.dtype), cur[:, d])
                state = self._advance(state, cur, int(d))
        return mg.tensor(cur.reshape(x.shape))

    def _check_prefix(self, seen: np.ndarray, order: np.ndarray) -> None:
        """Fail unless, in every row, no observed pixel follows one to sample."""
        position = np.empty(self.dims, int)
        position[order] = np.arange(self.dims)
        last_seen = np.where(seen, position, -1).max(axis=1)
        first_free = np.where(seen, self.dims, position).min(axis=1)
        if (last_seen > first_free).any():
            raise ValueError(f"{self.name}.complete: the observed pixels must come before the "
                             "unobserved ones in the model's ordering (exact conditionals only then)")

    def _start(self, cur):
        """The sampler's cache before the first pixel (none here; NADE keeps its running pre-activation)."""
        return None

    def _next_probability(self, cur, d: int, state):
        """p(x_d = 1 | cur's earlier pixels) as a raw array (B,): one full pass when nothing is cached."""
        return self.conditionals(mg.tensor(cur)).sigmoid().data[:, d]

    def _advance(self, state, cur, d: int):
        """The cache once pixel d is known."""
        return state

    def num_params(self) -> int:
        """Free parameters (entries that the structure masks out are not counted)."""
        return self.num_parameters()

    def metrics(self, split: str = "test") -> dict:
        return {**super().metrics(split), "num_params": self.num_params()}


class IndependentBernoulli(AutoregressiveModel):
    """p(x) = prod_d Bernoulli(x_d; sigmoid(l_d)): one logit per pixel, n parameters for n pixels."""

    def __init__(self, data: str = "digits", lr: float = 0.05, batch_size: int = 64,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape)
        self.logits = nn.Parameter(mg.zeros(self.event_shape))

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 0.05, "batch_size": 64}

    def conditionals(self, x: mg.Tensor) -> mg.Tensor:
        """logit_d = l_d, whatever the other pixels."""
        return self.logits.reshape(1, self.dims).expand((x.shape[0], self.dims))

    def sample(self, n: int, y=None) -> mg.Tensor:
        """All pixels at once (they are independent)."""
        self.labels(n, y)
        with self.evaluating():
            p = self.logits.sigmoid().expand((n,) + self.event_shape)
            return mg.tensor((mg.rand_like(p).data < p.data).astype(p.dtype))


class MarkovChain(AutoregressiveModel):
    """AR-k over the raster order: p(x_d | x_<d) = Bernoulli(sigmoid(T[d, x_{d-1}, ..., x_{d-k}])).

    The table T (n, 2^k) is looked up differentiably: logit_d = sum_c T[d, c] 1[context_d = c], with
    1[context = c] = prod_j (x_{d-j} if bit j-1 of c else 1 - x_{d-j}). Pixels before the first are 0, so
    pixel d uses 2^min(d, k) entries: 2n - 1 parameters for k = 1 (the AR-1 chain).
    """

    def __init__(self, data: str = "digits", lr: float = 0.05, batch_size: int = 64, order: int = 1,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape)
        if not 1 <= order <= 12:
            raise ValueError(f"ar1: order must be between 1 and 12, got {order}")
        self.order = int(order)
        self.table = nn.Parameter(mg.zeros((self.dims, 2 ** self.order)))

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 0.05, "batch_size": 64, "order": 1}

    def conditionals(self, x: mg.Tensor) -> mg.Tensor:
        """logit_d = sum_c T[d, c] prod_j (x_{d-j} or 1 - x_{d-j} as bit j-1 of c says)."""
        indicator = mg.ones((x.shape[0], self.dims, 1), dtype=x.dtype, device=x.device)
        for j in range(1, self.order + 1):
            before = mg.pad(x[:, :max(self.dims - j, 0)], (min(j, self.dims), 0)).unsqueeze(2)
            indicator = mg.cat([indicator * (1 - before), indicator * before], axis=2)
        return (indicator * self.table).sum(axis=2)

    def num_params(self) -> int:
        """sum_d 2^min(d, k): the table entries that some context can reach."""
        return int(sum(2 ** min(d, self.order) for d in range(self.dims)))


class FVSBN(AutoregressiveModel):
    """Fully visible sigmoid belief net: logistic regression of each pixel on all earlier ones,
    logit_d = b_d + sum_{j<d} W_dj x_j (W strictly lower triangular): n + n(n - 1) / 2 parameters."""

    def __init__(self, data: str = "digits", lr: float = 0.01, batch_size: int = 64,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape)
        self.weight = nn.Parameter(mg.zeros((self.dims, self.dims)))
        self.bias = nn.Parameter(mg.zeros((self.dims,)))
        self.register_buffer("mask", mg.tensor(np.tril(np.ones((self.dims, self.dims), np.float32), -1)),
                             persistent=False)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 0.01, "batch_size": 64}

    def conditionals(self, x: mg.Tensor) -> mg.Tensor:
        """logits = x (W * M)^T + b with M the strictly lower triangular mask."""
        return F.linear(x, self.weight * self.mask, self.bias)

    def num_params(self) -> int:
        return self.dims + self.dims * (self.dims - 1) // 2
