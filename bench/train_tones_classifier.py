"""Retrain the tones classifier behind score_tones and score_tones_real, and write its weights.

    python bench/train_tones_classifier.py                    # writes models/evaluation/tones_classifier.npz
    python bench/train_tones_classifier.py --out /tmp/clf.npz # anywhere else (e.g. to compare)

The one command that makes minigen/models/evaluation/tones_classifier.npz (metrics only load it). Training is
deterministic (its own seeded generator for initialisation, shuffling and augmentation). Recipe: Adam(1e-3)
on cross-entropy, batch 64, 30 epochs over the 600 training clips; each example is the LENGTH samples that
start at a random offset in 0..256 of its clip, scaled by U(0.7, 1.1) and jittered by N(0, 0.01^2), so that
the classifier does not hinge on a clip's exact onset, loudness or a faint noise floor.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import optim
from minigen.data import load_tones
from minigen.models.evaluation import tones_classifier as tc
from train_digits_classifier import retrain


def augmented(clips: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random windows (offset 0..256) of LENGTH samples, random gain and faint noise."""
    starts = rng.integers(0, 257, len(clips))
    x = clips[np.arange(len(clips))[:, None], 0, starts[:, None] + np.arange(tc.LENGTH)]
    x = x * rng.uniform(0.7, 1.1, (len(x), 1)) + 0.01 * rng.standard_normal(x.shape)
    return np.clip(x, -1, 1)


def train(seed: int = 0, epochs: int = 30, batch_size: int = 64) -> tc.TonesClassifier:
    rng = np.random.default_rng(seed)
    model = tc.TonesClassifier(seed)
    data = load_tones("train")
    feats = tc.spectrogram_features(data.clips)
    model.mean.data = feats.mean(axis=0)
    model.std.data = feats.std(axis=0) + 1e-3
    opt = optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = rng.permutation(len(data.labels))
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            x = mg.tensor(tc.spectrogram_features(augmented(data.clips[idx], rng)))
            loss = F.cross_entropy(model(x), mg.tensor(data.labels[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def main() -> None:
    retrain(__doc__, train, tc)


if __name__ == "__main__":
    main()
