"""Matrix multiplication: 2-D, batched, broadcast batch axes and 1-D operands."""
import operator

import numpy as np
import pytest
from hypothesis import strategies as st

import minigen as mg
from minigen.ops.linalg import TransposedMatMul
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, make_tests

SIDE = st.integers(1, 3)


@st.composite
def _matmul(draw):
    """Operand shapes of every kind matmul accepts: 1-D on either side, batch axes broadcast."""
    n, k, m = draw(SIDE), draw(SIDE), draw(SIDE)
    batch_a, batch_b = draw(mst.broadcastable_shapes(max_dims=2, max_side=2))
    form = draw(st.sampled_from(["matrix", "vector_left", "vector_right", "dot"]))
    a = (k,) if form in ("vector_left", "dot") else batch_a + (n, k)
    b = (k,) if form in ("vector_right", "dot") else batch_b + (k, m)
    return Case((a, b))


@st.composite
def _transposed_matmul(draw):
    """a (n, k) and b (n, m): the operands of a^T b (Linear's weight gradient)."""
    n, k, m = draw(SIDE), draw(SIDE), draw(SIDE)
    return Case(((n, k), (n, m)))


SPECS = [
    OpSpec("matmul", operator.matmul, np.matmul, _matmul(), gradgrad=True),
    OpSpec("mg.matmul", mg.matmul, np.matmul, _matmul()),
    OpSpec("TransposedMatMul", TransposedMatMul.apply, lambda a, b: a.T @ b, _transposed_matmul(), gradgrad=True),
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


def test_matmul_with_a_numpy_operand_on_either_side():
    a = np.arange(6.0).reshape(2, 3)
    x = mg.tensor(np.ones((3, 2)), requires_grad=True)
    np.testing.assert_allclose((a @ x).numpy(), a @ np.ones((3, 2)))
    np.testing.assert_allclose((x @ a).numpy(), np.ones((3, 2)) @ a)
    (a @ x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), a.sum(0)[:, None] * np.ones((1, 2)))


def test_matmul_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3\) and \(4, 5\) do not align"):
        mg.ones(2, 3) @ mg.ones(4, 5)
    with pytest.raises(ValueError, match=r"matmul: batch shapes of \(2, 1, 3\) and \(3, 3, 1\)"):
        mg.ones(2, 1, 3) @ mg.ones(3, 3, 1)
    with pytest.raises(ValueError, match="at least 1-D"):
        mg.ones(2) @ mg.tensor(3.0)
