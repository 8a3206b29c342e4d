"""The model protocol (docs/design.md, "The model protocol"): what the trainer, the CLI, viz and the
tests may call on every model, and the two declared capabilities.

    GenerativeModel       every model: loader, configure_optimizers, configure_schedulers, configure_averaging, loss,
                          train_step(batch, optimizers, step), sample(n, y=None), sample_figure, metrics,
                          evaluating()
    LikelihoodModel       + log_prob(x, reduce=True): the exact log-likelihood (test_nll, test_bpd)
    LatentVariableModel   + encode, decode, elbo(x), log_prob_estimate(x, k) (importance sampling)
    TranslationModel      + inputs(source): images to translate; sample(n, y) takes y as source images

Capabilities are declared by subclassing, so callers test `isinstance(model, LikelihoodModel)`, never
`hasattr`. A digits batch is a float tensor (B, 1, 8, 8) for unconditional models and the pair (x, y) with
integer labels y (B,) for conditional ones (`conditional = True`).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

import minigen as mg
from minigen import nn, optim
from minigen.autograd import Tensor
from minigen.data import DataLoader, load_digits

DIGITS_SHAPE = (1, 8, 8)


class GenerativeModel(nn.Module):
    """Base class of every model: digits by default, statically binarized, Adam on `loss`."""

    datasets: tuple = ("digits",)
    binarize: str | None = "static"  # "static" | "dynamic" | None (the 17 gray levels)
    conditional = False  # batches are (x, y) and sample() needs y when True
    num_classes = 10  # the labels y of a conditional model lie in 0..num_classes-1
    value_range: tuple | None = None  # the range of sample() values for image grids (None: their min/max)
    registry_name: str | None = None  # set by minigen.models.create
    event_shape: tuple = DIGITS_SHAPE  # the shape of one sample: sample(n) returns (n, *event_shape)

    @classmethod
    def default_data(cls) -> str:
        """The data set used when none is named: digits where the model trains on them, else its first."""
        return "digits" if "digits" in cls.datasets else cls.datasets[0]

    @classmethod
    def default_config(cls, data: str) -> dict:
        """Hyper-parameters for `data`; every key can be overridden through models.create."""
        return {"lr": 1e-3, "batch_size": 64}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64):
        super().__init__()
        if data not in self.datasets:
            raise ValueError(f"{self.name} trains on {', '.join(self.datasets)}, not {data!r}")
        self.data_name = data
        self.lr = lr
        self.batch_size = batch_size

    @property
    def name(self) -> str:
        """The registry name (or the class name of a model made without the registry), for messages."""
        return self.registry_name or type(self).__name__

    @property
    def device(self) -> str:
        for p in self.parameters():
            return p.device
        return "cpu"

    # ---------------------------------------------------------------------------------------- data
    def split_arrays(self, split: str) -> tuple:
        """(images, labels) of a split as NumPy arrays, prepared the way this model trains."""
        d = load_digits(split, binarize=None if self.binarize == "dynamic" else self.binarize)
        return d.images, d.labels

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0,
               shuffle: bool = True, drop_last: bool = True) -> DataLoader:
        images, labels = self.split_arrays(split)
        arrays = (images, labels) if self.conditional else (images,)
        return DataLoader(arrays, batch_size=batch_size or self.batch_size, shuffle=shuffle,
                          drop_last=drop_last, seed=seed,
                          dynamic_binarize=self.binarize == "dynamic" and split == "train")

    def eval_batch(self, split: str):
        """The whole split as one batch, binarized statically when the model trains dynamically."""
        d = load_digits(split, binarize="static" if self.binarize == "dynamic" else self.binarize)
        x = mg.tensor(d.images, device=self.device)
        return (x, mg.tensor(d.labels, device=self.device)) if self.conditional else x

    # ------------------------------------------------------------------------------------- training
    def configure_optimizers(self) -> list:
        """The optimizers train_step receives, in order (one Adam on every parameter by default)."""
        return [optim.Adam(self.parameters(), lr=self.lr)]

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """Learning-rate schedules (minigen.optim.lr_scheduler) for a run of `steps` steps; the trainer calls
        each one's step() after every train_step and saves their state. None by default."""
        return []

    def configure_averaging(self):
        """An optim.swa_utils.AveragedModel of this model (an EMA of the weights, or SWA) that the trainer
        updates after every step and that becomes the run's result, or None (the default: the trained
        weights are the result)."""
        return None

    def loss(self, batch) -> Tensor:
        """The training objective on a batch, a scalar Tensor."""
        raise NotImplementedError(f"{self.name} does not define loss(batch)")

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One optimizer update (step = the number of updates before it); returns floats to log."""
        (opt,) = optimizers
        opt.zero_grad()
        loss = self.loss(batch)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    # ------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, y=None) -> Tensor:
        """n samples, shape (n, *event_shape); y: the labels (or other conditions) of a conditional model."""
        raise NotImplementedError(f"{self.name} does not define sample(n, y=None)")

    def labels(self, n: int, y) -> Tensor | None:
        """y checked against the protocol as an int64 Tensor of n labels (a scalar is repeated): an error
        naming the model when a conditional model gets none or an unconditional one gets some."""
        if not self.conditional:
            if y is not None:
                raise TypeError(f"{self.name} is unconditional: sample() takes no y")
            return None
        if y is None:
            raise TypeError(f"{self.name} is conditional: sample(n, y) needs y, the labels of the n samples")
        values = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if values.dtype.kind not in "iu":
            raise TypeError(f"{self.name}.sample: y must hold integer labels, got dtype {values.dtype}")
        values = np.broadcast_to(values.astype(np.int64), (n,))
        if len(values) and (values.min() < 0 or values.max() >= self.num_classes):
            raise ValueError(f"{self.name}.sample: labels must lie in 0..{self.num_classes - 1}, got "
                             f"{values.min()}..{values.max()}")
        return mg.tensor(values, device=self.device)

    def sample_figure(self, path: str, n: int = 64) -> str:
        """The picture `minigen train` and `minigen sample` write: a grid of n samples (class rows for a
        conditional model). Models with a better picture (2-D scatter plots, reconstructions) override it."""
        from minigen import viz

        y = np.arange(n) % 10 if self.conditional else None
        with self.evaluating():
            samples = self.sample(n, y)
        return viz.save_image_grid(samples, path, nrow=10 if self.conditional else None,
                                   value_range=self.value_range)

    @contextlib.contextmanager
    def evaluating(self, grad: bool = False):
        """Eval mode (and no_grad unless grad=True) inside the block; the previous mode afterwards."""
        was_training = self.training
        self.eval()
        try:
            if grad:
                yield self
            else:
                with mg.no_grad():
                    yield self
        finally:
            self.train(was_training)

    # ------------------------------------------------------------------------------------- metrics
    def metrics(self, split: str = "test") -> dict:
        """The model's standard numbers on a split (docs/design.md, "Metric names")."""
        raise NotImplementedError(f"{self.name} does not define metrics(split)")


class LikelihoodModel(GenerativeModel):
    """A model with an exact log-likelihood: trained on -log p(x) by default, measured by test_nll."""

    def log_prob(self, x, reduce: bool = True) -> Tensor:
        """log p(x) per example (B,); with reduce=False the per-dimension terms where the model has them
        (autoregressive models: log p(x_d | x_<d), shaped like x)."""
        raise NotImplementedError(f"{self.name} does not define log_prob(x, reduce=True)")

    def loss(self, batch) -> Tensor:
        """Mean negative log-likelihood per example, in nats."""
        return -self.log_prob(batch).mean()

    def metrics(self, split: str = "test") -> dict:
        """test_nll (nats per image), its standard error, and test_bpd."""
        with self.evaluating():
            log_p = self.log_prob(self.eval_batch(split)).numpy()
        nll = float(-log_p.mean())
        dims = int(np.prod(self.event_shape))
        return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "test_nll_sem":
                float(log_p.std(ddof=1) / math.sqrt(len(log_p)))}


class LatentVariableModel(GenerativeModel):
    """A model with latents z: an encoder q(z|x), a decoder p(x|z), the ELBO and an importance-sampled
    estimate of log p(x) (models/latent/ implements them for the VAE family)."""

    def encode(self, x, y=None):
        """q(z|x) as a distribution."""
        raise NotImplementedError(f"{self.name} does not define encode(x)")

    def decode(self, z, y=None):
        """p(x|z) as a distribution."""
        raise NotImplementedError(f"{self.name} does not define decode(z)")

    def elbo(self, batch) -> Tensor:
        """E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z)) per example, in nats."""
        raise NotImplementedError(f"{self.name} does not define elbo(x)")

    def log_prob_estimate(self, batch, k: int = 1000) -> Tensor:
        """log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i|x), z_i ~ q(z|x), per example."""
        raise NotImplementedError(f"{self.name} does not define log_prob_estimate(x, k)")


class TranslationModel(GenerativeModel):
    """A model that translates images (pix2pix, CycleGAN, StarGAN): conditional on source images, `sample(n, y)`
    takes y as n source images (or digit labels), and `inputs(source)` reads the images `minigen sample --input`
    translates (a split name or an .npy/.npz file)."""

    conditional = True

    def inputs(self, source: str):
        """The images (N, 1, 8, 8) a split name or a file holds, ready to be sample's y."""
        raise NotImplementedError(f"{self.name} does not define inputs(source)")
