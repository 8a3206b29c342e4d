"""minigen.functional: linear, activations, losses, norms, embedding, maxout through the op factory;
dropout and gumbel_softmax statistically."""
import math

import numpy as np
import pytest
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, make_tests, unary

REDUCTION = st.sampled_from(["mean", "sum", "none"])
_np_erf = np.vectorize(math.erf)


def _np_log_softmax(x, axis=1):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _np_reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](loss)


# ------------------------------------------------------------------------------------- case strategies

@st.composite
def _linear(draw):
    batch = draw(mst.shapes(0, 2, 1, 3))
    n_in, n_out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    bias = draw(st.booleans())
    return Case((batch + (n_in,), (n_out, n_in)) + (((n_out,),) if bias else ()))


@st.composite
def _pair_with_reduction(draw, max_dims=3):
    shape = draw(mst.shapes(0, max_dims, 1, 3))
    return Case((shape, shape), {"reduction": draw(REDUCTION)})


@st.composite
def _classes(draw, smoothing: bool = False):
    """(N, C) or (N, C, d) scores with integer targets, some of them ignored."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    trailing = draw(st.sampled_from([(), (2,)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    target = rng.integers(0, c, (n,) + trailing)
    ignore = draw(st.sampled_from([None, 1, -100]))
    if ignore is not None:
        target = np.where(rng.random(target.shape) < 0.3, ignore, target)
        target.flat[0] = 0  # at least one counted entry
    params = {"target": target, "reduction": draw(REDUCTION), "ignore_index": ignore}
    if smoothing:
        params["label_smoothing"] = draw(st.sampled_from([0.0, 0.1]))
    return Case(((n, c) + trailing,), params)


@st.composite
def _batch_norm_case(draw, training: bool):
    shape = (draw(st.integers(2 if training else 1, 3)), draw(st.integers(1, 3))) + draw(mst.shapes(0, 2, 1, 2))
    affine = draw(st.booleans())
    c = (shape[1],)
    shapes = (shape,) if training else (shape, c, c)
    return Case(shapes + ((c, c) if affine else ()), {"training": training})


@st.composite
def _layer_norm(draw):
    shape = draw(mst.shapes(1, 3, 1, 3))
    k = draw(st.integers(1, len(shape)))
    normalized = shape[len(shape) - k:]
    return Case((shape,) + ((normalized, normalized) if draw(st.booleans()) else ()), {"normalized": normalized})


@st.composite
def _embedding(draw):
    num, dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    shape = draw(mst.shapes(0, 2, 1, 3))
    return Case(((num, dim),), {"indices": np.random.default_rng(draw(st.integers(0, 2**16))).integers(0, num, shape)})


@st.composite
def _maxout(draw):
    pieces, units = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    rest = draw(mst.shapes(0, 2, 1, 2))
    axis = draw(st.sampled_from([1, -1])) if not rest else 1
    shape = (draw(st.integers(1, 2)), units * pieces) + rest
    return Case((shape,), {"pieces": pieces, "axis": axis})


# ------------------------------------------------------------------------------------ NumPy references

def _np_linear(x, w, b=None):
    return x @ w.T + (0 if b is None else b)


def _np_bce(p, t, reduction):
    return _np_reduce(-(t * np.log(p) + (1 - t) * np.log(1 - p)), reduction)


def _np_bce_logits(x, t, reduction, pos_weight):
    s, w = 1 / (1 + np.exp(-x)), 1.0 if pos_weight is None else pos_weight
    return _np_reduce(-(w * t * np.log(s) + (1 - t) * np.log(1 - s)), reduction)


def _np_nll(logp, target, reduction, ignore_index, label_smoothing=0.0):
    c = logp.shape[1]
    logp = np.moveaxis(logp, 1, -1)
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    picked = np.take_along_axis(logp, np.where(keep, target, 0)[..., None], -1)[..., 0]
    loss = -((1 - label_smoothing) * picked + label_smoothing * logp.sum(-1) / c) * keep
    if reduction == "mean":
        return loss.sum() / keep.sum()
    return _np_reduce(loss, reduction)


def _np_batch_norm(x, *args, training):
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if training:
        mean, var, affine = x.mean(axes, keepdims=True), x.var(axes, keepdims=True), args
    else:
        mean, var, affine = args[0].reshape(shape), args[1].reshape(shape), args[2:]
    y = (x - mean) / np.sqrt(var + 1e-5)
    return y * affine[0].reshape(shape) + affine[1].reshape(shape) if affine else y


def _batch_norm(x, *args, training):
    if training:
        return F.batch_norm(x, None, None, *args, training=True)
    return F.batch_norm(x, args[0], args[1], *args[2:], training=False)


def _np_layer_norm(x, *affine, normalized):
    axes = tuple(range(x.ndim - len(normalized), x.ndim))
    y = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    return y * affine[0] + affine[1] if affine else y


def _np_maxout(x, pieces, axis):
    axis %= x.ndim
    return x.reshape(x.shape[:axis] + (x.shape[axis] // pieces, pieces) + x.shape[axis + 1:]).max(axis + 1)


SPECS = [
    OpSpec("linear", F.linear, _np_linear, _linear(), gradgrad=True),
    OpSpec("relu", F.relu, lambda x: np.maximum(x, 0), unary(), domains=("distinct",)),
    OpSpec("leaky_relu", lambda x, s: F.leaky_relu(x, s), lambda x, s: np.where(x > 0, x, s * x),
           unary(s=st.sampled_from([0.01, 0.2])), domains=("distinct",), gradgrad=True),
    OpSpec("leaky_relu_default", F.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), unary(),
           domains=("distinct",)),
    OpSpec("elu", lambda x, a: F.elu(x, a), lambda x, a: np.where(x > 0, x, a * np.expm1(x)),
           unary(a=st.sampled_from([1.0, 0.5])), domains=("distinct",), gradgrad=True),
    OpSpec("gelu", F.gelu, lambda x: 0.5 * x * (1 + _np_erf(x / np.sqrt(2))), unary(), gradgrad=True),
    OpSpec("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
           lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), unary(), gradgrad=True),
    OpSpec("sigmoid", F.sigmoid, lambda x: 1 / (1 + np.exp(-x)), unary()),
    OpSpec("tanh", F.tanh, np.tanh, unary()),
    OpSpec("softplus", F.softplus, lambda x: np.logaddexp(0, x), unary()),
    OpSpec("softmax", lambda x: F.softmax(x, axis=-1), lambda x: np.exp(_np_log_softmax(x, -1)), unary(1)),
    OpSpec("log_softmax", lambda x: F.log_softmax(x, axis=0), lambda x: _np_log_softmax(x, 0), unary(1)),
    OpSpec("binary_cross_entropy", lambda p, t, reduction: F.binary_cross_entropy(p, t, reduction=reduction),
           _np_bce, _pair_with_reduction(), domains=("unit",), gradgrad=True),
    OpSpec("binary_cross_entropy_with_logits",
           lambda x, t, reduction, pos_weight: F.binary_cross_entropy_with_logits(
               x, t, reduction=reduction, pos_weight=pos_weight),
           _np_bce_logits, st.builds(lambda c, w: Case(c.shapes, {**c.params, "pos_weight": w}),
                                     _pair_with_reduction(), st.sampled_from([None, 3.0])),
           domains=("real", "unit"), gradgrad=True),
    OpSpec("nll_loss", lambda x, **kw: F.nll_loss(x, **kw), _np_nll, _classes(), gradgrad=True),
    OpSpec("cross_entropy", lambda x, **kw: F.cross_entropy(x, **kw),
           lambda x, **kw: _np_nll(_np_log_softmax(x), **kw), _classes(smoothing=True), gradgrad=True),
    OpSpec("mse_loss", lambda x, t, reduction: F.mse_loss(x, t, reduction),
           lambda x, t, reduction: _np_reduce((x - t) ** 2, reduction), _pair_with_reduction(), gradgrad=True),
    OpSpec("l1_loss", lambda x, t, reduction: F.l1_loss(x, t, reduction),
           lambda x, t, reduction: _np_reduce(np.abs(x - t), reduction), _pair_with_reduction()),
    # (x - mean) / sqrt(var + 1e-5): with a near-zero batch variance, float32's rounding of x - mean is
    # amplified up to 1/sqrt(1e-5) ~ 316 times (a batch of 2 hit 1.7e-5 against the default atol 1e-5)
    OpSpec("batch_norm_train", _batch_norm, _np_batch_norm, _batch_norm_case(training=True), gradgrad=True,
           float32_atol=2e-4),
    OpSpec("batch_norm_eval", _batch_norm, _np_batch_norm, _batch_norm_case(training=False),
           domains=("real", "real", "positive", "real"), constant=(1, 2)),
    OpSpec("layer_norm", lambda x, *a, normalized: F.layer_norm(x, normalized, *a), _np_layer_norm, _layer_norm(),
           gradgrad=True, float32_atol=2e-4),  # the same amplification as batch_norm_train
    OpSpec("embedding", lambda w, indices: F.embedding(indices, w), lambda w, indices: w[indices], _embedding(),
           gradgrad=True),
    OpSpec("maxout", F.maxout, _np_maxout, _maxout(), domains=("distinct",), gradgrad=True),
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


# ------------------------------------------------------------------------------------------- dropout

def test_dropout_scales_kept_units_and_drops_a_fraction_p():
    mg.manual_seed(0)
    n, p = 200_000, 0.3
    x = mg.ones(n, requires_grad=True)
    y = F.dropout(x, p)
    values = y.numpy()
    kept = values != 0
    np.testing.assert_allclose(values[kept], 1 / (1 - p), rtol=1e-6)
    assert abs((~kept).mean() - p) < 4 * math.sqrt(p * (1 - p) / n)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # d y / d x = mask / (1 - p)


def test_dropout_edge_probabilities_and_eval_mode():
    x = mg.randn(50, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    assert F.dropout(x, 0.7, training=False) is x
    y = F.dropout(x, 1.0)
    assert not y.numpy().any()
    y.sum().backward()
    assert not x.grad.numpy().any()
    with pytest.raises(ValueError, match=r"dropout: probability must be in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)


def test_dropout_is_reproducible_under_manual_seed():
    x = mg.ones(100)
    mg.manual_seed(3)
    a = F.dropout(x, 0.5).numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).numpy())


# ------------------------------------------------------------------------------------ gumbel softmax

LOGITS = np.log(np.array([0.1, 0.2, 0.3, 0.4]))


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_argmax_frequencies_match_the_categorical(hard):
    mg.manual_seed(1)
    n = 40_000
    y = F.gumbel_softmax(mg.tensor(np.tile(LOGITS, (n, 1))), tau=0.5, hard=hard)
    freq = np.bincount(y.numpy().argmax(axis=1), minlength=4) / n
    p = np.exp(LOGITS)
    assert np.all(np.abs(freq - p) < 4 * np.sqrt(p * (1 - p) / n)), freq
    np.testing.assert_allclose(y.numpy().sum(axis=1), 1.0, rtol=1e-6)


def test_gumbel_softmax_hard_is_one_hot_with_the_soft_gradient():
    logits = mg.tensor(np.tile(LOGITS, (5, 1)), requires_grad=True)
    w = mg.tensor(np.random.default_rng(0).standard_normal((5, 4)))
    mg.manual_seed(7)
    hard = F.gumbel_softmax(logits, tau=0.7, hard=True)
    mg.manual_seed(7)
    soft = F.gumbel_softmax(logits, tau=0.7)
    values = hard.numpy()
    np.testing.assert_allclose(np.sort(values, axis=1), np.tile([0.0, 0.0, 0.0, 1.0], (5, 1)), atol=1e-12)
    np.testing.assert_array_equal(values.argmax(axis=1), soft.numpy().argmax(axis=1))
    g_hard, = mg.grad((hard * w).sum(), [logits])
    g_soft, = mg.grad((soft * w).sum(), [logits])
    np.testing.assert_allclose(g_hard.numpy(), g_soft.numpy(), rtol=1e-12)
    assert np.abs(g_hard.numpy()).max() > 0


def test_gumbel_softmax_low_temperature_approaches_one_hot():
    mg.manual_seed(2)
    y = F.gumbel_softmax(mg.tensor(np.tile(LOGITS, (100, 1))), tau=0.01).numpy()
    assert np.mean(y.max(axis=1) > 0.99) > 0.95


# ------------------------------------------------------------------------------- beyond the factory

def test_batch_norm_updates_running_statistics_with_the_unbiased_variance():
    x = np.random.default_rng(0).standard_normal((5, 3, 2))
    rm, rv = mg.zeros(3, dtype=np.float64), mg.ones(3, dtype=np.float64)
    F.batch_norm(mg.tensor(x), rm, rv, training=True, momentum=0.2)
    np.testing.assert_allclose(rm.numpy(), 0.2 * x.mean(axis=(0, 2)))
    np.testing.assert_allclose(rv.numpy(), 0.8 + 0.2 * x.var(axis=(0, 2), ddof=1))
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*\(1, 3\)"):
        F.batch_norm(mg.ones(1, 3), None, None, training=True)


def test_losses_are_stable_at_extreme_inputs():
    x = mg.tensor(np.array([-500.0, 500.0]), requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, np.array([1.0, 0.0]), reduction="sum")
    np.testing.assert_allclose(loss.item(), 1000.0)
    p = mg.tensor(np.array([0.0, 1.0]))
    assert F.binary_cross_entropy(p, np.array([1.0, 0.0])).item() == pytest.approx(100.0)  # logs clamp at -100


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_of_a_saturated_sigmoid_has_finite_gradients(dtype):
    x = mg.tensor(np.array([20.0, -20.0, 40.0, -40.0, 0.5], dtype), requires_grad=True)
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0], dtype)
    with np.errstate(all="raise"):
        loss = F.binary_cross_entropy(x.sigmoid(), target, reduction="sum")
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[[0, 1, 4]], (1 / (1 + np.exp(-x.numpy())) - target)[[0, 1, 4]],
                               rtol=1e-5, atol=1e-8)
    big = mg.tensor(np.array([[1000.0, 0.0, -1000.0]]))
    assert F.cross_entropy(big, np.array([0])).item() == pytest.approx(0.0)
    assert F.cross_entropy(big, np.array([2])).item() == pytest.approx(2000.0)


def test_loss_errors_name_the_loss_and_shapes():
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(2, 3\) and target shape \(3,\) differ"):
        F.mse_loss(mg.ones(2, 3), mg.ones(3))
    with pytest.raises(TypeError, match="nll_loss: target must hold integer class indices"):
        F.nll_loss(mg.ones(2, 3), np.array([0.0, 1.0]))
    with pytest.raises(IndexError, match="nll_loss: target out of range for 3 classes"):
        F.nll_loss(mg.ones(2, 3), np.array([0, 3]))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        F.l1_loss(mg.ones(2), mg.ones(2), reduction="max")
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) does not match weight of shape \(4, 5\)"):
        F.linear(mg.ones(2, 3), mg.ones(4, 5))
    with pytest.raises(IndexError, match="embedding: index out of range for 4 embeddings"):
        F.embedding(np.array([4]), mg.ones(4, 2))


def test_embedding_gradient_counts_repeated_indices():
    w = mg.tensor(np.zeros((4, 2)), requires_grad=True)
    F.embedding(np.array([[1, 1], [3, 1]]), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_fork_rng_leaves_a_live_generator_where_it_was():
    """A generator already drawn from (as in a training run) keeps its stream across a fork_rng block that
    draws from it: the draws inside are the ones it would have made, and after the block it continues as if
    they had not been made (a block that kept the generator object advanced it)."""
    from minigen import backend
    mg.manual_seed(5)
    backend.rng("cpu").random(3)
    expected = backend.rng("cpu").random(8)
    mg.manual_seed(5)
    backend.rng("cpu").random(3)
    with backend.fork_rng():
        inside = backend.rng("cpu").random(4)
        mg.randn(2, 2)
    np.testing.assert_array_equal(inside, expected[:4])
    np.testing.assert_array_equal(backend.rng("cpu").random(8), expected)


def test_fork_rng_sets_aside_a_generator_it_cannot_copy(monkeypatch):
    """A generator that refuses to be copied is not drawn from inside the block: its device starts from the
    seed there, and the generator is back, unadvanced, after it."""
    from minigen import backend

    class Uncopyable(np.random.Generator):
        def __deepcopy__(self, memo):
            raise TypeError("cannot copy")

    mg.manual_seed(2)
    live = Uncopyable(np.random.PCG64(11))
    monkeypatch.setitem(backend._rngs, "cpu", live)
    state = live.bit_generator.state
    with backend.fork_rng():
        assert backend.rng("cpu") is not live
        np.testing.assert_array_equal(backend.rng("cpu").random(3), np.random.default_rng(2).random(3))
    assert backend.rng("cpu") is live and live.bit_generator.state == state
