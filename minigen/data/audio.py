"""Generated audio with known structure (for WaveNet and WaveGAN), mu-law companding, .wav files (the
standard library's `wave`, 16-bit mono PCM) and log-power spectrograms.

Each clip is one periodic waveform, a*shape(2 pi f t + phase), with its shape (sine, square, sawtooth,
triangle), frequency f, amplitude a and phase drawn at random: a model's samples can be checked against
that structure (e.g. the spectrum's single peak for sines).
"""
from __future__ import annotations

import wave

import numpy as np

from .toys import _rng

WAVE_KINDS = ("sine", "square", "sawtooth", "triangle")


def _shape(kind: str, phase: np.ndarray) -> np.ndarray:
    """The unit-amplitude waveform of `kind` at phase (radians)."""
    cycle = (phase / (2 * np.pi)) % 1.0
    if kind == "sine":
        return np.sin(phase)
    if kind == "square":
        return np.where(cycle < 0.5, 1.0, -1.0)
    if kind == "sawtooth":
        return 2 * cycle - 1
    if kind == "triangle":
        return 1 - 4 * np.abs(cycle - 0.5)
    raise ValueError(f"waveforms: unknown kind {kind!r}; expected one of {WAVE_KINDS}")


def waveforms(n: int, length: int = 1024, sample_rate: int = 8000, kinds: tuple[str, ...] = WAVE_KINDS,
              freq_range: tuple[float, float] = (110.0, 880.0), amp_range: tuple[float, float] = (0.5, 0.9),
              seed: int | None = None, dtype=np.float32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n clips (n, 1, length) in [-1, 1], their kind indices into `kinds` (n,) int64, and frequencies (n,)
    in Hz (log-uniform in freq_range)."""
    rng = _rng(seed)
    kind = rng.integers(len(kinds), size=n)
    freq = np.exp(rng.uniform(np.log(freq_range[0]), np.log(freq_range[1]), n))
    amp = rng.uniform(*amp_range, n)
    phase0 = rng.uniform(0, 2 * np.pi, n)
    phase = 2 * np.pi * freq[:, None] * np.arange(length) / sample_rate + phase0[:, None]
    x = np.empty((n, length))
    for k, name in enumerate(kinds):
        rows = kind == k
        x[rows] = amp[rows, None] * _shape(name, phase[rows])
    return x[:, None].astype(dtype), kind.astype(np.int64), freq


def mu_law_compress(x, mu: int = 255) -> np.ndarray:
    """The continuous mu-law companding of x in [-1, 1] (float64, clipped): sign(x) ln(1 + mu |x|) / ln(1 + mu)."""
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    return np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)


def mu_law_expand(y, mu: int = 255) -> np.ndarray:
    """Inverse of mu_law_compress (float64): x = sign(y) ((1 + mu)^|y| - 1) / mu."""
    y = np.asarray(y, dtype=np.float64)
    return np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu


def mu_law_encode(x, mu: int = 255) -> np.ndarray:
    """Quantize x in [-1, 1] to 0..mu: round((sign(x) ln(1 + mu |x|) / ln(1 + mu) + 1) / 2 * mu)."""
    return np.rint((mu_law_compress(x, mu) + 1) / 2 * mu).astype(np.int64)


def mu_law_decode(q, mu: int = 255, dtype=np.float32) -> np.ndarray:
    """Inverse of mu_law_encode: y = 2 q / mu - 1, x = sign(y) ((1 + mu)^|y| - 1) / mu."""
    return mu_law_expand(2 * np.asarray(q, dtype=np.float64) / mu - 1, mu).astype(dtype)


def save_wav(path: str, clip, sample_rate: int = 8000) -> str:
    """Write a mono clip in [-1, 1] (any shape with one non-singleton axis) as 16-bit PCM: round(32767 x)."""
    x = np.asarray(clip, dtype=np.float64).reshape(-1)
    pcm = np.rint(np.clip(x, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(path, "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())
    return path


def load_wav(path: str) -> tuple[np.ndarray, int]:
    """(clip (length,) float32 in [-1, 1], sample rate) of a 16-bit mono .wav file."""
    with wave.open(path, "rb") as f:
        if f.getnchannels() != 1 or f.getsampwidth() != 2:
            raise ValueError(f"load_wav: {path} has {f.getnchannels()} channels of {8 * f.getsampwidth()} "
                             "bits; expected 16-bit mono")
        rate, frames = f.getframerate(), f.readframes(f.getnframes())
    return (np.frombuffer(frames, "<i2") / 32767).astype(np.float32), rate


def log_spectrogram(clips, n_fft: int = 256, hop: int = 128, eps: float = 1e-6) -> np.ndarray:
    """log(|STFT|^2 + eps) with a Hann window: (..., frames, n_fft // 2 + 1) for clips (..., length);
    frame j covers samples j hop .. j hop + n_fft - 1 (no padding)."""
    x = np.asarray(clips, dtype=np.float64)
    if x.shape[-1] < n_fft:
        raise ValueError(f"log_spectrogram: clips of length {x.shape[-1]} are shorter than n_fft={n_fft}")
    starts = np.arange(0, x.shape[-1] - n_fft + 1, hop)
    frames = x[..., starts[:, None] + np.arange(n_fft)] * np.hanning(n_fft)
    return np.log(np.abs(np.fft.rfft(frames, axis=-1)) ** 2 + eps)
