"""What every GAN here shares: the losses, the gradient penalty, weight clipping, and the alternating update.

Discriminator outputs are logits (the sigmoid is folded into the loss, which is the same function as a
sigmoid unit followed by log, computed stably) or, for the Wasserstein and hinge losses, unbounded scores.

    D minimax / non-saturating:  softplus(-D(x)) + softplus(D(G(z)))      = -log s(D(x)) - log(1 - s(D(G(z))))
    G minimax:                   -softplus(D(G(z)))                        =  log(1 - s(D(G(z))))
    G non-saturating:            softplus(-D(G(z)))                        = -log s(D(G(z)))
    D Wasserstein:               D(G(z)) - D(x);             G: -D(G(z))
    D hinge:                     relu(1 - D(x)) + relu(1 + D(G(z)));   G: -D(G(z))

`GANModel` runs `n_critic` discriminator updates, each on its own real minibatch, then one generator update
per `train_step`; the loader hands it `n_critic` minibatches at once, so one trainer step is one generator
step and an exact resume stays exact.
"""
from __future__ import annotations

import contextlib

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn, optim
from minigen.data import toys

from .base import DIGITS_SHAPE, GenerativeModel

LOSSES = ("minimax", "non-saturating", "wasserstein", "hinge")
TOYS = ("ring8", "grid25")
TOY_SCALE = {"ring8": 2.0 ** 0.5, "grid25": 8.0 ** 0.5}  # the sd of each coordinate


def _check_kind(kind: str) -> None:
    if kind not in LOSSES:
        raise ValueError(f"unknown GAN loss {kind!r}; expected one of {', '.join(LOSSES)}")


def discriminator_loss(kind: str, real: mg.Tensor, fake: mg.Tensor) -> mg.Tensor:
    """The discriminator's loss on its outputs for a real and a generated batch (see the module docstring)."""
    _check_kind(kind)
    if kind in ("minimax", "non-saturating"):
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    if kind == "wasserstein":
        return fake.mean() - real.mean()
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def generator_loss(kind: str, fake: mg.Tensor) -> mg.Tensor:
    """The generator's loss on the discriminator's outputs for generated samples."""
    _check_kind(kind)
    if kind == "minimax":
        return -F.softplus(fake).mean()
    if kind == "non-saturating":
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(critic, real: mg.Tensor, fake: mg.Tensor, weight: float = 10.0,
                     alpha: mg.Tensor | None = None) -> mg.Tensor:
    """weight * E[(||grad_x critic(x_hat)||_2 - 1)^2], x_hat = a x + (1 - a) G(z), one a ~ U[0,1] per example.

    The norm runs over every non-batch axis; the gradient is taken with create_graph=True, so the penalty's
    own gradient flows back into the critic's parameters (double backward).
    """
    if real.shape != fake.shape:
        raise ValueError(f"gradient_penalty: real {real.shape} and fake {fake.shape} batches differ in shape "
                         f"on {real.device}")
    n = real.shape[0]
    if alpha is None:
        alpha = mg.rand(n, dtype=real.dtype, device=real.device)
    alpha = alpha.reshape((n,) + (1,) * (real.ndim - 1))
    x_hat = (alpha * real.detach() + (1 - alpha) * fake.detach()).detach().requires_grad_()
    (g,) = mg.grad(critic(x_hat).sum(), [x_hat], create_graph=True)
    norm = ((g * g).flatten(1).sum(axis=1) + 1e-12).sqrt()
    return weight * ((norm - 1) ** 2).mean()


def clip_weights_(module: nn.Module, c: float) -> None:
    """WGAN's Lipschitz constraint: clip every parameter of `module` to [-c, c] in place."""
    for p in module.parameters():
        xp = backend.array_module(p.data)
        p.data = xp.clip(p.data, -c, c)


def grad_norm(params) -> float:
    """The global L2 norm of the accumulated gradients ||(g_1, ..., g_k)||_2."""
    total = 0.0
    for p in params:
        if p.grad is not None:
            total += float((p.grad.data.astype(np.float64) ** 2).sum())
    return total ** 0.5


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


def mlp(in_dim: int, hidden, out_dim: int, activation=nn.ReLU, out_activation=None,
        wrap=None) -> nn.Sequential:
    """Flatten -> (Linear, activation)* -> Linear [-> out_activation]; `wrap(layer)` (e.g. spectral_norm)
    is applied to every Linear."""
    wrap = wrap or (lambda layer: layer)
    layers, width = [nn.Flatten()], in_dim
    for h in hidden:
        layers += [wrap(nn.Linear(width, h)), activation()]
        width = h
    layers.append(wrap(nn.Linear(width, out_dim)))
    if out_activation is not None:
        layers.append(out_activation())
    return nn.Sequential(*layers)


def toy_sample(name: str, n: int, seed: int) -> np.ndarray:
    """n points (n, 2) float32 of a toy ("ring8" or "grid25"), reproducible from `seed`."""
    if name not in TOYS:
        raise ValueError(f"unknown toy {name!r}; expected one of {', '.join(TOYS)}")
    return getattr(toys, name)(n, seed=seed)


def toy_centres(name: str) -> np.ndarray:
    return toys.ring8_centres() if name == "ring8" else toys.grid25_centres()


def nearest_mode(x: np.ndarray, name: str) -> np.ndarray:
    """The index of each point's nearest mode (int64): the label of a toy point for conditional models."""
    return ((x[:, None, :] - toy_centres(name)[None]) ** 2).sum(-1).argmin(1).astype(np.int64)


def toy_coverage(samples, name: str) -> tuple[int, float]:
    """(modes covered, high-quality share) of samples from the toy `name` (minigen.data.mode_coverage)."""
    sd = toys.RING8_SD if name == "ring8" else toys.GRID25_SD
    cov = toys.mode_coverage(samples, toy_centres(name), sd)
    return cov.modes, cov.hq_share


class ToyStream:
    """An endless, resumable stream of minibatches from a 2-D toy: batch k is drawn with seed (seed, k)."""

    def __init__(self, name: str, batch_size: int, seed: int = 0, labels: bool = False):
        self.name, self.batch_size, self.seed, self.labels, self.index = name, batch_size, seed, labels, 0

    def __iter__(self):
        while True:
            seed = int(np.random.SeedSequence([self.seed, self.index]).generate_state(1)[0])
            self.index += 1
            x = toy_sample(self.name, self.batch_size, seed)
            if self.labels:
                yield mg.tensor(x), mg.tensor(nearest_mode(x, self.name))
            else:
                yield (mg.tensor(x),)

    def state_dict(self) -> dict:
        return {"index": np.array(self.index)}

    def load_state_dict(self, state: dict) -> None:
        index = state["index"]
        self.index = int(index.item() if hasattr(index, "item") else index)


class GANModel(GenerativeModel):
    """Shared base of the GANs: data in [0, 1] (digits /16) or 2-D toys, alternating updates, GAN metrics.

    Subclasses build `self.generator` and `self.discriminator` and set `self.z_dim`; they may override
    `generate(z, y)` (data space), `critic(x, y)` (one output per example), `noise(n, rng)`,
    `extra_d_loss` / `extra_g_loss` (penalties, InfoGAN's mutual-information term) and `after_d_step`.
    """

    datasets = ("digits",) + TOYS
    binarize = None
    loss_kind = "non-saturating"

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, n_critic: int = 1,
                 loss: str | None = None, decay_steps: int = 0):
        super().__init__(data, lr, batch_size)
        if n_critic < 1:
            raise ValueError(f"{type(self).__name__}: n_critic must be >= 1, got {n_critic}")
        self.n_critic, self.decay_steps = n_critic, decay_steps
        self.register_buffer("steps_done", mg.tensor(np.array(0, np.int64)))
        if loss is not None:
            _check_kind(loss)
            self.loss_kind = loss
        self.z_dim = 0

    @property
    def is_toy(self) -> bool:
        return self.data_name in TOYS

    @property
    def data_shape(self) -> tuple:
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
        return out.reshape((z.shape[0],) + self.data_shape)

    def critic(self, x: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        """D(x): one logit (or score) per example, shape (n,)."""
        return self.discriminator(self.to_model(x)).reshape(x.shape[0])

    def sample_labels(self, n: int, rng: np.random.Generator | None = None) -> mg.Tensor | None:
        """Conditioning labels for generated samples (conditional models only)."""
        if not self.conditional:
            return None
        labels = (rng.integers(0, 10, n) if rng is not None else
                  backend.rng("cpu").integers(0, 10, n))
        return mg.tensor(labels.astype(np.int64), device=self.device)

    def sample(self, n: int, rng: np.random.Generator | None = None, **condition) -> mg.Tensor:
        """n generated samples (labels drawn uniformly for conditional models unless y= is given)."""
        y = condition.get("y")
        if self.conditional and y is None:
            y = self.sample_labels(n, rng)
        elif y is not None and not isinstance(y, mg.Tensor):
            y = mg.tensor(np.asarray(y, np.int64), device=self.device)
        was_training = self.training
        self.eval()
        with mg.no_grad():
            out = self.generate(self.noise(n, rng), y)
        self.train(was_training)
        return out

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

    def schedule(self, optimizers, t: int) -> None:
        """The learning rate at step t: constant, or decayed linearly to 0 over `decay_steps` steps."""
        if self.decay_steps:
            for opt in optimizers:
                for group in opt.param_groups:
                    group.setdefault("initial_lr", group["lr"])
                    group["lr"] = group["initial_lr"] * max(0.0, 1 - t / self.decay_steps)

    def train_step(self, batch, optimizers) -> dict:
        """n_critic discriminator updates (one per real minibatch in `batch`), then one generator update."""
        self.schedule(optimizers, int(self.steps_done.numpy()))
        self.steps_done.data = self.steps_done.data + 1
        opt_g, opt_d = optimizers[0], optimizers[1]
        x, y = (batch[0], batch[1] if self.conditional else None) if isinstance(batch, (tuple, list)) \
            else (batch, None)
        k = self.n_critic
        n = x.shape[0] // k
        if n < 1:
            raise ValueError(f"{type(self).__name__}: a batch of {x.shape[0]} examples is too small for "
                             f"n_critic={k}")
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
        """modes_*/hq_* on the toys; parzen_ll, fd_digits and score_digits on digits (see gan_eval)."""
        from . import gan_eval

        return gan_eval.evaluate(self, split)

    def sample_figure(self, path: str, n: int = 64) -> None:
        """Toys: a scatter plot of 2,500 samples (the coverage protocol's count) over the modes; digits: a
        grid of n samples."""
        from . import gan_eval

        if self.is_toy:
            gan_eval.toy_figure(self, path, gan_eval.TOY_SAMPLES)
        else:
            gan_eval.image_grid_figure(self.sample(n, np.random.default_rng(0)), path)


def zoo_runs(steps: dict, **settings) -> list:
    """The zoo runs of a GAN from {data: steps}: digits first (its row in the table), then the toys."""
    return [{"data": data, "steps": n, "set": dict(settings)} for data, n in steps.items()]


def run_steps(cls, data: str) -> int:
    """The number of steps of `cls`'s zoo run on `data` (the length of its learning-rate decay)."""
    return next(r["steps"] for r in cls.zoo_runs if r["data"] == data)


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
                "decay_steps": run_steps(cls, data)}

    def __init__(self, data: str, lr: float, batch_size: int, z_dim: int, g_hidden, d_hidden, n_critic: int,
                 loss: str, decay_steps: int = 0):
        super().__init__(data, lr, batch_size, n_critic=n_critic, loss=loss, decay_steps=decay_steps)
        self.z_dim = z_dim
        out_dim = int(np.prod(self.data_shape))
        self.generator = mlp(z_dim, g_hidden, out_dim, out_activation=None if self.is_toy else nn.Sigmoid)
        self.discriminator = mlp(out_dim, d_hidden, 1, activation=self.d_activation, wrap=self.d_wrap)
