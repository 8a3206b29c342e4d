"""DataLoader: batching, drop_last, per-epoch shuffling, seeds, dynamic binarization, exact resume."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen.autograd import Tensor
from minigen.data import ArrayDataset, DataLoader


def _epoch(loader):
    return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy() for b in loader]


@given(n=st.integers(1, 23), batch_size=st.integers(1, 8), drop_last=st.booleans(), shuffle=st.booleans())
def test_batches_cover_the_data_once_per_epoch(n, batch_size, drop_last, shuffle):
    x = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(n)
    if drop_last and n < batch_size:
        with pytest.raises(ValueError, match="make no batch"):
            DataLoader((x, y), batch_size, drop_last=drop_last)
        return
    loader = DataLoader((x, y), batch_size, shuffle=shuffle, drop_last=drop_last, seed=3)
    batches = list(loader)
    assert len(batches) == len(loader) == (n // batch_size if drop_last else -(-n // batch_size))
    assert all(isinstance(bx, Tensor) and bx.dtype == np.float32 and by.dtype == np.int64
               for bx, by in batches)
    assert all(len(by) == batch_size for _, by in batches[:-1])
    seen = np.concatenate([by.numpy() for _, by in batches])
    assert len(np.unique(seen)) == len(seen)
    assert len(seen) == (n - n % batch_size if drop_last else n)
    for bx, by in batches:
        np.testing.assert_array_equal(bx.numpy()[:, 0], by.numpy())
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))


def test_reshuffles_every_epoch_reproducibly_from_its_seed():
    x = np.arange(50)
    a = DataLoader(x, 10, shuffle=True, seed=7)
    e0, e1 = _epoch(a), _epoch(a)
    assert not all(np.array_equal(p, q) for p, q in zip(e0, e1))
    b = DataLoader(x, 10, shuffle=True, seed=7)
    for p, q in zip(e0 + e1, _epoch(b) + _epoch(b)):
        np.testing.assert_array_equal(p, q)
    c = DataLoader(x, 10, shuffle=True, seed=8)
    assert not all(np.array_equal(p, q) for p, q in zip(e0, _epoch(c)))


def test_seed_none_follows_manual_seed():
    mg.manual_seed(11)
    a = _epoch(DataLoader(np.arange(30), 30, shuffle=True))
    mg.manual_seed(11)
    b = _epoch(DataLoader(np.arange(30), 30, shuffle=True))
    np.testing.assert_array_equal(a[0], b[0])


def test_dynamic_binarization_samples_bernoulli_pixel_over_16_per_epoch():
    levels = np.tile(np.arange(17, dtype=np.float32), (400, 1))
    loader = DataLoader(levels, 400, seed=0, dynamic_binarize=True)
    e0, e1 = _epoch(loader)[0], _epoch(loader)[0]
    assert set(np.unique(e0)) <= {0.0, 1.0} and e0.dtype == np.float32
    assert not np.array_equal(e0, e1)
    freq = (e0.mean(axis=0) + e1.mean(axis=0)) / 2
    np.testing.assert_allclose(freq, np.arange(17) / 16, atol=4 * np.sqrt(0.25 / 800))
    assert freq[0] == 0 and freq[16] == 1
    scaled = _epoch(DataLoader(levels * 16, 400, seed=0, dynamic_binarize=256.0))[0]
    np.testing.assert_array_equal(scaled, e0)


def test_digits_with_dynamic_binarization_turns_it_on():
    pytest.importorskip("sklearn")
    ds = mg.data.load_digits("valid", binarize="dynamic")
    x, y = next(iter(DataLoader(ds, 200, seed=0)))
    assert x.shape == (200, 1, 8, 8) and y.shape == (200,)
    assert set(np.unique(x.numpy())) == {0.0, 1.0}
    frac = x.numpy().mean()
    assert abs(frac - ds.images.mean() / 16) < 0.02


@given(stop=st.integers(0, 20), batch_size=st.integers(2, 5))
def test_resume_from_state_dict_sees_the_same_batches(tmp_path_factory, stop, batch_size):
    x = np.arange(17 * 4, dtype=np.float32).reshape(17, 4)
    ref = DataLoader(x, batch_size, shuffle=True, seed=5, dynamic_binarize=40.0)
    expected = [b for _ in range(4) for b in _epoch(ref)]
    a = DataLoader(x, batch_size, shuffle=True, seed=5, dynamic_binarize=40.0)
    got = []
    while len(got) < stop:
        for b in a:
            got.append(b.numpy())
            if len(got) == stop:
                break
    path = tmp_path_factory.mktemp("loader") / "state.npz"
    mg.save({"loader": a}, path)
    b = DataLoader(x, batch_size, shuffle=True, seed=999, dynamic_binarize=40.0)
    b.load_state_dict(mg.load(path)["loader"])
    while len(got) < len(expected):
        got += [t.numpy() for t in b]
    for p, q in zip(got, expected):
        np.testing.assert_array_equal(p, q)


def test_load_state_dict_refuses_a_different_batch_size():
    sd = DataLoader(np.arange(10), 2).state_dict()
    with pytest.raises(ValueError, match="batches would differ"):
        DataLoader(np.arange(10), 3).load_state_dict(sd)


def test_accepts_tensors_datasets_and_generic_sequences():
    t = mg.tensor(np.arange(6.0).reshape(3, 2))
    np.testing.assert_array_equal(_epoch(DataLoader(t, 3))[0], t.numpy())
    ds = ArrayDataset(np.arange(4), np.arange(4) * 10)
    assert ds[2] == (2, 20) and len(ds) == 4

    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i, i * i], np.float32), i

    (bx, by), = _epoch(DataLoader(Squares(), 5))
    np.testing.assert_array_equal(bx[:, 1], np.arange(5) ** 2)
    np.testing.assert_array_equal(by, np.arange(5))
    with pytest.raises(ValueError, match="different lengths"):
        ArrayDataset(np.arange(3), np.arange(4))
    with pytest.raises(TypeError, match="DataLoader: expected"):
        DataLoader(42, 1)


@pytest.mark.gpu
def test_batches_on_the_gpu():
    x, y = next(iter(DataLoader((np.ones((4, 2), np.float32), np.arange(4)), 2, device="cuda")))
    assert x.device == "cuda" and y.device == "cuda"
