"""What the PyTorch twins of minigen's pixel models share: the training loop, minigen's numbers, the results.

A twin defines only its network (an nn.Module with `log_prob(x)`, or `log_prob(x, y)` for a class-conditional
run, in nats per image) and calls `main(KEYS, build, side_file)`. Everything else is minigen's trainer's
recipe, read from the zoo run (bench/zoo.py's ZOO_RUNS through autoregressive_torch.config, so the budgets
cannot drift apart): the same split and batches (minigen's DataLoader with the run's seed, the labels
alongside when `class_conditional`), Adam with the run's learning rate and batch size for its steps,
`lr_schedule="cosine"` as torch's CosineAnnealingLR over the run, `ema` > 0 as torch's AveragedModel with
get_ema_multi_avg_fn (updated after every step, after the schedule, and evaluated instead of the trained
weights), dropout in training only, and the same evaluation: exact test NLL in nats per image on the 300
statically binarized test digits (-log p(x | y) for a conditional run).

minigen's number for seed 0 is the zoo run's (bench/results/zoo.json, the same command); --minigen retrains
minigen in this process for every seed instead. Writes bench/results/reference.json[KEY] (read-modify-write,
other entries kept) and bench/results/<side_file> ({KEY: both implementations per seed}, read-modify-write).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable

import numpy as np
import torch
from autoregressive_torch import config, run_minigen
from torch.optim import swa_utils

from minigen.data import DataLoader, load_digits

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results")


def digits(split: str, conditional: bool) -> tuple:
    """The statically binarized split as arrays: (images,), or (images, labels) for a conditional run."""
    d = load_digits(split, binarize="static")
    return (d.images, d.labels) if conditional else (d.images,)


def as_torch(arrays) -> tuple:
    return tuple(torch.from_numpy(np.asarray(a)) for a in arrays)


def train_torch(key: str, seed: int, build: Callable[[dict], torch.nn.Module]) -> dict:
    """Train build(cfg) with the zoo run's recipe; its test NLL and the seconds the training took."""
    cfg, steps = config(key)
    torch.manual_seed(seed)
    model = build(cfg)
    conditional = bool(cfg.get("class_conditional", False))
    opt = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps) \
        if cfg["lr_schedule"] == "cosine" else None
    averaged = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(cfg["ema"])) \
        if cfg["ema"] > 0 else None
    loader = DataLoader(digits("train", conditional), batch_size=cfg["batch_size"], shuffle=True,
                        drop_last=True, seed=seed)
    t0, step = time.perf_counter(), 0
    model.train()
    while step < steps:
        for batch in loader:
            batch = batch if isinstance(batch, tuple) else (batch,)
            loss = -model.log_prob(*as_torch(t.numpy() for t in batch)).mean()
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
        lp = model.log_prob(*as_torch(digits("test", conditional)))
    return {"test_nll": float(-lp.mean()), "seconds": seconds}


def minigen_numbers(key: str, seed: int, retrain: bool) -> dict:
    """minigen's test NLL for a seed: the zoo run's (seed 0 only: zoo.json, or the run folder the zoo
    writes first, runs/zoo/KEY/metrics.json) unless retrain."""
    if retrain:
        return run_minigen(key, seed)
    if seed != 0:
        return {}
    with open(os.path.join(RESULTS, "zoo.json")) as f:
        entry = json.load(f)["models"].get(key)
    if entry is None:
        with open(os.path.join("runs", "zoo", key, "metrics.json")) as f:
            return {"test_nll": json.load(f)["test_nll"], "source": f"runs/zoo/{key}/metrics.json"}
    return {"test_nll": entry["metrics"]["test_nll"], "seconds": entry["seconds"], "source": "zoo.json"}


def _update(path: str, key: str, value: dict) -> None:
    table = {}
    if os.path.exists(path):
        with open(path) as f:
            table = json.load(f)
    table[key] = value
    with open(path, "w") as f:
        json.dump(table, f, indent=2, sort_keys=True)


def side_by_side(key: str, build: Callable, side_file: str, seeds: list[int], retrain: bool) -> None:
    """Both implementations over `seeds`; PyTorch's mean into reference.json[key], both into side_file."""
    rows = []
    for seed in seeds:
        theirs = train_torch(key, seed, build)
        print(f"{key} seed {seed}: torch {theirs}", flush=True)
        ours = minigen_numbers(key, seed, retrain)
        rows.append({"seed": seed, "minigen": ours, "torch": theirs})
        print(f"{key} seed {seed}: minigen {ours.get('test_nll', float('nan')):.3f}  torch "
              f"{theirs['test_nll']:.3f} nats  ({theirs['seconds']:.0f} s torch)", flush=True)
    ours = np.array([r["minigen"]["test_nll"] for r in rows if r["minigen"]])
    theirs = np.array([r["torch"]["test_nll"] for r in rows])
    gap = float((ours.mean() - theirs.mean()) / theirs.mean()) if len(ours) else float("nan")
    print(f"{key}: minigen {ours.mean() if len(ours) else float('nan'):.3f} ({len(ours)} run(s)), torch "
          f"{theirs.mean():.3f} +- {theirs.std():.3f} nats; relative gap {100 * gap:+.2f}%")
    cfg, steps = config(key)
    _update(os.path.join(RESULTS, side_file), key, {
        "config": cfg, "steps": steps, "runs": rows, "minigen_test_nll": float(ours.mean()) if len(ours) else None,
        "torch_test_nll": float(theirs.mean()), "relative_gap": gap})
    _update(os.path.join(RESULTS, "reference.json"), key, {
        "test_nll": float(theirs.mean()), "test_nll_sd_over_seeds": float(theirs.std()), "seeds": len(rows),
        "steps": steps, "torch": torch.__version__,
        "seconds_per_run": float(np.mean([r["torch"]["seconds"] for r in rows]))})


def main(keys: list[str], build: Callable | dict, side_file: str, description: str) -> None:
    """The twins' command line: --only KEY,... (default: all of `keys`), --seeds, --minigen. `build`: one
    build(cfg) for every key, or {key: build} where the keys are different networks (pixelrnn_torch.py)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--only", default=",".join(keys), help=f"comma-separated, of {', '.join(keys)}")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--minigen", action="store_true", help="retrain minigen here for every seed")
    args = p.parse_args()
    torch.set_num_threads(1)
    for key in args.only.split(","):
        if key not in keys:
            p.error(f"--only: {key!r} is not one of {keys}")
        side_by_side(key, build[key] if isinstance(build, dict) else build, side_file, args.seeds, args.minigen)
