"""What the image-to-image GANs share (pix2pix, CycleGAN, StarGAN on `--data digit-domains`).

A translation model is conditional on a source image: `sample(n, y)` takes y as n source images (N, 1, 8, 8) in
[0, 1] (one image is repeated), or as integer digit labels, each then a test digit of that class drawn in the
model's source domain (so the protocol's `sample(n, labels)` still works); it returns the n translations.
`inputs(FILE_OR_SPLIT)` reads the images `minigen sample NAME --input` translates: a split's source images, or
an .npy / .npz file (the array `images`, else the first) of (N, 1, 8, 8) or (N, 8, 8) images in [0, 1].
Training updates are the subclasses' own `train_step`; the measures are models/evaluation/translation.py.
"""
from __future__ import annotations

import os

import numpy as np

import minigen as mg
from minigen import backend
from minigen.autograd import Tensor
from minigen.data import digit_domains

from ..base import TranslationModel
from .base import GANModel

SPLITS = ("train", "valid", "test")


class TranslationGAN(TranslationModel, GANModel):
    """Base of the translation GANs: digit-domains data, source images as the condition, translation grids."""

    datasets = ("digit-domains",)
    conditional = True
    value_range = (0.0, 1.0)
    source_domain = "digit"

    def translate(self, x: mg.Tensor, domain=None) -> mg.Tensor:
        """The translation of source images x (n, 1, 8, 8) (into `domain` for a multi-domain model)."""
        raise NotImplementedError(f"{self.name} does not define translate(x)")

    # ---------------------------------------------------------------------------------------- data
    def source_images(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels): the split's digits in the source domain (what labels and `--input SPLIT` draw)."""
        return digit_domains.domain_images(split, self.source_domain)

    def inputs(self, source: str) -> np.ndarray:
        """Images to translate (N, 1, 8, 8) float32: a split's source images, or those of an .npy/.npz file."""
        if source in SPLITS:
            return self.source_images(source)[0]
        if not os.path.exists(source):
            raise ValueError(f"{self.name}: --input {source!r} is neither a split ({', '.join(SPLITS)}) nor a file")
        loaded = np.load(source)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded:
                key = "images" if "images" in loaded.files else loaded.files[0]
                loaded = loaded[key]
        return self.check_images(loaded, f"--input {source}")

    def check_images(self, values, what: str) -> np.ndarray:
        a = np.asarray(values)
        if a.dtype.kind != "f" or a.ndim not in (3, 4) or a.shape[-2:] != (8, 8) or (a.ndim == 4 and a.shape[1] != 1):
            raise TypeError(f"{self.name}: {what} must be float images (N, 1, 8, 8) or (N, 8, 8) in [0, 1], got "
                            f"dtype {a.dtype} and shape {a.shape}")
        if a.size and (a.min() < 0 or a.max() > 1):
            raise ValueError(f"{self.name}: {what} must lie in [0, 1] (gray level / 16), got {a.min():.3g}.."
                             f"{a.max():.3g}")
        return a.reshape(len(a), 1, 8, 8).astype(np.float32)

    def conditioning_images(self, n: int, y, rng: np.random.Generator | None = None) -> np.ndarray:
        """y as n source images: images are checked (one is repeated); integer labels each become a test digit
        of that class in the source domain, drawn from rng (else minigen's generator)."""
        if y is None:
            raise TypeError(f"{self.name} is conditional: sample(n, y) needs y, the n source images (n, 1, 8, 8) "
                            f"in [0, 1], or digit labels")
        values = y.numpy() if isinstance(y, Tensor) else np.asarray(y)
        if values.dtype.kind in "iu":
            labels = self.labels(n, values).numpy()
            images, image_labels = self.source_images("test")
            pick = (rng if rng is not None else backend.rng("cpu")).random(n)
            out = np.empty((n, 1, 8, 8), np.float32)
            for i, label in enumerate(labels):
                of_label = np.flatnonzero(image_labels == label)
                out[i] = images[of_label[int(pick[i] * len(of_label))]]
            return out
        images = self.check_images(values, "sample's y")
        if len(images) not in (1, n):
            raise ValueError(f"{self.name}.sample: y holds {len(images)} images for n = {n}")
        return np.ascontiguousarray(np.broadcast_to(images, (n, 1, 8, 8)))

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None, domain=None) -> mg.Tensor:
        """The translations (n, 1, 8, 8) of n source images y (or of test digits of the labels y)."""
        x = mg.tensor(self.conditioning_images(n, y, rng), device=self.device)
        with self.evaluating():
            return self.translate(x, domain)

    def translate_numpy(self, images: np.ndarray, domain=None, batch: int = 500) -> np.ndarray:
        """translate() over a NumPy array in eval mode, in batches."""
        with self.evaluating():
            return np.concatenate([self.translate(mg.tensor(images[i:i + batch], device=self.device), domain).numpy()
                                   for i in range(0, len(images), batch)])

    # --------------------------------------------------------------------------------------- pictures
    def save_rows(self, rows: list, path: str) -> str:
        """An image grid whose columns are the given arrays (each (k, 1, 8, 8)), row i holding image i of each."""
        from minigen import viz

        grid = np.stack(rows, axis=1).reshape(-1, 1, 8, 8)
        return viz.save_image_grid(grid, path, nrow=len(rows), value_range=self.value_range)
