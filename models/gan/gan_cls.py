"""GAN-CLS with GAN-INT (Reed et al., 2016, "Generative Adversarial Text to Image Synthesis") on captioned digits.

Captions come from each image's label and measured attributes (minigen/data/captions.py: "a thick seven
slanted right", "a small zero"). A text encoder phi turns a caption t into h = phi(t); G and D read it
compressed (Linear -> LeakyReLU -> unit mean square) and joined to z (G's input) or to D's 2x2 feature maps (depth concatenation,
then a 1x1 convolution), with DCGAN's networks around it.

    s_r = D(x, h)  real image, right text;  s_w = D(x, h_hat)  real image, mismatched text;
    s_f = D(G(z, h), h)  generated image, right text
    L_D = -log D(x, h) - [log(1 - D(x, h_hat)) + log(1 - D(G(z, h), h))] / 2         (matching-aware, CLS)
        = softplus(-s_r) + [softplus(s_w) + softplus(s_f)] / 2                    (D ends in a logit)
    L_D without the matching-aware term (GAN-INT alone, the ablation): softplus(-s_r) + softplus(s_f)
    L_G = softplus(-D(G(z, h), h)) + softplus(-D(G(z', h_int), h_int)),  h_int = beta h_1 + (1 - beta) h_2,
          beta = 1/2 (GAN-INT: G also learns on interpolated text embeddings, which D never sees as real)

The mismatched text of image i is the caption of image i + 1 in the batch; where that caption equals image
i's own (same digit and same named attributes) the pair is not a mismatch and is left out of the mean.

Deviations, with reasons: Reed et al. pre-train a char-CNN-RNN encoder with a joint embedding loss; here a
small word-level encoder (mean of word embeddings over the caption -> MLP) is trained with the model by the
discriminator's loss (G reads its output detached), since the captions have a fixed grammar in which word
order says nothing that the words do not; images are 8x8 DCGAN ones (models/nets.py) rather than 64x64. The
compressed text is normalised to unit mean square (ProGAN's pixel norm) in G and D, and its layers keep the
default initialisation: with DCGAN's N(0, 0.02) and no normalisation the text reached G about 15x weaker than
z and G learnt to ignore it (class_acc 0.32 after 1,500 steps).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.data import captions

from ..evaluation import digits_classifier
from ..evaluation.gan_metrics import digits_metrics
from ..nets import conv_body, conv_generator, dcgan_init_
from .base import GANModel, frozen
from .losses import grad_norm
from .progan_layers import PixelNorm


def gan_cls_discriminator_loss(real: mg.Tensor, wrong: mg.Tensor, fake: mg.Tensor, matching_aware: bool = True,
                               wrong_weight: mg.Tensor | None = None) -> mg.Tensor:
    """softplus(-s_r) + (softplus(s_w) + softplus(s_f)) / 2 with the matching-aware term, else softplus(-s_r) +
    softplus(s_f); `wrong_weight` (0/1 per example) leaves out pairs that are not mismatches."""
    if not matching_aware:
        return F.softplus(-real).mean() + F.softplus(fake).mean()
    w = F.softplus(wrong)
    w_mean = w.mean() if wrong_weight is None else (w * wrong_weight).sum() / max(float(wrong_weight.sum().item()), 1.0)
    return F.softplus(-real).mean() + 0.5 * (w_mean + F.softplus(fake).mean())


class TextEncoder(nn.Module):
    """phi(t) = W2 lrelu(W1 mean_{words} E[w] + b1) + b2: word ids (N, MAX_WORDS), 0-padded -> (N, text_dim)."""

    def __init__(self, text_dim: int, word_dim: int = 32, hidden: int = 64):
        super().__init__()
        self.embed = nn.Embedding(len(captions.VOCAB), word_dim, padding_idx=0)
        self.mlp = nn.Sequential(nn.Linear(word_dim, hidden), nn.LeakyReLU(0.2), nn.Linear(hidden, text_dim))

    def forward(self, ids: mg.Tensor) -> mg.Tensor:
        counts = (ids.numpy() > 0).sum(axis=1, keepdims=True).astype(np.float32)
        pooled = self.embed(ids).sum(axis=1) / mg.tensor(counts, device=ids.device)
        return self.mlp(pooled)


class _TextGenerator(nn.Module):
    def __init__(self, z_dim: int, text_dim: int, compressed: int, channels: int):
        super().__init__()
        self.compress = nn.Sequential(nn.Linear(text_dim, compressed), nn.LeakyReLU(0.2), PixelNorm())
        self.body = conv_generator(z_dim + compressed, channels)

    def forward(self, z, h):
        return self.body(mg.cat([z, self.compress(h)], axis=1))


class _TextDiscriminator(nn.Module):
    def __init__(self, text_dim: int, compressed: int, channels: int):
        super().__init__()
        self.body = conv_body(channels)
        self.compress = nn.Sequential(nn.Linear(text_dim, compressed), nn.LeakyReLU(0.2), PixelNorm())
        self.joint = nn.Sequential(nn.Conv2d(2 * channels + compressed, 2 * channels, 1), nn.LeakyReLU(0.2),
                                   nn.Conv2d(2 * channels, 1, 2))

    def forward(self, x, h):
        feats = self.body(x)
        t = self.compress(h).reshape(h.shape[0], -1, 1, 1).expand(h.shape[0], -1, 2, 2)
        return self.joint(mg.cat([feats, t], axis=1)).reshape(x.shape[0])


class GANCLS(GANModel):
    """Text-conditional DCGAN: sample(n, captions) (strings, or digit labels read as "a <digit>")."""

    datasets = ("digits",)
    conditional = True

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 2e-4, "batch_size": 64, "z_dim": 32, "channels": 32, "text_dim": 32, "compressed": 32,
                "matching_aware": True, "interpolation": True, "mention_p": 0.5}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 32,
                 channels: int = 32, text_dim: int = 32, compressed: int = 32, matching_aware: bool = True,
                 interpolation: bool = True, mention_p: float = 0.5):
        super().__init__(data, lr, batch_size, n_critic=1, loss="non-saturating")
        self.z_dim, self.matching_aware, self.interpolation, self.mention_p = z_dim, matching_aware, interpolation, mention_p
        self.encoder = TextEncoder(text_dim)
        self.generator = _TextGenerator(z_dim, text_dim, compressed, channels)
        self.discriminator = _TextDiscriminator(text_dim, compressed, channels)
        dcgan_init_(self.generator.body)
        dcgan_init_(self.discriminator.body)
        dcgan_init_(self.discriminator.joint)

    # ----------------------------------------------------------------------------------- the model
    def to_model(self, x):
        return x * 2 - 1

    def from_model(self, out):
        return (out + 1) * 0.5

    def embed(self, texts) -> mg.Tensor:
        """phi(t) of captions (a ValueError naming unknown words)."""
        return self.encoder(mg.tensor(captions.encode(texts), device=self.device))

    def texts(self, n: int, y) -> list:
        """y as n captions: one string (repeated), n strings, or digit labels (each "a <digit>")."""
        if isinstance(y, str):
            return [y] * n
        if isinstance(y, (list, tuple)) and y and all(isinstance(t, str) for t in y):
            if len(y) != n:
                raise ValueError(f"{self.name}.sample: {len(y)} captions for n={n} samples")
            return list(y)
        labels = self.labels(n, y).numpy()
        return [captions.caption(int(k), np.zeros(3)) for k in labels]

    def generate(self, z, y=None, h=None):
        """G(z, h) in [0, 1]; h = phi(captions y) unless given (GAN-INT passes interpolated embeddings)."""
        h = self.embed(y) if h is None else h
        return self.from_model(self.generator(z, h))

    def critic(self, x, y=None, h=None):
        return self.discriminator(self.to_model(x), self.embed(y) if h is None else h)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None) -> mg.Tensor:
        """n images for captions y (see `texts`); z from `rng` when given."""
        texts = self.texts(n, y)
        with self.evaluating():
            return self.generate(self.noise(n, rng), h=self.embed(texts))

    # ------------------------------------------------------------------------------------ training
    def discriminator_parameters(self) -> list:
        return list(self.discriminator.parameters()) + list(self.encoder.parameters())

    def batch_captions(self, x: mg.Tensor, y: mg.Tensor) -> tuple[list, list, np.ndarray]:
        """(right captions, mismatched captions (the next image's), 1 where the two differ) of a batch; the
        named attributes are drawn from minigen's generator (exact resume)."""
        labels = y.numpy()
        mentions = captions.random_mentions(captions.categories(x.numpy(), labels), backend.rng("cpu"),
                                            self.mention_p)
        right = [captions.caption(int(k), m) for k, m in zip(labels, mentions)]
        wrong = right[1:] + right[:1]
        return right, wrong, np.array([a != b for a, b in zip(right, wrong)], np.float32)

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One D update (CLS: real/right, real/wrong, fake/right) and one G update (+ GAN-INT)."""
        opt_g, opt_d = optimizers
        x, y = batch
        n = x.shape[0]
        right, wrong, differ = self.batch_captions(x, y)
        ids = mg.tensor(captions.encode(right + wrong), device=self.device)
        h_all = self.encoder(ids)
        h, h_wrong = h_all[:n], h_all[n:]
        with mg.no_grad():
            fake = self.generate(self.noise(n), h=h.detach())
        s_r, s_w, s_f = self.critic(x, h=h), self.critic(x, h=h_wrong), self.critic(fake, h=h)
        d_loss = gan_cls_discriminator_loss(s_r, s_w, s_f, self.matching_aware,
                                            mg.tensor(differ, device=self.device))
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        logs = {"d_loss": d_loss.item(), "d_real": float(s_r.data.mean()), "d_wrong": float(s_w.data.mean()),
                "d_fake": float(s_f.data.mean())}

        h = h.detach()
        with frozen(self.discriminator):
            g_loss = F.softplus(-self.critic(self.generate(self.noise(n), h=h), h=h)).mean()
            logs["g_loss"] = g_loss.item()
            if self.interpolation:
                h_int = 0.5 * (h + h_wrong.detach())
                g_int = F.softplus(-self.critic(self.generate(self.noise(n), h=h_int), h=h_int)).mean()
                logs["g_int"] = g_int.item()
                g_loss = g_loss + g_int
            opt_g.zero_grad()
            g_loss.backward()
        logs["g_grad_norm"] = grad_norm(self.generator.parameters())
        opt_g.step()
        return logs

    # ----------------------------------------------------------------------------------- evaluation
    def eval_captions(self, split: str, seed: int = 0) -> tuple[list, np.ndarray, np.ndarray]:
        """(captions, digits, named attribute codes (N, 3)) for every image of a split, attributes named as in
        training from a fixed seed."""
        images, labels = self.split_arrays(split)
        mentions = captions.random_mentions(captions.categories(images, labels), np.random.default_rng(seed),
                                            self.mention_p)
        return [captions.caption(int(k), m) for k, m in zip(labels, mentions)], labels, mentions

    def metrics(self, split: str = "test") -> dict:
        """class_acc (the digits classifier's top class is the caption's digit), attribute agreement (the
        sample's tercile equals each named attribute; `_opposite`: falls in the opposite tercile, the
        baseline of a generator that ignores the words), per attribute; the GAN digits metrics on samples
        for random test captions."""
        texts, labels, mentions = self.eval_captions(split)
        k = 4  # samples per caption
        rng = np.random.default_rng(0)
        images = np.concatenate([self.sample(len(texts), texts, rng=rng).numpy() for _ in range(k)])
        labels, mentions = np.tile(labels, k), np.tile(mentions, (k, 1))
        _, probs = digits_classifier.features_and_probs(images)
        out = {"class_acc": float((probs.argmax(1) == labels).mean()),
               "class_acc_real": digits_classifier.accuracy(split)}
        measured = captions.categories(images, labels)
        named = mentions != 0
        out["attr_agreement"] = float((measured == mentions)[named].mean())
        out["attr_agreement_opposite"] = float((measured == -mentions)[named].mean())
        for i, attr in enumerate(captions.ATTRIBUTES):
            out[f"{attr}_agreement"] = float((measured[:, i] == mentions[:, i])[named[:, i]].mean())

        def sample(n, rng):
            pick = rng.integers(0, len(texts), n)
            return self.sample(n, [texts[i] for i in pick], rng=rng)

        return {**out, **digits_metrics(sample, split)}
