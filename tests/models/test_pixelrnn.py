"""PixelRNN: skew/unskew, the LSTM update, and the autoregressive property of the Row LSTM and the Diagonal
BiLSTM through the engine's gradients (no leak, and the Diagonal BiLSTM's receptive field well beyond the
Row LSTM's triangle), normalisation, the cached fast sampler against the network (logits at every pixel) and
against the naive sampler for the same seed (samples and completions), a short training run."""
import itertools

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.pixelrnn import DiagonalBiLSTM, RowLSTM, lstm_update, skew, unskew
from minigen.models.autoregressive.pixelrnn_sampler import lstm_cell
from test_baselines import randomize  # shared helper (tests/models is on sys.path)
from test_pixelcnn import both_samplers_agree, earlier, random_images


def test_skew_shifts_row_i_right_by_i_and_unskew_inverts_it():
    x = np.arange(2 * 3 * 4, dtype=np.float64).reshape(1, 2, 3, 4)
    s = skew(mg.tensor(x)).numpy()
    assert s.shape == (1, 2, 3, 6)
    for i in range(3):
        np.testing.assert_array_equal(s[:, :, i, i:i + 4], x[:, :, i])
        assert (np.delete(s[:, :, i], np.arange(i, i + 4), axis=-1) == 0).all()
    np.testing.assert_array_equal(unskew(mg.tensor(s), 4).numpy(), x)


def test_lstm_update_is_the_lstm_cell():
    rng = np.random.default_rng(0)
    gates, c_prev = rng.standard_normal((2, 12, 1, 3)), rng.standard_normal((2, 3, 1, 3))
    sig = lambda a: 1 / (1 + np.exp(-a))
    o, f, i, g = np.split(gates, 4, axis=1)
    c = sig(f) * c_prev + sig(i) * np.tanh(g)
    h_out, c_out = lstm_update(mg.tensor(gates), mg.tensor(c_prev))
    np.testing.assert_allclose(c_out.numpy(), c, rtol=1e-12)
    np.testing.assert_allclose(h_out.numpy(), sig(o) * np.tanh(c), rtol=1e-12)
    h_raw, c_raw = lstm_cell(gates.transpose(0, 2, 3, 1), c_prev.transpose(0, 2, 3, 1))  # the sampler's copy
    np.testing.assert_allclose(c_raw, c.transpose(0, 2, 3, 1), rtol=1e-12)
    np.testing.assert_allclose(h_raw, (sig(o) * np.tanh(c)).transpose(0, 2, 3, 1), rtol=1e-12)


def test_no_leak_and_the_diagonal_field_is_far_wider_than_the_row_lstms_triangle():
    fields = {}
    for cls in (RowLSTM, DiagonalBiLSTM):
        model = randomize(cls(channels=4, layers=1, first_kernel=3, event_shape=(1, 6, 6)), seed=0, scale=0.5)
        dep = model.dependence(random_images(model, 3))
        assert not (dep & ~earlier(model)).any()
        fields[cls] = dep
    allowed = earlier(RowLSTM(event_shape=(1, 6, 6)))
    row_missing, diag_missing = (allowed & ~fields[c] for c in (RowLSTM, DiagonalBiLSTM))
    assert row_missing.sum() > 5 * diag_missing.sum()
    # the Row LSTM sees neither far left in its own row nor the far corners of the rows above
    assert not fields[RowLSTM][3 * 6 + 4, 3 * 6 + 0] and not fields[RowLSTM][2 * 6 + 0, 0 * 6 + 5]
    # what the Diagonal BiLSTM misses is only the end of the row just above (see the model's docstring)
    d, e = np.nonzero(diag_missing)
    assert ((e // 6 == d // 6 - 1) & (e % 6 == 5)).all()
    assert fields[DiagonalBiLSTM][2 * 6 + 0, 0 * 6 + 5] and fields[DiagonalBiLSTM][3 * 6 + 4, 3 * 6 + 0]


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
def test_probabilities_of_all_images_sum_to_one(cls):
    model = randomize(cls(channels=4, layers=1, first_kernel=3, event_shape=(1, 2, 3)), seed=1)
    images = mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=6))).reshape(-1, 1, 2, 3))
    assert abs(np.logaddexp.reduce(model.log_prob(images).numpy())) < 1e-10


# ----------------------------------------------------------------------------------------- sampling
# taller than wide and wider than tall: the Diagonal BiLSTM's states left of the image (its edge) reach
# different depths; 17 levels exercise the categorical draw

SHAPES = [((1, 8, 8), "bernoulli", 2), ((1, 7, 4), "bernoulli", 2), ((1, 4, 6), "categorical", 17)]


def small(cls, shape, likelihood="bernoulli", levels=2, seed=5):
    return randomize(cls(event_shape=shape, channels=8, layers=2, first_kernel=3, likelihood=likelihood,
                         levels=levels), seed=seed, scale=0.4)


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
@pytest.mark.parametrize("shape,likelihood,levels", SHAPES)
def test_cached_logits_are_the_networks_at_every_pixel(cls, shape, likelihood, levels):
    model = small(cls, shape, likelihood, levels)
    x = mg.tensor(np.random.default_rng(2).integers(0, levels, (5,) + shape).astype(np.float64))
    full = model.image_logits(x).numpy()[:, 0]  # (B, K, H, W)
    scaled = x.numpy() / (levels - 1)
    with model.evaluating():
        cache = model.start_cache(np.zeros_like(scaled))
        for i in range(shape[1]):
            model.row_start(cache, i)
            for j in range(shape[2]):
                np.testing.assert_allclose(model.logits_at(cache, i, j)[:, 0], full[:, :, i, j], rtol=0, atol=1e-12)
                model.write(cache, 0, i, j, scaled[:, 0, i, j])


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
@pytest.mark.parametrize("shape,likelihood,levels", SHAPES)
def test_fast_sampler_gives_the_naive_samples_for_the_same_seed(cls, shape, likelihood, levels):
    model = small(cls, shape, likelihood, levels)
    assert model.has_fast_sampler
    naive = both_samplers_agree(lambda fast: model.sample(12, fast=fast), seed=7)
    assert len(np.unique(naive)) > 1 and set(np.unique(naive)) <= set(range(levels))


@pytest.mark.parametrize("cls", [RowLSTM, DiagonalBiLSTM])
def test_completion_keeps_the_top_half_and_both_samplers_agree(cls):
    model = small(cls, (1, 6, 5), seed=8)
    x = random_images(model, 10, seed=1)
    observed = np.zeros((1, 6, 5), bool)
    observed[:, :3] = True
    completed = both_samplers_agree(lambda fast: model.complete(x, observed, fast=fast), seed=3)
    np.testing.assert_array_equal(completed[:, :, :3], x.numpy()[:, :, :3])
    assert (completed[:, :, 3:] != x.numpy()[:, :, 3:]).any()


@pytest.mark.parametrize("name", ["pixelrnn-row", "pixelrnn-diag"])
def test_training_lowers_the_loss(name):
    mg.manual_seed(0)
    model = models.create(name, channels=8, layers=1, lr=3e-2)
    opt = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=16)))
    first = model.train_step(batch, opt, 0)["loss"]
    for step in range(1, 10):
        last = model.train_step(batch, opt, step)["loss"]
    assert last < first - 3.0
    assert model.sample(2).shape == (2, 1, 8, 8)
    assert model.sample_speedup(4) > 1.5
