"""Puzzle-GAN: part masks keep exactly the given parts, random subsets have the asked size, the part
reconstruction term trains the given pixels back, and sampling from parts."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.gan.puzzle_gan import part_mask, random_parts

TINY = {"z_dim": 4, "channels": 4, "batch_size": 16}


@pytest.mark.parametrize("grid", [2, 4])
def test_part_mask_keeps_exactly_the_given_parts(grid):
    given = random_parts(5, grid, np.random.default_rng(0))
    mask = part_mask(given, grid)
    cell = 8 // grid
    assert mask.shape == (5, 1, 8, 8) and set(np.unique(mask)) <= {0.0, 1.0}
    for i in range(5):
        for p in range(grid * grid):
            r, c = divmod(p, grid)
            block = mask[i, 0, r * cell:(r + 1) * cell, c * cell:(c + 1) * cell]
            assert (block == given[i, p]).all()
    x = np.random.default_rng(1).random((5, 1, 8, 8))
    kept = x * mask
    np.testing.assert_array_equal(kept[mask == 1], x[mask == 1])
    assert (kept[mask == 0] == 0).all()


def test_random_parts_counts():
    rng = np.random.default_rng(2)
    assert (random_parts(50, 4, rng, 8).sum(1) == 8).all()
    counts = random_parts(2000, 2, rng).sum(1)
    assert set(np.unique(counts)) == {1, 2, 3, 4}
    assert abs(np.mean(counts) - 2.5) < 0.1


def test_reconstruction_term_restores_the_given_parts():
    """With the adversarial part switched off in effect (a huge rec_weight), 60 steps bring G's output on
    given pixels close to the image while the first step is far."""
    mg.manual_seed(0)
    model = models.create("puzzle-gan", **TINY, rec_weight=100.0, lr=2e-3)
    opts = model.configure_optimizers()
    batch = next(iter(model.loader("train")))
    first = model.train_step(batch, opts, 0)["part_l1"]
    for step in range(1, 60):
        last = model.train_step(batch, opts, step)["part_l1"]
    assert first > 0.25 and last < 0.5 * first


def test_sample_from_parts_and_labels():
    mg.manual_seed(0)
    model = models.create("puzzle-gan", **TINY)
    images = model.split_arrays("test")[0][:3]
    out = model.sample(3, {"images": images, "parts": [0, 5, 15]}, rng=np.random.default_rng(0))
    assert out.shape == (3, 1, 8, 8) and 0 <= out.numpy().min() and out.numpy().max() <= 1
    assert model.sample(4, np.arange(4), rng=np.random.default_rng(0)).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="parts are 0..15"):
        model.sample(3, {"parts": [16]})
    with pytest.raises(TypeError, match="puzzle-gan"):
        model.sample(3)
    metrics = model.metrics()
    assert {"class_acc", "part_l1", "parts_class_acc", "class_acc_k16", "part_l1_k1"} <= set(metrics)
