"""Progressive GAN (Karras et al., 2018) on the digits: G and D grow from 2x2 through 4x4 to 8x8 (and 16x16 on
digits upsampled bilinearly, `--set resolution=16`), each new resolution faded in.

    G: z -> pixel norm -> EqLinear -> (C, 2, 2) -> LReLU, PN -> EqConv3x3 -> LReLU, PN          [2x2]
         -> per new resolution: upsample x2 -> (EqConv3x3 -> LReLU -> PN) x 2                   [4x4, 8x8]
         -> toRGB (EqConv1x1) at the current resolution
    D: fromRGB (EqConv1x1 -> LReLU) -> per resolution: (EqConv3x3 -> LReLU) x 2 -> avgpool2
         -> [minibatch stddev] -> EqConv3x3 -> LReLU -> EqLinear -> LReLU -> EqLinear (one score)  [2x2]
    fade-in of level l (alpha from 0 to 1 over its fade steps), real images blended the same way:
         G_l(z) = alpha toRGB_l(block_l(h)) + (1 - alpha) up(toRGB_{l-1}(h))
         D_l(x) = D_{<l}(alpha block_l(fromRGB_l(x)) + (1 - alpha) fromRGB_{l-1}(avgpool(x)))
    loss: WGAN-GP, L_D = D(G(z)) - D(x) + lambda (||grad D(x_hat)|| - 1)^2 + eps_drift D(x)^2,
          lambda = 10, eps_drift = 1e-3; L_G = -D(G(z)); Adam(beta1 = 0, beta2 = 0.99); per G update on a batch
          of 128, n_critic = 2 D updates, each on its own minibatch of 128 real images
    samples: the averaged generator G_bar <- beta G_bar + (1 - beta) G after every G update (beta = ema, 0.99;
          ema=0 samples from G itself)

The schedule is a function of the trainer's step alone (level 0 for stable_steps[0] steps, then per level a
fade of fade_steps[l - 1] steps and a stable phase; by default 400 each, as many images for the fade as for
the stable phase, as in the paper), so a resume is exact; after the last fade the final resolution trains
until the run ends. The layers (equalized learning rate, pixel norm, minibatch stddev,
fade) are in progan_layers.py. `fade=False` switches every new level on at once (alpha = 1) and
`minibatch_stddev=False` drops that feature map: the two ablations of the zoo.

Scores at each resolution: at the end of each lower level's stable phase the model records fd_digits and
score_digits of its samples at that resolution (nearest-upsampled to 8x8 for the digits classifier, against
the train split downsampled to the same resolution and upsampled back; the `_real` ceiling is the test
split treated the same way), and keeps 16 samples of that level (z from seed 0) for the per-resolution
picture (stage_samples); metrics() reports them as fd_digits_RxR, score_digits_RxR, and the final
resolution's as the usual fd_digits, score_digits, parzen_ll (16x16 samples average-pooled to 8x8).

Deviations, with reasons: the paper's rate 1e-3 for both networks collapsed the 4x4 stage in our runs (score
1.2-1.8 against 5.4 for real 4x4 digits, D scoring fakes above reals), with n_critic 3 as well, and again
with equal 400-step phases and the averaged generator (4x4 FD 68.9, score 1.07, although 2x2 was better:
FD 7.4; over the full 3,600 steps G at 1e-3 never recovered: 8x8 FD 321). With the two time-scale rule
(Heusel et al., 2017) D trains at 1e-3 and G at 5e-4: 3,600-step pilots gave 8x8 FD 6.72 with G at 2.5e-4,
5.54 at 5e-4, collapse at 1e-3. Digits are 8x8, so the paper's 4x4 start is 2x2 and the channel counts are
32 (2x2, 4x4), then halved per level (G 39k parameters, D 39k: DCGAN's are 42k and 34k); the paper's batch
sizes per resolution and its Adam resets are left out (a few thousand steps); its generator averaging uses
beta = 0.99 rather than 0.999, since our phases are 400 steps and not tens of thousands (0.999 would average
a level's samples over more steps than the level has; 0.995 gave 8x8 FD 5.37 against 5.54, within the
noise, and a worse 2x2 level). The paper trains with n_critic = 1 (as did this model until session 5, on
batches of 64); two critic updates per G update on batches of 128 gave 8x8 FD 3.85 against 5.54 after 3,600 steps (seed 0), every
level better (2x2 6.3 against 28.7, 4x4 4.8 against 12.7), and 2.67 with that run resumed to 4,800 steps
(3,200 stable at 8x8; session 5's zoo length). Resumed further (session 6, seed 0, the averaged G):
2.37 / 2.19 / 2.32 / 2.22 after 5,600 / 6,200 / 6,800 / 7,400 steps, a plateau from about 6,000 on, so the
zoo's `progan` ran 6,200 steps (4,600 stable at 8x8) until session 9 (now `progan@6200` in bench/zoo.py). These pilots ran before backend.fork_rng
kept a live generator's state (3808569): the stage-end scores then moved the run's noise, so they compare with
each other but are not what the same commands give today. Averages kept alongside
from step 5,000 with beta 0.995 and 0.999 scored 2.15 and 2.39 at 6,200 (2.23 and 2.29 at 7,400): no gain
over 0.99 beyond the noise. Session 8, on seed 3 (no record's; bench/progan_length.py --fresh 3): averages with
their own beta from the 8x8 fade on scored 2.13 / 2.14 / 2.19 / 2.31 / 4.79 at 6,200 steps for beta 0.99 / 0.995 /
0.998 / 0.999 / 0.9995 (G was still improving, so a slower average lags behind it), so 0.99 stays; the FD of that
run kept falling with the length (2.13 at 6,200 steps, 1.99 at 7,400, 1.85 at 8,000), so the zoo's
`progan` runs the recipe to 8,000 steps (first recorded as `progan@long8000`; the main key since session 9). It costs about 4 times the real images per step, so D sees far more real digits
than DCGAN's (the README's issue-19 section counts them).
The minibatch stddev is taken over the whole minibatch as in the paper's text
(`mbstd_group=0`); `mbstd_group=4` takes it in groups of 4 as in the paper's code (8x8 FD 6.58 against 6.72
with G at 2.5e-4: no difference beyond the noise).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn, optim

from ..evaluation import digits_classifier
from ..evaluation.classifier_score import inception_score
from ..evaluation.frechet import frechet_distance
from ..evaluation.gan_metrics import SCORE_SAMPLES, SCORE_SEEDS, digits01, digits_metrics
from .base import GANModel
from .losses import gradient_penalty
from .progan_layers import EqualizedConv2d, EqualizedLinear, MinibatchStddev, PixelNorm, fade

RESOLUTIONS = (8, 16)
LEVEL_PICTURE = 16  # samples kept at the end of each lower level


def _lrelu():
    return nn.LeakyReLU(0.2)


def level_channels(channels: int, levels: int) -> list:
    """Channels per level: `channels` at 2x2 and 4x4, then halved per level (at least 8)."""
    return [max(channels >> max(0, k - 1), 8) for k in range(levels)]


class ProGenerator(nn.Module):
    def __init__(self, z_dim: int, chans: list):
        super().__init__()
        c0 = chans[0]
        self.c0 = c0
        self.head = EqualizedLinear(z_dim, c0 * 4, gain=math.sqrt(2) / 4)
        self.head_conv = nn.Sequential(_lrelu(), PixelNorm(), EqualizedConv2d(c0, c0, 3), _lrelu(), PixelNorm())
        self.blocks = nn.ModuleList([nn.Sequential(EqualizedConv2d(a, b, 3), _lrelu(), PixelNorm(),
                                                   EqualizedConv2d(b, b, 3), _lrelu(), PixelNorm())
                                     for a, b in zip(chans, chans[1:])])
        self.to_rgb = nn.ModuleList([EqualizedConv2d(c, 1, 1, gain=1.0) for c in chans])
        self.norm = PixelNorm()

    def forward(self, z, level: int, alpha: float = 1.0):
        """G at level `level` (resolution 2^(level + 1)), the newest level faded in with weight alpha."""
        h = self.head(self.norm(z.reshape(z.shape[0], z.shape[1], 1, 1)).reshape(z.shape[0], -1))
        h = self.head_conv(h.reshape(z.shape[0], self.c0, 2, 2))
        prev = h
        for k in range(level):
            prev = h
            h = self.blocks[k](F.upsample_nearest(h, 2))
        out = self.to_rgb[level](h)
        if level > 0 and alpha < 1.0:
            out = fade(out, F.upsample_nearest(self.to_rgb[level - 1](prev), 2), alpha)
        return out


class ProDiscriminator(nn.Module):
    def __init__(self, chans: list, minibatch_stddev: bool = True, mbstd_group: int = 0):
        super().__init__()
        c0 = chans[0]
        self.from_rgb = nn.ModuleList([nn.Sequential(EqualizedConv2d(1, c, 1), _lrelu()) for c in chans])
        self.blocks = nn.ModuleList([nn.Sequential(EqualizedConv2d(b, b, 3), _lrelu(), EqualizedConv2d(b, a, 3),
                                                   _lrelu()) for a, b in zip(chans, chans[1:])])
        stddev = MinibatchStddev(group_size=mbstd_group or None)
        self.final = nn.Sequential(*([stddev] if minibatch_stddev else []),
                                   EqualizedConv2d(c0 + int(minibatch_stddev), c0, 3), _lrelu(), nn.Flatten(),
                                   EqualizedLinear(c0 * 4, c0), _lrelu(), EqualizedLinear(c0, 1, gain=1.0))

    def forward(self, x, level: int, alpha: float = 1.0):
        h = self.from_rgb[level](x)
        for k in range(level, 0, -1):
            h = F.avg_pool2d(self.blocks[k - 1](h), 2)
            if k == level and alpha < 1.0:
                h = fade(h, self.from_rgb[level - 1](F.avg_pool2d(x, 2)), alpha)
        return self.final(h).reshape(x.shape[0])


def downsample(x: np.ndarray, factor: int) -> np.ndarray:
    """Average pooling of (N, C, H, W) images by `factor` (the resolution of a lower level)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // factor, factor, w // factor, factor).mean(axis=(3, 5))


def upsample_bilinear2(x: np.ndarray) -> np.ndarray:
    """(N, C, H, W) -> (N, C, 2H, 2W), bilinear with half-pixel centres (align_corners=False), edges clamped."""
    def along(a: np.ndarray, axis: int) -> np.ndarray:
        size = a.shape[axis]
        pos = (np.arange(2 * size) + 0.5) / 2 - 0.5
        floor = np.floor(pos).astype(int)
        lo, hi, t = np.clip(floor, 0, size - 1), np.clip(floor + 1, 0, size - 1), pos - floor
        shape = [1] * a.ndim
        shape[axis] = -1
        t = t.reshape(shape)
        return np.take(a, lo, axis=axis) * (1 - t) + np.take(a, hi, axis=axis) * t
    return along(along(x, 2), 3).astype(x.dtype)


def to_eight(images: np.ndarray) -> np.ndarray:
    """Images of any level's resolution as 8x8 for the digits classifier: nearest upsampling below 8x8,
    average pooling above."""
    r = images.shape[-1]
    if r < 8:
        return np.repeat(np.repeat(images, 8 // r, axis=2), 8 // r, axis=3)
    return downsample(images, r // 8) if r > 8 else images


class ProGAN(GANModel):
    """Progressive GAN on 8x8 digits (or bilinearly upsampled 16x16 ones), WGAN-GP loss."""

    datasets = ("digits",)
    loss_kind = "wasserstein"

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 5e-4, "d_lr": 1e-3, "batch_size": 128, "z_dim": 32, "channels": 32, "resolution": 8,
                "stable_steps": [400, 400], "fade_steps": [400, 400], "gp_weight": 10.0, "drift": 1e-3, "fade": True,
                "minibatch_stddev": True, "mbstd_group": 0, "n_critic": 2, "ema": 0.99}

    def __init__(self, data: str = "digits", lr: float = 5e-4, d_lr: float = 1e-3, batch_size: int = 128,
                 z_dim: int = 32, channels: int = 32, resolution: int = 8, stable_steps=(400, 400),
                 fade_steps=(400, 400),
                 gp_weight: float = 10.0, drift: float = 1e-3, fade: bool = True, minibatch_stddev: bool = True,
                 mbstd_group: int = 0, n_critic: int = 2, ema: float = 0.99):
        super().__init__(data, lr, batch_size, n_critic=n_critic, loss="wasserstein")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"{self.name}: ema must be in [0, 1) (0: no averaged generator), got {ema}")
        if resolution not in RESOLUTIONS:
            raise ValueError(f"{self.name}: resolution must be one of {RESOLUTIONS}, got {resolution}")
        self.resolution, self.z_dim, self.d_lr = resolution, z_dim, d_lr
        self.levels = int(math.log2(resolution))  # 2x2 ... resolution
        self.stable_steps = self._per_level(stable_steps, "stable_steps")
        self.fade_steps = self._per_level(fade_steps, "fade_steps")
        self.gp_weight, self.drift, self.use_fade = gp_weight, drift, fade
        chans = level_channels(channels, self.levels)
        self.generator = ProGenerator(z_dim, chans)
        self.discriminator = ProDiscriminator(chans, minibatch_stddev, mbstd_group)
        self.ema = ema
        if ema > 0:  # the averaged generator G_bar that samples; never trained, so no gradients
            self.generator_ema = ProGenerator(z_dim, chans)
            self.generator_ema.load_state_dict(self.generator.state_dict())
            for p in self.generator_ema.parameters():
                p.requires_grad = False
        # (level, alpha) the networks stand at, and the scores recorded at the end of each lower level
        self.register_buffer("grown", mg.tensor(np.array([0.0, 1.0], np.float32)))
        self.register_buffer("stage_scores", mg.tensor(np.full((self.levels - 1, 2), np.nan, np.float32)))
        # and LEVEL_PICTURE samples of each lower level then (z from seed 0), for the per-resolution picture
        self.register_buffer("stage_samples", mg.tensor(np.full(
            (self.levels - 1, LEVEL_PICTURE, 1, resolution, resolution), np.nan, np.float32)))

    def _per_level(self, value, what: str) -> list:
        """One step count per transition (levels - 1 of them): a number repeated, or a list of that length."""
        values = [value] * (self.levels - 1) if isinstance(value, (int, np.integer)) else list(value)
        if len(values) != self.levels - 1 or any(int(v) < 0 for v in values):
            raise ValueError(f"{self.name}: {what} must be a step count or {self.levels - 1} counts (one per "
                             f"level below {self.resolution}x{self.resolution}), got {value!r}")
        return [int(v) for v in values]

    @property
    def event_shape(self) -> tuple:
        return (1, self.resolution, self.resolution)

    # -------------------------------------------------------------------------------------- schedule
    def phase(self, step: int) -> tuple[int, float]:
        """(level, alpha) of update number `step`: level 0 for stable_steps[0], then for each next level a
        fade (alpha = (t + 1) / fade_steps) and a stable phase; the last level stays."""
        t = step
        for level in range(self.levels):
            if level > 0:
                n = self.fade_steps[level - 1]
                if t < n:
                    return level, ((t + 1) / n) if self.use_fade else 1.0
                t -= n
            if level == self.levels - 1 or t < self.stable_steps[level]:
                return level, 1.0
            t -= self.stable_steps[level]
        raise AssertionError("unreachable")

    def stage_end(self, level: int) -> int:
        """The number of updates after which level `level` (< last) has finished its stable phase."""
        return sum(self.stable_steps[:level + 1]) + sum(self.fade_steps[:level])

    @property
    def level(self) -> int:
        return int(self.grown.numpy()[0])

    @property
    def alpha(self) -> float:
        return float(self.grown.numpy()[1])

    # ------------------------------------------------------------------------------------ the model
    def split_arrays(self, split: str) -> tuple:
        """Digits in [0, 1]; at resolution 16 upsampled bilinearly to 16x16."""
        images, labels = super().split_arrays(split)
        return (upsample_bilinear2(images) if self.resolution == 16 else images), labels

    def to_model(self, x):
        return x * 2 - 1

    def from_model(self, out):
        return (out + 1) * 0.5

    def generate(self, z, y=None, level: int | None = None, alpha: float | None = None, averaged: bool = False):
        """G(z) in [0, 1] pixel space at `level` (default: where training stands), at that level's resolution;
        `averaged`: the EMA generator G_bar when the model keeps one (sampling), else the trained G."""
        level = self.level if level is None else level
        net = self.generator_ema if averaged and self.ema > 0 else self.generator
        return self.from_model(net(z, level, self.alpha if alpha is None else alpha))

    def critic(self, x, y=None):
        return self.discriminator(self.to_model(x), self.level, self.alpha)

    def real_at_level(self, x: mg.Tensor) -> mg.Tensor:
        """Real images at the current level's resolution, blended with the previous level's during a fade."""
        factor = self.resolution >> (self.level + 1)
        low = F.avg_pool2d(x, factor) if factor > 1 else x
        if self.level == 0 or self.alpha >= 1.0:
            return low
        old = F.upsample_nearest(F.avg_pool2d(low, 2), 2)
        return fade(low, old, self.alpha)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None, level: int | None = None):
        """n samples at full resolution: G at `level` (default: the current one) upsampled (nearest)."""
        self.labels(n, y)
        level = self.level if level is None else level
        with self.evaluating():
            out = self.generate(self.noise(n, rng), level=level, alpha=self.alpha if level == self.level else 1.0,
                                averaged=True)
            factor = self.resolution >> (level + 1)
            return F.upsample_nearest(out, factor) if factor > 1 else out

    # ------------------------------------------------------------------------------------- training
    def configure_optimizers(self) -> list:
        betas = (0.0, 0.99)
        return [optim.Adam(self.generator_parameters(), lr=self.lr, betas=betas),
                optim.Adam(self.discriminator_parameters(), lr=self.d_lr, betas=betas)]

    def extra_d_loss(self, real, fake, y, z):
        gp = gradient_penalty(lambda x: self.critic(x), real, fake, self.gp_weight)
        drift = self.drift * (self.critic(real) ** 2).mean()
        return gp + drift, {"gp": gp.item()}

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """Set (level, alpha) from the step, update D and G on real images at that resolution; record the
        level's scores when its stable phase ends."""
        level, alpha = self.phase(step)
        self.grown.data[0], self.grown.data[1] = level, alpha  # item by item: a device array takes no tuple
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        logs = super().train_step(self.real_at_level(x), optimizers, step)
        if self.ema > 0:
            self.update_average()
        logs.update(level=float(level), alpha=float(alpha))
        if level < self.levels - 1 and step + 1 == self.stage_end(level):
            fd, score = self.level_scores(level)
            self.stage_scores.data[level, 0], self.stage_scores.data[level, 1] = fd, score
            self.stage_samples.data[level] = self.sample(LEVEL_PICTURE, rng=np.random.default_rng(0), level=level).data
        return logs

    def update_average(self) -> None:
        """G_bar <- beta G_bar + (1 - beta) G for every parameter (beta = ema), after each generator update."""
        for avg, p in zip(self.generator_ema.parameters(), self.generator.parameters()):
            avg.data = avg.data * self.ema + p.data * (1.0 - self.ema)

    # ----------------------------------------------------------------------------------- evaluation
    def level_size(self, level: int) -> int:
        return 2 ** (level + 1)

    def real_scores(self, level: int, split: str = "test") -> tuple[float, float, np.ndarray]:
        """(fd ceiling, score ceiling, reference features) at a level's resolution: train and `split` digits
        downsampled to it and brought to 8x8 as the samples are."""
        factor = 8 // self.level_size(level)
        ref = digits_classifier.features_and_probs(to_eight(downsample(digits01("train"), factor)))[0]
        feats, probs = digits_classifier.features_and_probs(to_eight(downsample(digits01(split), factor)))
        return frechet_distance(ref, feats), inception_score(probs), ref

    def level_scores(self, level: int) -> tuple[float, float]:
        """fd_digits and score_digits of samples at `level` (below 8x8), means over the evaluation seeds."""
        *_, ref = self.real_scores(level)
        fds, scores = [], []
        for seed in SCORE_SEEDS:
            images = self.sample(SCORE_SAMPLES, rng=np.random.default_rng(seed), level=level).numpy()
            feats, probs = digits_classifier.features_and_probs(
                to_eight(downsample(images, self.resolution // self.level_size(level))))
            fds.append(frechet_distance(ref, feats))
            scores.append(inception_score(probs))
        return float(np.mean(fds)), float(np.mean(scores))

    def metrics(self, split: str = "test") -> dict:
        """parzen_ll, fd_digits, score_digits at the final resolution (on 8x8 images), and fd_digits_RxR,
        score_digits_RxR (with their _real ceilings) recorded at the end of each lower resolution."""
        out = digits_metrics(lambda n, rng: to_eight(self.sample(n, rng=rng).numpy()), split)
        for level, (fd, score) in enumerate(self.stage_scores.numpy()):
            if not np.isfinite(fd):
                continue
            r = self.level_size(level)
            fd_real, score_real, _ = self.real_scores(level, split)
            out.update({f"fd_digits_{r}x{r}": float(fd), f"score_digits_{r}x{r}": float(score),
                        f"fd_digits_{r}x{r}_real": fd_real, f"score_digits_{r}x{r}_real": score_real})
        out["final_level"] = float(self.level)
        return out
