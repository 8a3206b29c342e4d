"""The tones classifier (packaged weights, never retrained by a test) and the audio sample metrics."""
import os
import sys

import numpy as np
import pytest

from minigen.data import TONE_CLASSES, load_tones
from minigen.models.evaluation import tones_classifier as tc

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))


def test_packaged_classifier_labels_the_test_clips():
    assert tc.accuracy("test") >= 0.95


def test_score_separates_real_clips_noise_and_a_single_class():
    test = load_tones("test")
    real = tc.tone_sample_metrics(test.clips[..., :1024])
    assert real["score_tones"] == pytest.approx(real["score_tones_real"]) and real["score_tones_real"] > 8.0
    assert real["spectral_distance"] == pytest.approx(0.0, abs=1e-9) and real["spectral_distance_real"] > 0
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, (100, 1, 1024))
    noisy = tc.tone_sample_metrics(noise)
    assert noisy["score_tones"] < 2.0 and noisy["spectral_distance"] > 10 * noisy["spectral_distance_real"]
    one_class = test.clips[test.labels == TONE_CLASSES.index("vowel-a")][..., :1024]
    assert tc.tone_sample_metrics(one_class)["score_tones"] < 1.5


def test_spectral_distance_is_a_symmetric_distance_in_db():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((4, 2048)) * 0.1, rng.standard_normal((4, 2048)) * 0.2
    assert tc.spectral_distance(a, b) == pytest.approx(tc.spectral_distance(b, a))
    assert tc.spectral_distance(a, b) == pytest.approx(20 * np.log10(2), abs=0.3)  # twice the amplitude: 6 dB


def test_short_clips_and_missing_weights_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="1024 samples"):
        tc.spectrogram_features(np.zeros((2, 1, 500)))
    with pytest.raises(FileNotFoundError, match="train_tones_classifier"):
        tc.load(str(tmp_path / "missing.npz"))


def test_training_is_deterministic():
    import train_tones_classifier

    a, b = train_tones_classifier.train(epochs=1), train_tones_classifier.train(epochs=1)
    for (k, p), (_, q) in zip(sorted(a.state_dict().items()), sorted(b.state_dict().items())):
        np.testing.assert_array_equal(np.asarray(p.numpy()), np.asarray(q.numpy()), err_msg=k)
