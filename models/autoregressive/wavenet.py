"""WaveNet (van den Oord et al., 2016) on the tones data set, with Fast WaveNet's cached generation
(Paine et al., 2016).

Audio is quantised to 256 mu-law levels x_t and modelled autoregressively with a softmax per sample:

    p(x | y) = prod_t p(x_t | x_1, ..., x_{t-1}, y)

The input h_0 holds the embedding of x_{t-1} at position t (zero at t = 0). Each of the layers l = 1..L is a
dilated causal convolution (kernel 2, dilation d_l) with a gated unit, global conditioning on the class y,
and residual and skip outputs:

    z_l = tanh(W_{f,l} *_{d_l} h_{l-1} + V_{f,l} y) . sigmoid(W_{g,l} *_{d_l} h_{l-1} + V_{g,l} y)
    h_l = h_{l-1} + R_l z_l,      s_l = S_l z_l                        (R_l, S_l: 1x1 convolutions)
    logits_t = W_2 relu(W_1 relu(sum_l s_l) + b_1) + b_2               (256 levels)

The dilations are `dilation_cycles` repetitions of 1, 2, 4, ..., max_dilation, so logit t sees the
receptive_field = (2 - 1) sum_l d_l + 1 previous samples x_{t-receptive_field}..x_{t-1} and nothing later.

Training minimises the mean -log p(x_t | x_<t, y) over random windows of `window` samples (the zero padding
stands in for the samples before a window). Generation keeps, per layer, a queue of its last d_l inputs
(Fast WaveNet): the two taps of layer l at time t are h_{l-1}[t - d_l] (read from the queue) and
h_{l-1}[t], so a sample costs O(L) small matrix products instead of a pass over the whole receptive field.
`generate(..., cached=False)` is the naive sampler (one full forward pass over the last receptive_field
samples per step), kept to check that both draw exactly the same samples from the same random numbers.

Deviations, with their reasons: the first causal convolution of the paper is an embedding of x_{t-1} (the
same function as a one-hot input to a 1x1 convolution, cheaper); the networks are small (32 residual
channels, two cycles of dilations up to 64, 8 kHz audio, 1,024-sample windows) to train on a laptop CPU in
minutes; the class is the only conditioning (no local conditioning on linguistic features).
"""
from __future__ import annotations

import math
import time

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.data import mu_law_decode, mu_law_encode

from ..audio import AudioModel
from ..base import LikelihoodModel

LEVELS = 256


def dilation_schedule(cycles: int, max_dilation: int) -> list[int]:
    """`cycles` repetitions of 1, 2, 4, ..., max_dilation (a power of two)."""
    if max_dilation < 1 or max_dilation & (max_dilation - 1) or cycles < 1:
        raise ValueError(f"wavenet: max_dilation must be a power of two and cycles >= 1, got {max_dilation}, "
                         f"{cycles}")
    return [2 ** k for k in range(int(math.log2(max_dilation)) + 1)] * cycles


def draw_levels(logits: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draws from softmax(logits) (n, 256) with uniforms u (n,), in float64: the level k with
    cdf_{k-1} <= u < cdf_k."""
    z = logits.astype(np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((cdf < u[:, None]).sum(axis=1), LEVELS - 1)


class WaveNet(AudioModel, LikelihoodModel):
    """Gated dilated causal convolutions over mu-law levels, conditioned on the tone class."""

    conditional = True

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 8, "window": 1024, "residual_channels": 32, "skip_channels": 64,
                "dilation_cycles": 2, "max_dilation": 64, "clip_length": 8000, "class_conditional": True,
                "speedup_samples": 4000}

    def __init__(self, data: str = "tones", lr: float = 1e-3, batch_size: int = 8, window: int = 1024,
                 residual_channels: int = 32, skip_channels: int = 64, dilation_cycles: int = 2,
                 max_dilation: int = 64, clip_length: int = 8000, class_conditional: bool = True,
                 speedup_samples: int = 4000):
        super().__init__(data, lr, batch_size)
        self.conditional = bool(class_conditional)
        self.window, self.clip_length, self.speedup_samples = int(window), int(clip_length), int(speedup_samples)
        self.dilations = dilation_schedule(int(dilation_cycles), int(max_dilation))
        r, s = int(residual_channels), int(skip_channels)
        self.residual_channels = r
        self.embed = nn.Embedding(LEVELS, r)
        self.dilated = nn.ModuleList([nn.Conv1d(r, 2 * r, 2, dilation=d, causal=True) for d in self.dilations])
        self.mix = nn.ModuleList([nn.Conv1d(r, r + s, 1) for _ in self.dilations])
        self.condition = nn.ModuleList([nn.Embedding(self.num_classes, 2 * r) for _ in self.dilations]) \
            if self.conditional else None
        self.head1, self.head2 = nn.Conv1d(s, s, 1), nn.Conv1d(s, LEVELS, 1)

    @property
    def receptive_field(self) -> int:
        """(kernel - 1) sum_l d_l + 1: the number of past samples logit t depends on."""
        return sum(self.dilations) + 1

    # ------------------------------------------------------------------------------------ the network
    def embed_inputs(self, levels) -> Tensor:
        """The embeddings e_t of levels (B, T) as (B, R, T), before the one-step shift."""
        return self.embed(levels).transpose(0, 2, 1)

    def conditionals_from_embedding(self, e: Tensor, y: Tensor | None) -> Tensor:
        """logits (B, 256, T) from embeddings e (B, R, T) of x_0..x_{T-1}: h_0[t] = e[t-1], h_0[0] = 0."""
        r = self.residual_channels
        h = mg.pad(e, (1, 0))[:, :, :-1]
        skip = None
        for l, (conv, mix) in enumerate(zip(self.dilated, self.mix)):
            a = conv(h)
            if self.condition is not None:
                a = a + self.condition[l](y).reshape(y.shape[0], 2 * r, 1)
            z = a[:, :r].tanh() * a[:, r:].sigmoid()
            o = mix(z)
            h = h + o[:, :r]
            skip = o[:, r:] if skip is None else skip + o[:, r:]
        return self.head2(self.head1(skip.relu()).relu())

    def levels_of(self, x: Tensor) -> np.ndarray:
        """Waveforms (B, 1, T) in [-1, 1] as mu-law levels (B, T) int64 (on the host)."""
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"{self.name}: expected waveforms of shape (B, 1, T), got {x.shape} on {x.device}")
        return mu_law_encode(backend.to_device(x.data, "cpu")[:, 0])

    def log_prob(self, batch, reduce: bool = True) -> Tensor:
        """sum_t log p(x_t | x_<t, y) per clip (B,); the per-sample terms (B, 1, T) with reduce=False."""
        x, y = self.split_batch(batch)
        levels = self.levels_of(x)
        logits = self.conditionals_from_embedding(self.embed_inputs(mg.tensor(levels, device=self.device)), y)
        terms = -F.cross_entropy(logits, mg.tensor(levels, device=self.device), reduction="none")
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape[0], 1, x.shape[2])

    def loss(self, batch) -> Tensor:
        """Mean -log p(x_t | x_<t, y) per sample, in nats."""
        x, y = self.split_batch(batch)
        levels = mg.tensor(self.levels_of(x), device=self.device)
        return F.cross_entropy(self.conditionals_from_embedding(self.embed_inputs(levels), y), levels)

    # ------------------------------------------------------------------------------------- generation
    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None, cached: bool = True,
               length: int | None = None) -> Tensor:
        """n clips (n, 1, length or clip_length) decoded from mu-law levels drawn by `generate`."""
        y = self.labels(n, y)
        levels = self.generate(n, y, length or self.clip_length, rng=rng, cached=cached)
        return mg.tensor(mu_law_decode(levels)[:, None], device=self.device)

    def generate(self, n: int, y: Tensor | None, length: int, *, rng: np.random.Generator | None = None,
                 cached: bool = True) -> np.ndarray:
        """Levels (n, length) by ancestral sampling, x_t = draw_levels(logits_t, u_t) with u_t ~ U[0, 1)^n
        from `rng` (minigen's generator when None): cached (Fast WaveNet queues) or naive."""
        rng = rng if rng is not None else backend.rng("cpu")
        levels = np.zeros((n, length), np.int64)
        with self.evaluating():
            step = self._cached_stepper(n, y) if cached else self._naive_stepper(levels, y)
            for t in range(length):
                logits = step(t, levels[:, t - 1] if t else None)
                levels[:, t] = draw_levels(logits, rng.random(n))
        return levels

    def _naive_stepper(self, levels: np.ndarray, y: Tensor | None):
        """logits_t from a full forward pass over x_{t-receptive_field}..x_t (x_t itself unused)."""
        field = self.receptive_field

        def step(t, previous):
            window = mg.tensor(levels[:, max(0, t - field):t + 1], device=self.device)
            logits = self.conditionals_from_embedding(self.embed_inputs(window), y)
            return backend.to_device(logits.data[:, :, -1], "cpu")
        return step

    def _cached_stepper(self, n: int, y: Tensor | None):
        """logits_t from h_{l-1}[t - d_l] kept in a queue of d_l slots per layer (slot t mod d_l holds
        h_{l-1}[t - d_l] until step t overwrites it with h_{l-1}[t])."""
        r = self.residual_channels
        xp = backend.array_module(self.embed.weight.data)
        table = self.embed.weight.data
        layers = []
        for l, (conv, mix) in enumerate(zip(self.dilated, self.mix)):
            w, b = conv.weight.data, conv.bias.data
            if self.condition is not None:
                b = b + self.condition[l].weight.data[y.data]
            layers.append((w[:, :, 0].T.copy(), w[:, :, 1].T.copy(), b, mix.weight.data[:, :, 0].T.copy(),
                           mix.bias.data, xp.zeros((conv.dilation[0], n, r), table.dtype)))
        w1, b1 = self.head1.weight.data[:, :, 0].T, self.head1.bias.data
        w2, b2 = self.head2.weight.data[:, :, 0].T, self.head2.bias.data

        def step(t, previous):
            h = xp.zeros((n, r), table.dtype) if previous is None else table[xp.asarray(previous)]
            skip = 0
            for past_w, now_w, bias, mix_w, mix_b, queue in layers:
                slot = t % len(queue)
                past = queue[slot].copy()
                queue[slot] = h
                a = past @ past_w + h @ now_w + bias
                z = xp.tanh(a[:, :r]) * (1 / (1 + xp.exp(-a[:, r:])))
                o = z @ mix_w + mix_b
                h = h + o[:, :r]
                skip = skip + o[:, r:]
            hidden = xp.maximum(xp.maximum(skip, 0) @ w1 + b1, 0)
            return backend.to_device(hidden @ w2 + b2, "cpu")
        return step

    # ---------------------------------------------------------------------------------------- metrics
    def bits_per_sample(self, split: str = "test", chunk: int = 4) -> np.ndarray:
        """-log2 p(x_t | x_<t, y) averaged over each clip of a split, (N,)."""
        clips, labels = self.split_arrays(split)
        out = []
        with self.evaluating():
            for i in range(0, len(clips), chunk):
                x = mg.tensor(np.ascontiguousarray(clips[i:i + chunk]), device=self.device)
                batch = (x, mg.tensor(labels[i:i + chunk], device=self.device))
                out.append(-self.log_prob(batch).numpy() / (clips.shape[-1] * math.log(2)))
        return np.concatenate(out)

    def generation_timing(self, length: int, seed: int = 0) -> dict:
        """Seconds of naive and cached generation of one clip of `length` samples from the same seed, their
        ratio, and the share of samples on which the two agree (1.0: identical)."""
        y = self.labels(1, 0) if self.conditional else None
        runs = {}
        for cached in (False, True):
            start = time.perf_counter()
            runs[cached] = self.generate(1, y, length, rng=np.random.default_rng(seed), cached=cached)
            runs[f"seconds_{cached}"] = time.perf_counter() - start
        return {"generation_speedup": runs["seconds_False"] / runs["seconds_True"],
                "naive_seconds": runs["seconds_False"], "cached_seconds": runs["seconds_True"],
                "generation_match": float((runs[False] == runs[True]).mean())}

    def metrics(self, split: str = "test") -> dict:
        """test_bits_per_sample (+ its standard error over clips) beside the histogram and bigram baselines
        on the same clips, and the cached sampler's speed-up for `speedup_samples` samples."""
        from ..evaluation.tones_baselines import baseline_bits

        bits = self.bits_per_sample(split)
        levels = {s: mu_law_encode(self.split_arrays(s)[0]) for s in ("train", "valid", split)}
        out = {"test_bits_per_sample": float(bits.mean()),
               "test_bits_per_sample_sem": float(bits.std(ddof=1) / math.sqrt(len(bits))),
               **baseline_bits(levels["train"], levels["valid"], levels[split]),
               "receptive_field": self.receptive_field, "num_params": self.num_parameters()}
        if self.speedup_samples:
            out.update(self.generation_timing(self.speedup_samples))
        return out
