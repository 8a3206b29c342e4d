"""PyTorch reference for minigen's MAF on dequantized 17-level digits (the RNADE convention), same work.

Same architecture (models/flows/maf.py with the zoo run's options: the MADE layers with the very masks of
minigen's model, read from it (so the orders and sizes follow), alpha = 4 tanh(raw / 4), last layer
zero-initialised, dropout on the hidden units, batch norm flow layers with momentum 0.05 and eps 1e-4, the
N(0, I), mixture-of-Gaussians or MADE MoG base, y / 17 through logit(0.05 + 0.9 p), Adam's L2 weight decay, the linear
learning-rate decay of `decay_steps`), PyTorch's
default Linear init (which minigen's Linear copies), the zoo run's options and steps (read from bench/zoo.py's ZOO_RUNS), the same
batches (minigen's DataLoader with seed 0), Adam, and the same evaluation (test NLL in nats per image of
y = x + u, 8 fixed draws from numpy's generator seeded 1234). RealNVP's twin mirrors minigen's model layer by
layer (its masks read from it): affine couplings with conv nets and tanh-bounded scales, batch norm flow
layers, squeeze and the multi-scale split.

    python bench/reference/flows_torch.py [maf] [realnvp]

Writes bench/results/reference.json["maf"] and ["realnvp"] (read-modify-write, other entries are kept).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import minigen.models as models  # noqa: E402
from minigen.data import DataLoader, load_digits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from zoo import ZOO_RUNS  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results")
ALPHA_BOUND, LEVELS = 4.0, 17


class MADELayer(nn.Module):
    """u = (x - mu) exp(-alpha), [mu, alpha] from a masked ReLU MLP."""

    def __init__(self, masks: list, dropout: float = 0.0):
        super().__init__()
        self.masks = [torch.tensor(m) for m in masks]
        self.dropout = nn.Dropout(dropout)
        self.net = nn.ModuleList([nn.Linear(m.shape[1], m.shape[0]) for m in masks])
        nn.init.zeros_(self.net[-1].weight)

    def forward(self, x):
        h = x
        for l, (layer, mask) in enumerate(zip(self.net, self.masks)):
            h = nn.functional.linear(h, layer.weight * mask, layer.bias)
            if l < len(self.net) - 1:
                h = self.dropout(torch.relu(h))
        d = x.shape[1]
        mu, alpha = h[:, :d], ALPHA_BOUND * torch.tanh(h[:, d:] / ALPHA_BOUND)
        return (x - mu) * torch.exp(-alpha), -alpha.sum(1)


class BatchNormFlow(nn.Module):
    def __init__(self, d: int, momentum: float = 0.05, eps: float = 1e-4):
        super().__init__()
        self.log_gamma, self.beta = nn.Parameter(torch.zeros(d)), nn.Parameter(torch.zeros(d))
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("var", torch.ones(d))
        self.momentum, self.eps = momentum, eps

    def forward(self, x):
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            with torch.no_grad():
                self.mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.var.mul_(1 - self.momentum).add_(self.momentum * var)
        else:
            mean, var = self.mean, self.var
        log_scale = self.log_gamma - 0.5 * torch.log(var + self.eps)
        return (x - mean) * torch.exp(log_scale) + self.beta, log_scale.sum().expand(len(x))


class Coupling(nn.Module):
    """y = b x + (1 - b)(x exp(s) + t), s = scale tanh(raw), [t, raw] = conv net(b x)."""

    def __init__(self, mask, c: int, hidden: int):
        super().__init__()
        self.mask = torch.tensor(mask)
        self.net = nn.Sequential(nn.Conv2d(c, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 3, padding=1),
                                 nn.ReLU(), nn.Conv2d(hidden, 2 * c, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(c))

    def forward(self, x):
        b = self.mask
        out = self.net(b * x)
        c = x.shape[1]
        t, s = (1 - b) * out[:, :c], (1 - b) * self.scale[:, None, None] * torch.tanh(out[:, c:])
        return x * torch.exp(s) + t, s.sum((1, 2, 3))


class BatchNorm2dFlow(BatchNormFlow):
    def forward(self, x):
        if self.training:
            mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
            with torch.no_grad():
                self.mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.var.mul_(1 - self.momentum).add_(self.momentum * var)
        else:
            mean, var = self.mean, self.var
        log_scale = self.log_gamma - 0.5 * torch.log(var + self.eps)
        y = (x - mean[:, None, None]) * torch.exp(log_scale)[:, None, None] + self.beta[:, None, None]
        return y, (x.shape[2] * x.shape[3]) * log_scale.sum().expand(len(x))


def squeeze(x):
    b, c, h, w = x.shape
    return x.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


class RealNVP(nn.Module):
    """minigen's MultiScale(head, tail) rebuilt layer by layer."""

    def __init__(self, minigen_model, hidden: int, alpha: float):
        super().__init__()
        (scale,) = minigen_model.layers
        self.head, self.tail = (nn.ModuleList([self._twin(p, hidden) for p in part]) for part in (scale.head, scale.tail))
        self.alpha = alpha

    @staticmethod
    def _twin(part, hidden: int):
        kind = type(part).__name__
        if kind == "AffineCoupling":
            return Coupling(part.mask.numpy(), part.mask.shape[0], hidden)
        if kind == "BatchNormFlow":
            return BatchNorm2dFlow(part.channels)
        return None  # Squeeze

    @staticmethod
    def _run(layers, x, total):
        for layer in layers:
            if layer is None:
                x = squeeze(x)
            else:
                x, ldj = layer(x)
                total = total + ldj
        return x, total

    def log_prob(self, y):
        y = y.reshape(-1, 1, 8, 8)
        p = self.alpha + (1 - 2 * self.alpha) * y / LEVELS
        x = torch.log(p) - torch.log1p(-p)
        total = (math.log((1 - 2 * self.alpha) / LEVELS) - torch.log(p) - torch.log1p(-p)).sum((1, 2, 3))
        h, total = self._run(self.head, x, total)
        half = h.shape[1] // 2
        z, total = self._run(self.tail, h[:, :half], total)
        z = torch.cat([z, h[:, half:]], 1).flatten(1)
        return total - 0.5 * (z ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


class MixtureBase(nn.Module):
    """log sum_k pi_k N(u; m_k, diag s_k^2), the means initialised as minigen's (read from it)."""

    def __init__(self, minigen_mixture):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(minigen_mixture.logits.shape))
        self.loc = nn.Parameter(torch.from_numpy(minigen_mixture.loc.numpy().copy()))
        self.log_scale = nn.Parameter(torch.zeros(minigen_mixture.log_scale.shape))

    def forward(self, u):
        z = (u[:, None] - self.loc) * torch.exp(-self.log_scale)
        per_k = (-0.5 * z ** 2 - self.log_scale - 0.5 * math.log(2 * math.pi)).sum(-1)
        return torch.logsumexp(per_k + torch.log_softmax(self.logits, 0), 1)


class MADEMixture(nn.Module):
    """MAF MoG's base: per dimension a K-mixture whose [logits, means, log-scales] a MADE outputs (the masks
    and the spread initial biases of the means read from minigen's), log-scales bounded as alpha."""

    def __init__(self, minigen_base, dropout: float):
        super().__init__()
        made = minigen_base.made
        self.k = minigen_base.components
        self.made = MADELayer([getattr(made, f"mask{l}").numpy() for l in range(len(made.net))], dropout)
        with torch.no_grad():
            self.made.net[-1].bias.copy_(torch.from_numpy(made.net[-1].bias.numpy().copy()))

    def forward(self, u):
        h = u
        for l, (layer, mask) in enumerate(zip(self.made.net, self.made.masks)):
            h = nn.functional.linear(h, layer.weight * mask, layer.bias)
            if l < len(self.made.net) - 1:
                h = self.made.dropout(torch.relu(h))
        h = h.reshape(len(u), 3 * self.k, u.shape[1])
        logits, loc, raw = h[:, :self.k], h[:, self.k:2 * self.k], h[:, 2 * self.k:]
        log_s = ALPHA_BOUND * torch.tanh(raw / ALPHA_BOUND)
        z = (u[:, None] - loc) * torch.exp(-log_s)
        per_k = torch.log_softmax(logits, 1) - 0.5 * z ** 2 - log_s - 0.5 * math.log(2 * math.pi)
        return torch.logsumexp(per_k, 1).sum(1)


class MAF(nn.Module):
    def __init__(self, minigen_model, alpha: float, dropout: float = 0.0):
        super().__init__()
        layers = []
        for part in minigen_model.layers:
            if type(part).__name__ == "MAFLayer":
                made = part.made
                layers.append(MADELayer([getattr(made, f"mask{l}").numpy() for l in range(len(made.net))],
                                        dropout))
            else:
                layers.append(BatchNormFlow(minigen_model.flow_shape[0]))
        self.layers, self.alpha = nn.ModuleList(layers), alpha
        base = minigen_model.mixture
        self.mixture = (None if base is None else MADEMixture(base, dropout) if hasattr(base, "made")
                        else MixtureBase(base))

    def log_prob(self, y):
        p = self.alpha + (1 - 2 * self.alpha) * y / LEVELS
        x = torch.log(p) - torch.log1p(-p)
        total = (math.log((1 - 2 * self.alpha) / LEVELS) - torch.log(p) - torch.log1p(-p)).sum(1)
        for layer in self.layers:
            x, ldj = layer(x)
            total = total + ldj
        if self.mixture is not None:
            return total + self.mixture(x)
        return total - 0.5 * (x ** 2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def run_twin(name: str) -> None:
    torch.manual_seed(0)
    run = ZOO_RUNS[name][0]
    cfg = {**models.model_class(name).default_config("digits"), **run["set"]}
    ours = models.create(name, "digits", **run["set"])
    model = MAF(ours, cfg["alpha"], cfg["dropout"]) if name == "maf" else RealNVP(ours, cfg["hidden"], cfg["alpha"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"], weight_decay=cfg.get("weight_decay", 0.0))
    decay = cfg.get("decay_steps", 0)  # MAF's lr -> 0 linearly over decay_steps steps, as minigen's LinearLR
    schedule = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.0, total_iters=decay) if decay else None
    loader = DataLoader((load_digits("train").images,), batch_size=cfg["batch_size"], shuffle=True,
                        drop_last=True, seed=0)
    rng = np.random.default_rng(0)
    t0, step = time.perf_counter(), 0
    while step < run["steps"]:
        for batch in loader:
            x = batch.numpy().reshape(len(batch), -1)
            y = torch.from_numpy((x + rng.random(x.shape)).astype(np.float32))
            loss = -model.log_prob(y).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            step += 1
            if step == run["steps"]:
                break
    seconds = time.perf_counter() - t0
    model.eval()
    test = load_digits("test").images.reshape(-1, 64)
    draws = np.random.default_rng(1234)
    with torch.no_grad():
        lp = np.mean([model.log_prob(torch.from_numpy((test + draws.random(test.shape)).astype(np.float32)))
                      .numpy() for _ in range(8)], axis=0)
    nll = float(-lp.mean())
    print(f"{name} torch: test_nll {nll:.3f} nats, {nll / (64 * math.log(2)):.4f} bits/dim, {seconds:.1f} s")
    path = os.path.join(RESULTS, "reference.json")
    reference = json.load(open(path)) if os.path.exists(path) else {}
    reference[name] = {"test_nll": nll, "test_bpd": nll / (64 * math.log(2)), "steps": run["steps"],
                        "seconds_per_run": seconds, "seeds": 1, "torch": torch.__version__}
    with open(path, "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)


def main() -> None:
    torch.set_num_threads(1)
    for name in sys.argv[1:] or ["maf", "realnvp"]:
        run_twin(name)


if __name__ == "__main__":
    main()
