"""WaveGAN settings chosen on the validation split (issue 14), and the noise diagnosis of score_tones.

    python bench/wavegan_valid.py --steps 600 --every 150 --config lr=1e-3 --config lr=2e-3,batch_size=16
    python bench/wavegan_valid.py --noise      # real clips with white noise: what a noise floor does
    python bench/wavegan_valid.py --run runs/zoo/wavegan   # a trained run: floor and classes of its samples
    python bench/wavegan_valid.py --steps 12000 --every 1000 --seed 1 --config ...   # training seed 1
    python bench/wavegan_valid.py --steps 12000 --every 1000 --fork-at 6000 --config ...,decay_start=0.5
        # then steps 6001-12000 again from the state after 6000 at constant rates: the run without the decay

Each --config (`key=value` pairs, JSON values, over wavegan's options; batch_size 16 unless given) trains
`--steps` generator steps on tones (the trainer's seeding, optimizers and schedulers) and every `--every`
steps prints score_tones of 500 generated clips (50 per class when conditional; z seed PILOT_SEED, not the
metric's),
spectral_distance to the validation clips, their noise floor (floor_db below) and the seconds so far; with
`--ema 0.99,0.999` also those of exponential moving averages of the generator's weights (G_bar <- beta G_bar +
(1 - beta) G after every step), kept beside the run without changing it.

floor_db: per clip, the 10th percentile of its spectrogram's bins (Hann 128, hop 64, power in dB) minus its 99th
percentile, averaged over clips: how far the quiet bins (between harmonics, before onsets) lie below the peaks.
Real test clips: -97.7 dB clean, -64.7 / -49.5 / -41.2 / -32.6 dB with white noise at -60 / -40 / -30 / -20
dBFS (where score_tones is 9.40 / 9.78 / 5.27 / 1.77). --noise prints score_tones and
spectral_distance (to the test clips) of the test clips with white noise at -80 ... -20 dBFS added, and after
mu-law quantisation to 256 levels, and their floor_db. --run DIR loads a `minigen train wavegan` run (its
run.json settings, its checkpoint's result weights) and prints, for the 500 clips the test metrics score
(the same z seed and labels), score_tones, floor_db and how often the classifier gives each class its own;
with aux_weight, also how often the critic's auxiliary classifier D_cls gives the validation clips and the
500 clips their own class.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import time

import numpy as np

import minigen as mg
import minigen.models as models
from minigen import backend
from minigen.data import TONE_CLASSES, load_tones
from minigen.data.audio import mu_law_decode, mu_law_encode
from minigen.models.evaluation.classifier_score import inception_score
from minigen.models.evaluation.tones_classifier import class_probabilities, spectral_distance
from minigen.trainer import _infinite, load_model


# the pilots' z seed (session 7; it was 0 before, the test metric's): score_tones is computed from generated clips
# only, so a pilot scored on the metric's own z draws would read the test clips of a differently-trained run
PILOT_SEED = 1


def parse(config: str) -> dict:
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in config.split(",") if item)}


def floor_db(clips: np.ndarray) -> float:
    """Mean over clips of (10th - 99th percentile) of the clip's spectrogram bins in dB (the docstring's)."""
    x = np.asarray(clips, dtype=np.float64).reshape(len(clips), -1)
    starts = np.arange(0, x.shape[1] - 128 + 1, 64)
    power = np.abs(np.fft.rfft(x[:, starts[:, None] + np.arange(128)] * np.hanning(128), axis=-1)) ** 2
    db = 10 * np.log10(power.reshape(len(x), -1) + 1e-20)
    return float((np.percentile(db, 10, axis=1) - np.percentile(db, 99, axis=1)).mean())


def own_class(p: np.ndarray, y: np.ndarray) -> tuple[float, list[float]]:
    """How often the classifier's argmax is the clip's own label: overall and per class."""
    hit = p.argmax(1) == y
    return float(hit.mean()), [float(hit[y == k].mean()) for k in range(len(TONE_CLASSES))]


def validation_scores(model, valid: np.ndarray) -> tuple[float, float, float, str]:
    rng = np.random.default_rng(PILOT_SEED)
    y = np.arange(500) % model.num_classes if model.conditional else None
    clips = model.sample(500, y, rng=rng).numpy()
    p = class_probabilities(clips)
    own = ""
    if y is not None:
        total, per = own_class(p, y)
        own = f", own class {total:.2f} (" + " ".join(f"{o:.2f}" for o in per) + ")"
    return inception_score(p), spectral_distance(clips, valid), floor_db(clips), own


def report(model, valid: np.ndarray, averages: dict, label: str) -> None:
    """Print the validation scores of the trained generator and of each average (swapped in, then back)."""
    params = list(model.generator.parameters())
    for beta, average in [(None, None)] + list(averages.items()):
        if average is not None:
            trained = [p.data for p in params]
            for p, a in zip(params, average):
                p.data = a.copy()
        score, distance, floor, own = validation_scores(model, valid)
        if average is not None:
            for p, t in zip(params, trained):
                p.data = t
        name = "G" if beta is None else f"EMA {beta}"
        print(f"{label} {name}: score_tones {score:.2f}, spectral_distance to valid {distance:.1f} dB, "
              f"floor {floor:.1f} dB{own}", flush=True)


def pilot(config: dict, steps: int, every: int, emas: tuple = (), seed: int = 0, fork_at: int = 0) -> None:
    """Train as `minigen train wavegan --seed seed` does (the same weights, optimizers, schedules and batches).
    fork_at N: then train steps N+1 .. steps again from the state after step N (weights, optimizer moments,
    averages, data position, random generator: what a checkpoint resumes from) with constant rates, no
    schedule: the run without decay_start, paired with it (both are the same run up to N = decay_start T)."""
    backend.manual_seed(seed)
    model = models.create("wavegan", data="tones", **{"batch_size": 16, **config})
    backend.manual_seed(seed)
    optimizers = model.configure_optimizers()
    schedulers = model.configure_schedulers(optimizers, steps)
    loader = model.loader("train", seed=seed)
    batches = _infinite(loader)
    valid = load_tones("valid").clips[..., :model.clip_length]
    averages = {beta: [p.data.copy() for p in model.generator.parameters()] for beta in emas}
    snapshot = None
    for branch in ("", " fork (constant rates)") if fork_at else ("",):
        first = 1
        if branch:
            state, opt_states, saved, loader_state, rng_state = snapshot
            model.load_state_dict(state)
            for opt, opt_state in zip(optimizers, opt_states):
                opt.load_state_dict(opt_state)
            averages = copy.deepcopy(saved)
            loader = model.loader("train", seed=seed)
            loader.load_state_dict(loader_state)
            batches, schedulers, first = _infinite(loader), [], fork_at + 1
            backend.rng("cpu").bit_generator.state = rng_state
        t0, model_seconds = time.perf_counter(), 0.0
        model.train()
        for step in range(first, steps + 1):
            model.train_step(next(batches), optimizers, step - 1)
            for scheduler in schedulers:
                scheduler.step()
            for beta, average in averages.items():
                for a, p in zip(average, model.generator.parameters()):
                    a *= beta
                    a += (1 - beta) * p.data
            if step == fork_at and not branch:
                snapshot = (copy.deepcopy(model.state_dict()), [copy.deepcopy(opt.state_dict()) for opt in optimizers],
                            copy.deepcopy(averages), loader.state_dict(), backend.rng("cpu").bit_generator.state)
            if step % every == 0 or step == steps:
                model_seconds = time.perf_counter() - t0
                report(model, valid, averages, f"{config}{branch} seed {seed} step {step} ({model_seconds:.0f} s)")
                model.train()
                t0 = time.perf_counter() - model_seconds


def noise() -> None:
    test = load_tones("test").clips[..., :1024].astype(np.float64)
    rng = np.random.default_rng(0)
    rows = [("clean", test), ("mu-law 256", mu_law_decode(mu_law_encode(test)))]
    levels = (-80, -70, -60, -50, -40, -30, -20, -35, -25)  # the last two added later: the earlier draws unchanged
    noisy = {db: test + 10 ** (db / 20) * rng.standard_normal(test.shape) for db in levels}
    rows += [(f"white noise {db} dBFS", noisy[db]) for db in sorted(levels)]
    for name, clips in rows:
        clips = np.asarray(clips, dtype=np.float32)
        print(f"{name:22s} score_tones {inception_score(class_probabilities(clips)):.2f}  "
              f"spectral_distance {spectral_distance(clips, test):.1f} dB  floor {floor_db(clips):.1f} dB")


def run_report(out: str) -> None:
    with open(os.path.join(out, "run.json")) as f:
        config = json.load(f)["config"]
    model = models.create("wavegan", data="tones", **config)
    load_model(model, out)
    rng = np.random.default_rng(0)
    y = np.arange(500) % model.num_classes
    clips = model.sample(500, y, rng=rng).numpy()
    p = class_probabilities(clips)
    total, own = own_class(p, y)
    print(f"{out}: score_tones {inception_score(p):.2f}, floor {floor_db(clips):.1f} dB, own class "
          f"{total:.2f}; per class " + ", ".join(f"{c} {o:.2f}" for c, o in zip(TONE_CLASSES, own)))
    if model.discriminator.classify is not None:  # aux_weight: does the critic's own classifier agree?
        valid = load_tones("valid")
        x = valid.clips.reshape(len(valid.clips), 1, -1)[:, :, :model.clip_length].astype(np.float32)
        with model.evaluating():
            real = model.discriminator.class_logits(mg.tensor(x)).numpy()
            fake = model.discriminator.class_logits(mg.tensor(clips)).numpy()
        print(f"D_cls: own class of the valid clips {own_class(real, np.asarray(valid.labels))[0]:.2f}, of the "
              f"500 clips {own_class(fake, y)[0]:.2f}; per class " +
              ", ".join(f"{c} {o:.2f}" for c, o in zip(TONE_CLASSES, own_class(fake, y)[1])))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=150)
    p.add_argument("--noise", action="store_true")
    p.add_argument("--run", help="a trained conditional wavegan run folder to report on")
    p.add_argument("--ema", default="", help="comma-separated decays of generator averages to score too")
    p.add_argument("--seed", type=int, default=0, help="the training seed (the trainer's --seed)")
    p.add_argument("--fork-at", type=int, default=0, help="also train from this step on with constant rates")
    args = p.parse_args()
    if args.noise:
        noise()
    if args.run:
        run_report(args.run)
    for config in args.config:
        pilot(parse(config), args.steps, args.every, tuple(float(b) for b in args.ema.split(",") if b), args.seed,
              args.fork_at)


if __name__ == "__main__":
    main()
