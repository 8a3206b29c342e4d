"""Retrain the digits classifier behind fd_digits, score_digits and the cGAN words task, and write its weights.

    python bench/train_digits_classifier.py                    # writes models/evaluation/digits_classifier.npz
    python bench/train_digits_classifier.py --out /tmp/clf.npz # anywhere else (e.g. to compare)

The one command that makes minigen/models/evaluation/digits_classifier.npz: metrics only ever load it
(digits_classifier.load raises, naming this command, when it is missing). Training is deterministic (its own
seeded generator for initialisation, shuffling and the input noise; about 5 s on a CPU), so rerunning it
rewrites the same file: every fd_digits and score_digits in bench/results stays comparable only as long as it
does. Recipe: Adam(1e-3) on cross-entropy, batch 64, 40 epochs over the train split, inputs jittered by
N(0, 0.05^2) so that smooth GAN samples read well.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import optim
from minigen.data import load_digits
from minigen.models.evaluation import digits_classifier as dc


def train(seed: int = 0, epochs: int = 40, batch_size: int = 64, noise: float = 0.05) -> dc.DigitsClassifier:
    """Adam(1e-3) on cross-entropy over the train split, inputs jittered by N(0, noise^2)."""
    rng = np.random.default_rng(seed)
    model = dc.DigitsClassifier(seed)
    data = load_digits("train")
    x_all, y_all = data.images.reshape(-1, 64) / 16.0, data.labels
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = rng.permutation(len(x_all))
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            x = x_all[idx] + noise * rng.standard_normal((len(idx), 64))
            loss = F.cross_entropy(model(mg.tensor(x.astype(np.float32))), mg.tensor(y_all[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def retrain(doc: str, train_fn, module) -> None:
    """The command line of a packaged classifier's script: train with --seed, save to --out (default: the
    packaged weights of `module`), print the time and the test accuracy."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--out", default=module.WEIGHTS, help=f"where to write the weights (default: {module.WEIGHTS})")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    t0 = time.perf_counter()
    path = module.save(train_fn(args.seed), args.out)
    print(f"trained in {time.perf_counter() - t0:.1f} s; test accuracy {module.accuracy('test', path):.4f}; "
          f"saved {path}")


def main() -> None:
    retrain(__doc__, train, dc)


if __name__ == "__main__":
    main()
