"""Retrain the digit-domains classifier behind domain_acc (pix2pix, cyclegan, stargan), and write its weights.

    python bench/train_domain_classifier.py                    # writes models/evaluation/domain_classifier.npz
    python bench/train_domain_classifier.py --out /tmp/clf.npz # anywhere else (e.g. to compare)

The one command that makes minigen/models/evaluation/domain_classifier.npz (metrics only load it). Training is
deterministic (its own seeded generator for initialisation and shuffling). Recipe: Adam(3e-3) on cross-entropy,
batch 256, 15 epochs over every train digit drawn in each of the seven domains (9,079 images).
"""
from __future__ import annotations

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import optim
from minigen.data import digit_domains
from minigen.models.evaluation import domain_classifier as dc
from train_digits_classifier import retrain


def train(seed: int = 0, epochs: int = 15, batch_size: int = 256) -> dc.DomainClassifier:
    rng = np.random.default_rng(seed)
    model = dc.DomainClassifier(seed)
    images = [digit_domains.domain_images("train", d)[0] for d in digit_domains.DOMAINS]
    x = dc.domain_features(np.concatenate(images))
    y = np.repeat(np.arange(len(images)), [len(a) for a in images])
    opt = optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        perm = rng.permutation(len(x))
        for i in range(0, len(perm) - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(mg.tensor(x[idx])), mg.tensor(y[idx]))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval()


def main() -> None:
    retrain(__doc__, train, dc)


if __name__ == "__main__":
    main()
