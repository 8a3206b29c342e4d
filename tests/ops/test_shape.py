"""Shape ops: reshape/view/transpose/permute/T/flatten/squeeze/unsqueeze/expand, indexing, cat, stack,
where, pad."""
import numpy as np
import pytest
from hypothesis import strategies as st

import minigen as mg
from minigen.testing import strategies as mst
from ops.factory import Case, OpSpec, fixed, make_tests, unary


@st.composite
def _permutation(draw):
    shape = draw(mst.shapes(1, 4, 1, 3))
    return Case((shape,), {"axes": tuple(draw(st.permutations(range(len(shape)))))})


@st.composite
def _reshape(draw):
    shape = draw(mst.shapes(1, 3, 1, 3))
    n = int(np.prod(shape))
    new = draw(st.sampled_from([(n,), (1, n), (n, 1, 1), (-1,), (n, -1)]))
    return Case((shape,), {"shape": new})


@st.composite
def _flatten(draw):
    shape = draw(mst.shapes(1, 4, 1, 3))
    start = draw(st.integers(0, len(shape) - 1))
    return Case((shape,), {"start": start, "end": draw(st.integers(start, len(shape) - 1)) - len(shape)})


@st.composite
def _squeeze(draw):
    shape = draw(st.lists(st.sampled_from([1, 2, 3]), min_size=1, max_size=4).map(tuple))
    return Case((shape,), {"axis": draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))})


@st.composite
def _expand(draw):
    shape = draw(mst.shapes(0, 3, 1, 3))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    target = tuple(draw(st.sampled_from([-1, 3])) if s == 1 else draw(st.sampled_from([-1, s])) for s in shape)
    return Case((shape,), {"shape": lead + target})


def _np_expand(x, shape):
    lead = len(shape) - x.ndim
    return np.broadcast_to(x, tuple(x.shape[d - lead] if s == -1 else s for d, s in enumerate(shape)))


@st.composite
def _basic_index(draw):
    shape = draw(mst.shapes(1, 3, 2, 4))
    items = []
    for s in shape[:draw(st.integers(1, len(shape)))]:
        items.append(draw(st.one_of(st.integers(-s, s - 1),
                                    st.builds(slice, st.integers(-s, s - 1) | st.none(),
                                              st.integers(-s, s) | st.none(), st.sampled_from([None, 1, 2, -1])))))
    items.insert(draw(st.integers(0, len(items))), None)
    if draw(st.booleans()):
        items.append(Ellipsis)
    return Case((shape,), {"index": tuple(items)})


@st.composite
def _array_index(draw):
    """Integer arrays (with repeats and negative entries) on one axis or two, optionally after a slice."""
    shape = draw(mst.shapes(2, 3, 2, 4))
    rows = np.array(draw(st.lists(st.integers(-shape[0], shape[0] - 1), min_size=1, max_size=5)))
    form = draw(st.sampled_from(["rows", "rows_list", "pairs", "slice_then_array"]))
    if form == "rows":
        index = rows
    elif form == "rows_list":
        index = [int(r) for r in rows]
    elif form == "pairs":
        index = (rows, np.array(draw(st.lists(st.integers(0, shape[1] - 1), min_size=len(rows),
                                              max_size=len(rows)))))
    else:
        index = (slice(None), np.array(draw(st.lists(st.integers(0, shape[1] - 1), min_size=1, max_size=4))))
    return Case((shape,), {"index": index})


@st.composite
def _mask_index(draw):
    shape = draw(mst.shapes(1, 3, 1, 4))
    ndim = draw(st.integers(1, len(shape)))
    seed = draw(st.integers(0, 2**16))
    return Case((shape,), {"index": np.random.default_rng(seed).random(shape[:ndim]) < 0.5})


@st.composite
def _joined(draw, new_axis: bool):
    shape = draw(mst.shapes(1, 3, 1, 3))
    n = draw(st.integers(1, 3))
    if new_axis:
        return Case((shape,) * n, {"axis": draw(st.integers(-len(shape) - 1, len(shape)))})
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    shapes = tuple(shape[:axis % len(shape)] + (draw(st.integers(1, 3)),) + shape[axis % len(shape) + 1:]
                   for _ in range(n))
    return Case(shapes, {"axis": axis})


@st.composite
def _where(draw):
    a, b = draw(mst.broadcastable_shapes(3, 3))
    cond_shape = np.broadcast_shapes(a, b)[draw(st.integers(0, len(np.broadcast_shapes(a, b)))):]
    cond = np.random.default_rng(draw(st.integers(0, 2**16))).random(cond_shape) < 0.5
    return Case((a, b), {"cond": cond})


@st.composite
def _pad(draw):
    shape = draw(mst.shapes(1, 3, 1, 3))
    pads = tuple(draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * len(shape)).filter(
        lambda p: len(p) % 2 == 0)))
    return Case((shape,), {"pad": pads, "value": draw(st.sampled_from([0.0, -1.5]))})


def _np_pad(x, pad, value):
    width = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        width[x.ndim - 1 - k] = (pad[2 * k], pad[2 * k + 1])
    return np.pad(x, width, constant_values=value)


def _np_squeeze(x, axis):
    if axis is not None and x.shape[axis] != 1:
        return x
    return np.squeeze(x, axis)


def _np_flatten(x, start, end):
    end = end % x.ndim
    return x.reshape(x.shape[:start] + (-1,) + x.shape[end + 1:])


SPECS = [
    OpSpec("reshape", lambda x, shape: x.reshape(*shape), lambda x, shape: x.reshape(shape), _reshape()),
    OpSpec("reshape_tuple", lambda x, shape: mg.reshape(x, shape), lambda x, shape: x.reshape(shape), _reshape()),
    OpSpec("view", lambda x, shape: x.view(shape), lambda x, shape: x.reshape(shape), _reshape()),
    OpSpec("transpose", lambda x: x.transpose(), np.transpose, unary(max_dims=4)),
    OpSpec("transpose_axes", lambda x, axes: x.transpose(*axes), np.transpose, _permutation(), gradgrad=True),
    OpSpec("permute", lambda x, axes: x.permute(axes), np.transpose, _permutation()),
    OpSpec("T", lambda x: x.T, lambda x: x.T, unary(max_dims=2)),
    OpSpec("flatten", lambda x, start, end: x.flatten(start, end), _np_flatten, _flatten()),
    OpSpec("flatten_all", lambda x: x.flatten(), np.ravel, unary()),
    OpSpec("squeeze", lambda x, axis: x.squeeze(axis), _np_squeeze, _squeeze()),
    OpSpec("unsqueeze", lambda x, axis: x.unsqueeze(axis), np.expand_dims,
           st.builds(lambda s, a: Case((s,), {"axis": a}), mst.shapes(0, 3, 1, 3), st.integers(-1, 0))),
    OpSpec("expand", lambda x, shape: x.expand(*shape), _np_expand, _expand(), gradgrad=True),
    OpSpec("broadcast_to", lambda x, shape: mg.broadcast_to(x, shape), np.broadcast_to,
           fixed((3, 1), shape=(2, 3, 4))),
    OpSpec("getitem_basic", lambda x, index: x[index], lambda x, index: x[index], _basic_index(), gradgrad=True),
    OpSpec("getitem_array", lambda x, index: x[index], lambda x, index: x[np.asarray(index) if isinstance(
        index, list) else index], _array_index(), gradgrad=True),
    OpSpec("getitem_mask", lambda x, index: x[index], lambda x, index: x[index], _mask_index(), gradgrad=True),
    OpSpec("getitem_tensor_index", lambda x, index: x[mg.tensor(index)], lambda x, index: x[index],
           fixed((4, 2), index=np.array([3, 0, 3]))),
    OpSpec("cat", lambda *xs, axis: mg.cat(xs, axis=axis), lambda *xs, axis: np.concatenate(xs, axis),
           _joined(new_axis=False), gradgrad=True),
    OpSpec("stack", lambda *xs, axis: mg.stack(xs, axis=axis), lambda *xs, axis: np.stack(xs, axis),
           _joined(new_axis=True)),
    OpSpec("where", lambda a, b, cond: mg.where(cond, a, b), lambda a, b, cond: np.where(cond, a, b), _where(),
           gradgrad=True),
    OpSpec("where_tensor_condition", lambda a, b, cond: mg.where(mg.tensor(cond), a, b),
           lambda a, b, cond: np.where(cond, a, b), _where()),
    OpSpec("pad", lambda x, pad, value: mg.pad(x, pad, value), _np_pad, _pad(), gradgrad=True),
]

test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)


def test_repeated_integer_indices_accumulate_gradient():
    x = mg.tensor(np.arange(4.0), requires_grad=True)
    x[np.array([0, 2, 2, 2, -1])].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1, 0, 3, 1])


def test_where_broadcasts_scalars_and_takes_the_tensor_dtype():
    x = mg.tensor(np.array([-1.0, 2.0], np.float32), requires_grad=True)
    y = mg.where(x > 0, x, 0.0)
    assert y.dtype == np.float32
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])


def test_shape_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"cat: shapes \[\(2, 3\), \(2, 4\)\] differ outside axis 0"):
        mg.cat([mg.ones(2, 3), mg.ones(2, 4)])
    with pytest.raises(ValueError, match=r"stack: all tensors need the same shape"):
        mg.stack([mg.ones(2), mg.ones(3)])
    with pytest.raises(ValueError, match=r"Reshape: .*\(2, 3\)"):
        mg.ones(2, 3).reshape(4)
    with pytest.raises(ValueError, match=r"broadcast_to: cannot broadcast shape \(2, 3\) to \(4, 3\)"):
        mg.ones(2, 3).expand(4, 3)
    with pytest.raises(ValueError, match=r"transpose: axes \(0, 0\) are not a permutation"):
        mg.ones(2, 3).transpose(0, 0)
    with pytest.raises(IndexError, match=r"GetItem: .*\(2, 3\)"):
        mg.ones(2, 3)[5]
    with pytest.raises(ValueError, match="pad: padding"):
        mg.pad(mg.ones(2), (1, 1, 1, 1))


def test_views_of_a_tensor_do_not_share_gradient_state():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    y = x.T
    assert y.shape == (3, 2) and y.creator is not None
    (y * mg.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)
