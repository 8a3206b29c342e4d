"""The flow VAEs' bounds against the plain VAE's, paired by test image (issue 16).

The zoo's test_elbo is one draw of z per image and its standard error is over images, which hides a small
gap between two models evaluated on the same images. Here each test image's ELBO is averaged over `--draws`
draws (so the Monte Carlo noise of the flow posteriors' KL is small), and the difference to the plain VAE is
taken image by image: mean difference +- its standard error (positive: the flow VAE's bound is tighter).

    python bench/flows_vae_paired.py [--runs runs/zoo] [--draws 100]

Reads the zoo's run folders (RUNS/KEY for the keys below, as bench/zoo.py leaves them) and
writes bench/results/flows_vae_paired.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os

import numpy as np

import minigen.models as models
from minigen import backend, run_folder, trainer

KEYS = ("vae", "iaf-vae", "iaf-vae@no-context", "planar-vae", "planar-vae@global")  # zoo keys (run folders)
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "flows_vae_paired.json")


def load(folder: str, name: str):
    run = run_folder.run_for_reading(folder, name)
    model = models.create(name, data=run["data"], **run["config"])
    trainer.load_model(model, folder)
    return model.eval()


def per_image_elbo(model, draws: int, seed: int = 1234) -> np.ndarray:
    """Each test image's ELBO averaged over `draws` draws of z (nats)."""
    backend.manual_seed(seed)
    batch = model.eval_batch("test")
    with model.evaluating():
        return np.mean([model.elbo(batch).numpy().astype(np.float64) for _ in range(draws)], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", default="runs/zoo")
    ap.add_argument("--draws", type=int, default=100)
    args = ap.parse_args()
    elbo = {key: per_image_elbo(load(os.path.join(args.runs, key), key.split("@")[0]), args.draws)
            for key in KEYS if os.path.isdir(os.path.join(args.runs, key))}
    out = {"draws": args.draws, "images": int(len(elbo["vae"]))}
    for name, values in elbo.items():
        out[name] = {"test_elbo": float(values.mean()),
                     "test_elbo_sem": float(values.std(ddof=1) / math.sqrt(len(values)))}
        if name != "vae":
            diff = values - elbo["vae"]
            out[name]["minus_vae"] = float(diff.mean())
            out[name]["minus_vae_sem"] = float(diff.std(ddof=1) / math.sqrt(len(diff)))
    print(json.dumps(out, indent=1))
    with open(RESULTS, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
