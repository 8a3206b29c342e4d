"""InfoGAN (Chen et al., 2016): a GAN whose generator input carries codes c (one categorical with `n_cat`
values, `n_cont` continuous U(-1, 1)), and a head Q(c | x) sharing the discriminator's body, trained to
maximise the variational lower bound on the mutual information

    I(c; G(z, c)) >= L_I = E_{c, x = G(z, c)} log Q(c | x) + H(c).

Both players minimise their GAN loss - lambda L_I: the discriminator (body, D head and Q head) and the
generator. Q models the categorical code with a softmax and each continuous code with a Gaussian (mean and
log-sd); lambda is 1 for the categorical and 0.1 for the continuous codes, as in the paper. On digits the
body is DCGAN's (dcgan.py); on the toys an MLP with DCGAN's recipe.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn

from ..nets import conv_body, dcgan_init_, mlp
from .dcgan import DCGAN


class InfoDiscriminator(nn.Module):
    """A shared body with two heads: D(x) (one logit) and Q(c | x) (categorical logits, means, log-sds)."""

    def __init__(self, body: nn.Module, features: int, n_cat: int, n_cont: int, q_hidden: int = 128):
        super().__init__()
        self.body, self.n_cat, self.n_cont = body, n_cat, n_cont
        self.d_head = nn.Linear(features, 1)
        self.q_head = nn.Sequential(nn.Linear(features, q_hidden), nn.LeakyReLU(0.2),
                                    nn.Linear(q_hidden, n_cat + 2 * n_cont))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.d_head(self.body(x).flatten(1)).reshape(x.shape[0])

    def both(self, x: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(D logits (n,), Q outputs (n, n_cat + 2 n_cont)) from one pass through the body."""
        h = self.body(x).flatten(1)
        return self.d_head(h).reshape(x.shape[0]), self.q_head(h)


class InfoGAN(DCGAN):
    """DCGAN-style InfoGAN with one categorical and `n_cont` continuous codes."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        base = {**DCGAN.default_config(data), "decay_steps": 0 if data == "digits" else None}
        return {**base, "z_dim": 16 if data == "digits" else 8, "n_cat": 10, "n_cont": 2, "lambda_cat": 1.0,
                "lambda_cont": 0.1}

    def __init__(self, data: str = "digits", lr: float = 2e-4, batch_size: int = 64, z_dim: int = 16,
                 channels: int = 32, hidden=(128, 128), n_cat: int = 10, n_cont: int = 2,
                 lambda_cat: float = 1.0, lambda_cont: float = 0.1, decay_steps: int | None = 0):
        super().__init__(data, lr, batch_size, z_dim + n_cat + n_cont, channels, hidden, decay_steps)
        self.noise_dim, self.n_cat, self.n_cont = z_dim, n_cat, n_cont
        self.lambda_cat, self.lambda_cont = lambda_cat, lambda_cont
        if self.is_toy:  # DCGAN's toy discriminator without its output layer
            body, features = mlp([2, *hidden], activation=lambda: nn.LeakyReLU(0.2), norm=nn.BatchNorm1d,
                                 norm_first=False, head=False), hidden[-1]
        else:
            body, features = conv_body(channels), 8 * channels
        self.discriminator = InfoDiscriminator(body, features, n_cat, n_cont)
        dcgan_init_(self.discriminator)

    # ------------------------------------------------------------------------------------- codes
    def codes(self, n: int, rng: np.random.Generator | None = None, cat=None, cont=None) -> np.ndarray:
        """[one-hot(c_cat), c_cont] of shape (n, n_cat + n_cont); c_cat ~ U{0..n_cat-1}, c_cont ~ U(-1, 1)."""
        rng = rng or mg.backend.rng("cpu")
        cat = rng.integers(0, self.n_cat, n) if cat is None else np.broadcast_to(cat, (n,))
        cont = rng.uniform(-1, 1, (n, self.n_cont)) if cont is None else np.broadcast_to(cont, (n, self.n_cont))
        return np.concatenate([np.eye(self.n_cat)[cat], cont], axis=1).astype(np.float32)

    def noise(self, n: int, rng: np.random.Generator | None = None, cat=None, cont=None) -> mg.Tensor:
        """[z ~ N(0, I), one-hot c_cat, c_cont]: the generator's whole input (z drawn first, then the codes
        not given)."""
        z = (rng or mg.backend.rng("cpu")).standard_normal((n, self.noise_dim))
        return mg.tensor(np.concatenate([z.astype(np.float32), self.codes(n, rng, cat, cont)], axis=1),
                         device=self.device)

    def sample(self, n: int, y=None, *, rng: np.random.Generator | None = None, cat=None,
               cont=None) -> mg.Tensor:
        """n samples; `cat` (n,) or a scalar and `cont` (n, n_cont) fix the codes (drawn when None)."""
        self.labels(n, y)
        with self.evaluating():
            return self.generate(self.noise(n, rng, cat, cont))

    def info_lower_bound(self, q: mg.Tensor, z: mg.Tensor) -> tuple[mg.Tensor, mg.Tensor]:
        """(L_cat, L_cont): E log Q(c|x) + H(c) for the categorical and the continuous codes, in nats."""
        k = self.noise_dim
        cat = z[:, k:k + self.n_cat].numpy().argmax(1)
        log_q_cat = -F.cross_entropy(q[:, :self.n_cat], mg.tensor(cat, device=self.device))
        l_cat = log_q_cat + math.log(self.n_cat)
        c = z[:, k + self.n_cat:]
        mean = q[:, self.n_cat:self.n_cat + self.n_cont]
        log_sd = q[:, self.n_cat + self.n_cont:].clip(-5.0, 2.0)
        log_q = -0.5 * ((c - mean) / log_sd.exp()) ** 2 - log_sd - 0.5 * math.log(2 * math.pi)
        l_cont = log_q.sum(axis=1).mean() + self.n_cont * math.log(2.0)
        return l_cat, l_cont

    def _info_loss(self, q, z) -> tuple[mg.Tensor, dict]:
        l_cat, l_cont = self.info_lower_bound(q, z)
        loss = -(self.lambda_cat * l_cat + self.lambda_cont * l_cont)
        return loss, {"mi_cat": l_cat.item(), "mi_cont": l_cont.item()}

    def extra_d_loss(self, real, fake, y, z):
        _, q = self.discriminator.both(self.to_model(fake))
        return self._info_loss(q, z)

    def extra_g_loss(self, fake, y, z):
        _, q = self.discriminator.both(self.to_model(fake))
        loss, logs = self._info_loss(q, z)
        return loss, {"g_" + k: v for k, v in logs.items()}

    # ----------------------------------------------------------------------------------- metrics
    def code_metrics(self, n: int = 2000, seed: int = 0) -> dict:
        """mi_cat: L_cat on n fresh samples (<= log n_cat); on digits, code_purity: the share of samples
        whose classifier digit is the majority digit of their categorical code."""
        rng = np.random.default_rng(seed)
        z = self.noise(n, rng)
        with self.evaluating():
            x = self.generate(z)
            _, q = self.discriminator.both(self.to_model(x))
            l_cat, _ = self.info_lower_bound(q, z)
        out = {"mi_cat": l_cat.item(), "mi_cat_max": math.log(self.n_cat)}
        if not self.is_toy:
            from ..evaluation import digits_classifier

            digit = digits_classifier.features_and_probs(x.numpy())[1].argmax(1)
            code = z.numpy()[:, self.noise_dim:self.noise_dim + self.n_cat].argmax(1)
            majority = sum(np.bincount(digit[code == c], minlength=10).max() for c in range(self.n_cat))
            out["code_purity"] = float(majority / n)
        return out

    def metrics(self, split: str = "test") -> dict:
        return {**super().metrics(split), **self.code_metrics()}
