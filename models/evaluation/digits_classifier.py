"""The project's digits classifier: an MLP 64 -> 128 -> 64 -> 10 (ReLU) trained with minigen on the train split.

Its 64 penultimate features give the Frechet distance (fd_digits) and its class probabilities the
classifier score (score_digits) of generated 8x8 digits; the cGAN's words task conditions on the same
features. Inputs are images with pixels in [0, 1] (gray level / 16), shaped (N, 1, 8, 8) or (N, 64).

The weights are the file digits_classifier.npz next to this module, made by one explicit command,
`python bench/train_digits_classifier.py` (Adam(1e-3) on cross-entropy for 40 epochs, inputs jittered by
N(0, 0.05^2) so that smooth GAN samples read well; deterministic). Loading never trains or writes: metrics
must not depend on whether, or where, a classifier was retrained.
"""
from __future__ import annotations

import functools
import os

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import backend, nn
from minigen.data import load_digits

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "digits_classifier.npz")
SIZES = (64, 128, 64, 10)
TRAIN_COMMAND = "python bench/train_digits_classifier.py"


def seeded_linears(sizes, seed: int) -> nn.ModuleList:
    """Linear layers sizes[0] -> sizes[1] -> ..., W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) and b = 0 drawn from
    default_rng(seed) (a packaged classifier's initialisation, independent of minigen's generator)."""
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layer = nn.Linear(fan_in, fan_out)
        bound = 1 / np.sqrt(fan_in)
        layer.weight.data = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        layer.bias.data = np.zeros(fan_out, np.float32)
        layers.append(layer)
    return nn.ModuleList(layers)


class DigitsClassifier(nn.Module):
    """logits = W3 relu(W2 relu(W1 x + b1) + b2) + b3; `features(x)` is the second hidden layer.

    Initialisation from its own generator (seed): W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), b = 0.
    """

    def __init__(self, seed: int = 0):
        super().__init__()
        self.layers = seeded_linears(SIZES, seed)

    def features(self, x: mg.Tensor) -> mg.Tensor:
        """h2 = relu(W2 relu(W1 x + b1) + b2), shape (N, 64)."""
        h = x.reshape(x.shape[0], -1)
        for layer in self.layers[:-1]:
            h = F.relu(layer(h))
        return h

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.layers[-1](self.features(x))


def save_weights(model: nn.Module, path: str) -> str:
    """Write a packaged classifier's parameters as a plain .npz (what `load_weights` reads)."""
    np.savez(path, **{k: np.asarray(v.numpy() if hasattr(v, "numpy") else v)
                      for k, v in model.state_dict().items()})
    return path


def load_weights(make, path: str, what: str, command: str) -> nn.Module:
    """`make()` (a classifier class) with the weights at `path`, in eval mode; a FileNotFoundError naming the
    command that makes the weights when the file is missing. The model is built inside backend.fork_rng(): its
    initial weights are overwritten at once, so building them must not move the caller's random stream (a
    training run that scores samples mid-run would otherwise draw other noise from then on)."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no weights at {path}; make them with `{command}` (from a source checkout)")
    with backend.fork_rng():
        model = make()
    with np.load(path) as f:
        model.load_state_dict({k: f[k] for k in f.files})
    return model.eval()


def save(model: DigitsClassifier, path: str = WEIGHTS) -> str:
    """Write the classifier's parameters as a plain .npz (what `load` reads)."""
    return save_weights(model, path)


@functools.lru_cache(maxsize=4)
def load(path: str = WEIGHTS) -> DigitsClassifier:
    """The trained classifier in eval mode (cached)."""
    return load_weights(DigitsClassifier, path, "digits classifier", TRAIN_COMMAND)


def _as_batch(images) -> mg.Tensor:
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if a.size != len(a) * SIZES[0]:
        raise ValueError(f"digits classifier: expected images (N, 1, 8, 8) or (N, 64), got shape {a.shape}")
    return mg.tensor(a.reshape(len(a), SIZES[0]).astype(np.float32))


def features_and_probs(images, batch_size: int = 1000, path: str = WEIGHTS) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, 64), class probabilities (N, 10)) of images in [0, 1], as float64 NumPy arrays."""
    model = load(path)
    feats, probs = [], []
    with mg.no_grad():
        for i in range(0, len(images), batch_size):
            h = model.features(_as_batch(images[i:i + batch_size]))
            feats.append(h.numpy().astype(np.float64))
            probs.append(F.softmax(model.layers[-1](h), axis=1).numpy().astype(np.float64))
    return np.concatenate(feats), np.concatenate(probs)


def accuracy(split: str = "test", path: str = WEIGHTS) -> float:
    """Top-1 accuracy on a digits split."""
    d = load_digits(split)
    _, probs = features_and_probs(d.images / 16.0, path=path)
    return float((probs.argmax(1) == d.labels).mean())
