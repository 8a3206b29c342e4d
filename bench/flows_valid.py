"""Flow settings chosen on the validation split (issue 16): train each setting of a model, score it on the
validation split every `--every` steps (`--metric`: MAF's valid_nll, nats per image with the zoo metric's 8
fixed dequantization draws; the flow VAEs' valid_elbo), and record the curves, so the zoo run takes the best
setting and its best step count (early stopping by the validation score). The seed is set before
the model is made and evaluate() restores the generators it seeds, so each setting's first N steps are those
of `minigen train ... --steps N` (before 2026-12-01 session 4 the model was made before seeding, so every
setting after the first of one invocation started from other weights).

    python bench/flows_valid.py --model maf --steps 2000 --every 250 \
        --config hidden=128 --config hidden=128,dropout=0.2 ...
    python bench/flows_valid.py --model iaf-vae --metric valid_elbo --steps 4000 --every 1000 \
        --config eval_k=1 --config context=0,eval_k=1

Each --config is one setting, `key=value` pairs (JSON values) separated by commas, over the model's options.
Results are merged into bench/results/flows_valid.json ({model: {setting: {metric: {step: value},
"seconds"}}}), so runs can be split over several calls.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time

import minigen.models as models
from minigen import backend
from minigen.trainer import Training, evaluate

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "flows_valid.json")


def parse(config: str) -> dict:
    return {k: json.loads(v) for k, v in (part.split("=", 1) for part in config.split(",") if part)}


def curve(name: str, settings: dict, steps: int, every: int, metric: str, seed: int = 0) -> dict:
    """{metric: {step: value}, "seconds"} every `every` steps of one training run of `name` with `settings`."""
    backend.manual_seed(seed)  # as `minigen train --seed`: the starting weights too, whatever ran before
    model = models.create(name, "digits", **settings)
    out, t0 = {}, time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        training = Training(model, every, tmp, seed=seed, checkpoint_every=10 ** 9)
        for stop in range(every, steps + 1, every):
            training.steps = stop
            training.run(progress=False)
            out[stop] = evaluate(model, "valid")[metric]  # restores the generators: training goes on unchanged
            print(settings, stop, round(out[stop], 2), flush=True)
    return {metric: out, "seconds": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="maf")
    ap.add_argument("--metric", default="valid_nll")
    ap.add_argument("--config", action="append", required=True)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--every", type=int, default=250)
    args = ap.parse_args()
    results = json.load(open(RESULTS)) if os.path.exists(RESULTS) else {}
    for config in args.config:
        results.setdefault(args.model, {})[config] = curve(args.model, parse(config), args.steps, args.every,
                                                           args.metric)
        os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
        with open(RESULTS, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
