"""PyTorch reference for minigen's DCGAN on 8x8 digits, run side by side with minigen's own.

The same architecture (models/gan/dcgan.py with models/nets.py: G z -> Linear -> BN -> ReLU -> (2c, 2, 2) ->
ConvT 4x4 -> BN -> ReLU -> ConvT 8x8 -> tanh; D Conv 4x4 -> LReLU(0.2) -> Conv 2x2 -> BN -> LReLU -> Conv ->
logit; c = 32, z of 32), N(0, 0.02) init, Adam(2e-4, betas (0.5, 0.999)), batch 64, the non-saturating
generator loss, the same real batches (minigen's DataLoader over gray levels / 16, seed s), the same number of
steps, and the same evaluation (models/evaluation/gan_metrics.py: parzen_ll, fd_digits, score_digits on the
test split, fixed sampling seeds).

    python bench/reference/dcgan_torch.py               # 2000 steps, seeds 0 1 2, both implementations
    python bench/reference/dcgan_torch.py --seeds 0 --no-minigen

Writes bench/results/reference.json["dcgan"] (PyTorch's means over the seeds; read-modify-write) and prints
both implementations' numbers.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch
from torch import nn

import minigen.models as models
from minigen import trainer
from minigen.models.evaluation.gan_metrics import digits_metrics

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "..", "results", "reference.json")
KEYS = ("parzen_ll", "fd_digits", "score_digits")


def build(z_dim: int = 32, c: int = 32) -> tuple[nn.Module, nn.Module]:
    g = nn.Sequential(
        nn.Linear(z_dim, 2 * c * 4, bias=False), nn.BatchNorm1d(2 * c * 4), nn.ReLU(), nn.Unflatten(1, (2 * c, 2, 2)),
        nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        nn.ConvTranspose2d(c, 1, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(1, c, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(c, 2 * c, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * c, 1, 2))
    for m in list(g.modules()) + list(d.modules()):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
    return g, d


def train_torch(steps: int, seed: int, z_dim: int = 32) -> dict:
    torch.manual_seed(seed)
    g, d = build(z_dim)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    loader = models.create("dcgan").loader("train", seed=seed)  # minigen's batches: gray levels / 16
    softplus = nn.functional.softplus
    step, t0 = 0, time.perf_counter()
    while step < steps:
        for x in loader:
            x = x[0] if isinstance(x, (tuple, list)) else x
            real = torch.from_numpy(x.numpy()) * 2 - 1
            n = real.shape[0]
            with torch.no_grad():
                fake = g(torch.randn(n, z_dim))
            loss_d = softplus(-d(real)).mean() + softplus(d(fake)).mean()
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = softplus(-d(g(torch.randn(n, z_dim)))).mean()
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            step += 1
            if step == steps:
                break
    seconds = time.perf_counter() - t0
    g.eval()

    def sample(n, rng):
        z = torch.from_numpy(rng.standard_normal((n, z_dim)).astype(np.float32))
        with torch.no_grad():
            return ((g(z) + 1) * 0.5).numpy()

    return {**digits_metrics(sample), "seconds": seconds}


def train_minigen(steps: int, seed: int) -> dict:
    model = models.create("dcgan")
    t0 = time.perf_counter()
    trainer.train(model, steps, os.path.join("runs", "reference", f"dcgan-minigen-{seed}"), seed=seed,
                  progress=False)
    seconds = time.perf_counter() - t0
    return {**model.metrics("test"), "seconds": seconds}


def summary(runs: list) -> dict:
    out = {k: float(np.mean([r[k] for r in runs])) for k in KEYS}
    out.update({k + "_sd_over_seeds": float(np.std([r[k] for r in runs], ddof=1)) for k in KEYS if len(runs) > 1})
    out["seconds_per_run"] = float(np.mean([r["seconds"] for r in runs]))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--no-minigen", action="store_true", help="only the PyTorch runs")
    args = p.parse_args()
    torch.set_num_threads(1)
    rows = {"torch": [train_torch(args.steps, s) for s in args.seeds]}
    if not args.no_minigen:
        rows["minigen"] = [train_minigen(args.steps, s) for s in args.seeds]
    table = {name: summary(runs) for name, runs in rows.items()}
    print(f"DCGAN on digits, {args.steps} steps, seeds {args.seeds}")
    for name, s in table.items():
        print(f"  {name:8s} " + "  ".join(f"{k} {s[k]:.3f} (sd {s.get(k + '_sd_over_seeds', 0):.3f})" for k in KEYS)
              + f"  {s['seconds_per_run']:.0f} s/run")
    if "minigen" in table:
        for k in KEYS:
            rel = abs(table["minigen"][k] - table["torch"][k]) / abs(table["torch"][k])
            print(f"  {k}: minigen vs torch differ by {100 * rel:.1f}%")
    reference = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    reference["dcgan"] = {**table["torch"], "seeds": len(args.seeds), "steps": args.steps,
                          "torch": torch.__version__,
                          **({"minigen_same_seeds": {k: table["minigen"][k] for k in KEYS}} if "minigen" in table
                             else {})}
    with open(RESULTS, "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
