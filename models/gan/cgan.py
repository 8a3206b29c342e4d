"""Conditional GAN (Mirza & Osindero, 2014) as the paper sets it up: digits (or toy points) given their label.

    G(z, y): z ~ U[0, 1]^100 -> 200 ReLU, one-hot y -> 1000 ReLU, joined -> 1200 ReLU -> sigmoid pixels
    D(x, y): x -> maxout 240 units x 5 pieces, y -> maxout 50 x 5, joined -> maxout 240 x 4 -> one logit
    dropout 0.5 in both; batch 100; SGD with lr_t = max(lr_0 / 1.00004^t, 1e-6), lr_0 = 0.1, and momentum
    m_t = 0.5 + (0.7 - 0.5) * min(t, 250) / 250  (minigen.optim.lr_scheduler.ExponentialDecayWithMomentumRamp)

D ends in a logit and the sigmoid is folded into the (non-saturating) loss, the same function computed stably.
Model selection, as the paper's: after every `select_every` updates the Gaussian Parzen-window
log-likelihood of the validation split (2,000 samples, evaluation/parzen.py, the best width) is estimated,
and the generator with the best one is kept as `selected`; `sample` and `metrics` use it.

Deviations, each for a reason: on the 2-D toys the label is the index of the Gaussian a point was drawn from
(its nearest mode) and the layers are 4x narrower (two coordinates need no 1200 units); there, and whenever
the output is unbounded (word vectors, cgan_words.py), the paper's initial rate of 0.1 diverges, so the
schedule starts at 0.02. The multimodal image-to-tag use of the paper is its own model, cgan_words.py.
"""
from __future__ import annotations

import copy

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn, optim

from .base import GANModel

CLASSES = {"digits": 10, "ring8": 8, "grid25": 25}


class _Branches(nn.Module):
    """Two input branches (data, condition) joined by concatenation into one hidden layer, then an output."""

    def __init__(self, x_branch: nn.Module, c_branch: nn.Module, joint: nn.Module):
        super().__init__()
        self.x_branch, self.c_branch, self.joint = x_branch, c_branch, joint

    def forward(self, x: mg.Tensor, c: mg.Tensor) -> mg.Tensor:
        return self.joint(mg.cat([self.x_branch(x.flatten(1)), self.c_branch(c)], axis=1))


def cgan_generator(z_dim: int, c_dim: int, out_dim: int, z_units: int, c_units: int, joint_units: int,
                   dropout: float, out_activation) -> _Branches:
    """z -> z_units ReLU, c -> c_units ReLU, joined -> joint_units ReLU -> out_dim [-> out_activation]."""
    relu = lambda i, o: [nn.Linear(i, o), nn.ReLU(), nn.Dropout(dropout)]
    return _Branches(nn.Sequential(*relu(z_dim, z_units)), nn.Sequential(*relu(c_dim, c_units)),
                     nn.Sequential(*relu(z_units + c_units, joint_units), nn.Linear(joint_units, out_dim),
                                   *([out_activation()] if out_activation else [])))


def cgan_discriminator(x_dim: int, c_dim: int, x_units: int, c_units: int, joint_units: int,
                       dropout: float) -> _Branches:
    """x -> maxout x_units x 5, c -> maxout c_units x 5, joined -> maxout joint_units x 4 -> one logit."""
    maxout = lambda i, o, k: [nn.Maxout(i, o, k), nn.Dropout(dropout)]
    return _Branches(nn.Sequential(*maxout(x_dim, x_units, 5)), nn.Sequential(*maxout(c_dim, c_units, 5)),
                     nn.Sequential(*maxout(x_units + c_units, joint_units, 4), nn.Linear(joint_units, 1)))


class CGAN(GANModel):
    """Mirza & Osindero's conditional GAN: images of digits (or toy points) given their label.

    Subclasses with another condition or output (cgan_words.py) override `condition_dim`, `out_activation`,
    `condition(y)` and `validation_score()`.
    """

    conditional = True
    loss_kind = "non-saturating"

    @classmethod
    def default_config(cls, data: str) -> dict:
        sizes = [200, 1000, 1200, 240, 50, 240] if data == "digits" else [50, 250, 300, 60, 12, 60]
        return {"lr": 0.1 if data == "digits" else 0.02, "batch_size": 100, "z_dim": 100, "sizes": sizes,
                "dropout": 0.5, "decay": 1.00004, "min_lr": 1e-6, "momentum": [0.5, 0.7], "momentum_steps": 250,
                "select_every": 500}

    def __init__(self, data: str = "digits", lr: float = 0.1, batch_size: int = 100, z_dim: int = 100,
                 sizes=(200, 1000, 1200, 240, 50, 240), dropout: float = 0.5, decay: float = 1.00004,
                 min_lr: float = 1e-6, momentum=(0.5, 0.7), momentum_steps: int = 250, select_every: int = 500):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating")
        if len(sizes) != 6:
            raise ValueError(f"{self.name}: sizes must be 6 widths [G z, G y, G joint, D x, D y, D joint], "
                             f"got {list(sizes)}")
        self.z_dim, self.decay, self.min_lr = z_dim, decay, min_lr
        self.momentum, self.momentum_steps, self.select_every = tuple(momentum), momentum_steps, select_every
        self.num_classes = CLASSES[data]
        gz, gc, gj, dx, dc, dj = sizes
        x_dim = int(np.prod(self.event_shape))
        self.generator = cgan_generator(z_dim, self.condition_dim, x_dim, gz, gc, gj, dropout, self.out_activation)
        self.discriminator = cgan_discriminator(x_dim, self.condition_dim, dx, dc, dj, dropout)
        self.selected = copy.deepcopy(self.generator).requires_grad_(False)
        self.register_buffer("best_valid_ll", mg.tensor(np.array(-np.inf)))

    # ----------------------------------------------------------------------------------- the model
    @property
    def condition_dim(self) -> int:
        """The width of the condition the networks read: one-hot labels."""
        return self.num_classes

    @property
    def out_activation(self):
        """Sigmoid pixels on digits, unbounded coordinates on the toys."""
        return None if self.is_toy else nn.Sigmoid

    def noise(self, n: int, rng: np.random.Generator | None = None) -> mg.Tensor:
        """z ~ U[0, 1]^z_dim, as in the paper (from `rng` when given, else minigen's generator)."""
        if rng is None:
            return mg.rand(n, self.z_dim, device=self.device)
        return mg.tensor(rng.random((n, self.z_dim)).astype(np.float32), device=self.device)

    def condition(self, y: mg.Tensor) -> mg.Tensor:
        """What the networks read for the condition y: its one-hot code."""
        return F.one_hot(y, self.num_classes).to(self.device)

    def generate(self, z, y=None, generator: nn.Module | None = None):
        """G(z, y) in data space from `generator` (default: the one being trained)."""
        out = self.from_model((generator or self.generator)(z, self.condition(y)))
        return out.reshape((z.shape[0],) + self.event_shape)

    def critic(self, x, y=None):
        return self.discriminator(self.to_model(x), self.condition(y)).reshape(x.shape[0])

    def final_generator(self) -> nn.Module:
        """The selected generator once model selection has run, else the current one."""
        return self.selected if self.select_every and np.isfinite(float(self.best_valid_ll.numpy())) \
            else self.generator

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n samples for the labels y (required; a scalar is repeated) from the selected generator; z from
        `rng` when given."""
        y = self.labels(n, y)
        with self.evaluating():
            return self.generate(self.noise(n, rng), y, generator=self.final_generator())

    # ------------------------------------------------------------------------------------ training
    def loader(self, split: str = "train", batch_size=None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True):
        """Digits with their labels; on the toys an endless stream of points with their mode's index."""
        if self.is_toy and split == "train":
            from minigen.data.toys import ToyStream

            return ToyStream(self.data_name, batch_size or self.batch_size, seed, labels=True)
        return super().loader(split, batch_size, seed, shuffle, drop_last)

    def configure_optimizers(self) -> list:
        """[opt_g, opt_d]: SGD at the schedule's step-0 values (lr_0, the first momentum)."""
        m = self.momentum[0]
        return [optim.SGD(self.generator_parameters(), lr=self.lr, momentum=m),
                optim.SGD(self.discriminator_parameters(), lr=self.lr, momentum=m)]

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """The paper's schedule on both optimizers: lr_t = max(lr_0 / decay^t, min_lr), momentum ramped
        linearly from momentum[0] to momentum[1] over momentum_steps updates."""
        m0, m1 = self.momentum
        return [optim.lr_scheduler.ExponentialDecayWithMomentumRamp(
            opt, decay=self.decay, min_lr=self.min_lr, momentum_start=m0, momentum_end=m1,
            ramp_steps=self.momentum_steps) for opt in optimizers]

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One discriminator and one generator update; model selection after every select_every updates
        (after update number step + 1)."""
        logs = super().train_step(batch, optimizers, step)
        if self.select_every and (step + 1) % self.select_every == 0:
            logs.update(self.select())
        return logs

    def select(self) -> dict:
        """Model selection: keep the generator if its validation score is the best so far."""
        with self.evaluating():
            score = self.validation_score()
        if score > float(self.best_valid_ll.numpy()):
            xp = mg.backend.array_module(self.best_valid_ll.data)
            self.best_valid_ll.data = xp.asarray(score, dtype=self.best_valid_ll.dtype)
            self.selected.load_state_dict(self.generator.state_dict())
        return {"valid_score": score}

    def validation_score(self) -> float:
        """The Parzen log-likelihood of the validation split at its best width under 2,000 samples of the
        current generator (z, then labels, from a fixed seed)."""
        from ..evaluation.parzen import parzen_select

        rng = np.random.default_rng(99)
        n = 2000
        z = self.noise(n, rng)
        samples = self.generate(z, self.random_labels(n, rng)).numpy()
        _, table = parzen_select(samples, self.split_arrays("valid")[0])
        return max(ll for _, ll in table)
