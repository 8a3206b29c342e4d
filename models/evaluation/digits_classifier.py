"""The project's digits classifier: an MLP 64 -> 128 -> 64 -> 10 (ReLU) trained with minigen on the train split.

Its 64 penultimate features give the Frechet distance (fd_digits) and its class probabilities the
inception-style score (score_digits) of generated 8x8 digits. Inputs are images with pixels in [0, 1]
(gray level / 16), shaped (N, 1, 8, 8) or (N, 64). The trained weights are cached in
digits_classifier.npz next to this file; `python -m minigen.models.digits_classifier` retrains them
(deterministic: its own seeded generator for initialisation, shuffling and the input noise, ~5 s on a CPU).
"""
from __future__ import annotations

import functools
import os

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn, optim
from minigen.data import load_digits

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits_classifier.npz")
SIZES = (64, 128, 64, 10)


class DigitsClassifier(nn.Module):
    """logits = W3 relu(W2 relu(W1 x + b1) + b2) + b3; `features(x)` is the second hidden layer."""

    def __init__(self, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        layers = []
        for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
            layer = nn.Linear(fan_in, fan_out)
            bound = 1 / np.sqrt(fan_in)
            layer.weight.data = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
            layer.bias.data = np.zeros(fan_out, np.float32)
            layers.append(layer)
        self.layers = nn.ModuleList(layers)

    def features(self, x: mg.Tensor) -> mg.Tensor:
        """h2 = relu(W2 relu(W1 x + b1) + b2), shape (N, 64)."""
        h = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return h

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.layers[-1](self.features(x))


def train(seed: int = 0, epochs: int = 40, batch_size: int = 64, noise: float = 0.05) -> DigitsClassifier:
    """Adam(1e-3) on cross-entropy, inputs jittered by N(0, noise^2) so that smooth GAN samples read well."""
    rng = np.random.default_rng(seed)
    model = DigitsClassifier(seed)
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


def save(model: DigitsClassifier, path: str = WEIGHTS) -> None:
    np.savez(path, **{k: np.asarray(v.numpy() if hasattr(v, "numpy") else v)
                      for k, v in model.state_dict().items()})


@functools.lru_cache(maxsize=1)
def load(path: str = WEIGHTS) -> DigitsClassifier:
    """The cached classifier (trained and saved on first use when the .npz is missing)."""
    model = DigitsClassifier()
    if os.path.exists(path):
        with np.load(path) as f:
            model.load_state_dict({k: f[k] for k in f.files})
    else:
        model = train()
        try:
            save(model, path)
        except OSError:
            pass
    return model.eval()


def _as_batch(images) -> mg.Tensor:
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    return mg.tensor(a.reshape(len(a), 64).astype(np.float32))


def features_and_probs(images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 64), class probabilities (N, 10)) of images in [0, 1], as float64 NumPy arrays."""
    model = load()
    feats, probs = [], []
    with mg.no_grad():
        for i in range(0, len(images), batch_size):
            x = _as_batch(images[i:i + batch_size])
            h = model.features(x)
            feats.append(h.numpy().astype(np.float64))
            probs.append(F.softmax(model.layers[-1](h), axis=1).numpy().astype(np.float64))
    return np.concatenate(feats), np.concatenate(probs)


def accuracy(split: str = "test") -> float:
    """Top-1 accuracy on a digits split."""
    d = load_digits(split)
    _, probs = features_and_probs(d.images / 16.0)
    return float((probs.argmax(1) == d.labels).mean())


if __name__ == "__main__":
    import time

    t0 = time.perf_counter()
    clf = train()
    save(clf)
    load.cache_clear()
    print(f"trained in {time.perf_counter() - t0:.1f} s; test accuracy {accuracy('test'):.4f}; saved {WEIGHTS}")
