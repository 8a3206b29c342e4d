"""WaveGAN settings chosen on the validation split (issue 14), and the noise diagnosis of score_tones.

    python bench/wavegan_valid.py --steps 600 --every 150 --config lr=1e-3 --config lr=2e-3,batch_size=16
    python bench/wavegan_valid.py --noise      # real clips with white noise: what a noise floor does

Each --config (`key=value` pairs, JSON values, over wavegan's options; batch_size 16 unless given) trains
`--steps` generator steps on tones (the trainer's seeding, optimizers and schedulers) and every `--every`
steps prints score_tones of 500 generated clips (50 per class when conditional; the metric's z seed),
spectral_distance to the validation clips and the seconds so far. --noise prints score_tones and
spectral_distance (to the test clips) of the test clips with white noise at -80 ... -20 dBFS added, and after
mu-law quantisation to 256 levels.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

import minigen.models as models
from minigen import backend
from minigen.data import load_tones
from minigen.data.audio import mu_law_decode, mu_law_encode
from minigen.models.evaluation.classifier_score import inception_score
from minigen.models.evaluation.tones_classifier import class_probabilities, spectral_distance
from minigen.trainer import _infinite


def parse(config: str) -> dict:
    return {k: json.loads(v) for k, v in (item.split("=", 1) for item in config.split(",") if item)}


def validation_scores(model, valid: np.ndarray) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    y = np.arange(500) % model.num_classes if model.conditional else None
    clips = model.sample(500, y, rng=rng).numpy()
    return inception_score(class_probabilities(clips)), spectral_distance(clips, valid)


def pilot(config: dict, steps: int, every: int) -> None:
    backend.manual_seed(0)
    model = models.create("wavegan", data="tones", **{"batch_size": 16, **config})
    backend.manual_seed(0)
    optimizers = model.configure_optimizers()
    schedulers = model.configure_schedulers(optimizers, steps)
    batches = _infinite(model.loader("train", seed=0))
    valid = load_tones("valid").clips[..., :model.clip_length]
    t0, model_seconds = time.perf_counter(), 0.0
    model.train()
    for step in range(1, steps + 1):
        model.train_step(next(batches), optimizers, step - 1)
        for scheduler in schedulers:
            scheduler.step()
        if step % every == 0 or step == steps:
            model_seconds = time.perf_counter() - t0
            score, distance = validation_scores(model, valid)
            model.train()
            print(f"{config} step {step}: score_tones {score:.2f}, spectral_distance to valid {distance:.1f} dB, "
                  f"{model_seconds:.0f} s", flush=True)
            t0 = time.perf_counter() - model_seconds


def noise() -> None:
    test = load_tones("test").clips[..., :1024].astype(np.float64)
    rng = np.random.default_rng(0)
    rows = [("clean", test), ("mu-law 256", mu_law_decode(mu_law_encode(test)))]
    rows += [(f"white noise {db} dBFS", test + 10 ** (db / 20) * rng.standard_normal(test.shape))
             for db in (-80, -70, -60, -50, -40, -30, -20)]
    for name, clips in rows:
        clips = np.asarray(clips, dtype=np.float32)
        print(f"{name:22s} score_tones {inception_score(class_probabilities(clips)):.2f}  "
              f"spectral_distance {spectral_distance(clips, test):.1f} dB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", action="append", default=[])
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--every", type=int, default=150)
    p.add_argument("--noise", action="store_true")
    args = p.parse_args()
    if args.noise:
        noise()
    for config in args.config:
        pilot(parse(config), args.steps, args.every)


if __name__ == "__main__":
    main()
