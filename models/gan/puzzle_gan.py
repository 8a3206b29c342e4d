"""Puzzle-GAN: the whole digit restored from a random subset of its parts (the course notes' puzzle GAN).

An 8x8 image is cut into a grid x grid of parts (grid 2: four 4x4 quadrants; grid 4: sixteen 2x2 patches).
The generator sees some parts at their positions (the rest zeroed) with the mask of what it was given, and
noise z; it draws the whole image. The discriminator judges whole images (real digits against completions).

    m        the pixel mask of the given parts, (N, 1, 8, 8), 1 where a part was given
    x_hat    = G(m * x, m, z)                                                  in [0, 1] (sigmoid)
    L_D      = softplus(-D(x)) + softplus(D(x_hat))                            (non-saturating, logits)
    L_G      = softplus(-D(x_hat)) + lambda * sum(m |x_hat - x|) / sum(m)       (part reconstruction, lambda 10)

Training draws, per image, the number of given parts k uniformly from 1..grid^2 and then which k parts. G is
an encoder-decoder: strided convolutions 8x8 -> 4x4 -> 2x2 on (m * x, m), z joined at the bottleneck,
transposed convolutions back up with skip connections from the encoder at 4x4 and 8x8, so that given parts
have a short path to their place; D is DCGAN's (models/nets.py).

Metrics, on held-out (test) digits: for each number of given parts k, class_acc_k{k} (the digits
classifier names the true digit of the completion) and part_l1_k{k} (mean |x_hat - x| over given pixels);
class_acc and part_l1 are the values at half the parts, parts_class_acc the classifier on the parts alone
(missing parts zero) at half: what the completion adds.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn

from ..evaluation import digits_classifier
from ..nets import conv_body, dcgan_init_
from .base import GANModel, frozen
from .losses import discriminator_loss, generator_loss, grad_norm


def part_mask(given: np.ndarray, grid: int, size: int = 8) -> np.ndarray:
    """(N, grid^2) 0/1 parts (row-major) -> (N, 1, size, size) float32 pixel mask."""
    g = np.asarray(given, np.float32).reshape(-1, grid, grid)
    cell = size // grid
    return np.repeat(np.repeat(g, cell, axis=1), cell, axis=2)[:, None]


def random_parts(n: int, grid: int, rng: np.random.Generator, k: int | None = None) -> np.ndarray:
    """(n, grid^2) 0/1: k given parts per row (k uniform in 1..grid^2 per row when None), chosen uniformly."""
    parts = grid * grid
    counts = rng.integers(1, parts + 1, n) if k is None else np.full(n, k)
    order = np.argsort(rng.random((n, parts)), axis=1)
    return (np.argsort(order, axis=1) < counts[:, None]).astype(np.float32)


class PuzzleGenerator(nn.Module):
    def __init__(self, z_dim: int, c: int):
        super().__init__()
        lrelu = lambda: nn.LeakyReLU(0.2)
        self.enc8 = nn.Sequential(nn.Conv2d(2, c, 3, padding=1), lrelu())
        self.enc4 = nn.Sequential(nn.Conv2d(c, 2 * c, 4, stride=2, padding=1), lrelu())
        self.enc2 = nn.Sequential(nn.Conv2d(2 * c, 4 * c, 4, stride=2, padding=1), lrelu(), nn.Flatten())
        self.bottleneck = nn.Sequential(nn.Linear(16 * c + z_dim, 16 * c), nn.BatchNorm1d(16 * c), nn.ReLU(),
                                        nn.Unflatten(1, (4 * c, 2, 2)))
        self.up4 = nn.Sequential(nn.ConvTranspose2d(4 * c, 2 * c, 4, stride=2, padding=1), nn.BatchNorm2d(2 * c),
                                 nn.ReLU())
        self.up8 = nn.Sequential(nn.ConvTranspose2d(4 * c, c, 4, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU())
        self.out = nn.Conv2d(2 * c, 1, 3, padding=1)

    def forward(self, parts, mask, z):
        e8 = self.enc8(mg.cat([parts * 2 - mask, mask], axis=1))  # given pixels in [-1, 1], missing 0
        e4 = self.enc4(e8)
        h = self.bottleneck(mg.cat([self.enc2(e4), z], axis=1))
        h = self.up8(mg.cat([self.up4(h), e4], axis=1))
        return F.sigmoid(self.out(mg.cat([h, e8], axis=1)))


class PuzzleGAN(GANModel):
    """sample(n, y): y = digit labels (test digits of those classes, half their parts, drawn from rng), or
    {"images": (n, 1, 8, 8) in [0, 1] (default: the first n test digits), "parts": part indices or (n, grid^2)
    0/1}."""

    datasets = ("digits",)
    conditional = True

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 2e-4, "batch_size": 64, "z_dim": 16, "channels": 32, "grid": 4, "rec_weight": 10.0}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 16,
                 channels: int = 32, grid: int = 4, rec_weight: float = 10.0):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating")
        if grid not in (2, 4):
            raise ValueError(f"{self.name}: grid must be 2 (quadrants) or 4 (2x2 patches), got {grid}")
        self.z_dim, self.grid, self.rec_weight = z_dim, grid, rec_weight
        self.generator = PuzzleGenerator(z_dim, channels)
        self.discriminator = nn.Sequential(conv_body(channels), nn.Conv2d(2 * channels, 1, 2))
        dcgan_init_(self)

    @property
    def parts(self) -> int:
        return self.grid * self.grid

    def to_model(self, x):
        return x * 2 - 1

    def complete(self, images, given, rng: np.random.Generator | None = None) -> mg.Tensor:
        """G's whole images from `images` (N, 1, 8, 8) in [0, 1] and the parts `given` (N, grid^2) 0/1."""
        mask = mg.tensor(part_mask(given, self.grid), device=self.device)
        x = images if isinstance(images, mg.Tensor) else mg.tensor(np.asarray(images, np.float32), device=self.device)
        return self.generator(x * mask, mask, self.noise(len(given), rng))

    def condition(self, n: int, y, rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(images, given parts) for sample(n, y); see the class docstring."""
        rng = rng if rng is not None else backend.rng("cpu")
        test, test_labels = self.split_arrays("test")
        if isinstance(y, dict):
            images = np.asarray(y.get("images", test[:n]), np.float32).reshape(-1, 1, 8, 8)
            given = np.asarray(y["parts"])
            if given.ndim == 1:  # part indices, the same for every image
                if given.size and (given.min() < 0 or given.max() >= self.parts):
                    raise ValueError(f"{self.name}: parts are 0..{self.parts - 1} (row-major in the {self.grid}x"
                                     f"{self.grid} grid), got {given.tolist()}")
                given = np.isin(np.arange(self.parts), given)[None].repeat(n, 0)
            if len(images) != n or given.shape != (n, self.parts):
                raise ValueError(f"{self.name}.sample: expected {n} images and parts ({n}, {self.parts}), got "
                                 f"{images.shape} and {given.shape}")
            return images, given.astype(np.float32)
        labels = self.labels(n, y).numpy()
        pools = [np.flatnonzero(test_labels == k) for k in range(10)]
        images = test[[pool[rng.integers(len(pool))] for pool in (pools[k] for k in labels)]]
        return images, random_parts(n, self.grid, rng, self.parts // 2)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n completions (n, 1, 8, 8) of the parts described by y."""
        images, given = self.condition(n, y, rng)
        with self.evaluating():
            return self.complete(images, given, rng)

    # ------------------------------------------------------------------------------------ training
    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One D update (real digits against completions) and one G update (adversarial + part L1)."""
        opt_g, opt_d = optimizers
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        n = x.shape[0]
        given = random_parts(n, self.grid, backend.rng("cpu"))
        mask = mg.tensor(part_mask(given, self.grid), device=self.device)
        with mg.no_grad():
            fake = self.generator(x * mask, mask, self.noise(n))
        d_real, d_fake = self.critic(x), self.critic(fake)
        d_loss = discriminator_loss("non-saturating", d_real, d_fake)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()

        with frozen(self.discriminator):
            fake = self.generator(x * mask, mask, self.noise(n))
            adv = generator_loss("non-saturating", self.critic(fake))
            rec = ((fake - x).abs() * mask).sum() / mask.sum()
            g_loss = adv + self.rec_weight * rec
            opt_g.zero_grad()
            g_loss.backward()
        logs = {"d_loss": d_loss.item(), "g_loss": adv.item(), "part_l1": rec.item(),
                "g_grad_norm": grad_norm(self.generator.parameters())}
        opt_g.step()
        return logs

    # ----------------------------------------------------------------------------------- evaluation
    def part_counts(self) -> list:
        return list(range(1, self.parts + 1)) if self.grid == 2 else [1, 2, 4, 6, 8, 10, 12, 14, 16]

    def metrics(self, split: str = "test") -> dict:
        """class_acc_k{k} and part_l1_k{k} for every number of given parts k on the split's digits (parts and z
        from fixed seeds); class_acc, part_l1 and parts_class_acc at half the parts; class_acc_real."""
        images, labels = self.split_arrays(split)
        out = {}
        for k in self.part_counts():
            rng = np.random.default_rng(k)
            given = random_parts(len(images), self.grid, rng, k)
            with self.evaluating():
                completed = self.complete(images, given, rng).numpy()
            mask = part_mask(given, self.grid)
            _, probs = digits_classifier.features_and_probs(completed)
            out[f"class_acc_k{k}"] = float((probs.argmax(1) == labels).mean())
            out[f"part_l1_k{k}"] = float((np.abs(completed - images) * mask).sum() / mask.sum())
            if k == self.parts // 2:
                out["class_acc"], out["part_l1"] = out[f"class_acc_k{k}"], out[f"part_l1_k{k}"]
                _, probs = digits_classifier.features_and_probs(images * mask)
                out["parts_class_acc"] = float((probs.argmax(1) == labels).mean())
        out["class_acc_real"] = digits_classifier.accuracy(split)
        return out
