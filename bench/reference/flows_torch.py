"""PyTorch reference for minigen's MAF on dequantized 17-level digits (the RNADE convention), same work.

Same architecture (models/flows/maf.py: five MADE layers with the very masks of minigen's model, read from
it, reversed orders, alpha = 4 tanh(raw / 4), last layer zero-initialised, batch norm flow layers with
momentum 0.05 and eps 1e-4, y / 17 through logit(0.05 + 0.9 p)), PyTorch's default Linear init (which
minigen's Linear copies), the zoo run's options and steps (read from bench/zoo.py's ZOO_RUNS), the same
batches (minigen's DataLoader with seed 0), Adam, and the same evaluation (test NLL in nats per image of
y = x + u, 8 fixed draws from numpy's generator seeded 1234). The RealNVP twin is not written yet.

    python bench/reference/flows_torch.py

Writes bench/results/reference.json["maf"] (read-modify-write, other entries are kept).
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

    def __init__(self, masks: list):
        super().__init__()
        self.masks = [torch.tensor(m) for m in masks]
        self.net = nn.ModuleList([nn.Linear(m.shape[1], m.shape[0]) for m in masks])
        nn.init.zeros_(self.net[-1].weight)

    def forward(self, x):
        h = x
        for l, (layer, mask) in enumerate(zip(self.net, self.masks)):
            h = nn.functional.linear(h, layer.weight * mask, layer.bias)
            if l < len(self.net) - 1:
                h = torch.relu(h)
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


class MAF(nn.Module):
    def __init__(self, minigen_model, alpha: float):
        super().__init__()
        layers = []
        for part in minigen_model.layers:
            if type(part).__name__ == "MAFLayer":
                made = part.made
                layers.append(MADELayer([getattr(made, f"mask{l}").numpy() for l in range(len(made.net))]))
            else:
                layers.append(BatchNormFlow(minigen_model.flow_shape[0]))
        self.layers, self.alpha = nn.ModuleList(layers), alpha

    def log_prob(self, y):
        p = self.alpha + (1 - 2 * self.alpha) * y / LEVELS
        x = torch.log(p) - torch.log1p(-p)
        total = (math.log((1 - 2 * self.alpha) / LEVELS) - torch.log(p) - torch.log1p(-p)).sum(1)
        for layer in self.layers:
            x, ldj = layer(x)
            total = total + ldj
        return total - 0.5 * (x ** 2).sum(1) - 0.5 * x.shape[1] * math.log(2 * math.pi)


def main() -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    run = ZOO_RUNS["maf"][0]
    cfg = {**models.model_class("maf").default_config("digits"), **run["set"]}
    model = MAF(models.create("maf", "digits", **run["set"]), cfg["alpha"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
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
    print(f"maf torch: test_nll {nll:.3f} nats, {nll / (64 * math.log(2)):.4f} bits/dim, {seconds:.1f} s")
    path = os.path.join(RESULTS, "reference.json")
    reference = json.load(open(path)) if os.path.exists(path) else {}
    reference["maf"] = {"test_nll": nll, "test_bpd": nll / (64 * math.log(2)), "steps": run["steps"],
                        "seconds_per_run": seconds, "seeds": 1, "torch": torch.__version__}
    with open(path, "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
