"""MADE (Germain, Gregor, Murray & Larochelle, 2015): a masked autoencoder for distribution estimation.

An MLP x -> logits whose weight matrices are multiplied by binary masks, so that logit d sees only the
inputs before d in an ordering. Each unit gets a degree: input d has m(d) = its position in the ordering
(1..n), hidden unit k has m_l(k) drawn from {min m_{l-1}, ..., n - 1}; a hidden weight k' -> k is kept
when m_l(k) >= m_{l-1}(k'), an output weight k -> d when m(d) > m_L(k).

Order- and connectivity-agnostic training keeps a pool of `num_masks` mask sets (each with its own
ordering when `order_agnostic`, and always its own hidden degrees) and trains each minibatch under one of
them, drawn at random. At test time the model is the uniform mixture over `ensemble` of those orderings:

    log p(x) = log (1/E) sum_e p_e(x) = logsumexp_e log p_e(x) - log E

(probabilities are averaged, not logits: averaging logits would not even be normalised).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor

from .baselines import AutoregressiveModel


def made_degrees(dims: int, widths: list[int], order: np.ndarray, rng: np.random.Generator) -> list:
    """Degrees of the input (its 1-based position in `order`) and of each hidden layer's units."""
    degrees = [np.empty(dims, np.int64)]
    degrees[0][order] = np.arange(1, dims + 1)
    for width in widths:
        low = min(int(degrees[-1].min()), dims - 1)
        degrees.append(rng.integers(low, dims, size=width) if dims > 1 else np.zeros(width, np.int64))
    return degrees


def made_masks(degrees: list) -> list:
    """Masks (out, in) for each layer: hidden m_l(k) >= m_{l-1}(k'), output m_in(d) > m_L(k)."""
    masks = [(degrees[l + 1][:, None] >= degrees[l][None, :]) for l in range(len(degrees) - 1)]
    masks.append(degrees[0][:, None] > degrees[-1][None, :])
    return [m.astype(np.float32) for m in masks]


class MADE(AutoregressiveModel):
    """Masked MLP with `layers` hidden ReLU layers of `hidden` units; binary pixels, Bernoulli outputs."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, hidden: int = 500,
                 layers: int = 1, num_masks: int = 1, order_agnostic: bool = True, ensemble: int = 1,
                 mask_seed: int = 0, event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape)
        if num_masks < 1 or not 1 <= ensemble <= num_masks:
            raise ValueError(f"made: need num_masks >= 1 and 1 <= ensemble <= num_masks, got num_masks="
                             f"{num_masks}, ensemble={ensemble}")
        self.hidden, self.num_layers = int(hidden), int(layers)
        self.num_masks, self.ensemble = int(num_masks), int(ensemble)
        widths = [self.dims] + [self.hidden] * self.num_layers + [self.dims]
        self.net = nn.ModuleList([nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:])])
        rng = np.random.default_rng(mask_seed)
        self.orders, masks = [], []
        for s in range(self.num_masks):
            order = rng.permutation(self.dims) if order_agnostic and s > 0 else np.arange(self.dims)
            self.orders.append(order)
            masks.append(made_masks(made_degrees(self.dims, widths[1:-1], order, rng)))
        for l in range(len(self.net)):
            self.register_buffer(f"mask{l}", mg.tensor(np.stack([m[l] for m in masks])), persistent=False)
        self.mask_index = 0

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "hidden": 500, "layers": 1, "num_masks": 1,
                "order_agnostic": True, "ensemble": 1, "mask_seed": 0}

    def masks(self, index: int) -> list[Tensor]:
        """The masks (out, in) of mask set `index`, one per layer."""
        return [getattr(self, f"mask{l}")[index] for l in range(len(self.net))]

    def ordering(self) -> np.ndarray:
        return self.orders[self.mask_index]

    def conditionals(self, x: Tensor) -> Tensor:
        """logits = W_out M_out relu(... relu(W_1 M_1 x + b_1) ...) + b_out under mask set `mask_index`."""
        h = x
        for l, (layer, mask) in enumerate(zip(self.net, self.masks(self.mask_index))):
            h = F.linear(h, layer.weight * mask, layer.bias)
            if l < len(self.net) - 1:
                h = h.relu()
        return h

    def log_prob(self, x: Tensor, reduce: bool = True, ensemble: int | None = None) -> Tensor:
        """log (1/E) sum_e p_e(x) over mask sets 0..E-1 (E = `ensemble`); E = 1 is mask set 0 alone, whose
        per-pixel terms reduce=False returns (a mixture has no per-pixel factorisation)."""
        e = self.ensemble if ensemble is None else int(ensemble)
        if not reduce and e > 1:
            raise ValueError(f"made: per-pixel terms exist for one ordering only; pass ensemble=1 "
                             f"(got ensemble={e})")
        current, per_order = self.mask_index, []
        for index in range(e):
            self.mask_index = index
            per_order.append(super().log_prob(x, reduce))
        self.mask_index = current
        return per_order[0] if e == 1 else mg.stack(per_order, axis=0).logsumexp(axis=0) - math.log(e)

    def loss(self, batch: Tensor) -> Tensor:
        """-log p(x) under one mask set drawn from the pool for this minibatch (order/connectivity-agnostic)."""
        if self.num_masks > 1:
            self.mask_index = int(backend.rng("cpu").integers(self.num_masks))
        return -super().log_prob(batch).mean()

    def sample(self, n: int, y=None) -> Tensor:
        """Draws from the ensemble: each image picks one of its E orderings, then ancestral sampling."""
        self.labels(n, y)
        which = backend.rng("cpu").integers(self.ensemble, size=n)
        out, current = [], self.mask_index
        for index in range(self.ensemble):
            count = int((which == index).sum())
            if count:
                self.mask_index = index
                out.append(super().sample(count))
        self.mask_index = current
        return mg.cat(out, axis=0)

    def num_params(self) -> int:
        """Biases plus the weights that at least one mask set of the pool uses."""
        used = sum(int((getattr(self, f"mask{l}").data.max(axis=0) > 0).sum()) for l in range(len(self.net)))
        return used + sum(layer.bias.numel() for layer in self.net)

    def metrics(self, split: str = "test") -> dict:
        """The ensemble's test_nll/test_bpd, and test_nll_one_ordering (mask set 0 alone) when E > 1."""
        out = super().metrics(split)
        if self.ensemble > 1:
            with self.evaluating():
                out["test_nll_one_ordering"] = float(-self.log_prob(self.eval_batch(split), ensemble=1)
                                                     .numpy().mean())
        return out
