"""FlowModel: what every density flow of models/flows/ shares (NICE, RealNVP, Glow, MAF).

A flow is a bijection f from data to latents built from the layers of this folder (each one's `forward` is
the paper's data -> latent map), with a standard normal base:

    log p(y) = log N(f(y); 0, I) + log |det df/dy|          sampling: y = f^{-1}(z), z ~ N(0, I)

It is a minigen.distributions.TransformedDistribution of the base under ComposeTransform(pre + layers).inv,
so the models are compositions of the public transforms (`distribution()` returns it).

Digits (the RNADE convention, docs/design.md): the 17 levels are dequantized, y = x + u with u ~ U[0, 1)^64,
and the density is that of y on [0, 17)^64 in nats per image (8 fixed draws of u per test image); before the
layers, y / 17 goes through RealNVP's logit preprocessing LogitTransform(alpha), whose Jacobian is counted.
2-D toys (moons, ring8, grid25): the points are standardized by the training set's mean and standard
deviation (an AffineTransform, Jacobian counted), densities in nats per point.
"""
from __future__ import annotations


import numpy as np

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.data import grid25, ring8, two_moons
from minigen.data.toys import N_COVERAGE_SAMPLES, TOYS as COVERAGE_TOYS, toy_coverage
from minigen.distributions import (AffineTransform, ComposeTransform, LogitTransform, Normal, Transform,
                                   TransformedDistribution)

from ..base import DIGITS_SHAPE, LikelihoodModel
from ..evaluation.dequantized_nll import dequantized_nll

LEVELS = 17
TOY_DATA = {"moons": two_moons, "ring8": ring8, "grid25": grid25}


class FlowModel(LikelihoodModel):
    """Density flows on dequantized digits or 2-D toys; subclasses set `self.layers` (an nn.ModuleList of
    Transforms, data -> latent) in __init__ after calling `super().__init__` and choosing `flow_shape`."""

    datasets = ("digits",) + tuple(TOY_DATA)
    binarize = None
    DEQUANT_DRAWS = 8  # fixed uniform draws averaged per test image (a seeded, deterministic estimate)
    TOY_TRAIN, TOY_TEST = 20000, 5000

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, alpha: float = 0.05,
                 image_flow: bool = False):
        super().__init__(data, lr, batch_size)
        self.alpha = float(alpha)
        if data == "digits":
            self.event_shape = DIGITS_SHAPE
            self.value_range = (0.0, float(LEVELS - 1))
            self.flow_shape = DIGITS_SHAPE if image_flow else (int(np.prod(DIGITS_SHAPE)),)
            self.pre = [AffineTransform(0.0, 1.0 / LEVELS), LogitTransform(self.alpha)]
        else:
            if image_flow:
                raise ValueError(f"{self.name}: an image flow needs images; {data} is 2-D points")
            self.event_shape = self.flow_shape = (2,)
            train = self.split_arrays("train")[0].astype(np.float64)
            mean, std = train.mean(axis=0), train.std(axis=0)
            self.pre = [AffineTransform(mg.tensor((-mean / std).astype(np.float32)),
                                        mg.tensor((1 / std).astype(np.float32)))]

    # ------------------------------------------------------------------------------------------ data
    def split_arrays(self, split: str) -> tuple:
        if self.data_name == "digits":
            return super().split_arrays(split)
        n, seed = (self.TOY_TRAIN, 0) if split == "train" else (self.TOY_TEST, 1 if split == "test" else 2)
        return TOY_DATA[self.data_name](n, seed=seed), np.zeros(n, np.int64)

    def eval_batch(self, split: str) -> Tensor:
        return mg.tensor(self.split_arrays(split)[0], device=self.device)

    def dequantize(self, x: Tensor) -> Tensor:
        """y = x + u, u ~ U[0, 1) (digits only; toys are continuous already)."""
        if self.data_name != "digits":
            return x
        return x + mg.tensor(backend.rng(x.device).random(x.shape).astype(x.dtype), device=x.device)

    # ------------------------------------------------------------------------------------ the density
    @property
    def latent_shape(self) -> tuple:
        return ComposeTransform(list(self.layers)).forward_shape(self.flow_shape)

    def transform(self) -> Transform:
        """f: the preprocessing then the layers, data (in flow_shape) -> latent."""
        return ComposeTransform([*self.pre, *self.layers])

    def distribution(self) -> TransformedDistribution:
        """The model as N(0, I) pushed through f^{-1}, on events of flow_shape."""
        shape, device = self.latent_shape, self.device
        base = Normal(mg.zeros(shape, device=device), mg.ones(shape, device=device))
        return TransformedDistribution(base, self.transform().inv)

    def _check(self, x: Tensor) -> Tensor:
        if tuple(x.shape[1:]) != tuple(self.event_shape):
            raise ValueError(f"{self.name}: expected data of shape (B, {', '.join(map(str, self.event_shape))}), "
                             f"got {x.shape} on {x.device}")
        return x.reshape(x.shape[0], *self.flow_shape)

    def log_prob(self, x: Tensor, reduce: bool = True) -> Tensor:
        """log p(y) per example (B,) for continuous y (dequantized digits or toy points)."""
        return self.distribution().log_prob(self._check(x))

    def loss(self, batch: Tensor) -> Tensor:
        """Mean -log p(x + u) over the batch, a fresh dequantization each step."""
        return -self.log_prob(self.dequantize(batch)).mean()

    # ------------------------------------------------------------------------------------- sampling
    def sample(self, n: int, y=None, *, continuous: bool = False) -> Tensor:
        """y = f^{-1}(z), z ~ N(0, I); digits come back as levels floor(y) in 0..16 (continuous=True: y)."""
        self.labels(n, y)
        with self.evaluating():
            out = self.distribution().sample((n,))
        out = out.reshape(n, *self.event_shape)
        if self.data_name == "digits" and not continuous:
            xp = backend.array_module(out.data)
            out = mg.tensor(xp.clip(xp.floor(out.data), 0, LEVELS - 1))
        return out

    def density_grid(self, lim: float, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """(centres (n,), p (n, n)): the 2-D density at the centres of an n x n grid on [-lim, lim]^2."""
        step = 2 * lim / n
        centres = -lim + step * (np.arange(n) + 0.5)
        gx, gy = np.meshgrid(centres, centres)
        points = mg.tensor(np.stack([gx.ravel(), gy.ravel()], 1).astype(np.float32), device=self.device)
        with self.evaluating():
            log_p = self.log_prob(points).numpy().astype(np.float64)
        return centres, np.exp(log_p).reshape(n, n)

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Digits: a grid of 64 sampled images (levels); toys: the data, samples and the density heat map."""
        from minigen import viz

        if self.data_name == "digits":
            return viz.save_image_grid(self.sample(min(n, 64)), path, value_range=self.value_range)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        data = self.split_arrays("test")[0][:N_COVERAGE_SAMPLES]
        samples = self.sample(N_COVERAGE_SAMPLES).numpy()
        lim = float(np.abs(data).max()) * 1.15
        centres, p = self.density_grid(lim)
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.5), sharex=True, sharey=True)
        axes[0].scatter(data[:, 0], data[:, 1], s=1.5, alpha=0.5, c="C0")
        axes[1].scatter(samples[:, 0], samples[:, 1], s=1.5, alpha=0.5, c="C3")
        axes[2].imshow(p, origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis")
        for ax, title in zip(axes, ("data (test split)", f"{self.name} samples", f"{self.name} density")):
            ax.set_title(title, fontsize=9)
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
        fig.suptitle(f"{self.name} on {self.data_name}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        return path

    # ------------------------------------------------------------------------------------- metrics
    def metrics(self, split: str = "test") -> dict:
        """test_nll (nats per image, 8 fixed dequantization draws; nats per point on toys) with its standard
        error, test_bpd on digits, modes/hq on ring8 and grid25, num_params."""
        x = self.eval_batch(split)
        out = dequantized_nll(self, x, self.DEQUANT_DRAWS if self.data_name == "digits" else 0)
        if self.data_name in COVERAGE_TOYS:
            cov = toy_coverage(self.sample(N_COVERAGE_SAMPLES), self.data_name)
            out[f"modes_{self.data_name}"] = cov.modes
            out[f"hq_{self.data_name}"] = cov.hq_share
        out["num_params"] = self.num_parameters()
        return out


def mlp_net(sizes: list[int]) -> nn.Module:
    """A coupling net: Linear/ReLU layers with the last Linear zero-initialised (the layer starts as the
    identity, as RealNVP and Glow do)."""
    from ..nets import mlp

    net = mlp(sizes)
    last = [m for m in net.modules() if isinstance(m, nn.Linear)][-1]
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return net
