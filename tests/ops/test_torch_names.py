"""The ops a PyTorch user reaches for, as op-factory rows: einsum, clamp, clone, silu, and the reductions
and shape ops called with PyTorch's keywords (dim=/keepdim=, start_dim=/end_dim=), each against NumPy with
gradients checked; plus the alias rules (both names is an error, max/min with dim= give values and indices)."""
import numpy as np
import pytest
from hypothesis import strategies as st

import minigen as mg
import minigen.functional as F
from minigen.testing import gradcheck
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, along_axis, make_tests, reduction, unary

SIDE = st.integers(1, 3)


@st.composite
def _einsum(draw):
    """A subscript form (matrix product, batched product, outer, trace-free contractions, ellipsis,
    implicit output, a sum over an axis only one operand has) and matching operand shapes."""
    n, k, m, b = draw(SIDE), draw(SIDE), draw(SIDE), draw(SIDE)
    forms = {
        "ij,jk->ik": [(n, k), (k, m)],
        "bij,bjk->bik": [(b, n, k), (b, k, m)],
        "i,j->ij": [(n,), (m,)],
        "ij,ij->": [(n, k), (n, k)],
        "ij,jk": [(n, k), (k, m)],
        "ij->ji": [(n, k)],
        "ijk->j": [(b, n, k)],
        "...j,jk->...k": [(b, n, k), (k, m)],
        "ij,jk,kl->il": [(n, k), (k, m), (m, b)],
        "ij,k->i": [(n, k), (m,)],
    }
    spec = draw(st.sampled_from(sorted(forms)))
    return Case(tuple(forms[spec]), {"spec": spec})


def _np_silu(x):
    return x / (1 + np.exp(-x))


def _keywords(name):
    """x.NAME(dim=, keepdim=) for a reduction case drawn with NumPy's names."""
    def call(x, axis=None, keepdims=None):
        kw = {"dim": axis} if keepdims is None else {"dim": axis, "keepdim": keepdims}
        out = getattr(x, name)(**kw)
        return out.values if isinstance(out, tuple) else out
    return call


def _np_reduce(name):
    def ref(x, axis=None, keepdims=False):
        return getattr(np, name)(x, axis=axis, keepdims=bool(keepdims))
    return ref


@st.composite
def _flatten(draw):
    shape = draw(mst.shapes(1, 4, 1, 3))
    start = draw(st.integers(0, len(shape) - 1))
    return Case((shape,), {"start_dim": start, "end_dim": draw(st.integers(start, len(shape) - 1))})


def _np_flatten(x, start_dim, end_dim):
    return x.reshape(x.shape[:start_dim] + (-1,) + x.shape[end_dim + 1:])


SPECS = [
    OpSpec("einsum", lambda *xs, spec: mg.einsum(spec, *xs), lambda *xs, spec: np.einsum(spec, *xs), _einsum(),
           gradgrad=True),
    OpSpec("einsum_list", lambda *xs, spec: mg.einsum(spec, list(xs)), lambda *xs, spec: np.einsum(spec, *xs),
           _einsum()),
    OpSpec("clamp", lambda x, lo, hi: x.clamp(min=lo, max=hi), lambda x, lo, hi: np.clip(x, lo, hi),
           unary(lo=st.sampled_from([None, -0.15]), hi=st.sampled_from([None, 0.25])), domains=("distinct",)),
    OpSpec("mg.clamp", lambda x: mg.clamp(x, -0.2, 0.3), lambda x: np.clip(x, -0.2, 0.3), unary(),
           domains=("distinct",)),
    OpSpec("clone", lambda x: x.clone(), np.copy, unary(), gradgrad=True),
    OpSpec("silu", F.silu, _np_silu, unary(), gradgrad=True),
    OpSpec("SiLU", lambda x: mg.nn.SiLU()(x), _np_silu, unary()),
    OpSpec("flatten_start_dim", lambda x, start_dim, end_dim: x.flatten(start_dim=start_dim, end_dim=end_dim),
           _np_flatten, _flatten()),
    OpSpec("mg.flatten_start_dim", lambda x, **kw: mg.flatten(x, **kw), _np_flatten, _flatten()),
    OpSpec("softmax_dim", lambda x, axis: x.softmax(dim=axis),
           lambda x, axis: np.exp(x - x.max(axis, keepdims=True)) / np.exp(x - x.max(axis, keepdims=True))
           .sum(axis, keepdims=True), along_axis()),
    OpSpec("F.log_softmax_dim", lambda x, axis: F.log_softmax(x, dim=axis),
           lambda x, axis: x - x.max(axis, keepdims=True) - np.log(np.exp(x - x.max(axis, keepdims=True))
                                                                   .sum(axis, keepdims=True)), along_axis()),
    OpSpec("mg.cumsum_dim", lambda x, axis: mg.cumsum(x, dim=axis), lambda x, axis: np.cumsum(x, axis),
           along_axis()),
    OpSpec("unsqueeze_dim", lambda x, axis: x.unsqueeze(dim=axis), lambda x, axis: np.expand_dims(x, axis),
           along_axis()),
    OpSpec("mg.cat_dim", lambda x, y, axis: mg.cat([x, y], dim=axis),
           lambda x, y, axis: np.concatenate([x, y], axis), st.builds(lambda s, a: Case((s, s), {"axis": a}),
                                                                     mst.shapes(1, 3, 1, 3), st.just(0))),
] + [OpSpec(f"{name}_dim_keepdim", _keywords(name), _np_reduce(name), reduction(tuple_axes=name not in ("max", "min")),
            domains=("distinct",)) for name in ("sum", "mean", "var", "max", "min")]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


def test_max_and_min_with_dim_give_values_and_indices_as_pytorch():
    x = mg.tensor(np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]]), requires_grad=True)
    out = x.max(dim=1)
    values, indices = out
    np.testing.assert_array_equal(out.values.numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])
    assert indices.dtype == np.int64 and not indices.requires_grad and values.requires_grad
    low = mg.min(x, dim=0, keepdim=True)
    np.testing.assert_array_equal(low.values.numpy(), [[1.0, 0.0, 2.0]])
    np.testing.assert_array_equal(low.indices.numpy(), [[0, 1, 0]])
    assert isinstance(x.max(axis=1), mg.Tensor) and isinstance(x.max(), mg.Tensor)  # NumPy's names: values
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0, 1, 0], [1, 0, 0]])


def test_both_names_of_one_argument_is_an_error():
    x = mg.ones(2, 3)
    with pytest.raises(TypeError, match="sum: got both axis= and dim="):
        x.sum(axis=0, dim=1)
    with pytest.raises(TypeError, match="mean: got both keepdims= and keepdim="):
        mg.mean(x, keepdims=True, keepdim=True)


def test_size_and_var_stays_numpy_ddof0():
    x = mg.tensor(np.array([[1.0, 3.0]]))
    assert x.size() == (1, 2) and x.size(1) == 2 and x.size(-1) == 2
    np.testing.assert_array_equal(x.var(dim=1).numpy(), [1.0])  # documented: ddof=0 under either name


def test_einsum_errors_and_second_derivatives():
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"einsum: subscripts 'ijk' do not match an operand of shape \(2, 3\)"):
        mg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match="einsum: 'ij,jk->ik' names 2 operands, got 1"):
        mg.einsum("ij,jk->ik", a)
    with pytest.raises(NotImplementedError, match="repeated subscripts"):
        mg.einsum("ii->i", mg.ones(2, 2))
    b = mg.tensor(np.random.default_rng(0).normal(size=(3, 2)), requires_grad=True)
    assert gradcheck(lambda u, v: mg.einsum("ij,jk->ik", u, v).tanh(), [a, b])
