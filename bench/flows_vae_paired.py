"""The flow VAEs' bounds against the plain VAE's, paired by test image (issue 16).

The zoo's test_elbo is one draw of z per image and its standard error is over images, which hides a small
gap between two models evaluated on the same images. Here each test image's ELBO is averaged over `--draws`
draws (so the Monte Carlo noise of the flow posteriors' KL is small), and the difference to the plain VAE is
taken image by image: mean difference +- its standard error (positive: the flow VAE's bound is tighter).

    python bench/flows_vae_paired.py [--runs runs/zoo] [--draws 100]
    python bench/flows_vae_paired.py --split valid --runs DIR --keys vae,planar-vae@k16   # choosing settings

Reads the zoo's run folders (RUNS/KEY for the keys below, as bench/zoo.py leaves them; a key is the registry
name, then optionally @ and a tag; "vae" must be among them) and writes bench/results/flows_vae_paired.json
(test split) or flows_vae_paired_valid.json (`--split valid`: the same comparison on the validation split,
to choose a flow VAE's options on pilots trained with `minigen train ... --out DIR/KEY`). Entries of keys
not read this time are kept when the plain VAE's mean bound is the same to 1e-6 nats (the same run).

    python bench/flows_vae_paired.py --over-seeds runs/flows_vae_seeds --train --keys vae,iaf-vae,planar-vae

Over seeds: the zoo runs of the keys (bench/zoo.py's ZOO_RUNS, the same settings and steps) again with seeds 1
and 2 (`--seeds`) into DIR/seedN/KEY (`--train` trains the missing ones, with eval_k=1 since only the weights
are read), and each seed's paired difference to the VAE of the same seed (seed 0: the --runs folders); the
entry "over_seeds" gets the per-seed differences, their mean and its standard error over seeds.
"""
from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

import minigen.models as models
from minigen import backend, run_folder, trainer

KEYS = ("vae", "iaf-vae", "iaf-vae@no-context", "planar-vae", "planar-vae@amortized",
        "planar-vae@global")  # zoo keys (run folders)
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "flows_vae_paired{}.json")


def load(folder: str, name: str):
    run = run_folder.run_for_reading(folder, name)
    model = models.create(name, data=run["data"], **run["config"])
    trainer.load_model(model, folder)
    return model.eval()


def train_seed(key: str, seed: int, out: str) -> None:
    """The zoo run of `key` with another seed, into `out` (weights only matter: eval_k=1)."""
    import shlex
    import subprocess
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import zoo

    (_, run), = zoo.runs_of(key if "@" in key else f"{key}@digits")
    cmd = zoo.command(key.split("@")[0], {**run, "seed": seed}, out) + " --set eval_k=1"
    print(f"[paired] {cmd}", flush=True)
    subprocess.run([sys.executable, "-m", "minigen", *shlex.split(cmd)[1:]], check=True, env=zoo.single_threaded())


def over_seeds(keys: list, runs: str, folder: str, seeds: list, draws: int, train: bool) -> dict:
    """{key: {"seeds", "minus_vae_per_seed", "minus_vae", "minus_vae_sem"}}: paired by image within a seed."""
    per_seed = {}
    for seed in [0] + seeds:
        where = runs if seed == 0 else os.path.join(folder, f"seed{seed}")
        if train and seed:
            for key in keys:
                if not os.path.isfile(os.path.join(where, key, "metrics.json")):
                    train_seed(key, seed, os.path.join(where, key))
        elbo = {key: per_image_elbo(load(os.path.join(where, key), key.split("@")[0]), draws) for key in keys}
        for key in keys[1:]:
            per_seed.setdefault(key, []).append(float((elbo[key] - elbo["vae"]).mean()))
    return {key: {"seeds": [0] + seeds, "minus_vae_per_seed": d, "minus_vae": float(np.mean(d)),
                  "minus_vae_sem": float(np.std(d, ddof=1) / math.sqrt(len(d)))} for key, d in per_seed.items()}


def per_image_elbo(model, draws: int, seed: int = 1234, split: str = "test") -> np.ndarray:
    """Each image's ELBO (images of `split`) averaged over `draws` draws of z (nats)."""
    backend.manual_seed(seed)
    batch = model.eval_batch(split)
    with model.evaluating():
        return np.mean([model.elbo(batch).numpy().astype(np.float64) for _ in range(draws)], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/zoo")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--split", default="test", choices=("test", "valid"))
    ap.add_argument("--keys", default=",".join(KEYS), help="comma-separated run folders under --runs")
    ap.add_argument("--over-seeds", metavar="DIR", help="also compare over seeds: runs in DIR/seedN/KEY")
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--train", action="store_true", help="with --over-seeds: train the missing seeds' runs")
    args = ap.parse_args()
    if args.over_seeds:
        keys = args.keys.split(",")
        if keys[0] != "vae":
            raise SystemExit("--over-seeds: the keys must start with vae")
        path = RESULTS.format("")
        out = json.load(open(path)) if os.path.exists(path) else {}
        out["over_seeds"] = over_seeds(keys, args.runs, args.over_seeds, [int(s) for s in args.seeds.split(",")],
                                       args.draws, args.train)
        print(json.dumps(out["over_seeds"], indent=1))
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
        return
    elbo = {key: per_image_elbo(load(os.path.join(args.runs, key), key.split("@")[0]), args.draws,
                                split=args.split)
            for key in args.keys.split(",") if os.path.isdir(os.path.join(args.runs, key))}
    path = RESULTS.format("" if args.split == "test" else "_valid")
    out = json.load(open(path)) if os.path.exists(path) else {}
    stored = out.get("vae", {}).get(f"{args.split}_elbo")
    same_vae = stored is not None and abs(stored - float(elbo["vae"].mean())) < 1e-6  # float32 sums' last bits
    if not same_vae or (out.get("draws"), out.get("images")) != (args.draws, len(elbo["vae"])):
        out = {}  # earlier entries are kept only when paired with this very VAE run (same bound, same draws)
    out.update({"split": args.split, "draws": args.draws, "images": int(len(elbo["vae"]))})
    for name, values in elbo.items():
        out[name] = {f"{args.split}_elbo": float(values.mean()),
                     f"{args.split}_elbo_sem": float(values.std(ddof=1) / math.sqrt(len(values)))}
        if name != "vae":
            diff = values - elbo["vae"]
            out[name]["minus_vae"] = float(diff.mean())
            out[name]["minus_vae_sem"] = float(diff.std(ddof=1) / math.sqrt(len(diff)))
    print(json.dumps(out, indent=1))
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
