"""minigen.autograd.functional: jacobian and hessian against closed forms, central differences and
torch.autograd.functional (same nesting, same numbers)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import minigen.autograd.functional as AF
from minigen.autograd import Tensor
from minigen.autograd.functional import hessian, jacobian


def _rng(seed):
    return np.random.default_rng(seed)


def _numerical_jacobian(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    y = f(x)
    jac = np.zeros(y.shape + x.shape)
    for i in np.ndindex(x.shape):
        e = np.zeros_like(x)
        e[i] = eps
        jac[(Ellipsis,) + i] = (f(x + e) - f(x - e)) / (2 * eps)
    return jac


def test_the_module_is_importable_under_every_name():
    import minigen.autograd

    assert minigen.autograd.functional is AF and AF.jacobian is jacobian
    assert Tensor is mg.Tensor


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4), m=st.integers(1, 4))
def test_jacobian_against_central_differences(seed, n, m):
    rng = _rng(seed)
    w = rng.normal(size=(m, n))
    x = rng.normal(size=n)
    f_np = lambda v: np.tanh(w @ v) * np.exp(v).sum()  # noqa: E731
    jac = jacobian(lambda v: mg.tanh(mg.tensor(w) @ v) * v.exp().sum(), mg.tensor(x))
    assert jac.shape == (m, n) and not jac.requires_grad
    np.testing.assert_allclose(jac.numpy(), _numerical_jacobian(f_np, x), rtol=1e-6, atol=1e-8)


def test_jacobian_of_a_linear_map_is_its_matrix_and_its_log_det():
    a = _rng(0).normal(size=(4, 4))
    x = mg.tensor(_rng(1).normal(size=4), requires_grad=True)
    jac = jacobian(lambda v: mg.tensor(a) @ v, x)
    np.testing.assert_allclose(jac.numpy(), a, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.slogdet(jac.numpy())[1], np.linalg.slogdet(a)[1], rtol=1e-12)
    assert x.grad is None, "jacobian must not accumulate into the inputs' .grad"


def test_nesting_follows_pytorch():
    x, y = mg.tensor(np.array([1.0, 2.0])), mg.tensor(np.array([3.0, 4.0, 5.0]))
    both = jacobian(lambda a, b: (a * 2, b.sum() * a), (x, y))
    assert isinstance(both, tuple) and len(both) == 2 and all(isinstance(r, tuple) and len(r) == 2 for r in both)
    assert [[j.shape for j in row] for row in both] == [[(2, 2), (2, 3)], [(2, 2), (2, 3)]]
    np.testing.assert_array_equal(both[0][1].numpy(), np.zeros((2, 3)))  # independent: zeros
    np.testing.assert_array_equal(both[1][1].numpy(), [[1, 1, 1], [2, 2, 2]])
    per_input = jacobian(lambda a, b: (a * b[:2]).sum(), (x, y))
    assert isinstance(per_input, tuple) and [j.shape for j in per_input] == [(2,), (3,)]
    per_output = jacobian(lambda a: (a, a.sum()), x)
    assert isinstance(per_output, tuple) and [j.shape for j in per_output] == [(2, 2), (2,)]


def test_matches_torch_autograd_functional():
    torch = pytest.importorskip("torch")
    rng = _rng(3)
    x0, y0 = rng.normal(size=(2, 3)), rng.normal(size=3)

    def f_mg(x, y):
        return (x * y).sigmoid(), (x.exp() * y).sum(axis=0)

    def f_torch(x, y):
        return (x * y).sigmoid(), (x.exp() * y).sum(0)

    ours = jacobian(f_mg, (mg.tensor(x0), mg.tensor(y0)))
    theirs = torch.autograd.functional.jacobian(f_torch, (torch.tensor(x0), torch.tensor(y0)))
    for row_ours, row_theirs in zip(ours, theirs, strict=True):
        for a, b in zip(row_ours, row_theirs, strict=True):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)

    def g_mg(x, y):
        return ((x @ y).tanh() ** 2).sum() + (x * x).sum() * y.sum()

    def g_torch(x, y):
        return ((x @ y).tanh() ** 2).sum() + (x * x).sum() * y.sum()

    ours = hessian(g_mg, (mg.tensor(x0), mg.tensor(y0)))
    theirs = torch.autograd.functional.hessian(g_torch, (torch.tensor(x0), torch.tensor(y0)))
    for row_ours, row_theirs in zip(ours, theirs, strict=True):
        for a, b in zip(row_ours, row_theirs, strict=True):
            assert a.shape == tuple(b.shape)
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 4))
def test_hessian_of_a_quadratic_form_and_of_log_sum_exp(seed, n):
    rng = _rng(seed)
    a = rng.normal(size=(n, n))
    x0 = rng.normal(size=n)
    h = hessian(lambda x: x @ (mg.tensor(a) @ x), mg.tensor(x0))
    np.testing.assert_allclose(h.numpy(), a + a.T, rtol=1e-12, atol=1e-12)
    p = np.exp(x0 - x0.max()) / np.exp(x0 - x0.max()).sum()
    h = hessian(lambda x: x.logsumexp(), mg.tensor(x0))
    np.testing.assert_allclose(h.numpy(), np.diag(p) - np.outer(p, p), rtol=1e-9, atol=1e-12)


def test_create_graph_makes_the_result_differentiable():
    x = mg.tensor(np.array([0.3, -0.7]), requires_grad=True)
    jac = jacobian(lambda v: (v ** 3), x, create_graph=True)
    assert jac.requires_grad
    (g,) = mg.grad(jac.sum(), [x])
    np.testing.assert_allclose(g.numpy(), 6 * x.numpy(), rtol=1e-12)  # d/dx sum(diag(3x^2)) = 6x
    h = hessian(lambda v: (v ** 4).sum(), x, create_graph=True)
    (g,) = mg.grad(h.sum(), [x])
    np.testing.assert_allclose(g.numpy(), 24 * x.numpy(), rtol=1e-12)
    assert not jacobian(lambda v: v ** 3, x).requires_grad


def test_constant_outputs_and_strict_mode():
    x = mg.tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(jacobian(lambda v: mg.ones(3, dtype=np.float64), x).numpy(), np.zeros((3, 2)))
    np.testing.assert_array_equal(hessian(lambda v: v.sum() * 2, x).numpy(), np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="output 0 .*independent|output 0 .*does not require grad"):
        jacobian(lambda v: mg.ones(3, dtype=np.float64), x, strict=True)
    with pytest.raises(RuntimeError, match="output 0 of the function is independent of input 1"):
        jacobian(lambda a, b: a * 2, (x, x * 1), strict=True)


def test_errors_name_the_function_and_the_argument():
    with pytest.raises(TypeError, match="jacobian: input 0 is a ndarray"):
        jacobian(lambda v: v, np.ones(2))
    with pytest.raises(TypeError, match="jacobian: output 0 is a float"):
        jacobian(lambda v: 1.0, mg.ones(2))
    with pytest.raises(TypeError, match="jacobian: input 0 has dtype int64"):
        jacobian(lambda v: v, mg.tensor(np.array([1, 2])))
    with pytest.raises(RuntimeError, match=r"hessian: .*single element, got shape \(2,\)"):
        hessian(lambda v: v * 2, mg.ones(2))
    with pytest.raises(NotImplementedError, match="forward-mode"):
        jacobian(lambda v: v, mg.ones(2), strategy="forward-mode")
