"""Generated waveforms and mu-law companding."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minigen.data import WAVE_KINDS, mu_law_decode, mu_law_encode, waveforms


def test_waveforms_have_their_frequency_and_range():
    x, kind, freq = waveforms(64, length=2048, sample_rate=8000, seed=0)
    assert x.shape == (64, 1, 2048) and x.dtype == np.float32 and kind.dtype == np.int64
    assert np.abs(x).max() <= 0.9 + 1e-6 and set(kind) == set(range(len(WAVE_KINDS)))
    spectrum = np.abs(np.fft.rfft(x[:, 0] * np.hanning(2048), axis=1))
    peak_hz = spectrum.argmax(axis=1) * 8000 / 2048
    np.testing.assert_allclose(peak_hz, freq, atol=2 * 8000 / 2048)
    sines = x[kind == 0, 0]
    np.testing.assert_allclose((sines ** 2).mean(axis=1) * 2, np.abs(sines).max(axis=1) ** 2, rtol=0.05)
    np.testing.assert_array_equal(x, waveforms(64, length=2048, sample_rate=8000, seed=0)[0])


def test_square_wave_takes_two_values():
    x, _, _ = waveforms(3, kinds=("square",), amp_range=(0.5, 0.5), seed=1)
    assert set(np.unique(x)) == {-0.5, 0.5}


@given(st.lists(st.floats(-1, 1), min_size=1, max_size=20))
def test_mu_law_roundtrip_error_is_within_half_a_level(values):
    x = np.array(values)
    q = mu_law_encode(x)
    assert q.min() >= 0 and q.max() <= 255 and q.dtype == np.int64
    back = mu_law_decode(q, dtype=np.float64)
    lo = mu_law_decode(np.maximum(q - 0.5, 0), dtype=np.float64)
    hi = mu_law_decode(np.minimum(q + 0.5, 255), dtype=np.float64)
    assert np.all((lo - 1e-12 <= x) & (x <= hi + 1e-12))
    assert np.all(np.abs(back - x) <= np.maximum(hi - back, back - lo) + 1e-12)


def test_mu_law_endpoints_and_monotonicity():
    grid = np.linspace(-1, 1, 1001)
    q = mu_law_encode(grid)
    assert q[0] == 0 and q[-1] == 255 and np.all(np.diff(q) >= 0)
    np.testing.assert_allclose(mu_law_decode(np.array([0, 255])), [-1.0, 1.0], rtol=1e-6)
