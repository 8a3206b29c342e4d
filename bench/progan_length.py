"""How long ProGAN's final 8x8 stage should run (issue 19): resume a `minigen train progan` run to longer
lengths and score it after each.

    minigen train progan --steps 5000 --seed 0 --out /tmp/p0          # or any run of the recipe
    python bench/progan_length.py /tmp/p0 5600 6200 6800 7400

At each length it prints fd_digits (mean and sem over the metric's 5 draws of 300 samples, against the train
digits' features, as the zoo's number) of the trained G, of the model's averaged G (its `ema`, 0.99: what
`sample` and the zoo use) and of two more averages (beta 0.995 and 0.999) kept beside the run from the
checkpoint on, G_bar <- beta G_bar + (1 - beta) G after every generator update, started from the model's G_bar.
They never feed training, and scoring runs inside backend.fork_rng (the classifier's first build and first
forward pass draw from the generator; fork_rng puts its state back), so the run is the uninterrupted one (the trainer's resume is exact on the CPU): its value at N steps
is that of `minigen train progan --steps N`.
The FD of a GAN compares samples with the train digits' features whatever the split (a split moves only
the samples' draws, since 8bb7fbe), so a length chosen on it is chosen on a training-side criterion, on one seed; other seeds are the check (the README's issue-19 section). It scores at the metric's
own draws (SCORE_SEEDS, not gan_metrics.split_seeds' shifted ones), so on a seed that a zoo record uses it
reads that record's number at the same length: pilot on a seed no record uses (`--fresh 3` below).

Session 8 (the averaged G's rate at the last level, and the length, on a seed no zoo record uses): `--fresh
SEED` starts a new run in the folder (as `minigen train progan --seed SEED` does: the draws are the command's;
its run.json is written, so it can be resumed further), `--betas` names the extra averages and `--from-level L`
has each of them copy the model's own average while training stands below level L and average with its own
beta from then on (what a slower average at the last level alone would give, the lower levels' pictures
unchanged):

    python bench/progan_length.py /tmp/p3 1600 3200 4400 5000 5600 6200 --fresh 3 --from-level 2 \
        --betas 0.995,0.998,0.999,0.9995
    python bench/progan_length.py /tmp/p3 6800 7400 8000 --betas 0.995
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

import minigen as mg
from minigen import backend
from minigen.models import create
from minigen.models.evaluation.gan_metrics import SCORE_SAMPLES, SCORE_SEEDS, classifier_scores
from minigen.models.gan.progan import to_eight
from minigen.trainer import Training

EXTRA_BETAS = (0.995, 0.999)


def weights(net) -> dict:
    return {k: v.numpy().copy() for k, v in net.state_dict().items()}


def fd_of(model, state: dict) -> tuple[float, float]:
    """fd_digits (mean, sem over SCORE_SEEDS) of samples from the averaged generator slot holding `state`."""
    saved = weights(model.generator_ema)
    model.generator_ema.load_state_dict({k: mg.tensor(v) for k, v in state.items()})
    with backend.fork_rng():
        fds = [classifier_scores(to_eight(model.sample(SCORE_SAMPLES, rng=np.random.default_rng(s)).numpy()))
               ["fd_digits"] for s in SCORE_SEEDS]
    model.generator_ema.load_state_dict({k: mg.tensor(v) for k, v in saved.items()})
    return float(np.mean(fds)), float(np.std(fds, ddof=1) / np.sqrt(len(fds)))


def score_lengths(out: str, lengths: list, betas=EXTRA_BETAS, fresh: int | None = None, from_level: int = 0,
                  config: dict | None = None):
    """Resume the progan run in `out` (or, with `fresh` a seed, start a new one there) to each of `lengths`
    (total steps, increasing) and yield a row of scores after each: {"steps", "seconds", "G", "ema<its beta>",
    "ema<beta>" for each of `betas`}, each (fd mean, sem). The extra averages copy the model's own while
    training stands below `from_level`; `config`: a fresh run's options (as `--set`)."""
    if fresh is None:
        with open(f"{out}/run.json") as f:
            run = json.load(f)
    else:
        run = {"data": "digits", "config": config or {}, "seed": fresh}
        os.makedirs(out, exist_ok=True)
        with open(f"{out}/run.json", "w") as f:
            json.dump(run, f)
        backend.manual_seed(fresh)  # the starting weights, as the CLI draws them
    model = create("progan", run["data"], **run["config"])
    training = Training(model, lengths[-1], out, seed=run["seed"], resume=fresh is None)
    extra = {b: weights(model.generator_ema) for b in betas}
    own_update = model.update_average

    def update_average():  # the model's own average, then the extra ones
        own_update()
        follow = model.level < from_level
        g = weights(model.generator_ema if follow else model.generator)
        for b, state in extra.items():
            for k in state:
                state[k] = g[k].copy() if follow else state[k] * b + g[k] * (1 - b)

    model.update_average = update_average
    for length in lengths:
        t0 = time.time()
        training.steps = length
        training.run(progress=False)
        yield {"steps": length, "seconds": round(time.time() - t0), "G": fd_of(model, weights(model.generator)),
               f"ema{model.ema}": fd_of(model, weights(model.generator_ema)),
               **{f"ema{b}": fd_of(model, state) for b, state in extra.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", help="a progan run folder with a checkpoint (resumed in place), or a new one (--fresh)")
    p.add_argument("lengths", type=int, nargs="+", help="total steps to score at, increasing")
    p.add_argument("--betas", default=",".join(map(str, EXTRA_BETAS)), help="the extra averages' betas")
    p.add_argument("--fresh", type=int, default=None, metavar="SEED", help="start a new run with this seed")
    p.add_argument("--config", type=json.loads, default=None, help="a fresh run's options, a JSON object")
    p.add_argument("--from-level", type=int, default=0, help="the extra averages copy the model's below this level")
    args = p.parse_args()
    betas = tuple(float(b) for b in args.betas.split(","))
    for row in score_lengths(args.out, args.lengths, betas, args.fresh, args.from_level, args.config):
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
