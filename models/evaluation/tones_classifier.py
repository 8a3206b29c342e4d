"""The tones classifier and the sample metrics of audio GANs: score_tones, score_tones_real, spectral_distance.

The classifier reads the first LENGTH = 1,024 samples (128 ms at 8 kHz) of a clip as a log spectrogram
(Hann window of 128 samples, hop 64: 15 frames x 65 bins), standardised by the training clips' mean and
standard deviation per entry, and maps it through an MLP 975 -> 128 -> 10 (ReLU) to the 10 tone classes.

    score_tones        exp(E_x KL(p(c|x) || p(c))) of generated clips (classifier_score.inception_score)
    score_tones_real   the same on the real test clips: the ceiling a generator is compared with
    spectral_distance  mean_f |S_gen(f) - S_real(f)|, S the average log10 power spectrum in dB (n_fft 256)
                       of a set of clips; spectral_distance_real compares the validation clips with the test
                       clips (how far two real sets lie apart)

The weights are tones_classifier.npz next to this module, made only by `python bench/train_tones_classifier.py`
(deterministic); loading never trains.
"""
from __future__ import annotations

import functools
import os

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen import nn
from minigen.data import TONE_CLASSES, load_tones, log_spectrogram

from .classifier_score import inception_score
from .digits_classifier import load_weights, save_weights, seeded_linears

WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tones_classifier.npz")
TRAIN_COMMAND = "python bench/train_tones_classifier.py"
LENGTH, N_FFT, HOP = 1024, 128, 64
FEATURES = ((LENGTH - N_FFT) // HOP + 1) * (N_FFT // 2 + 1)
HIDDEN = 128


def spectrogram_features(clips) -> np.ndarray:
    """(N, FEATURES) float32: the log spectrogram of each clip's first LENGTH samples, flattened."""
    x = np.asarray(clips.numpy() if hasattr(clips, "numpy") else clips, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if x.shape[1] < LENGTH:
        raise ValueError(f"tones classifier: clips need at least {LENGTH} samples, got shape {x.shape}")
    return log_spectrogram(x[:, :LENGTH], N_FFT, HOP).reshape(len(x), FEATURES).astype(np.float32)


class TonesClassifier(nn.Module):
    """logits = W2 relu(W1 (f - mean) / std + b1) + b2 on spectrogram features f; mean and std are buffers."""

    def __init__(self, seed: int = 0):
        super().__init__()
        self.hidden, self.out = seeded_linears((FEATURES, HIDDEN, len(TONE_CLASSES)), seed)
        self.register_buffer("mean", mg.zeros(FEATURES))
        self.register_buffer("std", mg.ones(FEATURES))

    def forward(self, features: mg.Tensor) -> mg.Tensor:
        return self.out(F.relu(self.hidden((features - self.mean) / self.std)))


def save(model: TonesClassifier, path: str = WEIGHTS) -> str:
    """Write the classifier's parameters and feature statistics as a plain .npz (what `load` reads)."""
    return save_weights(model, path)


@functools.lru_cache(maxsize=4)
def load(path: str = WEIGHTS) -> TonesClassifier:
    """The trained classifier in eval mode (cached); a FileNotFoundError naming the training command."""
    return load_weights(TonesClassifier, path, "tones classifier", TRAIN_COMMAND)


def class_probabilities(clips, path: str = WEIGHTS, batch_size: int = 500) -> np.ndarray:
    """p(class | clip) (N, 10) float64 for clips (N, ..., >= LENGTH samples) in [-1, 1]."""
    model, feats = load(path), spectrogram_features(clips)
    out = []
    with mg.no_grad():
        for i in range(0, len(feats), batch_size):
            out.append(F.softmax(model(mg.tensor(feats[i:i + batch_size])), axis=1).numpy().astype(np.float64))
    return np.concatenate(out)


def accuracy(split: str = "test", path: str = WEIGHTS) -> float:
    """Top-1 accuracy on the first LENGTH samples of a tones split."""
    d = load_tones(split)
    return float((class_probabilities(d.clips, path).argmax(1) == d.labels).mean())


def average_spectrum_db(clips, n_fft: int = 256) -> np.ndarray:
    """The average over clips and frames of 10 log10 |STFT|^2 (hop n_fft / 2), (n_fft // 2 + 1,)."""
    x = np.asarray(clips.numpy() if hasattr(clips, "numpy") else clips, dtype=np.float64)
    spec = log_spectrogram(x.reshape(len(x), -1), n_fft, n_fft // 2, eps=1e-10)
    return 10 / np.log(10) * spec.reshape(-1, spec.shape[-1]).mean(axis=0)


def spectral_distance(clips, reference) -> float:
    """mean_f |S_clips(f) - S_reference(f)| in dB (average_spectrum_db of each set)."""
    return float(np.abs(average_spectrum_db(clips) - average_spectrum_db(reference)).mean())


def tone_sample_metrics(generated, length: int | None = None, split: str = "test") -> dict:
    """score_tones, score_tones_real, spectral_distance and spectral_distance_real for generated clips
    (N, ..., L), compared with the split's clips (and, for the _real distance, another split's: validation
    against test, train against any other split) cut to the same length L."""
    x = np.asarray(generated.numpy() if hasattr(generated, "numpy") else generated)
    length = length or x.shape[-1]
    held = load_tones(split).clips[..., :length]
    other = load_tones("valid" if split == "test" else "train").clips[..., :length]
    return {"score_tones": inception_score(class_probabilities(x)),
            "score_tones_real": inception_score(class_probabilities(held)),
            "spectral_distance": spectral_distance(x, held),
            "spectral_distance_real": spectral_distance(other, held)}
