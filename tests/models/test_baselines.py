"""Baselines (bernoulli, ar1 / AR-k, fvsbn): autoregressive structure, exact normalisation, NumPy forward,
parameter counts, sampler against likelihood, completion, and a short training run."""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigen as mg
import minigen.models as models
from minigen.models.autoregressive.baselines import FVSBN, IndependentBernoulli, MarkovChain

SMALL = (1, 2, 5)  # 10 pixels: 1,024 images to enumerate


def randomize(model, seed: int = 0, scale: float = 1.0):
    """Random float64 parameters, so that no conditional is trivially constant."""
    rng = np.random.default_rng(seed)
    model.double()
    for p in model.parameters():
        p.data = rng.normal(0.0, scale, p.shape)
    return model


def all_images(shape) -> mg.Tensor:
    n = int(np.prod(shape))
    return mg.tensor(np.array(list(itertools.product([0.0, 1.0], repeat=n))).reshape((-1,) + shape))


def expected_dependence(model) -> np.ndarray:
    n = model.dims
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    if isinstance(model, IndependentBernoulli):
        return np.zeros((n, n), bool)
    if isinstance(model, MarkovChain):
        return (j < i) & (j >= i - model.order)
    return j < i


BUILDERS = {"bernoulli": lambda: IndependentBernoulli(event_shape=SMALL),
            "ar1": lambda: MarkovChain(event_shape=SMALL),
            "ar3": lambda: MarkovChain(order=3, event_shape=SMALL),
            "fvsbn": lambda: FVSBN(event_shape=SMALL)}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_conditional_i_depends_exactly_on_its_parents(name):
    model = randomize(BUILDERS[name]())
    x = mg.tensor(np.random.default_rng(1).integers(0, 2, (6,) + SMALL).astype(np.float64))
    dep = model.dependence(x)
    np.testing.assert_array_equal(dep, expected_dependence(model))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_probabilities_of_all_images_sum_to_one(name):
    model = randomize(BUILDERS[name](), seed=3)
    log_p = model.log_prob(all_images(SMALL)).numpy()
    assert log_p.shape == (2 ** 10,)
    assert abs(np.logaddexp.reduce(log_p)) < 1e-10


def numpy_logits(model, x: np.ndarray) -> np.ndarray:
    """The conditionals' logits written out plainly (table lookups by integer context)."""
    b, n = x.shape
    if isinstance(model, IndependentBernoulli):
        return np.broadcast_to(model.logits.numpy().reshape(1, n), (b, n))
    if isinstance(model, MarkovChain):
        out = np.empty((b, n))
        for d in range(n):
            context = sum(x[:, d - j].astype(int) << (j - 1) for j in range(1, model.order + 1) if d - j >= 0)
            out[:, d] = model.table.numpy()[d, context]
        return out
    return x @ np.tril(model.weight.numpy(), -1).T + model.bias.numpy()


@given(seed=st.integers(0, 2 ** 16), name=st.sampled_from(sorted(BUILDERS)))
def test_per_pixel_terms_match_numpy(seed, name):
    model = randomize(BUILDERS[name](), seed=seed)
    x = np.random.default_rng(seed).integers(0, 2, (5,) + SMALL).astype(np.float64)
    logits = numpy_logits(model, x.reshape(5, -1))
    expected = (x.reshape(5, -1) * logits - np.logaddexp(0, logits)).reshape(x.shape)
    terms = model.log_prob(mg.tensor(x), reduce=False)
    assert terms.shape == x.shape
    np.testing.assert_allclose(terms.numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.log_prob(mg.tensor(x)).numpy(), expected.reshape(5, -1).sum(1), rtol=1e-10)


@pytest.mark.parametrize("order", [1, 2, 4])
def test_parameter_counts(order):
    n = 64
    assert models.create("bernoulli").num_params() == n
    assert models.create("ar1", order=order).num_params() == sum(2 ** min(d, order) for d in range(n))
    assert models.create("ar1").num_params() == 2 * n - 1
    assert models.create("fvsbn").num_params() == n + n * (n - 1) // 2


def test_sampler_draws_from_the_model():
    """Empirical frequencies of 20,000 draws against exp(log_prob) over all 8 images of 3 pixels."""
    mg.manual_seed(0)
    for model in (FVSBN(event_shape=(3,)), MarkovChain(order=2, event_shape=(3,))):
        randomize(model, seed=5)
        images = all_images((3,))
        p = np.exp(model.log_prob(images).numpy())
        draws = model.sample(20000).numpy()
        assert set(np.unique(draws)) <= {0.0, 1.0}
        freq = np.bincount((draws * [4, 2, 1]).sum(1).astype(int), minlength=8) / 20000
        np.testing.assert_allclose(freq, p, atol=0.02)


def test_complete_keeps_the_observed_rows_and_checks_the_order():
    mg.manual_seed(0)
    model = randomize(FVSBN(event_shape=(1, 4, 4)))
    x = mg.tensor(np.random.default_rng(0).integers(0, 2, (7, 1, 4, 4)).astype(np.float64))
    observed = np.zeros((1, 4, 4))
    observed[:, :2] = 1
    out = model.complete(x, observed).numpy()
    np.testing.assert_array_equal(out[:, :, :2], x.numpy()[:, :, :2])
    assert set(np.unique(out)) <= {0.0, 1.0}
    with pytest.raises(ValueError, match="must come before"):
        model.complete(x, 1 - observed)


def test_wrong_image_shape_is_a_clear_error():
    with pytest.raises(ValueError, match=r"fvsbn: expected images of shape \(B, 1, 8, 8\)"):
        models.create("fvsbn").log_prob(mg.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"FVSBN: expected images"):  # a model made without the registry
        FVSBN(event_shape=(3,)).log_prob(mg.zeros((2, 4)))


@pytest.mark.parametrize("name", ["bernoulli", "ar1", "fvsbn"])
def test_training_lowers_the_loss_and_reports_metrics(name):
    mg.manual_seed(0)
    model = models.create(name)
    (opt,) = model.configure_optimizers()
    batch = next(iter(model.loader("train", batch_size=64)))
    first = model.train_step(batch, [opt], 0)["loss"]
    for step in range(1, 31):
        last = model.train_step(batch, [opt], step)["loss"]
    assert last < first - 1.0
    m = model.metrics("test")
    assert {"test_nll", "test_bpd", "num_params"} <= set(m)
    assert m["test_bpd"] == pytest.approx(m["test_nll"] / (64 * np.log(2)))


@pytest.mark.parametrize("name", ["bernoulli", "ar1", "fvsbn"])
def test_sample_follows_the_protocol(name):
    """sample(n, y=None) -> (n, *event_shape) binary images, in eval mode only inside; y is refused."""
    mg.manual_seed(0)
    model = models.create(name)
    model.train()
    s = model.sample(4)
    assert s.shape == (4, 1, 8, 8) and set(np.unique(s.numpy())) <= {0.0, 1.0} and not s.requires_grad
    assert model.training
    with pytest.raises(TypeError, match=f"{name} is unconditional"):
        model.sample(4, y=np.zeros(4, np.int64))
