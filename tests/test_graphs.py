"""Graph-level properties of the engine over random computation graphs (minigen.testing.strategies.graphs).

Each op is checked alone by the op factory (tests/ops/factory.py); these tests check ops composed: values
used several times, gradients accumulated across branches and across backward calls, mg.grad asked for
intermediate values, hooks on them, second derivatives through chains of different ops, graphs whose
other outputs were dropped, mixed float32/float64 leaves, and the same program on the GPU. The default hypothesis profile runs a few hundred graphs in a few seconds;
HYPOTHESIS_PROFILE=thorough runs 25 times as many.
"""
import gc
import weakref

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import minigen as mg
from minigen.testing import gradcheck, gradgradcheck
from minigen.testing.strategies import graphs

SCALE = max(1, settings().max_examples // 8)  # 1 under the "ci" profile, 25 under "thorough"


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE)


def _cotangents(outputs, seed: int) -> list:
    rng = np.random.default_rng(seed)
    return [mg.tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outputs]


def _loss(outputs, cotangents):
    """<v, outputs>: a scalar that weighs every output entry differently (never all-ones)."""
    terms = [(o * v).sum() for o, v in zip(outputs, cotangents) if o.requires_grad]
    assume(terms)
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _dense(g, like) -> np.ndarray:
    return np.zeros(like.shape) if g is None else g.numpy()


@examples(100)
@given(graphs())
def test_whole_graph_gradients_match_central_differences(graph):
    """d<v, outputs>/d(leaf) for every leaf, against float64 central differences."""
    assert gradcheck(graph, graph.leaves())


@examples(25)
@given(graphs(max_leaves=2, max_ops=4, max_elements=12))
def test_whole_graph_second_derivatives_match_central_differences(graph):
    """Double backward through chains of different ops (a share of the graphs: smaller ones)."""
    assert gradgradcheck(graph, graph.leaves())


@examples(100)
@given(graphs(), st.integers(0, 2**16))
def test_a_second_backward_of_a_retained_graph_accumulates_exactly_twice(graph, seed):
    leaves = graph.leaves()
    values = graph.evaluate(*leaves)
    kept = [v for i, v in enumerate(values) if i not in graph.leaf_positions and v.requires_grad]
    for v in kept:
        v.retain_grad()
    outputs = [values[i] for i in graph.outputs]
    loss = _loss(outputs, _cotangents(outputs, seed))
    loss.backward(retain_graph=True)
    first = [None if t.grad is None else t.grad.numpy().copy() for t in leaves + kept]
    loss.backward()
    for k, (t, g) in enumerate(zip(leaves + kept, first)):
        if g is None:
            assert t.grad is None, f"value {k} got a gradient only on the second backward"
        else:
            np.testing.assert_array_equal(t.grad.numpy(), 2 * g, err_msg=f"value {k} of\n{graph!r}")


@examples(100)
@given(graphs(), st.data())
def test_grad_of_an_intermediate_value_is_the_gradient_of_the_graph_cut_there(graph, data):
    """mg.grad(loss, [v]) for an intermediate v equals d loss / d c where the graph is rebuilt with a
    fresh leaf c (v's values) in v's place; asked together with every leaf's gradient."""
    leaves = graph.leaves()
    values = graph.evaluate(*leaves)
    steps = [i for i, v in enumerate(values) if i not in graph.leaf_positions and v.requires_grad]
    assume(steps)
    k = data.draw(st.sampled_from(steps), label="cut at")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    outputs = [values[i] for i in graph.outputs]
    cotangents = _cotangents(outputs, seed)
    wanted = [t for t in leaves if t.requires_grad]
    gv, *_ = mg.grad(_loss(outputs, cotangents), [values[k]] + wanted, allow_unused=True)

    cut = mg.tensor(values[k].numpy(), requires_grad=True)
    again = graph.evaluate(*graph.leaves(), replace={k: cut})
    (g_cut,) = mg.grad(_loss([again[i] for i in graph.outputs], cotangents), [cut], allow_unused=True)
    np.testing.assert_allclose(_dense(gv, cut), _dense(g_cut, cut), rtol=1e-12, atol=1e-12,
                               err_msg=f"value v{k} of\n{graph!r}")


@examples(100)
@given(graphs(), st.data())
def test_dropping_unrelated_outputs_changes_no_gradient(graph, data):
    """Outputs are held weakly: computing a loss from some outputs after dropping the others gives every
    leaf the gradient it gets with all of them alive, and the dropped outputs are freed at once."""
    chosen = data.draw(st.lists(st.sampled_from(graph.outputs), min_size=1, unique=True), label="kept outputs")
    seed = data.draw(st.integers(0, 2**16), label="seed")

    def leaf_grads(drop: bool):
        leaves = graph.leaves()
        values = graph.evaluate(*leaves)
        outputs = [values[i] for i in chosen]
        dropped = [weakref.ref(values[i]) for i in graph.outputs if i not in chosen + graph.leaf_positions]
        if drop:
            del values
        loss = _loss(outputs, _cotangents(outputs, seed))
        if drop:
            assert all(r() is None for r in dropped), f"a dropped output of\n{graph!r}\nis still alive"
        loss.backward()
        return [None if t.grad is None else t.grad.numpy() for t in leaves]

    enabled = gc.isenabled()
    gc.disable()  # the dropped outputs must die by reference counting alone
    try:
        alive, dropped = leaf_grads(drop=False), leaf_grads(drop=True)
    finally:
        if enabled:
            gc.enable()
    for k, (a, b) in enumerate(zip(alive, dropped)):
        assert (a is None) == (b is None), f"leaf {k}"
        if a is not None:
            np.testing.assert_array_equal(a, b, err_msg=f"leaf {k} of\n{graph!r}")


@examples(60)
@given(graphs(dtypes=(np.float32, np.float64)), st.integers(0, 2**16))
def test_every_gradient_has_its_leafs_dtype_and_shape(graph, seed):
    """Graphs mixing float32 and float64 leaves (NumPy's promotion makes float64 values): each leaf's
    gradient, and mg.grad's, has the leaf's dtype and shape, as PyTorch's engine casts them."""
    leaves = graph.leaves()
    outputs = graph(*leaves)
    loss = _loss(outputs, _cotangents(outputs, seed))
    wanted = [t for t in leaves if t.requires_grad]
    grads = mg.grad(loss, wanted, retain_graph=True, allow_unused=True)
    loss.backward()
    for t, g in zip(wanted, grads):
        for got in (g, t.grad):
            if got is not None:
                assert (got.dtype, got.shape) == (t.dtype, t.shape), f"{got.dtype} {got.shape} for {t.dtype} {t.shape}"


@pytest.mark.gpu
@examples(40)
@given(graphs(), st.integers(0, 2**16))
def test_a_graph_on_the_gpu_gives_the_cpus_outputs_and_gradients(graph, seed):
    """The same program on CUDA leaves (tests/fake_cupy.py without a GPU): outputs and every leaf's gradient
    on CUDA, equal to the CPU's."""
    results = {}
    for device in ("cpu", "cuda"):
        leaves = [mg.tensor(t.data, requires_grad=t.requires_grad, device=device) for t in graph.leaves()]
        outputs = graph(*leaves)
        assert all(o.device == device for o in outputs), f"an output left {device} in\n{graph!r}"
        rng = np.random.default_rng(seed)
        cotangents = [mg.tensor(rng.standard_normal(o.shape), device=device) for o in outputs]
        wanted = [t for t in leaves if t.requires_grad]
        grads = mg.grad(_loss(outputs, cotangents), wanted, allow_unused=True)
        assert all(g is None or g.device == device for g in grads)
        results[device] = [o.numpy() for o in outputs] + [None if g is None else g.numpy() for g in grads]
    for k, (a, b) in enumerate(zip(results["cpu"], results["cuda"], strict=True)):
        assert (a is None) == (b is None), f"result {k}"
        if a is not None:
            np.testing.assert_allclose(b, a, rtol=1e-10, atol=1e-12, err_msg=f"result {k} of\n{graph!r}")


@examples(60)
@given(graphs(), st.data())
def test_a_hook_zeroing_an_intermediate_gradient_is_the_graph_with_that_value_constant(graph, data):
    """A hook on an intermediate value v that returns 0 * grad leaves every leaf exactly the gradient it
    gets when v is replaced by a constant with v's values (the paths through v contribute nothing)."""
    leaves = graph.leaves()
    values = graph.evaluate(*leaves)
    steps = [i for i, v in enumerate(values) if i not in graph.leaf_positions and v.requires_grad]
    assume(steps)
    k = data.draw(st.sampled_from(steps), label="hooked value")
    seed = data.draw(st.integers(0, 2**16), label="seed")
    values[k].register_hook(lambda g: g * 0)
    outputs = [values[i] for i in graph.outputs]
    cotangents = _cotangents(outputs, seed)
    _loss(outputs, cotangents).backward()

    cut_leaves = graph.leaves()
    again = graph.evaluate(*cut_leaves, replace={k: mg.tensor(values[k].numpy())})
    outputs = [again[i] for i in graph.outputs]
    if any(o.requires_grad for o in outputs):
        _loss(outputs, cotangents).backward()
    for j, (a, b) in enumerate(zip(leaves, cut_leaves)):
        np.testing.assert_allclose(_dense(a.grad, a), _dense(b.grad, b), rtol=1e-12, atol=1e-12,
                                   err_msg=f"leaf {j}, hook on v{k} of\n{graph!r}")
