"""The restricted Boltzmann machine with binary units (Smolensky, 1986; Hinton, 2002), trained by CD-k or
persistent CD (Tieleman, 2008), its partition function by AIS (Salakhutdinov & Murray, 2008).

    E(v, h) = -b.v - c.h - v.W h,        p(v, h) = exp(-E(v, h)) / Z,       v in {0,1}^V, h in {0,1}^H
    p(h_j = 1 | v) = sigmoid(c_j + (v W)_j),        p(v_i = 1 | h) = sigmoid(b_i + (W h)_i)
    F(v) = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + (v W)_j),     log p(v) = -F(v) - log Z

The log-likelihood gradient is d log p(v) / d theta = -dF(v)/d theta + E_model[dF(v')/d theta]. CD-k
replaces the model expectation by v' after k block-Gibbs steps (h ~ p(h|v), v ~ p(v|h)) started at the data;
PCD keeps `batch_size` persistent chains that each update advances by k steps. Here the update is the
engine's gradient of the surrogate

    L = mean_data F(v) - mean_chains F(v'),     v' held fixed (no gradient through the sampler),

whose gradient uses p(h | v) rather than sampled h in both phases, as Hinton's guide (sec. 3) recommends.

Hinton's practical guide (2010), as followed: W ~ N(0, 0.01^2), hidden biases 0, visible biases
log(p_i / (1 - p_i)) from the training pixel means p_i; SGD with momentum 0.5 for the first steps, then 0.9
(`initial_momentum`, `momentum_steps`, `momentum`); L2 weight decay 1e-4 on W only (not on the biases).
Deviations: (1) the learning rate decays linearly to 0 over the run (`decay=True`): a PCD-trained RBM's
likelihood oscillates with its fast-mixing chains and only settles as the rate falls (a trial on digits,
PCD-1, 100 units, rate 0.05: test NLL 24.4 three quarters through the run, 17.8 once the rate reached 0);
(2) AIS starts from the base-rate model with the data's pixel marginals (Salakhutdinov & Murray's choice),
so that model is a buffer; (3) `sample()` starts its chains from that base-rate model, not from data.

CD-1 is the default, chosen on the validation split (bench/rbm_cd.py): with 20 hidden units (exact log Z)
CD-1 17.71, CD-10 17.66, PCD-1 17.91 nats; with 200 units (AIS) CD-1 15.77 against PCD-1 16.21.

log Z is exact (enumerating the smaller layer, models/energy/partition.py) when min(V, H) <= 20, else an
AIS estimate with a fixed seed; `metrics` reports test_nll with test_nll_sem = the examples' standard error
and AIS's standard error of log Z combined in quadrature, and both parts (log_z, log_z_sem).
"""
from __future__ import annotations

import hashlib
import math

import numpy as np

import minigen as mg
from minigen import backend, nn, optim
from minigen.autograd import Tensor
from minigen.data import load_digits

from ..base import DIGITS_SHAPE, LikelihoodModel
from .partition import EXACT_LIMIT, LogPartition, ais_log_partition, exact_log_partition, free_energy


def _sigmoid(xp, a):
    return 0.5 * (1.0 + xp.tanh(0.5 * a))


class RBM(LikelihoodModel):
    """Binary RBM on statically binarized digits (or any binary event_shape); CD-k or PCD; log Z by AIS."""

    value_range = (0.0, 1.0)

    def __init__(self, data: str = "digits", lr: float = 0.02, batch_size: int = 20, hidden: int = 200,
                 k: int = 1, persistent: bool = False, weight_decay: float = 1e-4, momentum: float = 0.9,
                 initial_momentum: float = 0.5, momentum_steps: int = 300, decay: bool = True,
                 ais_steps: int = 15000, ais_chains: int = 200, sample_steps: int = 1000,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size)
        if k < 1 or hidden < 1:
            raise ValueError(f"{self.name}: k and hidden must be >= 1, got k={k}, hidden={hidden}")
        self.event_shape = tuple(event_shape) if event_shape is not None else DIGITS_SHAPE
        self.visible, self.hidden = int(np.prod(self.event_shape)), int(hidden)
        self.k, self.persistent = int(k), bool(persistent)
        self.weight_decay, self.momentum, self.initial_momentum = weight_decay, momentum, initial_momentum
        self.momentum_steps, self.decay = int(momentum_steps), bool(decay)
        self.ais_steps, self.ais_chains, self.sample_steps = int(ais_steps), int(ais_chains), int(sample_steps)
        base = self._base_rate() if self.event_shape == DIGITS_SHAPE else np.zeros(self.visible, np.float32)
        self.W = nn.Parameter((0.01 * backend.rng("cpu").standard_normal((self.visible, self.hidden)))
                              .astype(np.float32))
        self.b = nn.Parameter(base.copy())
        self.c = nn.Parameter(np.zeros(self.hidden, np.float32))
        self.register_buffer("base_bias", mg.tensor(base))
        self.register_buffer("chains", mg.zeros(self.batch_size, self.visible))
        self._log_z_cache: tuple | None = None

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 0.02, "batch_size": 20, "hidden": 200, "k": 1, "persistent": False, "weight_decay": 1e-4,
                "momentum": 0.9, "initial_momentum": 0.5, "momentum_steps": 300, "decay": True,
                "ais_steps": 15000, "ais_chains": 200, "sample_steps": 1000}

    def _base_rate(self) -> np.ndarray:
        """log(p / (1 - p)) of the training pixel means p (clipped to [0.01, 0.99]): Hinton's visible biases."""
        p = load_digits("train", binarize="static").images.reshape(-1, self.visible).mean(axis=0)
        p = np.clip(p, 0.01, 0.99)
        return np.log(p / (1 - p)).astype(np.float32)

    def set_base_rate(self, x) -> None:
        """Visible biases and AIS's base model from the pixel means of binary data x (N, V...)."""
        p = np.clip(np.asarray(x.numpy() if isinstance(x, Tensor) else x).reshape(-1, self.visible).mean(0),
                    0.01, 0.99)
        logit = np.log(p / (1 - p)).astype(np.float32)
        self.b.data[...] = logit
        self.base_bias.data[...] = logit

    # ---------------------------------------------------------------------------------- the energy
    def flat(self, x: Tensor) -> Tensor:
        if int(np.prod(x.shape[1:])) != self.visible:
            raise ValueError(f"{self.name}: expected images of {self.visible} pixels {self.event_shape}, got "
                             f"shape {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.visible)

    def free_energy(self, x: Tensor) -> Tensor:
        """F(v) = -b.v - sum_j softplus(c_j + (v W)_j) per example (B,), differentiable in the parameters."""
        v = self.flat(x)
        return -(v @ self.b) - (v @ self.W + self.c).softplus().sum(axis=1)

    def energy(self, v: Tensor, h: Tensor) -> Tensor:
        """E(v, h) = -b.v - c.h - v.W h per example (B,), for flat v (B, V) and h (B, H)."""
        return -(v @ self.b) - (h @ self.c) - ((v @ self.W) * h).sum(axis=1)

    # ------------------------------------------------------------------------------- block Gibbs
    def hidden_given_visible(self, v, rng=None):
        """(p(h = 1 | v), a sample of h) on raw arrays (B, V) -> (B, H)."""
        xp = backend.array_module(v)
        p = _sigmoid(xp, v @ self.W.data + self.c.data)
        r = (rng or backend.rng(self.device)).random(p.shape)
        return p, (r < p).astype(v.dtype)

    def visible_given_hidden(self, h, rng=None):
        """(p(v = 1 | h), a sample of v) on raw arrays (B, H) -> (B, V)."""
        xp = backend.array_module(h)
        p = _sigmoid(xp, h @ self.W.data.T + self.b.data)
        r = (rng or backend.rng(self.device)).random(p.shape)
        return p, (r < p).astype(h.dtype)

    def gibbs(self, v, steps: int, rng=None):
        """`steps` block-Gibbs steps v -> h -> v from raw binary v (B, V); returns (p(v | h_last), v)."""
        p = v
        for _ in range(steps):
            _, h = self.hidden_given_visible(v, rng)
            p, v = self.visible_given_hidden(h, rng)
        return p, v

    def negative_samples(self, v_data: Tensor) -> Tensor:
        """The negative phase: k Gibbs steps from the persistent chains (PCD) or from the data (CD-k)."""
        if self.persistent:
            _, v = self.gibbs(self.chains.data, self.k)
            self.chains.data[...] = v
        else:
            _, v = self.gibbs(self.flat(v_data).data, self.k)
        return mg.tensor(v, device=self.device)

    def start_chains(self, n: int, rng=None):
        """n binary states from the base-rate model p(v_i = 1) = sigmoid(base_bias_i) (raw array)."""
        xp = backend.xp_for(self.device)
        p = _sigmoid(xp, xp.broadcast_to(self.base_bias.data, (n, self.visible)))
        return ((rng or backend.rng(self.device)).random(p.shape) < p).astype(np.float32)

    # -------------------------------------------------------------------------------------- training
    def loss(self, batch) -> Tensor:
        """The CD surrogate mean F(v_data) - mean F(v_model) (its gradient is the CD/PCD update)."""
        return self.free_energy(batch).mean() - self.free_energy(self.negative_samples(batch)).mean()

    def configure_optimizers(self) -> list:
        """SGD with momentum; weight decay on W only (Hinton's guide, sec. 9-10)."""
        return [optim.SGD([{"params": [self.W], "weight_decay": self.weight_decay},
                           {"params": [self.b, self.c], "weight_decay": 0.0}],
                          lr=self.lr, momentum=self.initial_momentum)]

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """The learning rate decays linearly to 0 over the run (deviation (1) in the module docstring)."""
        if not self.decay:
            return []
        return [optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=max(steps, 1))
                for opt in optimizers]

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One CD-k / PCD update; logs the surrogate and the one-step reconstruction error (Hinton, sec. 5)."""
        (opt,) = optimizers
        if step == 0 and self.persistent:
            self.chains.data[...] = self.start_chains(self.chains.shape[0])
        for group in opt.param_groups:
            group["momentum"] = self.initial_momentum if step < self.momentum_steps else self.momentum
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        opt.zero_grad()
        loss = self.loss(x)
        loss.backward()
        opt.step()
        self._log_z_cache = None
        v = self.flat(x).data
        recon, _ = self.gibbs(v, 1)
        return {"loss": loss.item(), "recon_error": float(((recon - v) ** 2).sum(axis=1).mean())}

    # ------------------------------------------------------------------------------------ sampling
    def chain(self, n: int, steps: int, every: int = 1, rng=None) -> np.ndarray:
        """Snapshots p(v | h) of n Gibbs chains from the base-rate model, every `every` steps (the first is
        the start): (steps // every + 1, n, *event_shape), for the picture of the chain mixing."""
        v = self.start_chains(n, rng)
        frames = [backend.to_device(v, "cpu")]
        for _ in range(steps // every):
            p, v = self.gibbs(v, every, rng)
            frames.append(backend.to_device(p, "cpu"))
        return np.stack(frames).reshape((len(frames), n) + self.event_shape)

    def sample(self, n: int, y=None, *, steps: int | None = None, rng=None, mean: bool = False) -> Tensor:
        """Binary samples after `steps` (default sample_steps) Gibbs steps from the base-rate model; with
        mean=True the last p(v | h) instead."""
        self.labels(n, y)
        p, v = self.gibbs(self.start_chains(n, rng), self.sample_steps if steps is None else steps, rng)
        out = p if mean else v
        return mg.tensor(out.reshape((n,) + self.event_shape).astype(np.float32), device=self.device)

    # ------------------------------------------------------------------------------ likelihood
    def parameters_numpy(self) -> tuple:
        return tuple(backend.to_device(p.data, "cpu").astype(np.float64) for p in (self.W, self.b, self.c))

    def log_partition(self) -> LogPartition:
        """log Z: exact when min(V, H) <= 20, else AIS (ais_steps, ais_chains, seed 0); cached until the
        parameters change."""
        W, b, c = self.parameters_numpy()
        key = hashlib.sha1(b"".join(a.tobytes() for a in (W, b, c))).hexdigest()
        if self._log_z_cache is not None and self._log_z_cache[0] == key:
            return self._log_z_cache[1]
        if min(self.visible, self.hidden) <= EXACT_LIMIT:
            result = LogPartition(exact_log_partition(W, b, c), 0.0, "exact")
        else:
            base = backend.to_device(self.base_bias.data, "cpu")
            result = ais_log_partition(W, b, c, base, self.ais_steps, self.ais_chains, np.random.default_rng(0))
        self._log_z_cache = (key, result)
        return result

    def log_prob(self, x, reduce: bool = True) -> Tensor:
        """log p(v) = -F(v) - log Z per example (B,); log Z from log_partition() (a constant here)."""
        return -self.free_energy(x) - self.log_partition().value

    def metrics(self, split: str = "test") -> dict:
        """test_nll = mean F(v) + log Z in nats, test_nll_sem (examples and AIS in quadrature), test_bpd,
        log_z, log_z_sem, num_params."""
        x = self.eval_batch(split)
        fe = free_energy(backend.to_device(self.flat(x).data, "cpu").astype(np.float64), *self.parameters_numpy())
        log_z = self.log_partition()
        nll = float(fe.mean() + log_z.value)
        sem_examples = float(fe.std(ddof=1) / math.sqrt(len(fe)))
        return {"test_nll": nll, "test_nll_sem": math.sqrt(sem_examples ** 2 + log_z.sem ** 2),
                "test_bpd": nll / (self.visible * math.log(2)), "log_z": log_z.value, "log_z_sem": log_z.sem,
                "num_params": self.num_params()}

    def num_params(self) -> int:
        return self.visible * self.hidden + self.visible + self.hidden
