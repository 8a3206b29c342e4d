"""PyTorch twin of minigen's PixelCNN on statically binarized digits, run side by side.

Same architecture (a mask-A 7x7 convolution, residual blocks relu -> 1x1 -> relu -> 3x3 mask B -> relu ->
1x1 plus the skip, two 1x1 output layers, a sigmoid per pixel; PyTorch's default Conv2d init, which
minigen's copies), the same split and batches (minigen's DataLoader with the run's seed), Adam with the zoo
run's learning rate, batch size and steps (read from bench/zoo.py's ZOO_RUNS, so the budgets cannot drift
apart), the same recipe (`lr_schedule="cosine"`: torch's CosineAnnealingLR over the run; `ema` > 0: torch's
AveragedModel with get_ema_multi_avg_fn, updated after every step and evaluated instead of the trained
weights), and the same evaluation: exact test NLL in nats per image on the 300 test digits.

    python bench/reference/pixelcnn_torch.py                 # the zoo's pixelcnn config, seeds 0 1 2
    python bench/reference/pixelcnn_torch.py --seeds 0 --minigen   # also retrain minigen here

minigen's number for seed 0 is the zoo run's (bench/results/zoo.json, the same command); --minigen retrains
minigen in this process for every seed instead. Writes bench/results/reference.json["pixelcnn"]
(read-modify-write, other entries kept) and bench/results/pixelcnn_side_by_side.json.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each: a fair, quiet comparison on a shared box

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.optim import swa_utils  # noqa: E402

from minigen.data import DataLoader, load_digits  # noqa: E402
from minigen.kernels.masked_conv2d import pixelcnn_mask  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/reference/, for the shared helpers
from autoregressive_torch import config, run_minigen  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "..", "results")


class MaskedConv(nn.Conv2d):
    """Size-preserving conv2d(x, w * mask) with the raster mask A or B."""

    def __init__(self, cin: int, cout: int, k: int, mask_type: str):
        super().__init__(cin, cout, k, padding=k // 2)
        self.register_buffer("mask", torch.from_numpy(pixelcnn_mask(k, k, mask_type)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Block(nn.Module):
    def __init__(self, channels: int, dropout: float):
        super().__init__()
        half = channels // 2
        self.reduce, self.conv = MaskedConv(channels, half, 1, "B"), MaskedConv(half, half, 3, "B")
        self.expand, self.dropout = MaskedConv(half, channels, 1, "B"), nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        inner = torch.relu(self.conv(torch.relu(self.reduce(torch.relu(h)))))
        return h + self.expand(self.dropout(inner))


class PixelCNN(nn.Module):
    def __init__(self, channels: int, layers: int, first_kernel: int, dropout: float):
        super().__init__()
        self.first = MaskedConv(1, channels, first_kernel, "A")
        self.blocks = nn.ModuleList([Block(channels, dropout) for _ in range(layers)])
        self.head, self.out = MaskedConv(channels, channels, 1, "B"), MaskedConv(channels, 1, 1, "B")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h)
        logits = self.out(torch.relu(self.head(torch.relu(h))))
        return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))


def run_torch(name: str, seed: int) -> dict:
    cfg, steps = config(name)
    torch.manual_seed(seed)
    model = PixelCNN(cfg["channels"], cfg["layers"], cfg["first_kernel"], cfg["dropout"])
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) \
        if cfg["lr_schedule"] == "cosine" else None
    averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(cfg["ema"])) \
        if cfg["ema"] > 0 else None
    loader = DataLoader((load_digits("train", binarize="static").images,), batch_size=cfg["batch_size"],
                        shuffle=True, drop_last=True, seed=seed)
    t0, step = time.perf_counter(), 0
    model.train()
    while step < steps:
        for batch in loader:
            loss = -model.log_prob(torch.from_numpy(batch.numpy())).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if schedule is not None:
                schedule.step()
            if averaged is not None:
                averaged.update_parameters(model)
            step += 1
            if step == steps:
                break
    seconds = time.perf_counter() - t0
    model = averaged.module if averaged is not None else model  # the run's result, as minigen's trainer
    model.eval()
    with torch.no_grad():
        lp = model.log_prob(torch.from_numpy(load_digits("test", binarize="static").images))
    return {"test_nll": float(-lp.mean()), "seconds": seconds}


def minigen_numbers(name: str, seed: int, retrain: bool) -> dict:
    """minigen's test NLL for a seed: the zoo run's (seed 0 only: zoo.json, or the run folder the zoo
    writes first, runs/zoo/NAME/metrics.json) unless retrain."""
    if retrain:
        return run_minigen(name, seed)
    if seed != 0:
        return {}
    with open(os.path.join(RESULTS, "zoo.json")) as f:
        entry = json.load(f)["models"].get(name)
    if entry is None:
        with open(os.path.join("runs", "zoo", name, "metrics.json")) as f:
            return {"test_nll": json.load(f)["test_nll"], "source": f"runs/zoo/{name}/metrics.json"}
    return {"test_nll": entry["metrics"]["test_nll"], "seconds": entry["seconds"], "source": "zoo.json"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--minigen", action="store_true", help="retrain minigen here for every seed")
    args = p.parse_args()
    torch.set_num_threads(1)
    name = "pixelcnn"
    rows = []
    for seed in args.seeds:
        theirs = run_torch(name, seed)
        print(f"{name} seed {seed}: torch {theirs}", flush=True)
        ours = minigen_numbers(name, seed, args.minigen)
        rows.append({"seed": seed, "minigen": ours, "torch": theirs})
        print(f"{name} seed {seed}: minigen {ours.get('test_nll', float('nan')):.3f}  torch "
              f"{theirs['test_nll']:.3f} nats  ({theirs['seconds']:.0f} s torch)", flush=True)
    ours = np.array([r["minigen"]["test_nll"] for r in rows if r["minigen"]])
    theirs = np.array([r["torch"]["test_nll"] for r in rows])
    gap = float((ours.mean() - theirs.mean()) / theirs.mean())
    print(f"{name}: minigen {ours.mean():.3f} ({len(ours)} run(s)), torch {theirs.mean():.3f} +- "
          f"{theirs.std():.3f} nats; relative gap {100 * gap:+.2f}%")
    cfg, steps = config(name)
    side_path, ref_path = (os.path.join(RESULTS, f) for f in ("pixelcnn_side_by_side.json", "reference.json"))
    with open(side_path, "w") as f:
        json.dump({name: {"config": cfg, "steps": steps, "runs": rows, "minigen_test_nll": float(ours.mean()),
                          "torch_test_nll": float(theirs.mean()), "relative_gap": gap}}, f, indent=2,
                  sort_keys=True)
    reference = json.load(open(ref_path)) if os.path.exists(ref_path) else {}
    reference[name] = {"test_nll": float(theirs.mean()), "test_nll_sd_over_seeds": float(theirs.std()),
                       "seeds": len(rows), "steps": steps, "torch": torch.__version__,
                       "seconds_per_run": float(np.mean([r["torch"]["seconds"] for r in rows]))}
    with open(ref_path, "w") as f:
        json.dump(reference, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
