"""ArrayDataset and DataLoader: mini-batches of Tensors, reshuffled per epoch, resumable exactly.

Every random choice is drawn from a generator derived from (seed, epoch, ...) alone: the order of epoch e
from default_rng((seed, e, 0, 0)), the dynamic binarization of its batch b from default_rng((seed, e, 1,
b)). So `state_dict()` is just (seed, epoch, position), and a loader restored from it yields the same
batches as one that never stopped.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from ..autograd import Tensor


class ArrayDataset:
    """Arrays of equal length indexed together; item i is (a[i] for a in arrays), or a[i] for one array."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        arrays = tuple(a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in arrays)
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"ArrayDataset: arrays have different lengths {lengths}")
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i):
        items = tuple(a[i] for a in self.arrays)
        return items[0] if len(items) == 1 else items


def _as_arrays(data) -> tuple[tuple, bool]:
    """(arrays, single): the arrays behind `data`, and whether batches are one Tensor rather than a tuple."""
    if isinstance(data, Tensor) or (hasattr(data, "shape") and hasattr(data, "dtype")):
        return ArrayDataset(data).arrays, True
    if isinstance(data, (tuple, list)):
        return ArrayDataset(*data).arrays, len(data) == 1
    arrays = getattr(data, "arrays", None)
    if arrays is not None:
        return tuple(arrays), len(arrays) == 1
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        items = [data[i] for i in range(len(data))]
        single = not isinstance(items[0], tuple)
        columns = [items] if single else list(zip(*items))
        return tuple(np.stack(c) for c in columns), single
    raise TypeError(f"DataLoader: expected an array, a Tensor, a tuple of arrays or a dataset with "
                    f"__len__/__getitem__, got {type(data).__name__}")


class DataLoader:
    """Batches of Tensors: x, or (x, y, ...) when the data has several arrays.

    shuffle: a new order every epoch, from `seed` (None: drawn from mg.manual_seed's generator).
    dynamic_binarize: True samples x ~ Bernoulli(x / max_value) for every batch (max_value is the data
    set's `max_value`, 16 for digits); a number gives max_value itself. A Digits split loaded with
    binarize="dynamic" turns it on by itself.
    Iteration continues where the previous one stopped; an epoch ends after its last batch.
    """

    def __init__(self, data, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, dynamic_binarize: bool | float = False, device: str = "cpu"):
        if batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be >= 1, got {batch_size}")
        self.arrays, self.single = _as_arrays(data)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.device = device
        if dynamic_binarize is False and getattr(data, "binarize", None) == "dynamic":
            dynamic_binarize = True
        if dynamic_binarize is True:
            dynamic_binarize = getattr(data, "max_value", 16.0)
        self.binarize_scale = float(dynamic_binarize) if dynamic_binarize else None
        if seed is None:
            seed = int(backend.rng("cpu").integers(2 ** 63))
        if seed < 0:
            raise ValueError(f"DataLoader: seed must be >= 0, got {seed}")
        self.seed = int(seed)
        self.epoch = 0
        self.position = 0
        self._order: tuple = (None, None)
        if len(self) == 0:
            raise ValueError(f"DataLoader: {len(self.arrays[0])} examples make no batch of {batch_size} "
                             f"with drop_last={drop_last}")

    def __len__(self) -> int:
        n = len(self.arrays[0])
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The example indices of epoch `epoch`, in the order they are served."""
        if self._order[0] != (self.seed, epoch):
            n = len(self.arrays[0])
            rng = np.random.default_rng((self.seed, epoch, 0, 0))
            self._order = ((self.seed, epoch), rng.permutation(n) if self.shuffle else np.arange(n))
        return self._order[1]

    def batch(self, epoch: int, b: int) -> tuple[np.ndarray, ...]:
        """The arrays of batch b of epoch `epoch` (binarized when asked)."""
        idx = self.order(epoch)[b * self.batch_size:(b + 1) * self.batch_size]
        arrays = [a[idx] for a in self.arrays]
        if self.binarize_scale is not None:
            x = arrays[0]
            u = np.random.default_rng((self.seed, epoch, 1, b)).random(x.shape)
            arrays[0] = (u * self.binarize_scale < x).astype(x.dtype)
        return tuple(arrays)

    def __iter__(self):
        if self.position >= len(self):
            self.epoch, self.position = self.epoch + 1, 0
        epoch = self.epoch
        while self.epoch == epoch and self.position < len(self):
            arrays = self.batch(epoch, self.position)
            self.position += 1
            tensors = tuple(Tensor(backend.to_device(a, self.device)) for a in arrays)
            yield tensors[0] if self.single else tensors
        if self.epoch == epoch and self.position >= len(self):
            self.epoch, self.position = epoch + 1, 0

    def state_dict(self) -> dict:
        """{"seed", "epoch", "position", "batch_size", "num_examples"}: enough to resume exactly."""
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position,
                "batch_size": self.batch_size, "num_examples": len(self.arrays[0])}

    def load_state_dict(self, state_dict: dict) -> None:
        """Continue from where the loader that wrote `state_dict` stopped."""
        mine = (self.batch_size, len(self.arrays[0]))
        theirs = (int(state_dict["batch_size"]), int(state_dict["num_examples"]))
        if mine != theirs:
            raise ValueError(f"DataLoader.load_state_dict: saved with batch_size and size {theirs}, this "
                             f"loader has {mine}; the batches would differ")
        self.seed, self.epoch = int(state_dict["seed"]), int(state_dict["epoch"])
        self.position = int(state_dict["position"])
