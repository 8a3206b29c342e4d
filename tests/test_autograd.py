"""The engine: accumulation, graph freeing, higher derivatives, mg.grad, grad modes, hooks, deep and wide
graphs, what Function.apply records and the profiler (error messages and anomaly mode: test_engine_errors.py;
dtype rules: test_promotion.py)."""
import weakref

import numpy as np
import pytest

import minigen as mg
from minigen.autograd import Function


def _x(values=(0.5, -1.0, 2.0)):
    return mg.tensor(np.array(values), requires_grad=True)


# ------------------------------------------------------------------------------ accumulation, freeing

def test_gradients_accumulate_over_two_backward_calls_until_cleared():
    x = _x()
    (x * x).sum().backward()
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)
    x.grad = None
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3.0)


def test_retain_graph_allows_a_second_backward():
    x = _x()
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (x.numpy() + 1) * np.exp(x.numpy()))


def test_second_backward_through_a_freed_graph_is_an_error():
    x = _x()
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time.*retain_graph=True"):
        y.backward()


def test_graph_nodes_release_their_saved_arrays_after_backward():
    x = _x()
    y = x.relu()
    f = y.creator
    y.sum().backward()
    assert f.inputs is None and not hasattr(f, "positive")


# ---------------------------------------------------------------------------------- higher derivatives

def test_third_derivative_of_x_to_the_fourth():
    x = _x()
    g1, = mg.grad((x ** 4).sum(), [x], create_graph=True)
    g2, = mg.grad(g1.sum(), [x], create_graph=True)
    g3, = mg.grad(g2.sum(), [x])
    v = x.numpy()
    np.testing.assert_allclose(g1.numpy(), 4 * v ** 3)
    np.testing.assert_allclose(g2.numpy(), 12 * v ** 2)
    np.testing.assert_allclose(g3.numpy(), 24 * v)
    assert g1.requires_grad and g2.requires_grad and not g3.requires_grad


def test_third_derivative_of_tanh_through_backward_with_create_graph():
    x = _x()
    x.tanh().sum().backward(create_graph=True)
    g1 = x.grad
    x.grad = None
    g1.sum().backward(create_graph=True)
    g2 = x.grad
    x.grad = None
    g2.sum().backward()
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(g1.numpy(), 1 - t ** 2)
    np.testing.assert_allclose(g2.numpy(), -2 * t * (1 - t ** 2))
    np.testing.assert_allclose(x.grad.numpy(), (1 - t ** 2) * (6 * t ** 2 - 2))


def test_gradient_penalty_style_double_backward():
    w = mg.tensor(np.array([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True)
    x = mg.tensor(np.array([[0.3, 0.7]]), requires_grad=True)
    y = (x @ w).tanh().sum()
    gx, = mg.grad(y, [x], create_graph=True)
    penalty = ((gx * gx).sum() - 1) ** 2
    penalty.backward()
    assert w.grad is not None and x.grad is not None
    assert np.isfinite(w.grad.numpy()).all() and np.abs(w.grad.numpy()).sum() > 0


# ---------------------------------------------------------------------------------------------- mg.grad

def test_grad_returns_gradients_without_touching_leaf_grads():
    a, b = _x(), _x((1.0, 2.0, 3.0))
    ga, gb = mg.grad((a * b).sum(), [a, b])
    np.testing.assert_allclose(ga.numpy(), b.numpy())
    np.testing.assert_allclose(gb.numpy(), a.numpy())
    assert a.grad is None and b.grad is None


def test_grad_with_allow_unused():
    a, unused = _x(), _x()
    with pytest.raises(RuntimeError, match=r"grad: input 1 \(shape \(3,\)\) was not used.*allow_unused=True"):
        mg.grad((a * a).sum(), [a, unused])
    ga, gu = mg.grad((a * a).sum(), [a, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(ga.numpy(), 2 * a.numpy())


def test_grad_of_a_non_leaf_input():
    x = _x()
    y = x * 3
    z = (y * y).sum()
    gy, gx = mg.grad(z, [y, x])
    np.testing.assert_allclose(gy.numpy(), 2 * y.numpy())
    np.testing.assert_allclose(gx.numpy(), 18 * x.numpy())


class _Exploding(Function):
    """Identity whose backward must never run (to prove that mg.grad prunes branches)."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        raise AssertionError("pruned branch was differentiated")


def test_grad_prunes_branches_that_do_not_lead_to_the_inputs():
    a, c = _x(), _x()
    y = (a * a).sum() + _Exploding.apply(c).sum()
    ga, = mg.grad(y, [a])
    np.testing.assert_allclose(ga.numpy(), 2 * a.numpy())
    assert a.grad is None and c.grad is None


def test_grad_rejects_inputs_that_do_not_require_grad():
    with pytest.raises(RuntimeError, match=r"grad: input 0 \(shape \(2,\)\) does not require grad"):
        mg.grad((_x() * 2).sum(), [mg.ones(2)])


# ----------------------------------------------------------------------------------------- grad modes

def test_no_grad_and_enable_grad_nest():
    x = _x()
    with mg.no_grad():
        y = x * 2
        with mg.enable_grad():
            z = x * 2
        w = x * 2
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad and z.creator is not None
    assert not w.requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_as_a_decorator_is_reentrant():
    x = _x()

    @mg.no_grad()
    def recurse(t, depth):
        assert not mg.is_grad_enabled()
        return t * 2 if depth == 0 else recurse(t, depth - 1)

    assert not recurse(x, 3).requires_grad
    assert mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            _ = 1 / 0
    assert mg.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_values():
    x = _x()
    d = (x * 2).detach()
    assert not d.requires_grad and d.creator is None and d.is_leaf
    y = (x * d).sum()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), d.numpy())


def test_requires_grad_propagates_through_ops():
    x, c = _x(), mg.tensor(np.ones(3))
    assert (x + c).requires_grad and not (c + c).requires_grad
    assert not (x > 0).requires_grad
    assert not x.argmax().requires_grad
    y = x * 2
    assert not y.is_leaf and y.grad_fn is y.creator
    with pytest.raises(RuntimeError, match="only be turned off on a leaf"):
        y.requires_grad = False


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match=r"only floating point tensors can require gradients \(got dtype int64"):
        mg.tensor(np.arange(3), requires_grad=True)
    i = mg.tensor(np.arange(3))
    x = _x()
    y = (x * i).sum()
    y.backward()
    assert i.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [0, 1, 2])


def test_assigning_data_records_nothing():
    x = _x()
    y = x * 2
    x.data = np.zeros(3)
    assert y.creator is not None
    np.testing.assert_allclose(y.numpy(), 2 * np.array([0.5, -1.0, 2.0]))


# ----------------------------------------------------------------------------------------------- hooks

def test_hook_on_a_leaf_modifies_its_gradient_and_can_be_removed():
    x = _x()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.numpy()) or g * 10)
    (x * 2).sum().backward()
    np.testing.assert_allclose(seen[0], 2.0)
    np.testing.assert_allclose(x.grad.numpy(), 20.0)
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 2.0)


def test_hook_on_a_non_leaf_changes_what_flows_upstream():
    x = _x()
    y = x * 3
    y.register_hook(lambda g: g * 0.5)
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 0.5 * 2 * y.numpy() * 3)
    assert y.grad is None


def test_hook_sees_the_total_gradient_of_a_tensor_used_twice():
    x = _x()
    y = x * 1
    totals = []
    y.register_hook(lambda g: totals.append(g.numpy().copy()))
    (y * 2 + y * 5).sum().backward()
    assert len(totals) == 1
    np.testing.assert_allclose(totals[0], 7.0)


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = _x()
    y = x.exp()
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * y.numpy())
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.ones(2).register_hook(lambda g: g)


# ---------------------------------------------------------------------------------- deep and wide graphs

def test_a_very_deep_graph_needs_no_recursion():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1.0
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 1.0)
    np.testing.assert_allclose(y.numpy(), 10_001.0)
    z = x
    for _ in range(10_000):
        z = z * 1.0
    gz, = mg.grad(z.sum(), [x])
    np.testing.assert_allclose(gz.numpy(), 1.0)
    w = x
    for _ in range(10_000):
        w = w + 1.0
    del w  # freeing an unused deep graph must not recurse either


def test_a_wide_graph_accumulates_a_value_used_a_thousand_times():
    x = _x()
    e = x.exp()
    total = e * 0.0
    for i in range(1000):
        total = total + e * float(i)
    total.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 499_500 * np.exp(x.numpy()))


# -------------------------------------------------------------------------------------- Function.apply

class _Argmax(Function):
    def forward(self, x):
        return x.argmax()  # a NumPy integer scalar


class _MaxAndArgmax(Function):
    """Two 0-d outputs, the second an integer (no gradient)."""

    def forward(self, x):
        self.shape, self.i = x.shape, x.argmax()
        return x.max(), self.i  # NumPy scalars

    def backward(self, gm, gi):
        g = np.zeros(self.shape, gm.dtype)
        g[self.i] = gm.numpy()
        return mg.tensor(g)


def test_apply_records_generations_and_holds_outputs_weakly():
    x = _x()
    a = x * 2.0
    b = a.exp() + x
    assert x.creator is None and a.creator.generation == 1 and b.creator.generation == 3
    assert b.creator.inputs[1] is x and b.creator.outputs[0]() is b and a.creator.outputs[0]() is a
    node = weakref.ref(b.creator)
    del b
    assert node() is None  # the graph lives as long as its outputs


def test_apply_records_nothing_when_no_gradient_is_needed():
    x = _x()
    assert (mg.ones(3) * 2.0).creator is None
    with mg.no_grad():
        y = x * 2.0
    assert y.creator is None and not y.requires_grad
    i = _Argmax.apply(x)  # integer outputs are never recorded
    assert i.creator is None and not i.requires_grad
    assert type(i.data) is np.ndarray and i.data.ndim == 0 and i.item() == 2


def test_apply_with_two_outputs_records_only_the_float_one():
    x = _x()
    m, i = _MaxAndArgmax.apply(x)
    assert type(m.data) is np.ndarray and m.data.ndim == 0 and type(i.data) is np.ndarray and i.data.ndim == 0
    assert m.creator is not None and m.index == 0 and m.creator.outputs[1]() is i
    assert i.creator is None and not i.requires_grad
    assert [dtype.kind for _, dtype in m.creator.output_meta] == ["f", "i"]
    (m * 3.0).backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 3.0])
    with mg.no_grad():
        m, i = _MaxAndArgmax.apply(x)
    assert m.creator is None and i.creator is None


# ------------------------------------------------------------------------------------------- profile

def test_profile_lists_ops_with_calls_and_times():
    x = _x()
    with mg.profile() as p:
        for _ in range(3):
            (x * x).tanh().sum().backward()
    assert p.rows["Mul"].calls == 3 and p.rows["Tanh"].calls == 3 and p.rows["Sum"].calls == 3
    assert p.rows["Tanh"].backward_calls == 3 and p.rows["Tanh"].backward_s > 0
    table = p.table()
    assert table.splitlines()[0].split()[:2] == ["op", "calls"]
    assert any(line.startswith("Tanh") and line.split()[1] == "3" for line in table.splitlines())
