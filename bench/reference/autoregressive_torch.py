"""PyTorch references for minigen's NADE and MADE on statically binarized digits, run side by side.

Same architecture (NADE: one shared sigmoid layer, W ~ U(+-1/sqrt(n)), V ~ U(+-1/sqrt(H)), zero biases;
MADE: masked ReLU MLP with PyTorch's default Linear init, which minigen's Linear copies, and the same pool
of mask sets built from the same seed), the same split and batches (minigen's DataLoader with the run's
seed), Adam with the zoo run's learning rate, batch size and number of steps (read from bench/zoo.py's ZOO_RUNS,
so the budgets cannot drift apart), and the same evaluation: exact test NLL in nats per image on
the 300 test digits (MADE: the log-mean-exp ensemble over its first `ensemble` orderings).

    python bench/reference/autoregressive_torch.py                  # nade and made, seeds 0 1 2
    python bench/reference/autoregressive_torch.py --only nade --seeds 0

Writes bench/results/reference.json[name] (PyTorch's numbers; read-modify-write, other entries are kept)
and bench/results/autoregressive_side_by_side.json (both implementations, per seed).
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each: a fair, quiet comparison on a shared box

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import minigen as mg  # noqa: E402
import minigen.models as models  # noqa: E402
from minigen import trainer  # noqa: E402
from minigen.data import DataLoader, load_digits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # bench/, for the zoo table
from zoo import ZOO_RUNS  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "..", "results")


class NADE(nn.Module):
    """p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . sigmoid(c + W[:, <d] x_<d)), all d by one cumsum."""

    def __init__(self, dims: int, hidden: int):
        super().__init__()
        self.W = nn.Parameter(torch.empty(hidden, dims).uniform_(-1 / math.sqrt(dims), 1 / math.sqrt(dims)))
        self.c = nn.Parameter(torch.zeros(hidden))
        self.V = nn.Parameter(torch.empty(dims, hidden).uniform_(-1 / math.sqrt(hidden), 1 / math.sqrt(hidden)))
        self.b = nn.Parameter(torch.zeros(dims))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.unsqueeze(1) * self.W                                   # (B, H, n)
        a = torch.cumsum(nn.functional.pad(steps[:, :, :-1], (1, 0)), dim=2) + self.c[:, None]
        logits = (torch.sigmoid(a) * self.V.T).sum(1) + self.b
        return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(1)


def made_mask_pool(dims: int, hidden: int, layers: int, num_masks: int, order_agnostic: bool, seed: int):
    """Per mask set: masks (out, in) per layer. Set 0 keeps the raster order; the others draw a random
    one when order_agnostic; every set draws its hidden degrees from {min of the layer below, ..., n-1}."""
    rng = np.random.default_rng(seed)
    pool = []
    for s in range(num_masks):
        order = rng.permutation(dims) if order_agnostic and s > 0 else np.arange(dims)
        degrees = [np.empty(dims, np.int64)]
        degrees[0][order] = np.arange(1, dims + 1)
        for _ in range(layers):
            degrees.append(rng.integers(min(int(degrees[-1].min()), dims - 1), dims, size=hidden))
        masks = [degrees[l + 1][:, None] >= degrees[l][None, :] for l in range(layers)]
        masks.append(degrees[0][:, None] > degrees[-1][None, :])
        pool.append([torch.tensor(m, dtype=torch.float32) for m in masks])
    return pool


class MADE(nn.Module):
    """Masked ReLU MLP; log p under mask set k, and the ensemble log-mean-exp over the first E sets."""

    def __init__(self, dims: int, hidden: int, layers: int, num_masks: int, order_agnostic: bool, seed: int):
        super().__init__()
        widths = [dims] + [hidden] * layers + [dims]
        self.net = nn.ModuleList([nn.Linear(i, o) for i, o in zip(widths[:-1], widths[1:])])
        self.pool = made_mask_pool(dims, hidden, layers, num_masks, order_agnostic, seed)

    def log_prob(self, x: torch.Tensor, k: int = 0) -> torch.Tensor:
        h = x
        for l, (layer, mask) in enumerate(zip(self.net, self.pool[k])):
            h = nn.functional.linear(h, layer.weight * mask, layer.bias)
            if l < len(self.net) - 1:
                h = torch.relu(h)
        return -nn.functional.binary_cross_entropy_with_logits(h, x, reduction="none").sum(1)

    def ensemble_log_prob(self, x: torch.Tensor, e: int) -> torch.Tensor:
        return torch.logsumexp(torch.stack([self.log_prob(x, k) for k in range(e)]), 0) - math.log(e)


def config(key: str) -> tuple[dict, int]:
    """The zoo run's full model options and number of steps; key = NAME or NAME@TAG (a tagged variant)."""
    name, _, tag = key.partition("@")
    run = next(r for r in ZOO_RUNS[name] if r.get("tag", "") == tag)
    return {**models.model_class(name).default_config(run["data"]), **run.get("set", {})}, int(run["steps"])


def run_torch(name: str, seed: int) -> dict:
    cfg, steps = config(name)
    torch.manual_seed(seed)
    if name == "nade":
        model = NADE(64, cfg["hidden"])
    else:
        model = MADE(64, cfg["hidden"], cfg["layers"], cfg["num_masks"], cfg["order_agnostic"], cfg["mask_seed"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    loader = DataLoader((load_digits("train", binarize="static").images,), batch_size=cfg["batch_size"],
                        shuffle=True, drop_last=True, seed=seed)
    pick = np.random.default_rng(seed)
    t0, step = time.perf_counter(), 0
    while step < steps:
        for batch in loader:
            x = torch.from_numpy(batch.numpy().reshape(len(batch), -1))
            lp = model.log_prob(x) if name == "nade" else model.log_prob(x, int(pick.integers(cfg["num_masks"])))
            loss = -lp.mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step == steps:
                break
    seconds = time.perf_counter() - t0
    test = torch.from_numpy(load_digits("test", binarize="static").images.reshape(-1, 64))
    with torch.no_grad():
        lp = model.log_prob(test) if name == "nade" else model.ensemble_log_prob(test, cfg["ensemble"])
    return {"test_nll": float(-lp.mean()), "seconds": seconds}


def run_minigen(key: str, seed: int) -> dict:
    cfg, steps = config(key)
    mg.manual_seed(seed)
    model = models.create(key.partition("@")[0], **cfg)
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        trainer.train(model, steps, out, seed=seed, progress=False, checkpoint_every=10 ** 9)
        seconds = time.perf_counter() - t0
    return {"test_nll": model.metrics("test")["test_nll"], "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default="nade,made")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = p.parse_args()
    torch.set_num_threads(1)
    ref_path = os.path.join(RESULTS, "reference.json")
    side_path = os.path.join(RESULTS, "autoregressive_side_by_side.json")
    side = json.load(open(side_path)) if os.path.exists(side_path) else {}
    print(f"{'model':6} {'seed':>4} {'minigen nll':>12} {'torch nll':>10} {'minigen s':>10} {'torch s':>8}")
    for name in args.only.split(","):
        rows = []
        for seed in args.seeds:
            ours, theirs = run_minigen(name, seed), run_torch(name, seed)
            rows.append({"seed": seed, "minigen": ours, "torch": theirs})
            print(f"{name:6} {seed:4d} {ours['test_nll']:12.3f} {theirs['test_nll']:10.3f} "
                  f"{ours['seconds']:10.1f} {theirs['seconds']:8.1f}", flush=True)
        ours = np.array([r["minigen"]["test_nll"] for r in rows])
        theirs = np.array([r["torch"]["test_nll"] for r in rows])
        cfg, steps = config(name)
        gap = float((ours.mean() - theirs.mean()) / theirs.mean())
        print(f"{name}: minigen {ours.mean():.3f} +- {ours.std():.3f}, torch {theirs.mean():.3f} +- "
              f"{theirs.std():.3f} nats; relative gap {100 * gap:+.2f}%")
        side[name] = {"config": cfg, "steps": steps, "runs": rows, "minigen_test_nll": float(ours.mean()),
                      "torch_test_nll": float(theirs.mean()), "relative_gap": gap}
        reference = json.load(open(ref_path)) if os.path.exists(ref_path) else {}
        reference[name] = {"test_nll": float(theirs.mean()), "test_nll_sd_over_seeds": float(theirs.std()),
                           "seeds": len(rows), "steps": steps, "torch": torch.__version__,
                           "seconds_per_run": float(np.mean([r["torch"]["seconds"] for r in rows]))}
        os.makedirs(RESULTS, exist_ok=True)
        with open(ref_path, "w") as f:
            json.dump(reference, f, indent=2, sort_keys=True)
        with open(side_path, "w") as f:
            json.dump(side, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
