"""The protocol every model follows (see DESIGN.md, Models), with defaults that most models keep.

A model owns its data preparation (`loader`), its optimizers (`configure_optimizers`), one training step
(`train_step`, by default one optimizer on `loss(batch)`), and its standard numbers (`metrics`).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from minigen import nn, optim
from minigen.data import DataLoader, load_digits

DIGITS_SHAPE = (1, 8, 8)


class GenerativeModel(nn.Module):
    """Base class: digits by default, statically binarized, Adam on `loss`."""

    datasets: tuple = ("digits",)
    binarize: str | None = "static"  # "static" | "dynamic" | None (the 17 gray levels)
    conditional = False  # batches are (x, y) when True

    @classmethod
    def default_config(cls, data: str) -> dict:
        """Hyper-parameters for `data`; every key can be overridden through models.create."""
        return {"lr": 1e-3, "batch_size": 64}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64):
        super().__init__()
        if data not in self.datasets:
            raise ValueError(f"{type(self).__name__} trains on {', '.join(self.datasets)}, not {data!r}")
        self.data_name = data
        self.lr = lr
        self.batch_size = batch_size

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

    @property
    def device(self) -> str:
        for p in self.parameters():
            return p.device
        return "cpu"

    # ------------------------------------------------------------------------------------- training
    def configure_optimizers(self) -> list:
        return [optim.Adam(self.parameters(), lr=self.lr)]

    def loss(self, batch) -> mg.Tensor:
        """Mean negative log-likelihood per example, in nats."""
        return -self.log_prob(batch).mean()

    def train_step(self, batch, optimizers) -> dict:
        (opt,) = optimizers
        opt.zero_grad()
        loss = self.loss(batch)
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    # ------------------------------------------------------------------------------------- metrics
    def metrics(self, split: str = "test") -> dict:
        """test_nll (nats per image) and test_bpd for models with an exact log_prob."""
        with mg.no_grad():
            self.eval()
            log_p = self.log_prob(self.eval_batch(split)).numpy()
            self.train()
        nll = float(-log_p.mean())
        dims = int(np.prod(DIGITS_SHAPE))
        return {"test_nll": nll, "test_bpd": nll / (dims * math.log(2)), "test_nll_sem":
                float(log_p.std(ddof=1) / math.sqrt(len(log_p)))}
