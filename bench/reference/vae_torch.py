"""PyTorch reference for minigen's VAE and IWAE on statically binarized digits: the same architecture
(MLPs 64 -> 256 -> 256 -> 2*16 and 16 -> 256 -> 256 -> 64, ReLU, PyTorch's default init, which minigen's
Linear copies), the same split and batches (minigen's DataLoader, seed 0), Adam(lr 1e-3), batch 64, the same
number of steps, and the same evaluation: test_elbo (one sample) and iwae_nll (k = 1000 importance
samples) on the 300 test digits.

    python bench/reference/vae_torch.py                 # vae, 4000 steps, seeds 0 1 2
    python bench/reference/vae_torch.py --k 5 --name iwae

Writes bench/results/reference.json[name] (read-modify-write: other models' entries are kept).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time

import numpy as np
import torch
from torch import nn

from minigen.data import DataLoader, load_digits

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "..", "results", "reference.json")


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, latent=16, hidden=256, pixels=64):
        super().__init__()
        self.latent = latent
        self.encoder = mlp([pixels, hidden, hidden, 2 * latent])
        self.decoder = mlp([latent, hidden, hidden, pixels])

    def log_weights(self, x, k):
        """log p(x|z) + log p(z) - log q(z|x), z ~ q: shape (k, B)."""
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent], h[:, self.latent:]
        q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample((k,))
        logits = self.decoder(z)
        log_px = -nn.functional.binary_cross_entropy_with_logits(logits, x.expand_as(logits),
                                                                 reduction="none").sum(-1)
        prior = torch.distributions.Normal(torch.zeros_like(z), torch.ones_like(z))
        return log_px + prior.log_prob(z).sum(-1) - q.log_prob(z).sum(-1)

    def elbo(self, x):
        """log p(x|z) - KL(q || N(0, I)) with the analytic KL, per example."""
        h = self.encoder(x)
        mu, logvar = h[:, :self.latent], h[:, self.latent:]
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        recon = -nn.functional.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").sum(-1)
        kl = 0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(-1)
        return recon, kl


def run(seed: int, steps: int, k: int, batch_size: int = 64, lr: float = 1e-3, eval_k: int = 1000) -> dict:
    torch.manual_seed(seed)
    model = VAE()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    train = load_digits("train", binarize="static")
    loader = DataLoader((train.images,), batch_size=batch_size, shuffle=True, drop_last=True, seed=seed)
    step, t0 = 0, time.perf_counter()
    while step < steps:
        for xb in loader:
            x = torch.from_numpy(xb.numpy().reshape(len(xb), -1))
            if k == 1:
                recon, kl = model.elbo(x)
                loss = -(recon - kl).mean()
            else:
                log_w = model.log_weights(x, k)
                loss = -(torch.logsumexp(log_w, 0) - math.log(k)).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    seconds = time.perf_counter() - t0
    test = torch.from_numpy(load_digits("test", binarize="static").images.reshape(300, -1))
    with torch.no_grad():
        recon, kl = model.elbo(test)
        chunks = [torch.logsumexp(model.log_weights(test, 100), 0) for _ in range(eval_k // 100)]
        log_p = torch.logsumexp(torch.stack(chunks), 0) - math.log(eval_k)
    return {"test_elbo": float((recon - kl).mean()), "test_recon": float(recon.mean()),
            "test_kl": float(kl.mean()), "iwae_nll": float(-log_p.mean()), "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--k", type=int, default=1, help="importance samples in training (1: the VAE's ELBO)")
    p.add_argument("--name", default="vae", help="the registry name to record the numbers under")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    torch.set_num_threads(1)
    runs = [run(s, args.steps, args.k) for s in args.seeds]
    for s, r in zip(args.seeds, runs):
        print(f"seed {s}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    entry = {key: float(np.mean([r[key] for r in runs])) for key in ("test_elbo", "iwae_nll", "test_kl")}
    entry["iwae_nll_sd_over_seeds"] = float(np.std([r["iwae_nll"] for r in runs], ddof=1)) if len(runs) > 1 else 0.0
    entry["seeds"] = len(runs)
    entry["steps"] = args.steps
    entry["seconds_per_run"] = float(np.mean([r["seconds"] for r in runs]))
    entry["torch"] = torch.__version__
    reference = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    reference[args.name] = entry
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)
        f.write("\n")
    print(json.dumps({args.name: entry}, indent=2))


if __name__ == "__main__":
    main()
