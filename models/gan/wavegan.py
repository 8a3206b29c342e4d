"""WaveGAN (Donahue, McAuley & Puckette, 2019): DCGAN flattened to one dimension for raw audio, trained with
WGAN-GP, on the tones data set.

Generator: z -> Linear -> (16, 2^(U-1) 4d) -> U transposed convolutions (kernel 25, stride 4, each
multiplying the length by 4; ReLU between, tanh at the end) -> a clip of 16 4^U samples in [-1, 1].
Discriminator: U convolutions (kernel 25, stride 4, LeakyReLU(0.2)), each but the last followed by phase
shuffle (as in the paper's table of layers), then a linear critic on the flattened features. Phase shuffle
shifts every example's feature map by its own n ~ U{-r, ..., r} samples (reflection at the edges), so the
critic cannot key on the periodic artifacts of transposed convolutions:

    shuffle(h)[:, :, t] = h[:, :, reflect(t - n)]

Training is WGAN-GP's (models/gan/wgan.py, whose penalty and optimizers this reuses):

    L_D = E f(G(z)) - E f(x) + lambda E (||grad f(x_hat)||_2 - 1)^2,   L_G = -E f(G(z)),
    n_critic = 5, lambda = 10, Adam(1e-4, betas (0.5, 0.9)), batch 64, d = model size

With `class_conditional` (the paper's models are unconditional; the option is the issue's), G receives an
embedding of the class added to z's projection and the critic adds the projection term
<embed(y), phi(x)> (Miyato & Koyama, 2018) to its output.

`upsample="nearest"` replaces each transposed convolution by nearest-neighbour upsampling x4 and a
length-25 convolution (Odena et al., 2016, "Deconvolution and checkerboard artifacts"), the paper's
discussion of the transposed convolutions' periodic artifacts; on the tones it lowered the spectral distance
but also the score in 600-step pilots (README), so the default stays the paper's transposed convolution.

`post_filter=512` appends the paper's learned post-processing filter (its section on artifacts): one 1-D
convolution of 512 taps, no bias, "same" padding, over G's output after the tanh, trained with G, so that G
can learn to filter out the frequencies where its noise lies (the output is then not bounded to [-1, 1]).
On the tones (2,000-step validation pilots, README) it lowered the samples' noise floor (floor_db of
bench/wavegan_valid.py) by about 2 dB and the spectral distance by about 2 dB.

`ema=beta` samples from the exponential moving average of the weights, theta_bar <- beta theta_bar +
(1 - beta) theta after every step (Yazici et al., 2019, "The unusual effectiveness of averaging in GAN
training"; not in the paper): averaging cancels part of the step-to-step jitter of G, which at lr 1e-3 adds
to the noise floor that limits score_tones (README). With the filter, EMA 0.999 scored best on validation
from 2,000 steps on (3.59 against G's 2.59 after 8,000 steps), so the zoo run uses both.

`mu_law=True` plays the whole game (critic, penalty, generator) on mu-law companded clips,
y = sign(x) ln(1 + 255 |x|) / ln(256), and expands G's output back when sampling: in that space a quiet
noise floor is large, so the critic should see it. Not in the paper (which works on linear PCM); in a
2,000-step validation pilot it did not lower the floor (-36.0 dB against -35.6 dB) and scored lower (1.71
against 1.79), so it is off.

`aux_weight=lambda` (needs class_conditional) adds the auxiliary classifier of AC-GAN (Odena, Olah & Shlens,
2017) to the critic: a linear head over the critic's features phi(x) gives class logits D_cls(x), trained on
real clips and used by G, as in StarGAN's WGAN-GP form (Choi et al., 2018):

    L_D = (WGAN-GP's L_D) + lambda E_{x,y} -log D_cls(y | x),     L_G = -E f(G(z, y)) + lambda E_{z,y} -log D_cls(y | G(z, y))

(AC-GAN also trains D_cls on generated clips; StarGAN's real-only form keeps D_cls an honest classifier of real
audio, so G cannot pass it with clips that are merely easy to classify.) Not in the paper (unconditional).
Reason: with the projection term alone, the recorded 8,000-step run never generated two classes, note-high
and chirp-up (their clips read as note-mid, whose first 128 ms they resemble: a chirp-up starts as a ~300-400
Hz tone). The projection term only scores how well (x, y) matches as a pair inside the Wasserstein game;
the classifier term penalises G directly whenever its clip for y is read as another class.
D_cls reads the phi(x) of the critic's forward on the same clips (one network with two heads, as in AC-GAN;
the same phase-shuffle draw), so the classifier costs no second pass of the convolutions: 7 passes per
training step at n_critic 2 instead of 12 (session 7; session 6's runs computed phi(x) anew for D_cls, with
its own phase shuffle, so their random draws differ; `share_features=False` is that form, which their
recorded commands name). Without aux_weight nothing changes.

`aux_fake=True` (with aux_weight) gives D_cls a K+1-th class, "generated", trained on G's clips (the
semi-supervised discriminator of Salimans et al., 2016, used as the auxiliary classifier):

    L_D += lambda E_z -log D_cls(K | G(z, y)),   the softmax now over K + 1 classes (G's loss unchanged)

Reason: the recorded aux_weight run's D_cls named the class of all its clips as asked while the tones
classifier read chirp-up and vowel-a as other classes: a D_cls trained on real clips only can be passed by
features no real clip has. With the extra class, passing D_cls means looking real to it as well. In a
validation pilot (README) G scored 3.80 after 2,000 steps against 2.28 without it, and EMA 0.999 4.79 after 6,000;
with the shared features (session 7) EMA 0.999 reached 6.02 after 12,000 steps, the zoo run's length (slower
averages, 0.9995 and 0.9998, scored lower; that pilot does not reproduce from 2,000 steps on today's code, README).

`decay_start=s` keeps both rates for the first s T of a run of T steps, then takes them linearly to 0 at T
(base.linear_tail, CycleGAN's schedule; not in the paper, which keeps Adam's rate constant):

    lr_t = lr min(1, (T - t) / (T - s T))

Reason: at a constant lr 1e-3 G's output for a class hops between modes every ~1,000 steps (session 7's
pilots), so which classes a run's last checkpoint lacks differs by seed (the recorded seeds 0-2 each missed
another one). Lowering the rate late should let G stop hopping while the EMA catches where it stopped.
Session 8's paired validation pilots (the zoo recipe, 12,000 steps, EMA 0.999, decay_start 0.5: the same run
as the recipe's up to 6,000 steps, then with and without the decay; bench/wavegan_valid.py, on seed 1 with
--fork-at 6000) did not show it: score_tones
6.08 / 5.65 against 6.38 / 5.38 at constant rates on training seeds 0 / 1 (means 5.87 against 5.88). The
decay kept more classes (own class 0.97 / 0.80 against 0.82 / 0.81) but the score did not rise, its clips'
spectra moved away from the real ones (spectral distance 25-27 dB against 22-23), and seed 1's chirp-down
never appeared either way.
So it is off by default and in the zoo.

`minibatch_std=G` gives the critic ProGAN's minibatch standard deviation (Karras et al., 2018; progan_layers.py's
MinibatchStddev, reused) as one more input channel of its last convolution: over groups of G clips (clip n in
group n mod N/G), s = mean_{c,t} sqrt(Var_group[h_{c,t}] + 1e-8), repeated along t. Not in the paper. Reason
(session 9's diagnosis at 4,000 steps of the recipe on training seed 1): G's clips barely depend on z (the spread
over z of a class's waveforms, std / rms, is 0.04-0.20 against 0.8-0.9 for real clips), least for chirp-down,
whose clips are one falling ~1.9 -> 1.6 kHz line (the real pitch track) in broadband noise, read as snare by the
tones classifier and as "generated" by D_cls; a critic that sees a batch statistic can tell a collapsed batch
from a real one. In the validation pilot (group 4, training seed 1, 12,000 steps) G then learned chirp-down
(own class 0.52-0.84 from 7,000 steps on, never in the recipe's run) and EMA 0.999 read 6.73 at 8,000 steps,
but lost note-low and most of note-high again by 12,000 and read 5.30 there, against the recipe's 5.38.
(Seed 0, piloted after that: 6.42 at 8,000 steps against the recipe's 5.66, 6.35 at 12,000 against 6.38.) Over
training seeds 0 and 1 it read 6.58 at 8,000 steps (the old recipe 5.34 there), so since session 9 the zoo recipe
is the old one plus minibatch_std=4, stopped at 8,000 steps (chosen after looking at every validation checkpoint;
the README's issue-14 section has the test records). Off by default (the paper has none).

`aux_g_weight=lambda_G` weighs G's classifier term alone, L_G = -E f(G(z, y)) + lambda_G E -log D_cls(y | G(z, y)),
D's stays aux_weight (default: lambda_G = aux_weight). Not in AC-GAN (one weight). Reason: session 8's aux_weight
10 on both heads taught training seed 1 chirp-down but cost seed 0 it; a stronger pull on G alone keeps D_cls as
trained in the recipe. Session 9's pilot (lambda_G 10, seed 1) learned chirp-down from 6,000 steps on but read
5.83 at 12,000 (recipe 5.38), without note-low and note-high, which the recipe's run has there: off.

Deviations, with their reasons: U = 3 upsampling layers (1,024 samples, 128 ms at 8 kHz) and d = 16 instead of
5 layers (16,384 samples) and d = 64, to train on a CPU in minutes; the transposed convolutions run as
ConvTranspose2d on (N, C, 1, L) (minigen has no ConvTranspose1d; the same operator); z ~ N(0, I) (the GAN
base's noise) instead of U[-1, 1]; the model trains on the first 1,024 samples of each clip (onsets and
attacks stay where the tones classifier expects them).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn, optim

from minigen.data import mu_law_compress, mu_law_expand

from ..audio import AudioModel
from .base import GANModel, linear_tail
from .progan_layers import MinibatchStddev
from .wgan import WGANGP

KERNEL, STRIDE, START = 25, 4, 16
SHARED = 3  # forwards whose phi(x) D_cls may reuse: real, fake and the penalty's x_hat of one critic step
UPSAMPLE = ("transpose", "nearest")


def reflect(index: np.ndarray, length: int) -> np.ndarray:
    """Indices reflected into 0..length-1 (-1 -> 1, length -> length - 2), for shifts shorter than length."""
    index = np.abs(index)
    return np.where(index >= length, 2 * (length - 1) - index, index)


def reflect_pad(h: mg.Tensor, radius: int) -> mg.Tensor:
    """h (B, C, L) padded by `radius` reflected samples on each side (radius < L), with one concatenation of
    slices (whose backward is cheap, unlike a gather's scatter-add): out[:, :, radius + t] = h[:, :, reflect(t)]."""
    length = h.shape[2]
    left = [h[:, :, k:k + 1] for k in range(radius, 0, -1)]
    right = [h[:, :, k:k + 1] for k in range(length - 2, length - 2 - radius, -1)]
    return mg.cat(left + [h] + right, axis=2)


def phase_shuffle(h: mg.Tensor, radius: int, rng: np.random.Generator) -> mg.Tensor:
    """Each example of h (B, C, L) shifted by its own n ~ U{-radius..radius}, reflected at the edges: the sum
    over shifts n of (the padded h's window starting at radius - n) * (mask of the examples shifted by n)."""
    if radius == 0:
        return h
    b, length = h.shape[0], h.shape[2]
    shifts = rng.integers(-radius, radius + 1, b)
    padded = reflect_pad(h, radius)
    out = None
    for n in range(-radius, radius + 1):
        chosen = shifts == n
        if not chosen.any():
            continue
        window = padded[:, :, radius - n:radius - n + length]
        term = window if chosen.all() else window * mg.tensor(chosen.astype(h.dtype).reshape(b, 1, 1),
                                                              device=h.device)
        out = term if out is None else out + term
    return out


class WaveGANGenerator(nn.Module):
    """z (+ embed(y)) -> Linear -> (widths[0], 16) -> U upsampling layers, each x4 in length (transposed
    convolutions 1 x 25 stride 4, or nearest-neighbour x4 then a length-25 convolution) -> tanh."""

    def __init__(self, z_dim: int, widths: list[int], num_classes: int | None, upsample: str = "transpose",
                 post_filter: int = 0):
        super().__init__()
        if upsample not in UPSAMPLE:
            raise ValueError(f"wavegan: upsample must be one of {UPSAMPLE}, got {upsample!r}")
        if post_filter < 0 or post_filter % 2:
            raise ValueError(f"wavegan: post_filter must be an even number of taps (0: none), got {post_filter}")
        self.widths, self.upsample = widths, upsample
        self.project = nn.Linear(z_dim, START * widths[0])
        if upsample == "transpose":
            layers = [nn.ConvTranspose2d(i, o, (1, KERNEL), stride=(1, STRIDE), padding=(0, KERNEL // 2 - 1),
                                         output_padding=(0, 1)) for i, o in zip(widths[:-1], widths[1:])]
        else:
            layers = [nn.Conv1d(i, o, KERNEL, padding=KERNEL // 2) for i, o in zip(widths[:-1], widths[1:])]
        self.up = nn.ModuleList(layers)
        self.embed = nn.Embedding(num_classes, START * widths[0]) if num_classes else None
        # the paper's learned post-processing filter: one filter of post_filter taps, no bias, "same" padding
        self.post = nn.Conv1d(1, 1, post_filter, padding=post_filter // 2, bias=False) if post_filter else None

    def forward(self, z: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        h = self.project(z)
        if self.embed is not None:
            h = h + self.embed(y)
        h = h.reshape(z.shape[0], self.widths[0], 1, START).relu()
        if self.upsample == "nearest":
            h = h.reshape(z.shape[0], self.widths[0], START)
        for k, layer in enumerate(self.up):
            h = layer(h) if self.upsample == "transpose" else layer(F.upsample_nearest(h, STRIDE))
            h = h.tanh() if k == len(self.up) - 1 else h.relu()
        h = h.reshape(z.shape[0], 1, -1)
        if self.post is not None:  # an even filter padded by taps/2 on each side gives length + 1: drop the last
            h = self.post(h)[:, :, :-1]
        return h


class PhaseShuffleCritic(nn.Module):
    """Convolutions (25, stride 4) with LeakyReLU(0.2) and phase shuffle (training only), then a linear score
    (+ the projection term <embed(y), phi(x)> when conditional)."""

    def __init__(self, widths: list[int], radius: int, num_classes: int | None, classify: int = 0,
                 share: bool = True, minibatch_std: int = 0):
        super().__init__()
        self.radius, self.share = radius, share
        # ProGAN's minibatch stddev (progan_layers.py's, reused) as one more input channel of the last convolution
        self.stddev = MinibatchStddev(group_size=minibatch_std) if minibatch_std else None
        ins = widths[:-1] if not minibatch_std else widths[:-2] + [widths[-2] + 1]
        self.down = nn.ModuleList([nn.Conv1d(i, o, KERNEL, stride=STRIDE, padding=KERNEL // 2 - 1)
                                   for i, o in zip(ins, widths[1:])])
        self.score = nn.Linear(START * widths[-1], 1)
        self.embed = nn.Embedding(num_classes, START * widths[-1]) if num_classes else None
        # AC-GAN's auxiliary classifier D_cls: class logits from the same features phi(x)
        # (classify = the number of its classes: the data's, plus "generated" with aux_fake)
        self.classify = nn.Linear(START * widths[-1], classify) if classify and num_classes else None
        self._shared: list = []  # with D_cls: (x, phi(x)) of the last few forwards, for class_logits to reuse

    def features(self, x: mg.Tensor) -> mg.Tensor:
        """phi(x), (B, START * widths[-1]): the convolutions' output, flattened."""
        h = x
        for k, layer in enumerate(self.down):
            if self.stddev is not None and k == len(self.down) - 1:  # (B, C, L) -> (B, C + 1, L)
                b, c, length = h.shape
                h = self.stddev(h.reshape(b, c, 1, length)).reshape(b, c + 1, length)
            h = F.leaky_relu(layer(h), 0.2)
            if self.training and k < len(self.down) - 1:  # the paper shuffles after every convolution but the last
                h = phase_shuffle(h, self.radius, backend.rng("cpu"))
        return h.reshape(x.shape[0], -1)

    def class_logits(self, x: mg.Tensor) -> mg.Tensor:
        """D_cls(x): the auxiliary classifier's logits (B, classes), over the phi(x) of a recent forward on the
        same tensor x when there is one (one network, two heads, as AC-GAN's), else over a new phi(x)."""
        phi = next((f for seen, f in self._shared if seen is x), None)
        return self.classify(self.features(x) if phi is None else phi)

    def forward(self, x: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        phi = self.features(x)
        if self.classify is not None and self.share:  # kept for class_logits on the same clips (real, fake; x_hat in between)
            self._shared = [(x, phi)] + self._shared[:SHARED - 1]
        out = self.score(phi).reshape(x.shape[0])
        return out if self.embed is None else out + (self.embed(y) * phi).sum(axis=1)


class WaveGAN(AudioModel, GANModel):
    """1-D DCGAN generator and phase-shuffling critic on tones clips, WGAN-GP."""

    loss_kind = "wasserstein"
    random_offset = False
    configure_optimizers = WGANGP.configure_optimizers

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-4, "batch_size": 64, "z_dim": 100, "model_size": 16, "upsamplings": 3,
                "phase_shuffle": 2, "n_critic": 5, "gp_weight": 10.0, "class_conditional": True,
                "decay_steps": 0, "upsample": "transpose", "post_filter": 0, "ema": 0.0, "mu_law": False,
                "aux_weight": 0.0, "aux_fake": False, "share_features": True, "decay_start": None,
                "minibatch_std": 0, "aux_g_weight": None}

    def __init__(self, data: str = "tones", lr: float = 1e-4, batch_size: int = 64, z_dim: int = 100,
                 model_size: int = 16, upsamplings: int = 3, phase_shuffle: int = 2, n_critic: int = 5,
                 gp_weight: float = 10.0, class_conditional: bool = True, decay_steps: int | None = 0,
                 upsample: str = "transpose", post_filter: int = 0, ema: float = 0.0, mu_law: bool = False,
                 aux_weight: float = 0.0, aux_fake: bool = False, share_features: bool = True,
                 decay_start: float | None = None, minibatch_std: int = 0,
                 aux_g_weight: float | None = None):
        super().__init__(data, lr, batch_size, n_critic=n_critic, loss="wasserstein", decay_steps=decay_steps)
        if upsamplings < 1:
            raise ValueError(f"wavegan: upsamplings must be >= 1, got {upsamplings}")
        if not 0.0 <= ema < 1.0:
            raise ValueError(f"wavegan: ema must be in [0, 1) (0: sample from the trained weights), got {ema}")
        if aux_weight < 0 or (aux_weight and not class_conditional):
            raise ValueError(f"wavegan: aux_weight must be >= 0 and needs class_conditional, got {aux_weight}")
        if decay_start is not None and (not 0.0 <= decay_start < 1.0 or decay_steps != 0):
            raise ValueError(f"wavegan: decay_start must be None or a fraction of the run in [0, 1), and not "
                             f"with decay_steps; got {decay_start} (decay_steps {decay_steps})")
        self.decay_start = decay_start
        if minibatch_std < 0 or minibatch_std == 1:
            raise ValueError(f"wavegan: minibatch_std must be 0 (off) or a group size >= 2, got {minibatch_std}")
        self.conditional, self.ema, self.mu_law = bool(class_conditional), float(ema), bool(mu_law)
        if aux_fake and not aux_weight:
            raise ValueError("wavegan: aux_fake needs aux_weight > 0")
        self.aux_weight, self.aux_fake = float(aux_weight), bool(aux_fake)
        if aux_g_weight is not None and (aux_g_weight < 0 or not aux_weight):
            raise ValueError(f"wavegan: aux_g_weight must be >= 0 and needs aux_weight > 0, got {aux_g_weight}")
        self.aux_g_weight = self.aux_weight if aux_g_weight is None else float(aux_g_weight)
        self.z_dim, self.gp_weight = int(z_dim), float(gp_weight)
        self.clip_length = self.window = START * STRIDE ** upsamplings
        widths = [model_size * 2 ** k for k in range(upsamplings - 1, -1, -1)] + [1]  # e.g. 64, 32, 16, 1
        classes = self.num_classes if self.conditional else None
        self.generator = WaveGANGenerator(self.z_dim, widths, classes, upsample, int(post_filter))
        self.discriminator = PhaseShuffleCritic(widths[::-1], int(phase_shuffle), classes,
                                                (self.num_classes + self.aux_fake) if self.aux_weight else 0,
                                                bool(share_features), int(minibatch_std))

    def configure_averaging(self):
        """ema > 0: the run's result is the exponential moving average of the weights, theta_bar <- ema theta_bar
        + (1 - ema) theta after every step (generator averaging, Yazici et al. 2019); only G's average samples."""
        if self.ema == 0.0:
            return None
        return optim.swa_utils.AveragedModel(self, multi_avg_fn=optim.swa_utils.get_ema_multi_avg_fn(self.ema))

    def configure_schedulers(self, optimizers: list, steps: int) -> list:
        """decay_start: both rates constant, then linear to 0 at the run's end (base.linear_tail); else the GAN
        base's (decay_steps)."""
        if self.decay_start is None:
            return GANModel.configure_schedulers(self, optimizers, steps)
        return linear_tail(optimizers, steps, self.decay_start)

    def extra_d_loss(self, real, fake, y, z):
        """WGAN-GP's penalty (wgan.py's, reused), plus lambda CE(D_cls(x), y) on the real clips when aux_weight,
        and lambda CE(D_cls(G(z, y)), "generated") on G's clips when aux_fake."""
        loss, logs = WGANGP.extra_d_loss(self, real, fake, y, z)
        if self.aux_weight:
            ce = F.cross_entropy(self.discriminator.class_logits(real), y)
            loss, logs = loss + self.aux_weight * ce, {**logs, "d_cls": ce.item()}
        if self.aux_fake:  # the K+1-th class, "generated", for G's clips
            generated = mg.tensor(np.full(fake.shape[0], self.num_classes), device=fake.device)
            ce = F.cross_entropy(self.discriminator.class_logits(fake), generated)
            loss, logs = loss + self.aux_weight * ce, {**logs, "d_cls_fake": ce.item()}
        return loss, logs

    def extra_g_loss(self, fake, y, z):
        """lambda_G CE(D_cls(G(z, y)), y) when aux_weight (lambda_G = aux_g_weight, else aux_weight; the critic is
        frozen by the generator step)."""
        if not self.aux_weight:
            return None, {}
        ce = F.cross_entropy(self.discriminator.class_logits(fake), y)
        return self.aux_g_weight * ce, {"g_cls": ce.item()}

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0, shuffle: bool = True,
               drop_last: bool = True):
        """Clips of n_critic * batch_size per training step (one generator step's worth of real data)."""
        size = (batch_size or self.batch_size) * (self.n_critic if split == "train" else 1)
        return AudioModel.loader(self, split, size, seed, shuffle, drop_last)

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """GANModel's step (n_critic critic updates, one generator update) on the clips in the model's space:
        mu-law companded, mu_law_compress(x), when mu_law (the whole game, penalty included, is played there)."""
        if self.mu_law:
            x, y = self.split_batch(batch)
            x = mg.tensor(mu_law_compress(x.numpy()).astype(np.float32), device=x.device)
            batch = x if y is None else (x, y)
        return GANModel.train_step(self, batch, optimizers, step)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n clips (n, 1, clip_length) in data space: G's output, expanded from mu-law when mu_law."""
        out = GANModel.sample(self, n, y, rng=rng)
        return mg.tensor(mu_law_expand(out.numpy()).astype(np.float32), device=out.device) if self.mu_law else out

    def generate(self, z: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        """G(z, y): (n, 1, clip_length) in the model's space (mu-law companded when mu_law; `sample` returns
        data space)."""
        return self.generator(z, y)

    def critic(self, x: mg.Tensor, y: mg.Tensor | None = None) -> mg.Tensor:
        """f(x, y), one score per clip (n,), for clips in the model's space (as `generate`'s)."""
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"{self.name}: expected clips of shape (B, 1, {self.clip_length}), got {x.shape} "
                             f"on {x.device}")
        return self.discriminator(x, y)

    def metrics(self, split: str = "test", n: int = 500) -> dict:
        """score_tones, score_tones_real, spectral_distance(_real) on n clips from a fixed seed (50 per class
        when conditional): seed 0 for test, shifted for any other split (gan_metrics.split_seeds), since
        score_tones reads the generated clips alone and a pilot on the test seed would read the test number."""
        from ..evaluation.gan_metrics import split_seeds
        from ..evaluation.tones_classifier import tone_sample_metrics

        (seed,) = split_seeds([0], split)
        rng = np.random.default_rng(seed)
        y = np.arange(n) % self.num_classes if self.conditional else None
        clips = self.sample(n, y, rng=rng).numpy()
        return tone_sample_metrics(clips, self.clip_length, split)
