"""What every GAN here shares: data (digits in [0, 1] or a 2-D toy), the alternating update, the metrics.

`GANModel` runs `n_critic` discriminator updates, each on its own real minibatch, then one generator update
per `train_step`; the loader hands it `n_critic` minibatches at once, so one trainer step is one generator
step and an exact resume stays exact. The losses and constraints live in models/gan/losses.py.
"""
from __future__ import annotations

import contextlib

import numpy as np

import minigen as mg
from minigen import backend, nn, optim
from minigen.data.toys import TOYS, ToyStream, nearest_mode, toy_centres, toy_sample

from ..base import DIGITS_SHAPE, GenerativeModel
from ..nets import mlp
from .losses import check_kind, discriminator_loss, generator_loss, grad_norm

TOY_SCALE = {"ring8": 2.0 ** 0.5, "grid25": 8.0 ** 0.5}  # the sd of each coordinate


@contextlib.contextmanager
def frozen(module: nn.Module):
    """No gradients for `module`'s parameters inside the block (the generator step skips D's weights)."""
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad = False
    try:
        yield
    finally:
        for p in params:
            p.requires_grad = True


def linear_tail(optimizers: list, steps: int, start: float) -> list:
    """lr_t = lr min(1, (T - t) / (T - t_0)), t_0 = round(start T): constant for the first `start` fraction of a
    run of T = `steps` steps, then linear to 0 at its end (the schedule of pix2pix and CycleGAN, which keep the
    rate for half the epochs and decay it over the other half). The schedule spans the run it was made for."""
    t0 = round(start * steps)

    def factor(t: int) -> float:
        return 1.0 if t <= t0 else max(0.0, (steps - t) / (steps - t0))

    return [optim.lr_scheduler.LambdaLR(opt, factor) for opt in optimizers]


class GANModel(GenerativeModel):
    """Shared base of the GANs: data in [0, 1] (digits /16) or 2-D toys, alternating updates, GAN metrics.

    Subclasses build `self.generator` and `self.discriminator` and set `self.z_dim`; they may override
    `generate(z, y)` (data space), `critic(x, y)` (one output per example), `noise(n, rng)`,
    `extra_d_loss` / `extra_g_loss` (penalties, InfoGAN's mutual-information term) and `after_d_step`.
    """

    datasets = ("digits",) + TOYS
    binarize = None
    value_range = (0.0, 1.0)
    loss_kind = "non-saturating"

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, n_critic: int = 1,
                 loss: str | None = None, decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size)
        if n_critic < 1:
            raise ValueError(f"{self.name}: n_critic must be >= 1, got {n_critic}")
        self.n_critic, self.decay_steps = n_critic, decay_steps
        if loss is not None:
            check_kind(loss)
            self.loss_kind = loss
        self.z_dim = 0

    @property
    def is_toy(self) -> bool:
        return self.data_name in TOYS

    @property
    def event_shape(self) -> tuple:
        return (2,) if self.is_toy else DIGITS_SHAPE

    # ---------------------------------------------------------------------------------------- data
    def split_arrays(self, split: str) -> tuple:
        """Digits as gray levels scaled to [0, 1]; for the toys, 2,500 fixed points per split."""
        if self.is_toy:
            pts = toy_sample(self.data_name, 2500, {"train": 10, "valid": 11, "test": 12}[split])
            return pts, nearest_mode(pts, self.data_name)
        images, labels = super().split_arrays(split)
        return (images / 16.0).astype(np.float32), labels

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0,
               shuffle: bool = True, drop_last: bool = True):
        """Minibatches of n_critic * batch_size examples (one generator step's worth of real data)."""
        size = (batch_size or self.batch_size) * (self.n_critic if split == "train" else 1)
        if self.is_toy and split == "train":
            return ToyStream(self.data_name, size, seed)
        return super().loader(split, size, seed, shuffle, drop_last)

    def eval_batch(self, split: str):
        images, labels = self.split_arrays(split)
        x = mg.tensor(images, device=self.device)
        return (x, mg.tensor(labels, device=self.device)) if self.conditional else x

    # ------------------------------------------------------------------------------------ the model
    def noise(self, n: int, rng: np.random.Generator | None = None) -> mg.Tensor:
        """z ~ N(0, I) of shape (n, z_dim), from `rng` when given (evaluation) or minigen's generator."""
        if rng is None:
            return mg.randn(n, self.z_dim, device=self.device)
        return mg.tensor(rng.standard_normal((n, self.z_dim)).astype(np.float32), device=self.device)

    def to_model(self, x: mg.Tensor) -> mg.Tensor:
        """Data space -> the discriminator's input space: toys divided by their scale (sd of the data)."""
        return x * (1.0 / TOY_SCALE[self.data_name]) if self.is_toy else x

    def from_model(self, out: mg.Tensor) -> mg.Tensor:
        """The generator's output space -> data space (the inverse of to_model)."""
        return out * TOY_SCALE[self.data_name] if self.is_toy else out

    def generate(self, z: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        """G(z) in data space: (n, 2) for the toys, (n, 1, 8, 8) in [0, 1] for digits."""
        out = self.from_model(self.generator(z))
        return out.reshape((z.shape[0],) + self.event_shape)

    def critic(self, x: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        """D(x): one logit (or score) per example, shape (n,)."""
        return self.discriminator(self.to_model(x)).reshape(x.shape[0])

    def random_labels(self, n: int, rng: np.random.Generator | None = None) -> mg.Tensor | None:
        """n labels drawn uniformly from 0..num_classes-1 (from `rng` when given, else minigen's generator) for
        a conditional model; None for an unconditional one."""
        if not self.conditional:
            return None
        labels = (rng if rng is not None else backend.rng("cpu")).integers(0, self.num_classes, n)
        return mg.tensor(labels.astype(np.int64), device=self.device)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n generated samples (n, *event_shape) for the labels y of a conditional model; z from `rng` when
        given (evaluation's fixed seeds), else from minigen's generator."""
        y = self.labels(n, y)
        with self.evaluating():
            return self.generate(self.noise(n, rng), y)

    # ------------------------------------------------------------------------------------- training
    def generator_parameters(self) -> list:
        return list(self.generator.parameters())

    def discriminator_parameters(self) -> list:
        return list(self.discriminator.parameters())

    def configure_optimizers(self) -> list:
        """[opt_g, opt_d]: Adam with DCGAN's betas (0.5, 0.999) unless a subclass says otherwise."""
        return [optim.Adam(self.generator_parameters(), lr=self.lr, betas=(0.5, 0.999)),
                optim.Adam(self.discriminator_parameters(), lr=self.lr, betas=(0.5, 0.999))]

    def extra_d_loss(self, real: mg.Tensor, fake: mg.Tensor, y, z) -> tuple[mg.Tensor | None, dict]:
        """Added to the discriminator's loss (WGAN-GP's penalty, InfoGAN's MI term); None by default."""
        return None, {}

    def extra_g_loss(self, fake: mg.Tensor, y, z) -> tuple[mg.Tensor | None, dict]:
        return None, {}

    def after_d_step(self) -> None:
        """Called after each discriminator update (WGAN clips its weights here)."""

    def discriminator_step(self, real: mg.Tensor, y, opt_d) -> dict:
        """One discriminator update on a real minibatch and as many generated samples."""
        n = real.shape[0]
        z = self.noise(n)
        with mg.no_grad():
            fake = self.generate(z, y)
        d_real, d_fake = self.critic(real, y), self.critic(fake, y)
        loss = discriminator_loss(self.loss_kind, d_real, d_fake)
        logs = {"d_loss": loss.item(), "d_real": float(d_real.data.mean()), "d_fake": float(d_fake.data.mean())}
        extra, extra_logs = self.extra_d_loss(real, fake, y, z)
        if extra is not None:
            loss = loss + extra
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        self.after_d_step()
        return {**logs, **extra_logs}

    def generator_step(self, n: int, y, opt_g) -> dict:
        """One generator update on n generated samples; logs the generator's gradient norm."""
        z = self.noise(n)
        with frozen(self.discriminator):
            fake = self.generate(z, y)
            loss = generator_loss(self.loss_kind, self.critic(fake, y))
            logs = {"g_loss": loss.item()}
            extra, extra_logs = self.extra_g_loss(fake, y, z)
            if extra is not None:
                loss = loss + extra
            opt_g.zero_grad()
            loss.backward()
        logs["g_grad_norm"] = grad_norm(self.generator.parameters())
        opt_g.step()
        return {**logs, **extra_logs}

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """Constant rates, or decayed linearly to 0 over `decay_steps` steps (None: over the whole run)."""
        total = steps if self.decay_steps is None else self.decay_steps
        if not total:
            return []
        return [optim.lr_scheduler.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=total)
                for opt in optimizers]

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """n_critic discriminator updates (one per real minibatch in `batch`), then one generator update."""
        opt_g, opt_d = optimizers[0], optimizers[1]
        x, y = (batch[0], batch[1] if self.conditional else None) if isinstance(batch, (tuple, list)) \
            else (batch, None)
        k = self.n_critic
        n = x.shape[0] // k
        if n < 1:
            raise ValueError(f"{self.name}: a batch of {x.shape[0]} examples is too small for n_critic={k}")
        logs: dict = {}
        for i in range(k):
            yi = None if y is None else y[i * n:(i + 1) * n]
            for key, v in self.discriminator_step(x[i * n:(i + 1) * n], yi, opt_d).items():
                logs[key] = logs.get(key, 0.0) + v / k
        y_g = None if y is None else y[:n]
        logs.update(self.generator_step(n, y_g, opt_g))
        return logs

    # --------------------------------------------------------------------------------- evaluation
    def metrics(self, split: str = "test") -> dict:
        """modes_*/hq_* on the toys; parzen_ll, fd_digits and score_digits on digits
        (models/evaluation/gan_metrics.py)."""
        from ..evaluation.gan_metrics import evaluate

        return evaluate(self, split)

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Toys: a scatter plot of 2,500 samples (the coverage protocol's count) over the modes; digits: a
        grid of n samples (class rows for a conditional model)."""
        from minigen import viz

        from ..evaluation.mode_coverage import TOY_SAMPLES

        if not self.is_toy:
            return super().sample_figure(path, n)
        rng = np.random.default_rng(0)
        points = self.sample(TOY_SAMPLES, self.random_labels(TOY_SAMPLES, rng), rng=rng)
        return viz.toy_figure(points.numpy(), toy_centres(self.data_name), path,
                              title=f"{self.name} on {self.data_name}")


class MLPGAN(GANModel):
    """A GAN whose generator and discriminator are MLPs (sigmoid pixels on digits, linear on the toys);
    `d_wrap` wraps every discriminator Linear (e.g. nn.spectral_norm)."""

    d_activation = nn.ReLU
    d_wrap = None

    @classmethod
    def mlp_config(cls, data: str) -> dict:
        if data == "digits":
            return {"z_dim": 32, "g_hidden": [256, 256], "d_hidden": [256, 256], "batch_size": 64, "decay_steps": 0}
        return {"z_dim": 16, "g_hidden": [128, 128, 128], "d_hidden": [128, 128, 128], "batch_size": 128,
                "decay_steps": None}

    def __init__(self, data: str, lr: float, batch_size: int, z_dim: int, g_hidden, d_hidden, n_critic: int,
                 loss: str, decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size, n_critic=n_critic, loss=loss, decay_steps=decay_steps)
        self.z_dim = z_dim
        out_dim = int(np.prod(self.event_shape))
        self.generator = mlp([z_dim, *g_hidden, out_dim], out_activation=None if self.is_toy else nn.Sigmoid,
                             flatten=True)
        self.discriminator = mlp([out_dim, *d_hidden, 1], activation=self.d_activation, wrap=self.d_wrap,
                                 flatten=True)
