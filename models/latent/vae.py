"""Variational autoencoders: VAE (Kingma & Welling, 2014), conditional VAE (Sohn et al., 2015), beta-VAE
(Higgins et al., 2017), and VariationalModel, the training and evaluation every model of models/latent/ with
an encoder q(z|x) shares (it implements the protocol's LatentVariableModel, models/base.py).

    log p(x) >= ELBO = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))     (reconstruction - prior fitting)
    log p(x) ~= log (1/k) sum_i p(x, z_i) / q(z_i|x),  z_i ~ q(z|x)   (importance sampling: iwae_nll)

The ELBO is summed over latent and pixel dimensions and averaged over the batch. Likelihoods are reported
as importance-sampled estimates with k >= 1000 (iwae_nll), never as ELBOs (test_elbo is listed beside).

Schedules (KL warm-up here, the Gumbel temperature in discrete_vae.py) are functions of the trainer's step t
(the number of updates before this one): train_step(batch, optimizers, t) passes it to objective(batch, t).
The models keep no step counter of their own; step=None means "after every schedule has run its course"
(loss(batch), evaluation).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.distributions import Bernoulli, Normal, kl_divergence

from minigen.data.shapes import SIZE as SHAPES_SIZE
from minigen.data.shapes import load_shapes

from ..base import DIGITS_SHAPE, LatentVariableModel
from ..nets import mlp

PIXELS = int(np.prod(DIGITS_SHAPE))
SHAPES_SHAPE = (1, SHAPES_SIZE, SHAPES_SIZE)
LEVELS = 17  # gray levels 0..16 of the digits
MAX_ROWS = 1 << 15  # rows (importance samples x examples) evaluated at once by log_prob_estimate


def apply_rows(net: nn.Module, x: Tensor) -> Tensor:
    """net applied to the last axis of x (any leading axes), through a 2-D view."""
    lead = x.shape[:-1]
    out = net(x.reshape(-1, x.shape[-1]))
    return out.reshape(*lead, out.shape[-1])


def log_mean_exp(a: Tensor, axis: int = 0) -> Tensor:
    """log (1/k) sum_i exp(a_i) along `axis` (k = a.shape[axis])."""
    return a.logsumexp(axis=axis) - math.log(a.shape[axis])


def check_binary(x: Tensor, owner: str) -> Tensor:
    """x itself, after checking that every value is 0 or 1 (a Bernoulli likelihood needs binary pixels)."""
    values = x.data
    if not bool(backend.array_module(values).all((values == 0) | (values == 1))):
        raise ValueError(f"{owner}: a Bernoulli likelihood is only valid on binary pixels, got values in "
                         f"[{float(values.min())}, {float(values.max())}] (shape {x.shape}, device {x.device}); "
                         "binarize the data (or use a Gaussian likelihood on dequantized levels)")
    return x


def reconstruction_figure(model, path: str, n: int = 60, extra: Tensor | None = None) -> str:
    """One PNG, ten images a row: ten test digits, their reconstructions, then `extra` (default: n samples,
    rounded down to whole rows, drawn as pixel means, `model.sample(n, y, mean=True)`; a conditional model's
    rows run through the classes 0..9)."""
    from minigen import viz

    data = model.eval_batch("test")
    x = data[0][:10] if isinstance(data, tuple) else data[:10]
    batch = (x, data[1][:10]) if isinstance(data, tuple) else x
    n = max(10, n - n % 10)
    y = np.arange(n) % 10 if model.conditional else None
    with model.evaluating():
        rows = [x, model.reconstruct(batch), model.sample(n, y, mean=True) if extra is None else extra]
    images = np.concatenate([r.numpy() for r in rows])
    return viz.save_image_grid(images, path, nrow=10, value_range=getattr(model, "value_range", None))


def standard_normal_like(t: Tensor) -> Normal:
    """N(0, I) with t's shape, dtype and device: the prior p(z)."""
    return Normal(mg.zeros_like(t), mg.ones_like(t))


class VariationalModel(LatentVariableModel):
    """Shared training and evaluation for models with latents z and an encoder q(z|x).

    Subclasses implement `objective(batch, step) -> (loss, logs)`, `elbo_terms(batch) -> (recon, kl)` per
    example, and `log_weights(batch, k) -> (k, B)` importance log-weights log p(x, z_i) - log q(z_i|x).
    """

    eval_k = 1000
    beta = 1.0  # weight of the KL term in training
    warmup = 0  # steps over which that weight ramps up from 0 (KL warm-up, Sønderby et al.)

    def kl_weight(self, step: int | None = None) -> float:
        """beta_t = beta min(1, t / warmup) at training step t (KL warm-up; beta when warmup = 0), and beta
        itself when step is None (warm-up over)."""
        if self.warmup <= 0 or step is None:
            return self.beta
        return self.beta * min(1.0, float(step) / self.warmup)

    def no_labels(self, y, method: str) -> None:
        """The error an unconditional model gives when `method` gets labels."""
        if y is not None:
            raise TypeError(f"{self.name} is unconditional: {method}() takes no y")

    # ------------------------------------------------------------------------------- to implement
    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """(training loss at step `step`, logs): the negative bound with the step's schedules."""
        raise NotImplementedError(f"{self.name} does not define objective(batch, step)")

    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(E_q log p(x|z), KL(q(z|x) || p(z))) per example."""
        raise NotImplementedError(f"{self.name} does not define elbo_terms(batch)")

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x, z_i) - log q(z_i|x) for k draws z_i ~ q(z|x): shape (k, B)."""
        raise NotImplementedError(f"{self.name} does not define log_weights(batch, k)")

    # ------------------------------------------------------------------------------------ shared
    def elbo(self, batch) -> Tensor:
        """E_q[log p(x|z)] - KL(q(z|x) || p(z)) per example (one sample of z), in nats."""
        recon, kl = self.elbo_terms(batch)
        return recon - kl

    def loss(self, batch, step: int | None = None) -> Tensor:
        """The training objective at step `step` (None: with every schedule finished)."""
        return self.objective(batch, step)[0]

    def train_step(self, batch, optimizers: list, step: int) -> dict:
        """One update on objective(batch, step); the logs as floats."""
        (opt,) = optimizers
        opt.zero_grad()
        loss, logs = self.objective(batch, step)
        loss.backward()
        opt.step()
        return {"loss": loss.item(), **{k: float(v.item()) if isinstance(v, Tensor) else float(v)
                                        for k, v in logs.items()}}

    def iwae_bound(self, batch, k: int) -> Tensor:
        """The k-sample bound L_k = E[log (1/k) sum_i w_i] per example (L_1 is the ELBO, L_k -> log p(x))."""
        return log_mean_exp(self.log_weights(batch, k), axis=0)

    def log_prob_estimate(self, batch, k: int = 1000, chunk_size: int | None = None) -> Tensor:
        """log p(x) ~= log (1/k) sum_i w_i with k importance samples, computed in chunks of at most
        `chunk_size` samples (default: MAX_ROWS // batch rows) so memory does not grow with k."""
        n = len(batch[0] if isinstance(batch, (tuple, list)) else batch)
        chunk_size = chunk_size or max(1, MAX_ROWS // max(n, 1))
        parts = []
        with self.evaluating():
            for start in range(0, k, chunk_size):
                parts.append(self.log_weights(batch, min(chunk_size, k - start)).logsumexp(axis=0))
            return mg.stack(parts).logsumexp(axis=0) - math.log(k)

    value_range = (0.0, 1.0)

    def sample_figure(self, path: str, n: int = 60) -> str:
        """Test digits, their reconstructions and n samples (pixel means), ten a row."""
        return reconstruction_figure(self, path, n)

    def metrics(self, split: str = "test") -> dict:
        """test_elbo, its reconstruction and KL terms, and iwae_nll (k = eval_k importance samples)."""
        batch = self.eval_batch(split)
        with self.evaluating():
            recon, kl = (t.numpy().astype(np.float64) for t in self.elbo_terms(batch))
            log_p = self.log_prob_estimate(batch, self.eval_k).numpy().astype(np.float64)
        sem = lambda a: float(a.std(ddof=1) / math.sqrt(len(a)))  # noqa: E731
        return {"test_elbo": float((recon - kl).mean()), "test_elbo_sem": sem(recon - kl),
                "test_recon": float(recon.mean()), "test_kl": float(kl.mean()),
                "iwae_nll": float(-log_p.mean()), "iwae_nll_sem": sem(log_p), "iwae_k": int(self.eval_k)}


class VAE(VariationalModel):
    """Gaussian encoder q(z|x) = N(mu(x), diag sigma(x)^2), prior N(0, I), Bernoulli (binary pixels) or
    Gaussian (dequantized gray levels) decoder; MLPs D -> h -> h -> 2Z and Z -> h -> h -> D."""

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "latent": 16, "hidden": 256, "likelihood": "bernoulli",
                "beta": 1.0, "warmup": 0, "eval_k": 1000}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 16,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 1.0, warmup: int = 0,
                 eval_k: int = 1000):
        super().__init__(data, lr, batch_size)
        if likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"{self.name}: likelihood must be 'bernoulli' or 'gaussian', got "
                             f"{likelihood!r}")
        self.latent, self.hidden, self.likelihood = int(latent), int(hidden), likelihood
        self.beta, self.warmup, self.eval_k = float(beta), int(warmup), int(eval_k)
        self.binarize = "static" if likelihood == "bernoulli" else None
        if data == "shapes" and likelihood != "bernoulli":
            raise ValueError(f"{self.name}: shapes are binary; use likelihood='bernoulli'")
        self.event_shape = SHAPES_SHAPE if data == "shapes" else DIGITS_SHAPE
        pixels = int(np.prod(self.event_shape))
        c = self.num_classes if self.conditional else 0
        self.encoder = mlp([pixels + c, hidden, hidden, 2 * self.latent])
        self.decoder = mlp([self.latent + c, hidden, hidden, pixels])
        if likelihood == "gaussian":
            self.log_scale = nn.Parameter(np.full(pixels, -2.0, np.float32))

    # ------------------------------------------------------------------------------------- pieces
    def split_arrays(self, split: str) -> tuple:
        """Digits as the base class prepares them; on shapes the binary images and their shape labels."""
        if self.data_name != "shapes":
            return super().split_arrays(split)
        d = load_shapes(split)
        return d.images, d.factors[:, 0]

    def eval_batch(self, split: str):
        if self.data_name != "shapes":
            return super().eval_batch(split)
        return mg.tensor(load_shapes(split).images, device=self.device)

    def _split(self, batch) -> tuple[Tensor, Tensor | None]:
        """(x flattened to (B, D), one-hot labels (B, C) or None)."""
        x, y = batch if self.conditional else (batch, None)
        return x.flatten(1), None if y is None else F.one_hot(y, self.num_classes, dtype=x.dtype)

    def _observed(self, x: Tensor, copies: int | None = None) -> Tensor:
        """What the decoder models: binary pixels as they are, gray levels dequantized to (x + u) / 17,
        u ~ U[0, 1)^D (with `copies`, one fresh u per importance sample: shape (copies, B, D))."""
        if self.likelihood == "bernoulli":
            return check_binary(x, self.name)
        shape = x.shape if copies is None else (copies,) + x.shape
        return (x + mg.rand(shape, dtype=x.dtype, device=x.device)) * (1.0 / LEVELS)

    @property
    def _log_px_offset(self) -> float:
        """log of the dequantization cell volume: log P(levels) >= E_u log p((x + u) / 17) - D log 17."""
        return 0.0 if self.likelihood == "bernoulli" else -PIXELS * math.log(LEVELS)

    def _with_labels(self, h: Tensor, y: Tensor | None) -> Tensor:
        return h if y is None else mg.cat([h, y.expand(h.shape[:-1] + y.shape[-1:])], axis=-1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Normal:
        """q(z|x) = N(mu, exp(logvar / 2)) from the encoder's 2Z outputs (any leading axes)."""
        h = apply_rows(self.encoder, self._with_labels(x, y))
        return Normal(h[..., :self.latent], (h[..., self.latent:] * 0.5).exp())

    def decode(self, z: Tensor, y: Tensor | None = None):
        """p(x|z): Bernoulli(logits) or Normal(mean, exp(log_scale)) over the D pixels."""
        out = apply_rows(self.decoder, self._with_labels(z, y))
        if self.likelihood == "bernoulli":
            return Bernoulli(logits=out)
        return Normal(out, self.log_scale.exp())

    # ------------------------------------------------------------------------------------ the bound
    def elbo_terms(self, batch) -> tuple[Tensor, Tensor]:
        """(E_q log p(x|z) with one reparameterized z, KL(q(z|x) || N(0, I)) in closed form), per example."""
        x, y = self._split(batch)
        obs = self._observed(x)
        q = self.encode(obs, y)
        z = q.rsample()
        recon = self.decode(z, y).log_prob(obs).sum(axis=-1) + self._log_px_offset
        kl = kl_divergence(q, standard_normal_like(q.loc)).sum(axis=-1)
        return recon, kl

    def objective(self, batch, step: int | None = None) -> tuple[Tensor, dict]:
        """-mean_b (recon_b - beta_t KL_b), beta_t = kl_weight(step): summed over dimensions, averaged over
        the batch."""
        recon, kl = self.elbo_terms(batch)
        loss = -(recon - self.kl_weight(step) * kl).mean()
        return loss, {"elbo": (recon - kl).mean(), "recon": recon.mean(), "kl": kl.mean()}

    def log_weights(self, batch, k: int) -> Tensor:
        """log p(x|z_i) + log p(z_i) - log q(z_i|x) for z_i ~ q(z|x), i = 1..k: shape (k, B)."""
        x, y = self._split(batch)
        if self.likelihood == "bernoulli":
            obs = self._observed(x)
            q = self.encode(obs, y)
            z = q.rsample((k,))
        else:
            obs = self._observed(x, copies=k)
            q = self.encode(obs, y)
            z = q.rsample()
        log_px = self.decode(z, y).log_prob(obs).sum(axis=-1) + self._log_px_offset
        return log_px + self.log_prior(z) - q.log_prob(z).sum(axis=-1)

    def log_prior(self, z: Tensor) -> Tensor:
        """log p(z) summed over the last axis: N(0, I) here (VaDE's mixture and the prior-ELBO VAE's learned
        prior override it)."""
        return standard_normal_like(z).log_prob(z).sum(axis=-1)

    # -------------------------------------------------------------------------------------- images
    @property
    def value_range(self) -> tuple:
        return (0.0, 1.0) if self.likelihood == "bernoulli" else (0.0, float(LEVELS - 1))

    def _as_image(self, p, mean: bool) -> Tensor:
        """Decoder output as images (n, 1, 8, 8): pixel probabilities / a binary draw, or gray levels."""
        if self.likelihood == "bernoulli":
            v = p.probs if mean else p.sample()
        else:
            v = p.loc if mean else p.sample()
            v = (v * LEVELS - (0.5 if mean else 0.0)).clip(0, LEVELS - 1)
            v = v if mean else mg.tensor(backend.array_module(v.data).floor(v.data))
        return v.reshape(-1, *self.event_shape).detach()

    def sample(self, n: int, y=None, *, mean: bool = False) -> Tensor:
        """x ~ p(x|z), z ~ p(z) (prior_sample), given the labels y that the conditional VAE requires (a class
        index or n of them); mean=True gives E[x|z] instead."""
        labels = self.labels(n, y)
        with self.evaluating():
            onehot = None if labels is None else F.one_hot(labels, self.num_classes, dtype=np.float32)
            return self._as_image(self.decode(self.prior_sample(n), onehot), mean)

    def prior_sample(self, n: int) -> Tensor:
        """n latents z ~ p(z), shape (n, latent): N(0, I) here."""
        return mg.randn(n, self.latent, device=self.device)

    def reconstruct(self, batch) -> Tensor:
        """E[x | z = mu(x)]: the decoder's mean at the posterior mean."""
        with self.evaluating():
            x, y = self._split(batch)
            q = self.encode(x if self.likelihood == "bernoulli" else (x + 0.5) * (1.0 / LEVELS), y)
            return self._as_image(self.decode(q.loc, y), mean=True)


class ConditionalVAE(VAE):
    """q(z|x, y) and p(x|z, y) with the one-hot label concatenated to their inputs; batches are (x, y),
    and test_elbo / iwae_nll are of log p(x | y)."""

    conditional = True


class BetaVAE(VAE):
    """The VAE with the KL term weighted by beta > 1 (disentangling pressure); test_elbo stays beta = 1.
    On shapes its metrics add Kim & Mnih's `disentanglement` (posterior means of the whole data set)."""

    datasets = ("digits", "shapes")

    def metrics(self, split: str = "test") -> dict:
        out = super().metrics(split)
        if self.data_name == "shapes":
            from ..evaluation.disentanglement import disentanglement

            data = load_shapes()
            with self.evaluating():
                codes = self.encode(mg.tensor(data.images, device=self.device).flatten(1)).loc.numpy()
            out.update(disentanglement(lambda _: codes, data.images, data.factors))
        return out

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {**super().default_config(data), "beta": 2.0, "latent": 8}

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, latent: int = 8,
                 hidden: int = 256, likelihood: str = "bernoulli", beta: float = 2.0, warmup: int = 0,
                 eval_k: int = 1000):
        super().__init__(data, lr, batch_size, latent, hidden, likelihood, beta, warmup, eval_k)

    def traversal(self, x: Tensor | None = None, steps: int = 9, span: float = 3.0) -> Tensor:
        """Decoder means as one latent coordinate sweeps [-span, span] and the others stay at the posterior
        mean of x (or 0): shape (latent * steps, 1, 8, 8), one row per latent dimension."""
        with self.evaluating():
            base = np.zeros(self.latent, np.float32)
            if x is not None:
                base = self.encode(self._split(x)[0][:1]).loc.numpy()[0]
            z = np.repeat(base[None, None], self.latent, 0).repeat(steps, 1)
            sweep = np.linspace(-span, span, steps, dtype=np.float32)
            z[np.arange(self.latent), :, np.arange(self.latent)] = sweep
            zt = mg.tensor(backend.to_device(z.reshape(-1, self.latent), self.device))
            return self._as_image(self.decode(zt), mean=True)

    def sample_figure(self, path: str, n: int = 60) -> str:
        """Test digits, their reconstructions, then the latent traversal (one row per latent dimension)."""
        return reconstruction_figure(self, path, extra=self.traversal(steps=10))
