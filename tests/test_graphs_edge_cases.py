"""Regression tests for the engine edge cases that random computation graphs expose (issue 22).

Each test's docstring holds the minimal reproduction of the bug it guards against, and what PyTorch does.
"""
import numpy as np
import pytest

import minigen as mg
import minigen.functional as F
from minigen.testing import gradcheck, gradgradcheck


def _leaf(values, dtype=np.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ------------------------------------------------------------------ 1. the same input asked for twice

def test_grad_with_an_input_repeated_returns_its_gradient_at_every_position():
    """Was: `x = mg.tensor([1., 2.], requires_grad=True); mg.grad((x * x).sum(), [x, x])` raised "input 0
    was not used" (with allow_unused: (None, g), the second copy won). PyTorch returns (g, g)."""
    x = _leaf([1.0, 2.0])
    gx, gx_again = mg.grad((x * x).sum(), [x, x])
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(gx_again.numpy(), [2.0, 4.0])

    y = x * 3  # a non-leaf, repeated around another input
    grads = mg.grad((y * y).sum() + x.sum(), [y, x, y])
    np.testing.assert_array_equal(grads[0].numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(grads[1].numpy(), [1 + 18.0, 1 + 36.0])
    np.testing.assert_array_equal(grads[2].numpy(), grads[0].numpy())

    unused = _leaf([5.0])
    assert mg.grad(x.sum(), [unused, x, unused], allow_unused=True)[::2] == (None, None)
    with pytest.raises(RuntimeError, match="input 0 .* was not used"):
        mg.grad(x.sum(), [unused, x, unused])


def test_repeated_inputs_with_create_graph_give_differentiable_gradients():
    """mg.grad(f, [x, x], create_graph=True) returns the same differentiable gradient twice."""
    x = _leaf([0.5, -1.0])
    g1, g2 = mg.grad((x ** 3).sum(), [x, x], create_graph=True)
    (h,) = mg.grad((g1 + g2).sum(), [x])
    np.testing.assert_allclose(h.numpy(), 2 * 6 * x.numpy())


# ------------------------------------------------------- 2. views that change nothing are their own nodes

UNCHANGED_VIEWS = {
    "reshape": lambda y: y.reshape(2, 3),
    "view": lambda y: y.view(2, 3),
    "flatten of a matrix's last axis": lambda y: y.flatten(1),
    "transpose with identity axes": lambda y: y.transpose(0, 1),
    "permute with identity axes": lambda y: y.permute(0, 1),
    "expand to its own shape": lambda y: y.expand(2, 3),
    "expand with -1": lambda y: y.expand(-1, -1),
    "broadcast_to its own shape": lambda y: mg.broadcast_to(y, (2, 3)),
    "squeeze without size-1 axes": lambda y: y.squeeze(),
}


@pytest.mark.parametrize("view", UNCHANGED_VIEWS.values(), ids=UNCHANGED_VIEWS.keys())
def test_a_view_that_changes_nothing_is_its_own_node(view):
    """Was: `y = x * 2; z = y.reshape(3)` returned y itself, so `mg.grad((z * 3).sum() + (y * 5).sum(),
    [z])` gave 8 instead of 3 (PyTorch: 3), and hooks and retain_grad on z applied to y."""
    x = _leaf(np.arange(6.0).reshape(2, 3))
    y = x * 2
    z = view(y)
    assert z is not y and z.shape == y.shape
    (gz,) = mg.grad((z * 3).sum() + (y * 5).sum(), [z])
    np.testing.assert_array_equal(gz.numpy(), np.full((2, 3), 3.0))

    seen = []
    z.register_hook(lambda g: seen.append(g.numpy().copy()))
    z.retain_grad()
    ((z * 3).sum() + (y * 5).sum()).backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], np.full((2, 3), 3.0))
    np.testing.assert_array_equal(z.grad.numpy(), np.full((2, 3), 3.0))
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 16.0))  # 2 * (3 + 5): nothing lost
    assert y.grad is None and y.hooks is None


@pytest.mark.parametrize("view", UNCHANGED_VIEWS.values(), ids=UNCHANGED_VIEWS.keys())
def test_an_unchanged_view_outside_a_graph_is_a_new_tensor_on_the_same_array(view):
    """Without a graph nobody can observe a node, so none is made; the result is still a new Tensor (turning
    on its requires_grad must not turn on the original's), sharing the array as a PyTorch view does."""
    y = mg.tensor(np.arange(6.0).reshape(2, 3))
    z = view(y)
    assert z is not y and z.creator is None and np.shares_memory(z.data, y.data)
    z.requires_grad_()
    assert not y.requires_grad
    with mg.no_grad():
        w = view(_leaf(np.ones((2, 3))))
    assert w.creator is None and not w.requires_grad


def test_unchanged_views_differentiate_twice():
    """An identity Reshape/Transpose/BroadcastTo node passes first and second derivatives through."""
    x = _leaf(np.linspace(-1, 1, 6).reshape(2, 3))
    fn = lambda t: (t.reshape(2, 3).transpose(0, 1).transpose(0, 1).expand(2, 3) ** 3)  # noqa: E731
    assert gradcheck(fn, [x])
    assert gradgradcheck(fn, [x])


# ---------------------------------------------------------------------- 3. one axis rule for 0-d tensors

# name -> (call with an axis, value on a 0-d x, derivative there); argmax/argmin have no derivative.
ZERO_D = {
    "sum": (lambda x, a: x.sum(axis=a), lambda v: v, 1.0),
    "mean": (lambda x, a: x.mean(axis=a), lambda v: v, 1.0),
    "max": (lambda x, a: x.max(axis=a), lambda v: v, 1.0),
    "min": (lambda x, a: x.min(axis=a), lambda v: v, 1.0),
    "var": (lambda x, a: x.var(axis=a), lambda v: 0.0, 0.0),
    "logsumexp": (lambda x, a: x.logsumexp(axis=a), lambda v: v, 1.0),
    "softmax": (lambda x, a: x.softmax(axis=a), lambda v: 1.0, 0.0),
    "log_softmax": (lambda x, a: x.log_softmax(axis=a), lambda v: 0.0, 0.0),
    "F.softmax": (lambda x, a: F.softmax(x, axis=a), lambda v: 1.0, 0.0),
    "F.log_softmax": (lambda x, a: F.log_softmax(x, axis=a), lambda v: 0.0, 0.0),
    "cumsum": (lambda x, a: x.cumsum(axis=a), lambda v: v, 1.0),
    "cumsum reverse": (lambda x, a: F.cumsum(x, a, reverse=True), lambda v: v, 1.0),
    "argmax": (lambda x, a: x.argmax(axis=a), lambda v: 0, None),
    "argmin": (lambda x, a: x.argmin(axis=a), lambda v: 0, None),
}


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("name", ZERO_D)
def test_a_0d_tensor_accepts_axis_0_and_minus_1_forward_and_backward(name, axis):
    """Was: `x = mg.tensor(2., requires_grad=True)`: `x.sum(axis=0)` raised (NumPy's rule), but
    `x.log_softmax(axis=0)` returned 0.0 and then failed in backward with an AxisError inside Sum, and
    `x.softmax()` (axis -1) raised. Now every reduction takes PyTorch's rule: 0 and -1 name a 0-d tensor's
    one implicit axis, forward and backward alike, and the result is 0-d."""
    call, value, derivative = ZERO_D[name]
    x = _leaf(1.5)
    y = call(x, axis)
    assert y.shape == () and y.item() == pytest.approx(value(1.5))
    if derivative is None:
        assert not y.requires_grad and y.dtype.kind == "i"
        return
    (g,) = mg.grad(y, [x])
    assert g.shape == () and g.item() == pytest.approx(derivative)
    assert gradcheck(lambda t: call(t, axis) * t, [x])
    assert gradgradcheck(lambda t: call(t * t, axis) * t, [x])


@pytest.mark.parametrize("name", ZERO_D)
def test_a_0d_tensor_reduces_like_a_one_element_axis(name):
    """On a 0-d x, op(x, axis=0) equals op(x.reshape(1), axis=0): the implicit axis has size 1."""
    call = ZERO_D[name][0]
    x = _leaf(-0.7)
    assert call(x, 0).item() == pytest.approx(np.asarray(call(x.reshape(1), 0).numpy()).reshape(()).item())


@pytest.mark.parametrize("axis", [1, -2, 3])
@pytest.mark.parametrize("name", ZERO_D)
def test_other_axes_of_a_0d_tensor_are_a_clear_error(name, axis):
    call = ZERO_D[name][0]
    op = name.split()[0].removeprefix("F.")
    with pytest.raises(ValueError, match=rf"{op}: axis {axis} is out of bounds for a tensor of shape \(\) on cpu"):
        call(_leaf(1.5), axis)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "logsumexp"])
def test_keepdims_on_a_0d_tensor_keeps_it_0d(name, keepdims):
    x = _leaf(2.0)
    y = getattr(x, name)(axis=0, keepdims=keepdims)
    assert y.shape == ()
    assert mg.grad(y, [x])[0].shape == ()


def test_the_axis_rule_is_the_same_on_tensors_with_axes():
    """Out-of-range and repeated axes are the same ValueError, naming the op, the shape and the device."""
    x = _leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"sum: axis 2 is out of bounds for a tensor of shape \(2, 3\) on cpu"):
        x.sum(axis=2)
    with pytest.raises(ValueError, match=r"softmax: axis -3 is out of bounds"):
        x.softmax(axis=-3)
    with pytest.raises(ValueError, match="mean: repeated axis"):
        x.mean(axis=(1, -1))


# ------------------------------------------------- 4. found by the graphs: gradients keep their input's dtype

def test_a_float32_leaf_in_a_float64_expression_gets_a_float32_gradient():
    """Was: `x = mg.tensor(np.ones(3, np.float32), requires_grad=True); (x * mg.tensor(np.ones(3))).sum()
    .backward()` left a float64 x.grad (Mul's backward multiplies by the float64 operand); found by
    tests/test_graphs.py with float32 leaves and a float64 loss target. PyTorch's engine casts every
    gradient to its input's dtype; so does ours now, differentiably."""
    x = _leaf(np.ones(3), dtype=np.float32)
    c = mg.tensor(np.array([1.0, 2.0, 3.0]))
    (x * c).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3])
    (g,) = mg.grad(((x * c) ** 2).sum(), [x], create_graph=True)
    assert g.dtype == np.float32 and g.requires_grad
    (h,) = mg.grad(g.sum(), [x])
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h.numpy(), 2 * c.numpy() ** 2)
    y = x * 2.0  # a non-leaf captured by mg.grad
    assert mg.grad((y * c).sum(), [y])[0].dtype == np.float32


@pytest.mark.gpu
@pytest.mark.parametrize("loss", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.mse_loss,
                                  F.l1_loss], ids=lambda f: f.__name__)
def test_a_loss_with_an_array_target_on_cuda_moves_the_target_there(loss):
    """Was: `F.binary_cross_entropy(p.cuda(), np.array([1.0]))` raised "Mul: expected all inputs on one
    device, (1,) on cpu, (1,) on cuda" while F.nll_loss and F.cross_entropy move an array target to the
    input's device; found by tests/test_graphs.py's GPU parity. Now every loss moves an array target."""
    p = mg.tensor(np.array([0.3, 0.6]), requires_grad=True, device="cuda")
    target = np.array([1.0, 0.0])
    value = loss(p, target)
    assert value.device == "cuda"
    value.backward()
    assert p.grad.device == "cuda"
    host = mg.tensor(np.array([0.3, 0.6]), requires_grad=True)
    np.testing.assert_allclose(value.numpy(), loss(host, target).numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError, match="on cpu.* on cuda|on cuda.* on cpu"):
        loss(p, mg.tensor(target))  # a Tensor on another device stays an error
