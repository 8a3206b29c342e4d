"""Type promotion is NumPy's: the promotion table over dtypes and Python scalar kinds against NumPy's own
result, Python scalars keeping a tensor's dtype, the dtypes of new tensors (torch.tensor's rules), and
mg.set_default_dtype."""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg

DTYPES = [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16, np.float32, np.float64]
OPS = {"add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
       "radd": lambda a, b: b + a, "rmul": lambda a, b: b * a, "rsub": lambda a, b: b - a,
       "gt": operator.gt, "eq": operator.eq}
SCALARS = st.one_of(st.booleans(), st.integers(-100, 100), st.floats(-100, 100, allow_nan=False, width=32))


def _numpy(op, a, b):
    with np.errstate(all="ignore"):
        try:
            return op(a, b)
        except (OverflowError, TypeError) as e:  # NumPy 2 refuses e.g. uint8 - 200, bool - bool
            return e


def _ours(op, a, b):
    with np.errstate(all="ignore"):
        try:
            return op(a, b)
        except (OverflowError, TypeError) as e:
            return e


@given(dtype=st.sampled_from(DTYPES), scalar=SCALARS, op=st.sampled_from(sorted(OPS)),
       values=st.lists(st.integers(0, 5), min_size=1, max_size=3))
def test_tensor_and_python_scalar_promote_as_numpy(dtype, scalar, op, values):
    a = np.array(values).astype(dtype)
    expected = _numpy(OPS[op], a, scalar)
    got = _ours(OPS[op], mg.tensor(a), scalar)
    if isinstance(expected, Exception):
        assert isinstance(got, Exception), f"{dtype.__name__} {op} {scalar!r}: NumPy raises, we gave {got}"
        return
    assert not isinstance(got, Exception), f"{dtype.__name__} {op} {scalar!r}: we raised {got!r}"
    assert got.dtype == expected.dtype, f"{np.dtype(dtype)} {op} {scalar!r}: {got.dtype}, NumPy {expected.dtype}"
    np.testing.assert_array_equal(got.numpy(), expected)


@given(a=st.sampled_from(DTYPES), b=st.sampled_from(DTYPES), op=st.sampled_from(["add", "mul", "truediv", "gt"]))
def test_two_tensors_promote_as_two_numpy_arrays(a, b, op):
    x, y = np.arange(1, 4).astype(a), np.arange(2, 5).astype(b)
    expected = _numpy(OPS[op], x, y)
    got = _ours(OPS[op], mg.tensor(x), mg.tensor(y))
    if isinstance(expected, Exception):
        assert isinstance(got, Exception)
        return
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.numpy(), expected)


def test_the_issue_cases_are_float():
    x = mg.tensor(np.array([1, 2]))
    for y, want in ((x * 1.5, [1.5, 3.0]), (x + 0.5, [1.5, 2.5]), (1.5 * x, [1.5, 3.0]), (x / 2, [0.5, 1.0])):
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y.numpy(), want)
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True])  # 1.5 is not truncated to 1


def test_numpy_scalars_count_as_python_scalars_of_their_kind():
    x = mg.ones(2)
    assert (x * np.float64(2.0)).dtype == np.float32  # NumPy 2 would give float64; PyTorch keeps float32
    assert (mg.tensor(np.array([1, 2])) * np.float32(0.5)).dtype == np.float64
    assert (mg.tensor(np.array([1, 2], np.int8)) + np.int64(3)).dtype == np.int8


def test_python_scalars_take_the_tensor_dtype():
    x = mg.ones(2, 2)
    assert x.dtype == np.float32
    for y in (x * 2.5, 2.5 * x, x + 1, 1 - x, x / 3.0, 3.0 / x, x ** 2, 2 ** x):
        assert y.dtype == np.float32
    assert (mg.ones(2, dtype=np.float64) * 2.5).dtype == np.float64


def test_new_tensors_get_torch_tensor_dtypes():
    assert mg.tensor([1, 2]).dtype == np.int64 and mg.tensor(3).dtype == np.int64
    assert mg.tensor([1.0, 2]).dtype == np.float32 and mg.tensor(2.5).dtype == np.float32
    assert mg.tensor([True, False]).dtype == np.bool_
    stacked = mg.tensor([mg.tensor(1.0), mg.tensor(2.5)])  # 0-d tensors in a list, as torch.tensor takes them
    assert stacked.dtype == np.float32 and stacked.tolist() == [1.0, 2.5]
    assert mg.tensor([1, 2], dtype=mg.float64).dtype == np.float64
    assert mg.tensor(np.array([1, 2], np.int16)).dtype == np.int16  # arrays keep theirs
    assert mg.tensor(np.zeros(2)).dtype == np.float64 and mg.tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert mg.arange(4).dtype == np.int64 and mg.arange(np.int32(4)).dtype == np.int64
    assert mg.arange(0, 1, 0.5).dtype == np.float32 and mg.arange(3.0).dtype == np.float32
    assert mg.arange(3, dtype=mg.float64).dtype == np.float64
    np.testing.assert_array_equal(mg.arange(1, 7, 2).numpy(), [1, 3, 5])
    assert mg.randint(0, 3, (2,)).dtype == np.int64


def test_from_numpy_shares_memory():
    a = np.zeros(3)
    t = mg.from_numpy(a)
    a[1] = 5.0
    assert t.dtype == np.float64 and t.numpy()[1] == 5.0
    copied = mg.tensor(a)  # mg.tensor copies
    a[0] = 1.0
    assert copied.numpy()[0] == 0.0
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray, got list"):
        mg.from_numpy([1.0])


def test_dtype_names():
    assert (mg.int64, mg.int32, mg.int16, mg.int8, mg.uint8, mg.bool) == (np.int64, np.int32, np.int16, np.int8,
                                                                          np.uint8, np.bool_)
    assert (mg.float16, mg.float32, mg.float64, mg.half, mg.float, mg.double, mg.long) == (
        np.float16, np.float32, np.float64, np.float16, np.float32, np.float64, np.int64)


def test_set_default_dtype():
    from minigen import nn

    assert mg.get_default_dtype() == np.float32
    try:
        mg.set_default_dtype(mg.float64)
        assert mg.get_default_dtype() == np.float64
        for t in (mg.zeros(2), mg.ones(2), mg.randn(2), mg.rand(2), mg.full((2,), 1.0), mg.tensor([1.5]),
                  mg.arange(0.0, 2.0), mg.Tensor(1.0), nn.Linear(2, 3).weight, nn.LSTM(2, 2).weight_ih_l0):
            assert t.dtype == np.float64
        assert mg.tensor([1]).dtype == np.int64
        with pytest.raises(TypeError, match="set_default_dtype: only floating point dtypes .* got int64"):
            mg.set_default_dtype(mg.int64)
    finally:
        mg.set_default_dtype(mg.float32)
    assert mg.zeros(1).dtype == np.float32 and nn.Linear(1, 1).weight.dtype == np.float32


def test_to_dtype_and_device():
    x = mg.tensor(np.array([1.5, 2.5], np.float32), requires_grad=True)
    y = x.to(mg.float64)
    assert y.dtype == np.float64 and y.device == "cpu" and y.requires_grad
    assert x.to("cpu") is x and x.to("cpu", mg.float32) is x and x.to(dtype=mg.float32) is x
    assert x.to("cpu", mg.float64).dtype == np.float64 and x.to(device="cpu", dtype=mg.float64).dtype == np.float64
    assert x.to(mg.zeros(1, dtype=mg.float64)).dtype == np.float64
    y.sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])
    assert x.to(mg.int64).dtype == np.int64 and not x.to(mg.int64).requires_grad
