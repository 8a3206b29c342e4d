"""CD-1 vs CD-k vs PCD for the RBM on digits, refereed by the exact likelihood of a small RBM.

    python bench/rbm_cd.py [--steps 6000] [--hidden 20] [--k 10]

A 20-hidden-unit RBM has log Z by enumerating its 2^20 hidden states (models/energy/partition.py), so its
validation NLL is exact: no AIS error enters the comparison. Each method trains the same model (same seed,
initialisation, minibatches, learning rate decayed linearly to 0, Hinton's momentum and weight decay) and is
measured on the validation split at four points of its run; the final test NLL is recorded too. The winner
on validation is the RBM's default (`persistent`, `k` in RBM.default_config). Writes
bench/results/rbm_cd.json; with --hidden above 20 (log Z by AIS, measured at the end of each run only)
bench/results/rbm_cd-h<hidden>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import minigen as mg
import minigen.models as models
from minigen.data import load_digits
from minigen.models.energy.partition import exact_log_partition, free_energy

HERE = os.path.dirname(os.path.abspath(__file__))


def nll(model, split: str) -> float:
    """Mean -log p(v) in nats over a split: log Z by enumeration up to 20 hidden units, else by the model's AIS."""
    W, b, c = model.parameters_numpy()
    x = load_digits(split, binarize="static").images.reshape(-1, 64).astype(np.float64)
    log_z = exact_log_partition(W, b, c) if model.hidden <= 20 else model.log_partition().value
    return float(free_energy(x, W, b, c).mean() + log_z)


def train(method: str, k: int, steps: int, hidden: int, seed: int) -> dict:
    """Train one RBM by `method` (cd or pcd) with k Gibbs steps; the exact validation NLL along the way."""
    mg.manual_seed(seed)
    model = models.create("rbm", hidden=hidden, k=k, persistent=method == "pcd")
    opts = model.configure_optimizers()
    scheds = model.configure_schedulers(opts, steps)
    loader = model.loader("train", seed=seed)
    curve, step, t0 = {}, 0, time.perf_counter()
    while step < steps:
        for batch in loader:
            model.train_step(batch, opts, step)
            for s in scheds:
                s.step()
            step += 1
            if step % (steps // 4) == 0 and (hidden <= 20 or step == steps):
                curve[step] = nll(model, "valid")
            if step == steps:
                break
    return {"method": method, "k": k, "valid_nll_curve": curve, "valid_nll": curve[steps],
            "test_nll": nll(model, "test"), "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--hidden", type=int, default=20)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    runs = {}
    for name, method, k in (("cd1", "cd", 1), (f"cd{args.k}", "cd", args.k), ("pcd1", "pcd", 1)):
        runs[name] = train(method, k, args.steps, args.hidden, args.seed)
        print(name, runs[name], flush=True)
    best = min(runs, key=lambda n: runs[n]["valid_nll"])
    out = {"command": f"python bench/rbm_cd.py --steps {args.steps} --hidden {args.hidden} --k {args.k} "
                      f"--seed {args.seed}",
           "hidden": args.hidden, "steps": args.steps,
           "log_z": "exact (2^hidden states enumerated)" if args.hidden <= 20 else "AIS (the RBM's defaults)",
           "runs": runs, "best_on_valid": best}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    suffix = "" if args.hidden == 20 else f"-h{args.hidden}"
    with open(os.path.join(HERE, "results", f"rbm_cd{suffix}.json"), "w") as f:
        json.dump(out, f, indent=2)
    print("best on validation:", best)


if __name__ == "__main__":
    main()
