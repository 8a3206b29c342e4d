"""The shapes data set (minigen/data/shapes.py): every factor combination exactly once, distinct binary
images, factors that move the pixels the way they say, and fixed disjoint splits."""
from __future__ import annotations

import numpy as np
import pytest

from minigen.data.shapes import FACTOR_SIZES, POSITIONS, index, load_shapes, split_indices


@pytest.fixture(scope="module")
def data():
    return load_shapes()


def test_every_combination_once_and_images_distinct(data):
    n = int(np.prod(FACTOR_SIZES))
    assert data.images.shape == (n, 1, 20, 20) and data.factors.shape == (n, 5)
    assert len({tuple(f) for f in data.factors}) == n
    np.testing.assert_array_equal(index(data.factors), np.arange(n))
    assert set(np.unique(data.images)) == {0.0, 1.0}
    assert len({im.tobytes() for im in data.images}) == n


def test_position_factors_move_the_centre_of_mass(data):
    rows, cols = np.mgrid[:20, :20]
    mass = data.images[:, 0].sum((1, 2))
    cx = (data.images[:, 0] * cols).sum((1, 2)) / mass
    cy = (data.images[:, 0] * rows).sum((1, 2)) / mass
    assert np.abs(cx - np.asarray(POSITIONS)[data.factors[:, 3]]).max() < 1.0
    assert np.abs(cy - np.asarray(POSITIONS)[data.factors[:, 4]]).max() < 1.0
    for s in range(FACTOR_SIZES[0]):
        by_scale = [mass[(data.factors[:, 0] == s) & (data.factors[:, 1] == k)].mean() for k in range(3)]
        assert by_scale[0] < by_scale[1] < by_scale[2]


def test_splits_are_fixed_and_disjoint():
    parts = [split_indices(s) for s in ("train", "valid", "test")]
    assert sum(len(p) for p in parts) == int(np.prod(FACTOR_SIZES))
    assert len(np.unique(np.concatenate(parts))) == int(np.prod(FACTOR_SIZES))
    np.testing.assert_array_equal(split_indices("test"), parts[2])
    with pytest.raises(ValueError, match="shapes"):
        split_indices("dev")


def test_minigen_list_names_shapes(capsys):
    """`minigen list` names shapes among the data sets and on the rows of the models that train on it, and the
    data package exports its loader beside the other data sets'."""
    import minigen.data
    from minigen.cli import main

    main(["list"])
    out = capsys.readouterr().out
    rows = dict(line.split(None, 1) for line in out.splitlines()[1:] if line and not line[0].isupper())
    assert "shapes" in rows["beta-vae"].split() and "shapes" in rows["factor-vae"].split()
    data_sets = next(line for line in out.splitlines() if line.startswith("Data sets:"))
    assert "shapes" in data_sets.split(".")[0].split()
    assert minigen.data.load_shapes is load_shapes
