"""The tones data set (`--data tones`): generated 8 kHz audio in 10 classes with known structure.

Every clip is one second (8,000 samples) in [-1, 1], made in code from its own seeded generator:

    note-low/-mid/-high  a harmonic note, f0 log-uniform in 110-196 / 220-392 / 440-784 Hz, harmonics
                         k f0 (k f0 < 3.6 kHz) with amplitude k^-r, r ~ U(1, 2), slight vibrato, and an
                         attack-decay-sustain-release envelope
    chirp-up/-down       an exponential sweep between ~300 Hz and ~2.2 kHz (phase = 2 pi int f dt), with a
                         weak second harmonic
    kick                 percussive hits every 0.2-0.4 s: a sine whose pitch falls from ~200 Hz to ~50 Hz,
                         amplitude exp(-t / tau)
    snare                hits every 0.2-0.4 s: a noise burst plus a 180-220 Hz tone, exp(-t / tau)
    vowel-a/-i/-u        a glottal harmonic series (f0 100-200 Hz, amplitude 1/k) shaped by the vowel's three
                         formants (Lorentzian resonances at F1, F2, F3, each moved by up to 5%)

Splits are fixed: train 60, validation 10 and test 10 clips per class, from seeds 140, 141, 142 (clip i of a
split draws from default_rng((seed, i))). Models quantise clips to 256 mu-law levels (mu_law_encode) and
decode them back with mu_law_decode; `levels` gives the quantised clips.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..autograd import Tensor
from .audio import mu_law_encode

SAMPLE_RATE = 8000
CLIP_LENGTH = 8000  # one second
TONE_CLASSES = ("note-low", "note-mid", "note-high", "chirp-up", "chirp-down", "kick", "snare", "vowel-a",
                "vowel-i", "vowel-u")
SPLIT_SEEDS = {"train": 140, "valid": 141, "test": 142}
CLIPS_PER_CLASS = {"train": 60, "valid": 10, "test": 10}
NOTE_RANGES = {"note-low": (110.0, 196.0), "note-mid": (220.0, 392.0), "note-high": (440.0, 784.0)}
FORMANTS = {"vowel-a": (730.0, 1090.0, 2440.0), "vowel-i": (270.0, 2290.0, 3010.0),
            "vowel-u": (300.0, 870.0, 2240.0)}


def _envelope(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Attack (5-40 ms, linear), decay (50-200 ms) to a sustain level 0.5-0.8, release over the last 50-150 ms."""
    attack, decay = rng.uniform(0.005, 0.04), rng.uniform(0.05, 0.2)
    sustain, release = rng.uniform(0.5, 0.8), rng.uniform(0.05, 0.15)
    env = np.where(t < attack, t / attack, sustain + (1 - sustain) * np.exp(-(t - attack) / decay))
    end = t[-1] + 1 / SAMPLE_RATE
    return env * np.clip((end - t) / release, 0.0, 1.0)


def _harmonics(phase: np.ndarray, f0: float, weights) -> np.ndarray:
    """sum_k w_k sin(k phase + phi_k) over harmonics below 3.6 kHz (the weights of the others are dropped)."""
    out = np.zeros_like(phase)
    for k, (w, phi) in enumerate(weights, start=1):
        if k * f0 < 3600:
            out += w * np.sin(k * phase + phi)
    return out


def _note(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = NOTE_RANGES[kind]
    f0 = float(np.exp(rng.uniform(np.log(low), np.log(high))))
    vibrato = 1 + 0.003 * np.sin(2 * np.pi * rng.uniform(4, 6) * t + rng.uniform(0, 2 * np.pi))
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE
    r = rng.uniform(1.0, 2.0)
    weights = [(k ** -r, rng.uniform(0, 2 * np.pi)) for k in range(1, 33)]
    return _harmonics(phase, f0, weights) * _envelope(t, rng)


def _chirp(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    low, high = rng.uniform(250, 400), rng.uniform(1600, 2200)
    start, end = (low, high) if kind == "chirp-up" else (high, low)
    duration = t[-1] + 1 / SAMPLE_RATE
    freq = start * (end / start) ** (t / duration)
    phase = 2 * np.pi * np.cumsum(freq) / SAMPLE_RATE + rng.uniform(0, 2 * np.pi)
    fade = np.clip(np.minimum(t, duration - t) / 0.01, 0.0, 1.0)
    return (np.sin(phase) + 0.2 * np.sin(2 * phase)) * fade


def _hits(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    period, offset = rng.uniform(0.2, 0.4), rng.uniform(0.0, 0.05)
    tau = rng.uniform(0.05, 0.15) if kind == "kick" else rng.uniform(0.03, 0.08)
    since = (t - offset) % period
    started = t >= offset
    if kind == "kick":
        f_start, f_end, fall = rng.uniform(150, 250), rng.uniform(40, 60), rng.uniform(0.02, 0.05)
        freq = f_end + (f_start - f_end) * np.exp(-since / fall)
        hit_start = np.concatenate([[True], np.diff(since) < 0])
        step = np.where(hit_start, 0.0, 2 * np.pi * freq / SAMPLE_RATE)
        total = np.cumsum(step)
        body = np.sin(total - np.maximum.accumulate(np.where(hit_start, total, 0.0)))
    else:
        tone = rng.uniform(180, 220)
        body = 0.7 * rng.standard_normal(len(t)) + 0.5 * np.sin(2 * np.pi * tone * since)
    return body * np.exp(-since / tau) * started


def _vowel(kind: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    f0 = rng.uniform(100, 200)
    formants = np.array(FORMANTS[kind]) * rng.uniform(0.95, 1.05, 3)
    widths = rng.uniform(80, 120, 3)
    strengths = np.array([1.0, 0.6, 0.3])
    vibrato = 1 + 0.005 * np.sin(2 * np.pi * rng.uniform(4, 6) * t)
    phase = 2 * np.pi * np.cumsum(f0 * vibrato) / SAMPLE_RATE
    weights = []
    for k in range(1, 40):
        gain = (strengths / (1 + ((k * f0 - formants) / (widths / 2)) ** 2)).sum()
        weights.append((gain / k ** 0.5, rng.uniform(0, 2 * np.pi)))
    return _harmonics(phase, f0, weights) * _envelope(t, rng)


def tone_clip(kind: str, rng: np.random.Generator, length: int = CLIP_LENGTH) -> np.ndarray:
    """One clip of class `kind` (float64, length samples at 8 kHz), peak amplitude U(0.5, 0.9)."""
    t = np.arange(length) / SAMPLE_RATE
    if kind in NOTE_RANGES:
        x = _note(kind, t, rng)
    elif kind.startswith("chirp"):
        x = _chirp(kind, t, rng)
    elif kind in ("kick", "snare"):
        x = _hits(kind, t, rng)
    elif kind in FORMANTS:
        x = _vowel(kind, t, rng)
    else:
        raise ValueError(f"tones: unknown class {kind!r}; expected one of {', '.join(TONE_CLASSES)}")
    return x * (rng.uniform(0.5, 0.9) / max(np.abs(x).max(), 1e-12))


@dataclass(frozen=True)
class Tones:
    """A split: clips (N, 1, length) float32 in [-1, 1] and labels (N,) int64 (indices into TONE_CLASSES)."""

    clips: np.ndarray
    labels: np.ndarray

    @property
    def levels(self) -> np.ndarray:
        """The clips as mu-law levels 0..255, int64, (N, 1, length)."""
        return mu_law_encode(self.clips)


@functools.lru_cache(maxsize=6)
def load_tones(split: str = "train", length: int = CLIP_LENGTH) -> Tones:
    """The fixed split ("train", "valid" or "test"): clips ordered class by class, each class's clips in turn."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"tones: unknown split {split!r}; expected train, valid or test")
    per_class, seed = CLIPS_PER_CLASS[split], SPLIT_SEEDS[split]
    labels = np.repeat(np.arange(len(TONE_CLASSES)), per_class)
    clips = np.stack([tone_clip(TONE_CLASSES[c], np.random.default_rng((seed, i)), length)
                      for i, c in enumerate(labels)])
    clips, labels = clips[:, None].astype(np.float32), labels.astype(np.int64)
    clips.setflags(write=False)
    labels.setflags(write=False)
    return Tones(clips, labels)


class ToneWindows:
    """An endless, resumable stream of training windows (x (B, 1, window) float32, y (B,) int64) from the
    first `length` samples of a split's clips.

    Batch k draws its clips and offsets from default_rng(SeedSequence([seed, k])): uniform clip indices and,
    when `random_offset`, a uniform start in 0..length - window (else every window starts at sample 0).
    """

    def __init__(self, split: str, batch_size: int, window: int, seed: int = 0, random_offset: bool = True,
                 length: int = CLIP_LENGTH):
        self.length = min(int(length), CLIP_LENGTH)
        if not 1 <= window <= self.length:
            raise ValueError(f"ToneWindows: window must lie in 1..{self.length} (the clip length), got {window}")
        self.data = load_tones(split)
        self.batch_size, self.window, self.seed = int(batch_size), int(window), seed
        self.random_offset, self.index = random_offset, 0

    def __iter__(self):
        clips = self.data.clips
        while True:
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.index]))
            self.index += 1
            rows = rng.integers(len(clips), size=self.batch_size)
            high = self.length - self.window + 1
            starts = rng.integers(high, size=self.batch_size) if self.random_offset else np.zeros(self.batch_size, int)
            x = clips[rows[:, None], 0, starts[:, None] + np.arange(self.window)][:, None]
            yield Tensor(np.ascontiguousarray(x)), Tensor(self.data.labels[rows])

    def state_dict(self) -> dict:
        return {"index": np.array(self.index)}

    def load_state_dict(self, state: dict) -> None:
        index = state["index"]
        self.index = int(index.item() if isinstance(index, (Tensor, np.ndarray)) else index)
