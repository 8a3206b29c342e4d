"""The tones data set: its splits, the structure each class is made with, mu-law levels, windows, .wav files."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigen.data import (TONE_CLASSES, ToneWindows, load_tones, load_wav, log_spectrogram, mu_law_decode,
                          mu_law_encode, save_wav, tone_clip)
from minigen.data.tones import CLIPS_PER_CLASS, NOTE_RANGES, SAMPLE_RATE


def peak_hz(clip: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(len(clip))))
    return float(spectrum.argmax() * SAMPLE_RATE / len(clip))


def centroid_hz(clip: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(clip * np.hanning(len(clip)))) ** 2
    return float((power * np.fft.rfftfreq(len(clip), 1 / SAMPLE_RATE)).sum() / power.sum())


def test_splits_are_fixed_balanced_and_distinct():
    assert len(TONE_CLASSES) >= 8
    for split, per_class in CLIPS_PER_CLASS.items():
        d = load_tones(split)
        assert d.clips.shape == (per_class * len(TONE_CLASSES), 1, 8000) and d.clips.dtype == np.float32
        np.testing.assert_array_equal(np.bincount(d.labels), [per_class] * len(TONE_CLASSES))
        assert 0.5 - 1e-6 <= np.abs(d.clips).max(axis=(1, 2)).min() and np.abs(d.clips).max() <= 0.9 + 1e-6
    train, test = load_tones("train"), load_tones("test")
    first_test = tone_clip(TONE_CLASSES[0], np.random.default_rng((142, 0)))
    np.testing.assert_array_equal(test.clips[0, 0], first_test.astype(np.float32))
    assert not np.allclose(train.clips[0], test.clips[0])


def test_notes_have_their_pitch_and_chirps_their_direction():
    d = load_tones("valid")
    for kind, (low, high) in NOTE_RANGES.items():
        for clip in d.clips[d.labels == TONE_CLASSES.index(kind), 0]:
            assert low * 0.98 <= peak_hz(clip) <= high * 1.02, kind
    for kind, sign in (("chirp-up", 1), ("chirp-down", -1)):
        for clip in d.clips[d.labels == TONE_CLASSES.index(kind), 0]:
            assert sign * (centroid_hz(clip[-800:]) - centroid_hz(clip[:800])) > 800, kind


def test_hits_decay_and_repeat():
    d = load_tones("valid")
    for kind in ("kick", "snare"):
        for clip in d.clips[d.labels == TONE_CLASSES.index(kind), 0]:
            energy = (clip.reshape(80, 100) ** 2).mean(axis=1)  # 12.5 ms frames
            loud = energy > 0.25 * energy.max()
            onsets = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
            assert len(onsets) + loud[0] >= 3, kind  # a hit every 0.2-0.4 s
            assert energy.min() < 0.05 * energy.max(), kind  # and silence between hits


def test_classes_are_told_apart_by_their_spectra():
    """A nearest-centroid rule on time-averaged log spectra (train centroids) labels most test clips right:
    the classes differ in the structure they were made with, not only in their seeds."""
    def features(clips):
        return log_spectrogram(clips[:, 0]).mean(axis=1)

    train, test = load_tones("train"), load_tones("test")
    f_train, f_test = features(train.clips), features(test.clips)
    centroids = np.stack([f_train[train.labels == c].mean(0) for c in range(len(TONE_CLASSES))])
    predicted = ((f_test[:, None] - centroids[None]) ** 2).sum(-1).argmin(1)
    assert (predicted == test.labels).mean() >= 0.8


def test_levels_are_mu_law_of_the_clips():
    d = load_tones("test")
    levels = d.levels
    assert levels.shape == d.clips.shape and levels.dtype == np.int64
    assert levels.min() >= 0 and levels.max() <= 255
    np.testing.assert_array_equal(levels, mu_law_encode(d.clips))
    step = np.abs(np.diff(mu_law_decode(np.arange(256), dtype=np.float64))).max()
    assert np.abs(mu_law_decode(levels) - d.clips).max() <= step / 2 + 1e-6


def test_every_level_survives_decode_then_encode():
    every = np.arange(256)
    np.testing.assert_array_equal(mu_law_encode(mu_law_decode(every)), every)


def test_windows_are_deterministic_and_resume_exactly():
    stream = ToneWindows("train", batch_size=4, window=256, seed=3)
    it = iter(stream)
    first = [next(it) for _ in range(3)]
    x, y = first[0]
    assert x.shape == (4, 1, 256) and y.shape == (4,) and y.dtype == np.int64
    clips = load_tones("train").clips
    for row, label in zip(x.numpy()[:, 0], y.numpy()):
        same_class = clips[load_tones("train").labels == label, 0]
        candidates = zip(*np.nonzero(same_class[:, :8000 - 255] == row[0]))
        assert any(np.array_equal(row, same_class[c, s:s + 256]) for c, s in candidates)
    state = stream.state_dict()
    after = next(it)
    resumed = ToneWindows("train", batch_size=4, window=256, seed=3)
    resumed.load_state_dict(state)
    again = next(iter(resumed))
    np.testing.assert_array_equal(again[0].numpy(), after[0].numpy())
    np.testing.assert_array_equal(again[1].numpy(), after[1].numpy())
    starts = next(iter(ToneWindows("train", 2, 100, seed=0, random_offset=False)))[0].numpy()
    assert any(np.array_equal(starts[0, 0], clip[0, :100]) for clip in clips)
    with pytest.raises(ValueError, match="window"):
        ToneWindows("train", 2, 9000)


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=50))
def test_wav_roundtrip_is_within_one_pcm_step(tmp_path_factory, values):
    path = str(tmp_path_factory.mktemp("wav") / "x.wav")
    save_wav(path, np.array(values), sample_rate=8000)
    back, rate = load_wav(path)
    assert rate == 8000 and back.shape == (len(values),)
    assert np.abs(back - np.array(values)).max() <= 0.5 / 32767 + 1e-6


def test_spectrogram_peaks_at_a_sine():
    t = np.arange(4096) / SAMPLE_RATE
    spec = log_spectrogram(np.sin(2 * np.pi * 1000 * t), n_fft=256, hop=128)
    assert spec.shape == ((4096 - 256) // 128 + 1, 129)
    assert set(spec.argmax(axis=1)) == {32}  # 1000 Hz / (8000 / 256)
    with pytest.raises(ValueError, match="n_fft"):
        log_spectrogram(np.zeros(100))
