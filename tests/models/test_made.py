"""MADE: mask construction, the autoregressive property under every mask set of the pool, exact
normalisation of one ordering and of the ensemble (and why logits must not be averaged), the ensemble
sampler, mask resampling during training, parameter counts."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.made import MADE, made_degrees, made_masks
from test_baselines import all_images, randomize  # shared helpers (tests/models is on sys.path)


@given(seed=st.integers(0, 2 ** 16), dims=st.integers(2, 9),
       widths=st.lists(st.integers(1, 12), min_size=1, max_size=3))
def test_mask_products_only_connect_earlier_inputs(seed, dims, widths):
    """Paths input j -> output i exist only when j comes before i in the ordering."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(dims)
    masks = made_masks(made_degrees(dims, widths, order, rng))
    paths = masks[0]
    for m in masks[1:]:
        paths = m @ paths
    position = np.argsort(order)
    allowed = position[None, :] < position[:, None]
    assert not (paths.astype(bool) & ~allowed).any()


def test_conditional_i_depends_only_on_earlier_pixels_under_every_mask_set():
    model = randomize(MADE(hidden=40, layers=2, num_masks=3, event_shape=(1, 3, 3)), seed=1)
    x = mg.tensor(np.random.default_rng(0).integers(0, 2, (8, 1, 3, 3)).astype(np.float64))
    orders = []
    for k in range(3):
        model.mask_index = k
        order = model.ordering()
        position = np.argsort(order)
        dep = model.dependence(x)
        assert not (dep & (position[None, :] >= position[:, None])).any()
        assert dep.sum() > 0.8 * 36  # not vacuous: most earlier pixels do reach each conditional
        orders.append(tuple(order))
    assert orders[0] == tuple(range(9)) and len(set(orders)) == 3


@pytest.mark.parametrize("layers", [1, 2])
def test_one_ordering_and_the_ensemble_sum_to_one(layers):
    model = randomize(MADE(hidden=16, layers=layers, num_masks=4, ensemble=4, event_shape=(10,)), seed=2)
    images = all_images((10,))
    for e in (1, 4):
        assert abs(np.logaddexp.reduce(model.log_prob(images, ensemble=e).numpy())) < 1e-10


def test_ensemble_averages_probabilities_not_logits():
    model = randomize(MADE(hidden=16, num_masks=4, ensemble=4, event_shape=(10,)), seed=3)
    images = all_images((10,))
    x = images.numpy()
    logits = []
    for k in range(4):
        model.mask_index = k
        logits.append(model.conditionals(images).numpy())
    per_order = [(x * l - np.logaddexp(0, l)).sum(1) for l in logits]
    expected = np.logaddexp.reduce(np.stack(per_order), axis=0) - np.log(4)
    np.testing.assert_allclose(model.log_prob(images).numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(model.log_prob(images, ensemble=1).numpy(), per_order[0], rtol=1e-12)
    averaged = sum(logits) / 4
    wrong = (x * averaged - np.logaddexp(0, averaged)).sum(1)
    assert abs(np.logaddexp.reduce(wrong)) > 1e-3  # the pitfall is not even normalised


def test_per_pixel_terms_exist_for_one_ordering_only():
    model = MADE(hidden=8, num_masks=2, ensemble=2, event_shape=(1, 2, 3))
    x = mg.tensor(np.ones((3, 1, 2, 3), np.float32))
    assert model.log_prob(x, reduce=False, ensemble=1).shape == x.shape
    with pytest.raises(ValueError, match="one ordering only"):
        model.log_prob(x, reduce=False)


def test_ensemble_sampler_draws_from_the_mixture():
    mg.manual_seed(0)
    model = randomize(MADE(hidden=12, num_masks=3, ensemble=3, event_shape=(3,)), seed=4)
    p = np.exp(model.log_prob(all_images((3,))).numpy())
    draws = model.sample(20000).numpy()
    freq = np.bincount((draws * [4, 2, 1]).sum(1).astype(int), minlength=8) / 20000
    np.testing.assert_allclose(freq, p, atol=0.02)


def test_training_resamples_masks_and_lowers_the_loss():
    mg.manual_seed(0)
    model = models.create("made", hidden=64, num_masks=4, ensemble=2, lr=1e-2)
    opt = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=64)))
    first = model.train_step(batch, opt, 0)["loss"]
    used = set()
    for step in range(1, 31):
        last = model.train_step(batch, opt, step)["loss"]
        used.add(model.mask_index)
    assert len(used) > 1
    assert last < first - 3.0
    m = model.metrics()
    assert {"test_nll", "test_bpd", "test_nll_one_ordering", "num_params"} <= set(m)


def test_parameter_count_is_the_weights_some_mask_uses():
    model = MADE(hidden=10, layers=1, num_masks=1, event_shape=(5,))
    m_in, m_out = model.mask0.numpy()[0], model.mask1.numpy()[0]
    assert model.num_params() == int(m_in.sum() + m_out.sum()) + 10 + 5
    assert model.num_params() < model.num_parameters()


def test_bad_ensemble_is_a_clear_error():
    with pytest.raises(ValueError, match="ensemble <= num_masks"):
        models.create("made", num_masks=2, ensemble=3)
