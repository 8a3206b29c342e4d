"""VaDE's settings chosen on the validation split: cluster_acc of the 200 validation digits after the GMM
initialisation and every `--every` steps of the VaDE ELBO, for each setting given.

    python bench/vade_valid.py --config latent=10,covariance=full --config latent=10,covariance=diagonal
    python bench/vade_valid.py --config latent=10,covariance=full,seed=1 --steps 4000 --pretrain 2000

Each setting trains VaDE (models/latent/vade.py) with its own loop (the model's train_step on its training
loader, seeded by `seed`), so the numbers are not those of the `minigen train` run the zoo records (another
data order), only the means of choosing between settings. Nothing here reads the test split. Appends one
record per setting to bench/results/vade_valid.json.
"""
from __future__ import annotations

import argparse
import json
import os
import time

from minigen import backend
from minigen.data import load_digits
from minigen.models.evaluation.clustering import cluster_acc
from minigen.models.latent.vade import VaDE

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "vade_valid.json")


def parse(config: str) -> dict:
    """'latent=10,covariance=full,seed=1' -> {'latent': 10, 'covariance': 'full', 'seed': 1}."""
    out = {}
    for part in filter(None, config.split(",")):
        key, value = part.split("=")
        out[key] = value if key == "covariance" else (float(value) if "." in value or "e-" in value
                                                      else int(value))
    return out


def run(settings: dict, steps: int, pretrain: int, every: int) -> dict:
    settings = dict(settings)
    seed = int(settings.pop("seed", 0))
    backend.manual_seed(seed)
    model = VaDE("digits", pretrain_steps=pretrain, **settings)
    optimizers, loader = model.configure_optimizers(), model.loader("train", seed=seed)
    labels = load_digits("valid").labels
    accuracy = lambda: cluster_acc(labels, model.predict_cluster(model.eval_batch("valid")))  # noqa: E731

    def batches():
        while True:
            yield from loader

    stream, t0, curve = batches(), time.perf_counter(), {}
    for step in range(steps):
        batch = next(stream)
        model.train_step(batch[0] if isinstance(batch, (tuple, list)) else batch, optimizers, step)
        if step == pretrain:  # the GMM was fitted at the start of this step
            curve["gmm_init"] = accuracy()
        if step >= pretrain and (step + 1) % every == 0:
            curve[str(step + 1)] = accuracy()
    record = {"settings": {**settings, "seed": seed}, "steps": steps, "pretrain_steps": pretrain,
              "valid_cluster_acc": curve, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps(record), flush=True)
    return record


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", required=True, help="options of VaDE (and seed), comma-separated")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--pretrain", type=int, default=2000)
    p.add_argument("--every", type=int, default=500)
    args = p.parse_args()
    records = json.load(open(OUT)) if os.path.exists(OUT) else []
    for config in args.config:
        records.append(run(parse(config), args.steps, args.pretrain, args.every))
        with open(OUT, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
