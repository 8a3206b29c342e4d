"""The base of the pixel models (PixelCNN, Gated PixelCNN, PixelRNN, PixelCNN++): image-shaped conditionals,
a Bernoulli or L-way categorical likelihood per pixel and colour, and the two samplers.

    log p(x) = sum_{i, j} sum_c log p(x_{c,i,j} | x_{<(i,j)}, x_{<c,(i,j)})

with p(x_c = 1 | ...) = sigmoid(logit) (binary pixels) or softmax(logits)[x_c] over L levels. The network
maps the image scaled to [0, 1] (x / (L - 1)) to logits (B, colors, K, H, W) (K = 1 Bernoulli, L
categorical); a subclass defines `network(x, y)` and, for the fast sampler, `start_cache`, `row_start`
and `logits_at` on raw arrays.

Sampling visits pixels in raster order and colours in order, with one uniform draw u (B,) per step from
minigen's generator (Bernoulli: x = [u < p]; categorical: the inverse CDF). The naive sampler reruns the
whole network per step; the fast one evaluates only the new position of each layer from caches of the
layers' inputs, so for the same seed both give the same samples (tests/models/test_pixelcnn.py).
"""
from __future__ import annotations

import time

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, optim
from minigen.autograd import Tensor

from .baselines import AutoregressiveModel
from .pixel_layers import masked_parameter_count


class PixelModel(AutoregressiveModel):
    """Image conditionals with a Bernoulli (levels = 2) or categorical (any levels) likelihood."""

    has_fast_sampler = True  # False: sample and complete always rerun the whole network (fast= is ignored)

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, likelihood: str =
                 "bernoulli", levels: int = 2, binarize: str = "static", event_shape: tuple | None = None,
                 ema: float = 0.0, lr_schedule: str = "constant"):
        super().__init__(data, lr, batch_size, event_shape)
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"{self.name}: ema must be in [0, 1) (0: evaluate the trained weights), got {ema}")
        if lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"{self.name}: lr_schedule must be 'constant' or 'cosine', got {lr_schedule!r}")
        self.ema, self.lr_schedule = float(ema), lr_schedule
        if likelihood not in ("bernoulli", "categorical"):
            raise ValueError(f"{self.name}: likelihood must be 'bernoulli' or 'categorical', got {likelihood!r}")
        if likelihood == "bernoulli" and levels != 2:
            raise ValueError(f"{self.name}: a Bernoulli likelihood needs levels=2 (binary pixels), got {levels}")
        if levels not in (2, 17):
            raise ValueError(f"{self.name}: the digits come binarized (levels=2) or in 17 levels, got {levels}")
        if levels == 2 and binarize not in ("static", "dynamic"):
            raise ValueError(f"{self.name}: binarize must be 'static' or 'dynamic', got {binarize!r}")
        self.likelihood, self.levels = likelihood, int(levels)
        self.binarize = binarize if levels == 2 else None
        self.value_range = (0.0, float(levels - 1))
        self.colors, self.height, self.width = self.event_shape
        self.outputs = 1 if likelihood == "bernoulli" else self.levels  # K: logits per colour

    TRAINING_DEFAULTS = {"ema": 0.0, "lr_schedule": "constant"}  # in every pixel model's default_config

    # ------------------------------------------------------------------------------------- training
    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """lr_schedule "cosine": lr_t = lr (1 + cos(pi t / steps)) / 2 over the run; "constant": none."""
        if self.lr_schedule == "constant":
            return []
        return [optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) for opt in optimizers]

    def configure_averaging(self):
        """ema > 0: the exponential moving average of the weights, theta_bar <- ema theta_bar + (1 - ema)
        theta after every step (Polyak averaging, as PixelCNN++ evaluates), is the run's result."""
        if self.ema == 0.0:
            return None
        return optim.swa_utils.AveragedModel(self, multi_avg_fn=optim.swa_utils.get_ema_multi_avg_fn(self.ema))

    # ----------------------------------------------------------------------------------- likelihood
    def network(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, colors * K, H, W) logits from the scaled image (B, colors, H, W) (and labels y)."""
        raise NotImplementedError(f"{self.name} must define network(x, y)")

    def split(self, batch) -> tuple[Tensor, Tensor | None]:
        """(x, y) of a batch: y is None for an unconditional model."""
        if self.conditional:
            if not isinstance(batch, (tuple, list)) or len(batch) != 2:
                raise TypeError(f"{self.name} is conditional: expected a batch (x, y), got {type(batch).__name__}")
            return batch[0], batch[1]
        return batch, None

    def image_logits(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, colors, K, H, W): the network on x / (L - 1)."""
        out = self.network(x * (1.0 / (self.levels - 1)), y)
        return out.reshape(x.shape[0], self.colors, self.outputs, self.height, self.width)

    def conditionals(self, flat: Tensor, y: Tensor | None = None) -> Tensor:
        """Flat logits in the images' (colors, H, W) layout: (B, n) Bernoulli, else (B, n, K)."""
        logits = self.image_logits(flat.reshape((flat.shape[0],) + self.event_shape), y)
        if self.outputs == 1:
            return logits.reshape(flat.shape[0], self.dims)
        return logits.transpose(0, 1, 3, 4, 2).reshape(flat.shape[0], self.dims, self.outputs)

    def log_prob(self, batch, reduce: bool = True) -> Tensor:
        """sum over pixels and colours of log p(x_{c,i,j} | earlier); per pixel (shaped like x) unreduced."""
        x, y = self.split(batch)
        flat = self.flat(x)
        logits = self.conditionals(flat, y)
        if self.outputs == 1:
            terms = -F.binary_cross_entropy_with_logits(logits, flat, reduction="none")
        else:
            values = backend.to_device(flat.data, "cpu").astype(np.int64)
            if values.min() < 0 or values.max() >= self.levels:
                raise ValueError(f"{self.name}: pixel values must be integers in 0..{self.levels - 1}, got "
                                 f"{values.min()}..{values.max()} (shape {x.shape}, {x.device})")
            picked = F.one_hot(mg.tensor(values, device=x.device), self.levels, dtype=logits.dtype)
            terms = (logits.log_softmax(axis=-1) * picked).sum(axis=-1)
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape)

    def loss(self, batch) -> Tensor:
        return -self.log_prob(batch).mean()

    def ordering(self) -> np.ndarray:
        """Raster order over pixels, colours in order within a pixel, as flat (colors, H, W) indices."""
        pixels = self.height * self.width
        return (np.arange(pixels)[:, None] + pixels * np.arange(self.colors)[None, :]).ravel()

    # ------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, y=None, *, fast: bool = True) -> Tensor:
        """n images by ancestral sampling (the cached fast sampler unless fast=False); y: labels when
        the model is class-conditional."""
        labels = self.labels(n, y)
        zeros = mg.zeros((n,) + self.event_shape, device=self.device)
        return self.complete(zeros, np.zeros(self.event_shape, bool), y=labels, fast=fast)

    def complete(self, x: Tensor, observed, y: Tensor | None = None, *, fast: bool = True) -> Tensor:
        """Sample the pixels of x where `observed` (like one image, or like x) is 0, keeping the others: exact
        draws from p(x_unobserved | x_observed) when the observed pixels come first (e.g. the top rows)."""
        xp = backend.array_module(x.data)
        seen = xp.asarray(observed.data if isinstance(observed, Tensor) else observed).astype(bool)
        seen = xp.broadcast_to(seen.reshape(-1, self.dims), (x.shape[0], self.dims))
        self._check_prefix(backend.to_device(seen, "cpu"), self.ordering())
        seen = seen.reshape((x.shape[0],) + self.event_shape)
        dtype = next(iter(self.parameters())).dtype  # float64 in the exactness tests
        cur = xp.array(self.flat(x).data, dtype=dtype, copy=True).reshape(seen.shape)
        scale = 1.0 / (self.levels - 1)
        fast = fast and self.has_fast_sampler
        generator = backend.rng(self.device)
        with self.evaluating():
            cache = self.start_cache(cur * scale, y) if fast else None
            for i in range(self.height):
                if fast:
                    self.row_start(cache, i)
                for j in range(self.width):
                    for c in range(self.colors):
                        if fast:
                            logits = self.logits_at(cache, i, j)[:, c]
                        else:
                            logits = self.image_logits(mg.tensor(cur), y).data[:, c, :, i, j]
                        u = generator.random(cur.shape[0]).astype(cur.dtype)
                        value = self._draw(logits, u, xp)
                        cur[:, c, i, j] = xp.where(seen[:, c, i, j], cur[:, c, i, j], value)
                        if fast:
                            self.write(cache, c, i, j, cur[:, c, i, j] * scale)
        return mg.tensor(cur)

    def _draw(self, logits, u, xp):
        """One value per row of logits (B, K) from the uniform draws u (B,)."""
        if self.outputs == 1:
            return (u < 1 / (1 + xp.exp(-logits[:, 0]))).astype(u.dtype)
        p = xp.exp(logits - logits.max(axis=1, keepdims=True))
        cdf = xp.cumsum(p, axis=1) / p.sum(axis=1, keepdims=True)
        return xp.minimum((cdf < u[:, None]).sum(axis=1), self.levels - 1).astype(u.dtype)

    def start_cache(self, scaled, y: Tensor | None) -> dict:
        """The fast sampler's caches for the scaled image (B, colors, H, W) (and labels y)."""
        raise NotImplementedError(f"{self.name} has no fast sampler")

    def row_start(self, cache: dict, i: int) -> None:
        """Work the fast sampler can do once rows < i are known (nothing unless a subclass says so)."""

    def logits_at(self, cache: dict, i: int, j: int):
        """(B, colors, K) logits of pixel (i, j) from the caches."""
        raise NotImplementedError(f"{self.name} has no fast sampler")

    def write(self, cache: dict, c: int, i: int, j: int, value) -> None:
        """Record a new scaled pixel value in the image cache (padded by cache['pad'])."""
        ph, pw = cache["pad"]
        cache["x"][:, c, i + ph, j + pw] = value

    # ------------------------------------------------------------------------------------- metrics
    def sample_speedup(self, n: int = 16) -> float:
        """Wall time of the naive sampler over the fast one for n images."""
        y = np.arange(n) % self.num_classes if self.conditional else None
        times = []
        for fast in (False, True):
            start = time.perf_counter()
            self.sample(n, y, fast=fast)
            times.append(time.perf_counter() - start)
        return times[0] / times[1]

    def num_params(self) -> int:
        """Free parameters: masked-out weights are not counted."""
        return masked_parameter_count(self)

    def metrics(self, split: str = "test") -> dict:
        """test_nll, test_bpd, test_nll_sem, num_params and sample_speedup (with a fast sampler)."""
        out = super().metrics(split)
        if self.has_fast_sampler:
            out["sample_speedup"] = self.sample_speedup()
        return out
