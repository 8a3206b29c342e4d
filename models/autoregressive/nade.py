"""NADE (Larochelle & Murray, 2011) and RNADE (Uria, Murray & Larochelle, 2013).

Both share one hidden layer across the n conditionals: the pre-activation of conditional d is

    a_d = c + W[:, <d] x_<d = c + sum_{k<d} W[:, k] x_k,

so all n of them come from one exclusive cumulative sum over d of W[:, d] x_d (F.cumsum): O(H n) per image
instead of O(H n^2). NADE: p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . sigmoid(a_d)). RNADE: p(x_d | x_<d) is a mixture
of K Gaussians whose weights, means and log-scales are linear in h_d = relu(rho_d a_d).
Sampling keeps a_d as a running sum (O(H) per pixel), which the design's sampler pitfall asks for (docs/design.md).
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.autograd import Tensor
from minigen.data import grid25, ring8, swiss_roll, two_moons
from minigen.data.toys import N_COVERAGE_SAMPLES, TOYS as COVERAGE_TOYS, toy_coverage

from ..evaluation.dequantized_nll import dequantized_nll
from .baselines import AutoregressiveModel


def shared_preactivations(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """a[d] = c + sum_{k<d} W[:, k] x[:, k] for x (B, n), W (H, n), c (H,): shape (n, B, H), O(B H n)."""
    steps = x.T.unsqueeze(2) * weight.T.unsqueeze(1)         # (n, B, H): W[:, k] x_k
    before = mg.pad(steps[:-1], (0, 0, 0, 0, 1, 0))          # shifted by one: only k < d contribute
    return F.cumsum(before, axis=0) + bias


def _uniform(shape: tuple, bound: float) -> nn.Parameter:
    """A Parameter drawn from U(-bound, bound) with minigen's generator."""
    return nn.init.uniform_(nn.Parameter(np.zeros(shape, np.float32)), -bound, bound)


class NADE(AutoregressiveModel):
    """Binary NADE: h_d = sigmoid(c + W[:, <d] x_<d), p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d)."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, hidden: int = 100,
                 event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape)
        self.hidden = int(hidden)
        self.W = _uniform((self.hidden, self.dims), 1 / math.sqrt(self.dims))
        self.c = nn.Parameter(np.zeros(self.hidden, np.float32))
        self.V = _uniform((self.dims, self.hidden), 1 / math.sqrt(self.hidden))
        self.b = nn.Parameter(np.zeros(self.dims, np.float32))

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "hidden": 100}

    def conditionals(self, x: Tensor) -> Tensor:
        """logit_d = b_d + sum_h V[d, h] sigmoid(a[:, h, d]), all d from one cumulative sum."""
        h = shared_preactivations(x, self.W, self.c).sigmoid()            # (n, B, H)
        return (h * self.V.unsqueeze(1)).sum(axis=2).T + self.b

    def _start(self, cur):
        return backend.array_module(cur).broadcast_to(self.c.data, (cur.shape[0], self.hidden))

    def _next_probability(self, cur, d: int, a):
        """sigmoid(b_d + V_d . sigmoid(a_d)) from the running pre-activation a_d (B, H)."""
        xp = backend.array_module(cur)
        h = 1 / (1 + xp.exp(-a))
        return 1 / (1 + xp.exp(-(h @ self.V.data[d] + self.b.data[d])))

    def _advance(self, a, cur, d: int):
        """a_{d+1} = a_d + W[:, d] x_d."""
        return a + cur[:, d:d + 1] * self.W.data[:, d]


class RNADE(AutoregressiveModel):
    """Real-valued NADE: p(x_d | x_<d) = sum_k pi_dk N(x_d; mu_dk, sigma_dk^2), with
    [logit pi_d, mu_d, log sigma_d] = V_d^T relu(rho_d a_d) + b_d.

    Digits: the 17 levels are dequantized uniformly, y = x + u with u ~ U[0, 1)^64, and the density is that
    of y on [0, 17)^64 in nats per image: -E_u log p(x + u) bounds the discrete NLL of the levels from
    above (Theis et al., 2016). Internally z = (y - 8.5) / 5 (the Jacobian is counted). The 2-D toys are
    modelled as they are (nats per point).
    """

    datasets = ("digits", "ring8", "grid25", "moons", "swissroll")
    binarize = None
    TOYS = {"ring8": ring8, "grid25": grid25, "moons": two_moons, "swissroll": swiss_roll}
    TOY_TRAIN, TOY_TEST = 20000, 5000
    DEQUANT_DRAWS = 8  # fixed uniform draws averaged per test image (a seeded, deterministic estimate)
    SHIFT, SCALE = 8.5, 5.0

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, hidden: int = 100,
                 components: int = 10, event_shape: tuple | None = None):
        super().__init__(data, lr, batch_size, event_shape if event_shape is not None else
                         (None if data == "digits" else (2,)))
        self.hidden, self.components = int(hidden), int(components)
        if self.data_name == "digits":
            self.shift, self.scale = self.SHIFT, self.SCALE
        else:
            self.shift, self.scale = 0.0, 1.0
        n, h, k = self.dims, self.hidden, self.components
        self.W = _uniform((h, n), 1 / math.sqrt(n))
        self.c = nn.Parameter(np.zeros(h, np.float32))
        self.rho = nn.Parameter(np.ones(n, np.float32))
        self.V = _uniform((n, h, 3 * k), 0.1 / math.sqrt(h))
        b = np.zeros((n, 3 * k), np.float32)
        b[:, k:2 * k] = np.linspace(-2, 2, k)
        b[:, 2 * k:] = math.log(0.5)
        self.b = nn.Parameter(b)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64 if data == "digits" else 256, "hidden": 100, "components": 10}

    # ------------------------------------------------------------------------------------------ data
    def split_arrays(self, split: str) -> tuple:
        if self.data_name == "digits":
            return super().split_arrays(split)
        n, seed = (self.TOY_TRAIN, 0) if split == "train" else (self.TOY_TEST, 1 if split == "test" else 2)
        x = self.TOYS[self.data_name](n, seed=seed)
        return x, np.zeros(n, np.int64)

    def dequantize(self, x: Tensor) -> Tensor:
        """y = x + u, u ~ U[0, 1) (digits only; toys are continuous already)."""
        if self.data_name != "digits":
            return x
        return x + mg.tensor(backend.rng(x.device).random(x.shape).astype(x.dtype))

    # ---------------------------------------------------------------------------------- likelihood
    def conditionals(self, z: Tensor) -> Tensor:
        """(B, n, 3K): [logit pi, mu, log sigma] of every conditional, in the standardized units z."""
        a = shared_preactivations(z, self.W, self.c)                     # (n, B, H)
        h = (a * self.rho.reshape(-1, 1, 1)).relu()
        return (h @ self.V).transpose(1, 0, 2) + self.b                  # n matmuls (B, H) @ (H, 3K)

    def _mixture(self, params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        k = self.components
        return params[..., :k].log_softmax(axis=-1), params[..., k:2 * k], params[..., 2 * k:].clip(-7.0, 5.0)

    def log_prob(self, x: Tensor, reduce: bool = True) -> Tensor:
        """log p(y) = sum_d log sum_k pi_dk N(z_d; mu_dk, sigma_dk) - n log(scale), z = (y - shift) / scale."""
        z = (self.flat(x) - self.shift) / self.scale
        log_pi, mu, log_sigma = self._mixture(self.conditionals(z))
        u = (z.unsqueeze(2) - mu) / log_sigma.exp()
        log_normal = -0.5 * u * u - log_sigma - 0.5 * math.log(2 * math.pi)
        terms = (log_pi + log_normal).logsumexp(axis=2) - math.log(self.scale)
        return terms.sum(axis=1) if reduce else terms.reshape(x.shape)

    def loss(self, batch) -> Tensor:
        """Mean -log p(x + u) over the batch, a fresh dequantization each step."""
        return -self.log_prob(self.dequantize(batch)).mean()

    # ------------------------------------------------------------------------------------ sampling
    def sample(self, n: int, y=None) -> Tensor:
        """Ancestral sampling with the running pre-activation; digits come back as levels floor(y) in 0..16."""
        self.labels(n, y)
        xp = backend.xp_for(self.device)
        rng = backend.rng(self.device)
        k = self.components
        z = xp.zeros((n, self.dims), np.float32)
        a = xp.broadcast_to(self.c.data, (n, self.hidden))
        with self.evaluating():
            for d in range(self.dims):
                p = xp.maximum(self.rho.data[d] * a, 0) @ self.V.data[d] + self.b.data[d]
                logits, mu, log_sigma = p[:, :k], p[:, k:2 * k], xp.clip(p[:, 2 * k:], -7.0, 5.0)
                g = -xp.log(-xp.log(rng.random(logits.shape) + 1e-20) + 1e-20)
                pick = (logits + g).argmax(axis=1)[:, None]
                m, s = xp.take_along_axis(mu, pick, 1)[:, 0], xp.exp(xp.take_along_axis(log_sigma, pick, 1)[:, 0])
                z[:, d] = m + s * rng.standard_normal(n)
                a = a + z[:, d:d + 1] * self.W.data[:, d]
        out = z * self.scale + self.shift
        if self.data_name == "digits":
            out = xp.clip(xp.floor(out), 0, 16)
        return mg.tensor(out.reshape((n,) + self.event_shape).astype(np.float32))

    def sample_figure(self, path: str, n: int = N_COVERAGE_SAMPLES) -> str:
        """Digits: a grid of 64 sampled images (levels 0..16); toys: the test data and at least 2,500
        samples side by side (a scatter plot needs more points than an image grid)."""
        from minigen import viz

        if self.data_name == "digits":
            with self.evaluating():
                return viz.save_image_grid(self.sample(min(n, 64)), path, value_range=(0, 16))
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        n = max(n, N_COVERAGE_SAMPLES)
        with self.evaluating():
            samples = self.sample(n).numpy()
        panels = (("data (test split)", self.split_arrays("test")[0][:n]), ("RNADE samples", samples))
        fig, axes = plt.subplots(1, 2, figsize=(7, 3.6), sharex=True, sharey=True)
        for ax, (title, points) in zip(axes, panels):
            ax.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.5, c="C0" if ax is axes[0] else "C3")
            ax.set_title(f"{title}, {len(points)} points", fontsize=9)
            ax.set_aspect("equal")
        fig.suptitle(f"RNADE on {self.data_name}", fontsize=10)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path

    # ------------------------------------------------------------------------------------- metrics
    def eval_batch(self, split: str) -> Tensor:
        return mg.tensor(self.split_arrays(split)[0], device=self.device)

    def metrics(self, split: str = "test") -> dict:
        """test_nll (nats per image or point), test_bpd for digits, mode coverage (minigen.data.toys.
        toy_coverage of N_COVERAGE_SAMPLES samples) for ring8/grid25."""
        x = self.eval_batch(split)
        out = dequantized_nll(self, x, self.DEQUANT_DRAWS if self.data_name == "digits" else 0)
        with self.evaluating():
            if self.data_name in COVERAGE_TOYS:
                cov = toy_coverage(self.sample(N_COVERAGE_SAMPLES), self.data_name)
                out[f"modes_{self.data_name}"] = cov.modes
                out[f"hq_{self.data_name}"] = cov.hq_share
        out["num_params"] = self.num_params()
        return out
