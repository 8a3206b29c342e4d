"""What the audio models (WaveNet, WaveGAN) share: the tones data as batches and the picture and .wav files
that `minigen train` / `minigen sample` write.

A batch is (x, y): waveforms x (B, 1, L) float32 in [-1, 1] (the first `clip_length` samples of the
one-second tones clips, or training windows of them) and class labels y (B,). Models quantise to mu-law
levels themselves. `sample_figure(path, n)` writes one .wav per generated clip beside `path`
(`<stem>-<k>-<class>.wav`) and, at `path`, log spectrograms of the generated clips above real test clips of
the same classes.
"""
from __future__ import annotations

import os

import numpy as np

import minigen as mg
from minigen.data import TONE_CLASSES, ToneWindows, load_tones, log_spectrogram, save_wav
from minigen.data.tones import SAMPLE_RATE


class AudioModel:
    """Mixin placed before a GenerativeModel subclass; the model sets `clip_length`, `window` and
    `random_offset` (whether training windows start anywhere in a clip, or at its first sample)."""

    datasets = ("tones",)
    value_range = (-1.0, 1.0)
    num_classes = len(TONE_CLASSES)
    sample_rate = SAMPLE_RATE
    clip_length = 8000
    window = 1024
    random_offset = True

    @property
    def event_shape(self) -> tuple:
        return (1, self.clip_length)

    def split_arrays(self, split: str) -> tuple:
        """(clips (N, 1, clip_length) float32, labels (N,) int64) of a tones split."""
        d = load_tones(split)
        return d.clips[..., :self.clip_length], d.labels

    def eval_batch(self, split: str):
        clips, labels = self.split_arrays(split)
        x = mg.tensor(np.ascontiguousarray(clips), device=self.device)
        return (x, mg.tensor(labels, device=self.device)) if self.conditional else x

    def loader(self, split: str = "train", batch_size: int | None = None, seed: int = 0,
               shuffle: bool = True, drop_last: bool = True) -> ToneWindows:
        """Endless resumable windows (x, y) of `window` samples (ToneWindows), batch k from seed (seed, k)."""
        return ToneWindows(split, batch_size or self.batch_size, min(self.window, self.clip_length), seed,
                           self.random_offset, self.clip_length)

    def split_batch(self, batch) -> tuple:
        """(x, y or None) from a batch (x, y), (x,) or x; y is kept only by a conditional model."""
        if isinstance(batch, (tuple, list)):
            x, y = batch[0], batch[1] if len(batch) > 1 else None
        else:
            x, y = batch, None
        return x, y if self.conditional else None

    def figure_clips(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(generated (k, L), their classes (k,) or -1 when unconditional, real test clips (k, L)): k = min(n,
        classes) clips, one per class for a conditional model, and the first test clip of each class."""
        k = min(n, self.num_classes)
        d = load_tones("test")
        firsts = np.array([np.flatnonzero(d.labels == c)[0] for c in range(k)])
        y = np.arange(k) if self.conditional else None
        with self.evaluating():
            generated = self.sample(k, y).numpy()[:, 0]
        classes = np.arange(k) if self.conditional else np.full(k, -1)
        return generated, classes, d.clips[firsts, 0, :self.clip_length]

    def sample_figure(self, path: str, n: int = 64) -> str:
        """The .wav files of up to 10 generated clips beside `path`, and their spectrograms above real ones."""
        generated, classes, real = self.figure_clips(n)
        stem = os.path.splitext(path)[0]
        for k, (clip, c) in enumerate(zip(generated, classes)):
            save_wav(f"{stem}-{k}-{TONE_CLASSES[c] if c >= 0 else 'clip'}.wav", clip, self.sample_rate)
        return spectrogram_figure(generated, real, path, [TONE_CLASSES[c] if c >= 0 else "" for c in classes],
                                  title=f"{self.name}: generated (top) and real test clips (bottom)")


def spectrogram_figure(generated: np.ndarray, real: np.ndarray, path: str, labels: list, title: str = "",
                       sample_rate: int = SAMPLE_RATE) -> str:
    """Two rows of log spectrograms (n_fft 256, hop 64): generated clips above real ones, one column each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(len(generated), len(real))
    fig, axes = plt.subplots(2, cols, figsize=(1.3 * cols, 3.0), squeeze=False)
    for row, clips in enumerate((generated, real)):
        for c in range(cols):
            ax = axes[row, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(clips):
                ax.axis("off")
                continue
            spec = log_spectrogram(clips[c], n_fft=256, hop=64)
            seconds = len(clips[c]) / sample_rate
            ax.imshow(spec.T, origin="lower", aspect="auto", cmap="magma", vmin=-12, vmax=spec.max(),
                      extent=(0, seconds, 0, sample_rate / 2000))
            if row == 0 and c < len(labels):
                ax.set_title(labels[c], fontsize=8)
    axes[0, 0].set_ylabel("generated\nkHz", fontsize=8)
    axes[1, 0].set_ylabel("real\nkHz", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=64)
    plt.close(fig)
    return path
