"""A deep energy-based model trained with Langevin samples (Du & Mordatch, 2019, "Implicit generation and
generalization in energy-based models").

    p_theta(x) = exp(-E_theta(x)) / Z(theta),      E_theta(x) = f(c x), f an MLP with smooth (SiLU) units
    d/dtheta -log p(x+) = dE(x+)/dtheta - E_{x- ~ p_theta}[dE(x-)/dtheta]        (contrastive divergence)
    L = mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)

x- come from K steps of Langevin dynamics (models/energy/langevin.py) x <- x - lambda clip(grad_x E(x)) +
sigma eps, started from a replay buffer of past samples (a share `reinit` restarts from uniform noise), with
no gradient through the sampler; the alpha term (the energy-magnitude regulariser) keeps the energies near 0
so the contrastive term cannot grow without bound. Adam with betas (0, 0.999) as in their code.

Data: the 2-D toys (ring8, grid25), standardised by the coordinates' sd as the GANs do (models/gan/base.py),
and digits relaxed to a continuous density by uniform dequantization, x = (level + u) / 17 with u ~ U[0, 1)
(a fresh u each step), on the box [0, 1]^64; samples are shown and measured as those continuous images.
Deviations: (1) the sampler runs at a low temperature (sigma^2 / (2 lambda) << 1), as in Du & Mordatch, so
samples are sharper than exp(-E); (2) `sample()` runs `sample_steps` Langevin steps from uniform noise (not
from the training buffer), so what is measured is a function of the trained energy alone; (3) on the toys
the net reads c x with c = `input_scale` = 4 on ring8 and 10 on grid25, whose wells are 0.71 apart instead
of 1.08 (c = 1 on digits; not in either paper). An MLP on the standardised coordinates learns slowly what
varies faster than its units' smooth ramps (its spectral bias; Tancik et al. 2020 lift the inputs by random
Fourier features for the same reason): with c = 1 the energy learnt ring8's ring but stayed flat along it
(buffer hq share 0.07 after 1,500 updates, the share of a uniform ring), while c = 4 carved the eight wells
(buffer hq 0.61, then 0.75 at 3,000); on grid25 c = 4 stayed flat (energy range 0.07 over the box, 0 modes
in the buffer after 3,000 updates) and with c = 10 the wells began to form (5 modes in the buffer at 1,500);
(4) on the toys `reinit` is 0.2, not 5%: with 5% the energy is shaped where the long-lived buffer chains
go, and fresh chains from noise, which at the sampler's low temperature follow the gradient into the well
whose basin they start in, emptied three of ring8's wells (5 of 8 modes after 1,000 steps) while the
buffer held all eight; with a fifth of each batch restarted from noise the energy is also trained along the
paths of fresh chains (towards Nijkamp et al. 2019's short-run chains from noise, which keep no buffer);
(5) on the toys the learning rate is 1e-3 (Du & Mordatch: 1e-4 on images): at c = 1, 1e-2 gave 3 of 8
fresh-chain modes on ring8 after 1,500 updates against 6 for 1e-3 (not retried with c = 4).

Samples for evaluation (`sample`, `metrics`, the pictures) are fresh chains from uniform noise over the box,
`sample_steps` steps (1,000 on the toys, 60 on digits), never the training buffer.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import backend, nn, optim
from minigen.data.toys import TOYS, ToyStream, toy_centres, toy_sample

from ..base import DIGITS_SHAPE, GenerativeModel
from ..gan.base import TOY_SCALE
from ..nets import mlp
from .langevin import ReplayBuffer, langevin

TOY_BOX = {"ring8": 2.0, "grid25": 2.0}  # half-width of the uniform restarts, in standardised units
TOY_INPUT_SCALE = {"ring8": 4.0, "grid25": 10.0}  # c in E(x) = f(c x): grid25's wells are closer (deviation 3)


class EBM(GenerativeModel):
    """E(x) by an MLP, trained by contrastive divergence with Langevin negatives and a replay buffer."""

    datasets = ("digits",) + TOYS
    binarize = None
    value_range = (0.0, 1.0)

    def __init__(self, data: str = "digits", lr: float = 1e-4, batch_size: int = 128, hidden=(256, 256),
                 langevin_steps: int = 60, step_size: float = 10.0, noise: float = 0.005, grad_clip: float = 0.01,
                 alpha: float = 1.0, buffer_size: int = 10000, reinit: float = 0.05, sample_steps: int = 200,
                 input_scale: float = 1.0):
        super().__init__(data, lr, batch_size)
        self.is_toy = data in TOYS
        self.event_shape = (2,) if self.is_toy else DIGITS_SHAPE
        self.langevin_steps, self.step_size, self.noise, self.grad_clip = langevin_steps, step_size, noise, grad_clip
        self.alpha, self.reinit, self.sample_steps, self.input_scale = alpha, reinit, sample_steps, input_scale
        dims = int(np.prod(self.event_shape))
        self.energy_net = mlp([dims, *hidden, 1], activation=nn.SiLU, flatten=not self.is_toy)
        self.low, self.high = (-TOY_BOX[data], TOY_BOX[data]) if self.is_toy else (0.0, 1.0)
        noise0 = np.random.default_rng(0).uniform(self.low, self.high, (buffer_size,) + self.event_shape)
        self.register_buffer("replay", mg.tensor(noise0.astype(np.float32)))

    @classmethod
    def default_config(cls, data: str) -> dict:
        if data == "digits":
            return {"lr": 1e-3, "batch_size": 128, "hidden": [256, 256], "langevin_steps": 30, "step_size": 10.0,
                    "noise": 0.005, "grad_clip": 0.01, "alpha": 1.0, "buffer_size": 10000, "reinit": 0.05,
                    "sample_steps": 60}
        return {"lr": 1e-3, "batch_size": 128, "hidden": [128, 128], "langevin_steps": 20, "step_size": 0.1,
                "noise": 0.005, "grad_clip": 1.0, "alpha": 0.1, "buffer_size": 10000, "reinit": 0.2,
                "sample_steps": 1000, "input_scale": TOY_INPUT_SCALE[data]}

    @property
    def buffer(self) -> ReplayBuffer:
        return ReplayBuffer(self.replay.data, self.low, self.high, self.reinit)

    # ---------------------------------------------------------------------------------------- data
    def split_arrays(self, split: str) -> tuple:
        """Toys: 2,500 fixed points per split (data units); digits: the gray levels (dequantized per step)."""
        if self.is_toy:
            pts = toy_sample(self.data_name, 2500, {"train": 10, "valid": 11, "test": 12}[split])
            return pts, np.zeros(len(pts), np.int64)
        return super().split_arrays(split)

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0,
               shuffle: bool = True, drop_last: bool = True):
        if self.is_toy and split == "train":
            return ToyStream(self.data_name, batch_size or self.batch_size, seed)
        return super().loader(split, batch_size, seed, shuffle, drop_last)

    def to_model(self, x: mg.Tensor) -> mg.Tensor:
        """Data -> the energy's space: toys divided by their sd; digit levels dequantized to (level + u) / 17."""
        if self.is_toy:
            return x * (1.0 / TOY_SCALE[self.data_name])
        u = backend.rng(self.device).random(x.shape).astype(np.float32)
        return (x + mg.tensor(u, device=x.device)) * (1.0 / 17.0)

    def from_model(self, x):
        """The energy's space -> data space (toys back in their units; digits stay in [0, 1])."""
        return x * TOY_SCALE[self.data_name] if self.is_toy else x

    # ------------------------------------------------------------------------------------ energy
    def energy(self, x: mg.Tensor) -> mg.Tensor:
        """E(x) = f(c x) per example (B,), x in the energy's space, c = input_scale."""
        if self.input_scale != 1.0:
            x = x * self.input_scale
        return self.energy_net(x).reshape(x.shape[0])

    def run_langevin(self, x, steps: int, rng=None, every: int | None = None):
        """Langevin from raw x with this model's step size, noise, clipping and box."""
        with mg.no_grad():
            return langevin(self.energy, x, steps, self.step_size, self.noise, self.grad_clip,
                            (self.low, self.high), rng, every)

    def negatives(self, n: int):
        """n negative samples: Langevin from the replay buffer (a share restarted from noise), pushed back."""
        buffer = self.buffer
        idx, starts = buffer.draw(n)
        x = self.run_langevin(starts, self.langevin_steps)
        buffer.push(idx, x)
        return mg.tensor(x, device=self.device)

    # ------------------------------------------------------------------------------------ training
    def configure_optimizers(self) -> list:
        return [optim.Adam(self.parameters(), lr=self.lr, betas=(0.0, 0.999))]

    def loss(self, batch) -> mg.Tensor:
        """mean E(x+) - mean E(x-) + alpha (mean E(x+)^2 + mean E(x-)^2)."""
        pos = self.to_model(batch[0] if isinstance(batch, (tuple, list)) else batch)
        neg = self.negatives(pos.shape[0])
        e_pos, e_neg = self.energy(pos), self.energy(neg)
        self._last = (e_pos.data.mean(), e_neg.data.mean())
        return e_pos.mean() - e_neg.mean() + self.alpha * ((e_pos * e_pos).mean() + (e_neg * e_neg).mean())

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        logs = super().train_step(batch, optimizers, step)
        logs["e_pos"], logs["e_neg"] = (float(v) for v in self._last)
        return logs

    # ------------------------------------------------------------------------------------ sampling
    def start(self, n: int, rng=None):
        return self.buffer.noise(n, rng)

    def sample(self, n: int, y=None, *, rng=None, steps: int | None = None) -> mg.Tensor:
        """n samples: `steps` (default sample_steps) Langevin steps from uniform noise, in data space."""
        self.labels(n, y)
        x = self.run_langevin(self.start(n, rng), self.sample_steps if steps is None else steps, rng)
        return mg.tensor(self.from_model(x).reshape((n,) + self.event_shape), device=self.device)

    def chain(self, n: int, steps: int, every: int = 1, rng=None) -> np.ndarray:
        """Snapshots of n chains from noise every `every` steps (data space): (steps // every + 1, n, ...)."""
        frames = self.run_langevin(self.start(n, rng), steps, rng, every)
        return np.stack([backend.to_device(self.from_model(f), "cpu") for f in frames])

    def sample_figure(self, path: str, n: int = 64) -> str:
        """Toys: 2,500 samples over the modes; digits: n samples beside as many test images."""
        from minigen import viz

        from ..evaluation.mode_coverage import TOY_SAMPLES

        with self.evaluating():
            if self.is_toy:
                points = self.sample(TOY_SAMPLES, rng=np.random.default_rng(0)).numpy()
                return viz.toy_figure(points, toy_centres(self.data_name), path,
                                      title=f"{self.name} on {self.data_name}")
            samples = self.sample(n, rng=np.random.default_rng(0)).numpy()
        real = self.split_arrays("test")[0][:n] / 16.0
        both = np.concatenate([samples, real.astype(np.float32)])
        return viz.save_image_grid(both, path, nrow=int(np.ceil(np.sqrt(n))), value_range=(0.0, 1.0))

    # ------------------------------------------------------------------------------------ metrics
    def metrics(self, split: str = "test") -> dict:
        """Toys: modes_*/hq_* (the GAN protocol, 5 seeds of 2,500 samples); digits: parzen_ll, fd_digits,
        score_digits (models/evaluation/gan_metrics.py) of samples in [0, 1]."""
        from ..evaluation.gan_metrics import digits_metrics, split_seeds
        from ..evaluation.mode_coverage import TOY_SEEDS, toy_metrics

        def sample(n, rng):
            with self.evaluating():
                return self.sample(n, rng=rng)

        if self.is_toy:
            return toy_metrics(sample, self.data_name, split_seeds(TOY_SEEDS, split))
        return digits_metrics(sample, split)
