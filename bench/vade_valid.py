"""VaDE's settings chosen on the validation split: cluster_acc of the 200 validation digits after the GMM
fit on the pretrained codes (`gmm_fit`, before any ELBO step; with --steps equal to --pretrain only that, the
cheap proxy of the pretraining's quality), after the first ELBO step (`gmm_init`) and every `--every` steps of
the VaDE ELBO, for each setting given, and the validation ELBO at the end (label-free: what a choice among
runs may use). `train_cluster_acc` scores the same clusterings on the 1297 training digits (`gmm_fit` and the
end): their labels are never used in training either, and they resolve about ±0.01 where the validation
digits resolve ±0.025.

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
    """'latent=10,covariance=full,seed=1' -> {'latent': 10, 'covariance': 'full', 'seed': 1}: numbers as int or
    float, anything else as a string."""
    out = {}
    for part in filter(None, config.split(",")):
        key, value = part.split("=")
        for kind in (int, float, str):
            try:
                out[key] = kind(value)
                break
            except ValueError:
                continue
    return out


def run(settings: dict, steps: int, pretrain: int, every: int) -> dict:
    settings = dict(settings)
    seed = int(settings.pop("seed", 0))
    backend.manual_seed(seed)
    model = VaDE("digits", pretrain_steps=pretrain, **settings)
    optimizers, loader = model.configure_optimizers(), model.loader("train", seed=seed)
    schedulers = model.configure_schedulers(optimizers, steps)
    labels = {split: load_digits(split).labels for split in ("valid", "train")}

    def accuracy(split: str = "valid") -> float:
        return cluster_acc(labels[split], model.predict_cluster(model.eval_batch(split)))

    def batches():
        while True:
            yield from loader

    def fitted() -> float:  # the GMM on the pretrained codes, before any ELBO step (train_step refits the same)
        model.init_prior_from_codes()
        train_curve["gmm_fit"] = accuracy("train")
        return accuracy()

    stream, t0, curve, train_curve = batches(), time.perf_counter(), {}, {}
    for step in range(steps):
        if step == pretrain:
            curve["gmm_fit"] = fitted()
        batch = next(stream)
        model.train_step(batch[0] if isinstance(batch, (tuple, list)) else batch, optimizers, step)
        for scheduler in schedulers:
            scheduler.step()
        if step == pretrain:  # the GMM was fitted at the start of this step, then one ELBO step taken
            curve["gmm_init"] = accuracy()
        if step >= pretrain and (step + 1) % every == 0:
            curve[str(step + 1)] = accuracy()
    record = {"settings": {**settings, "pretrain_loss": model.pretrain_loss_kind, "seed": seed}, "steps": steps,
              "pretrain_steps": pretrain,
              "valid_cluster_acc": curve, "train_cluster_acc": train_curve}
    if steps == pretrain:  # the cheap proxy: pretraining only
        curve["gmm_fit"] = fitted()
    else:
        train_curve[str(steps)] = accuracy("train")
        with model.evaluating():  # label-free: what a choice among runs may use
            record["valid_elbo"] = round(float(model.elbo(model.eval_batch("valid")).mean().item()), 3)
    if model.pretrain_restarts > 1:  # which autoencoder the label-free sureness chose
        record["pretrain_choice"] = {k: v if k == "chosen" else [round(x, 5) for x in v]
                                     for k, v in model.pretrain_choice.items()}
    record["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(record), flush=True)
    return record


def summary(records: list) -> list[str]:
    """Markdown rows: each setting (all seeds together) with its steps, seeds, and the mean valid cluster_acc of
    the GMM fit on the pretrained codes and at the end of training, then the same on train (over the seeds that
    recorded it)."""
    groups: dict = {}
    for r in records:
        settings = ", ".join(f"{k} {v}" for k, v in sorted(r["settings"].items()) if k != "seed")
        key = (settings, r["pretrain_steps"], r["steps"])
        groups.setdefault(key, []).append(r)
    def mean(xs: list) -> str:
        return f"{sum(xs) / len(xs):.3f}" if xs else "-"

    rows = ["| setting | pretrain / steps | seeds | gmm_fit | final | train gmm_fit | train final |",
            "|---|---|---|---|---|---|---|"]
    for (settings, pretrain, steps), rs in groups.items():
        cells = [mean([r[curve][at] for r in rs if at in r.get(curve, {})])
                 for curve in ("valid_cluster_acc", "train_cluster_acc") for at in ("gmm_fit", str(steps))]
        seeds = "/".join(str(r["settings"].get("seed", 0)) for r in rs)
        rows.append(f"| {settings} | {pretrain} / {steps} | {seeds} | " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", help="options of VaDE (and seed), comma-separated")
    p.add_argument("--summary", action="store_true", help="print the recorded settings' means and stop")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--pretrain", type=int, default=2000)
    p.add_argument("--every", type=int, default=500)
    args = p.parse_args()
    records = []
    if os.path.exists(OUT):
        with open(OUT) as f:
            records = json.load(f)
    if args.summary or not args.config:
        print("\n".join(summary(records)))
        return
    for config in args.config:
        records.append(run(parse(config), args.steps, args.pretrain, args.every))
        with open(OUT, "w") as f:
            json.dump(records, f, indent=1)


if __name__ == "__main__":
    main()
