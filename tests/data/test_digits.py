"""The digits splits: sizes, disjointness, the fixed permutation, binarization, dtypes."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the digits data set is scikit-learn's bundled copy")

from sklearn.datasets import load_digits as sk_load_digits  # noqa: E402

from minigen.data import Digits, load_digits, split_indices  # noqa: E402


def test_splits_have_the_design_sizes_and_partition_the_data():
    idx = {s: split_indices(s) for s in ("train", "valid", "test")}
    assert [len(idx[s]) for s in ("train", "valid", "test")] == [1297, 200, 300]
    np.testing.assert_array_equal(np.sort(np.concatenate(list(idx.values()))), np.arange(1797))
    perm = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(idx["valid"], perm[1297:1497])


def test_images_and_labels_follow_the_split():
    sk = sk_load_digits()
    d = load_digits("test")
    idx = split_indices("test")
    assert d.images.shape == (300, 1, 8, 8) and d.images.dtype == np.float32
    assert d.labels.dtype == np.int64 and len(d) == 300
    np.testing.assert_array_equal(d.images[:, 0], sk.images[idx])
    np.testing.assert_array_equal(d.labels, sk.target[idx])
    x, y = d[5]
    assert x.shape == (1, 8, 8) and y == sk.target[idx[5]]


def test_seventeen_levels_kept_without_binarization():
    d = load_digits("train", dtype=np.float64)
    assert d.images.dtype == np.float64
    assert set(np.unique(d.images)) <= set(range(17)) and d.images.max() == 16


def test_static_binarization_is_pixel_at_least_8():
    gray = load_digits("valid").images
    binary = load_digits("valid", binarize="static").images
    np.testing.assert_array_equal(binary, (gray >= 8).astype(np.float32))
    assert 0.2 < binary.mean() < 0.5


def test_dynamic_keeps_levels_for_the_loader():
    d = load_digits("train", binarize="dynamic")
    assert d.binarize == "dynamic" and d.max_value == 16.0 and d.images.max() == 16


def test_unknown_split_or_binarization_is_refused():
    with pytest.raises(ValueError, match="unknown split 'validation'"):
        load_digits("validation")
    with pytest.raises(ValueError, match="unknown binarize 'otsu'"):
        Digits("train", binarize="otsu")


def test_missing_scikit_learn_says_how_to_install(monkeypatch):
    import sys

    from minigen.data import digits

    digits._raw_digits.cache_clear()
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    try:
        with pytest.raises(ImportError, match="pip install scikit-learn"):
            load_digits("train")
    finally:
        digits._raw_digits.cache_clear()
