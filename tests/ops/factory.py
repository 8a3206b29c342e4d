"""The one test factory for ops: a table of `OpSpec`s becomes parametrized hypothesis tests.

A spec names a minigen callable, a plain-NumPy reference and a strategy of `Case`s (the shapes of the
tensor inputs and the keyword parameters). `make_tests(specs)` returns four test functions:

- test_forward: the op against its NumPy reference in float32 and float64; the output keeps the
  input dtype and requires grad exactly when the op is differentiable;
- test_gradcheck: float64 central differences contracted with random cotangents, on contiguous and
  non-contiguous inputs;
- test_gradgradcheck: second derivatives (and the derivative with respect to the cotangent), for
  specs with `gradgrad=True`;
- test_on_cuda (marked gpu: skipped without a GPU): the op on CUDA tensors gives the CPU's output and
  gradients, on CUDA.

Use it in a test module as
`test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda = make_tests(SPECS)`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen.testing import gradcheck, gradgradcheck
from minigen.testing import strategies as mst

TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-8, atol=1e-10)}


@dataclass(frozen=True)
class Case:
    """One drawn problem: a shape per tensor input and keyword parameters for both callables."""

    shapes: tuple
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """An op under test. `fn(*tensors, **params)` must agree with `ref(*float64 arrays, **params)`."""

    name: str
    fn: Callable
    ref: Callable
    cases: st.SearchStrategy
    domains: tuple = ("real",)  # strategies.DOMAINS, one per tensor input; the last one repeats
    gradgrad: bool = False  # also run gradgradcheck (a non-trivial second derivative or backward op)
    differentiable: bool = True  # False: the output is boolean and never requires grad (comparisons)
    constant: tuple = ()  # indices of tensor inputs that never require grad (running statistics ...)
    float32_atol: float | None = None  # a wider float32 atol where the op amplifies rounding (normalisation)

    def domain(self, k: int) -> str:
        return self.domains[min(k, len(self.domains) - 1)]

    def __str__(self) -> str:
        return self.name


# ------------------------------------------------------------------------------------- case strategies

def unary(min_dims: int = 0, max_dims: int = 3, max_side: int = 3, **params) -> st.SearchStrategy:
    """One input of a drawn shape; `params` maps keyword names to strategies."""
    return st.builds(lambda shape, p: Case((shape,), p), mst.shapes(min_dims, max_dims, 1, max_side),
                     st.fixed_dictionaries(params))


def broadcast_pair(max_dims: int = 3, max_side: int = 3, **params) -> st.SearchStrategy:
    """Two inputs whose shapes broadcast together (strategies.broadcastable_shapes)."""
    return st.builds(lambda shapes, p: Case(shapes, p), mst.broadcastable_shapes(max_dims, max_side),
                     st.fixed_dictionaries(params))


@st.composite
def reduction(draw, min_dims: int = 0, max_dims: int = 3, max_side: int = 3, keepdims: bool = True,
              tuple_axes: bool = True) -> Case:
    """One input and an `axis` (None, an int, a negative int, or a tuple), with `keepdims` drawn."""
    shape = draw(mst.shapes(min_dims, max_dims, 1, max_side))
    n = len(shape)
    choices = [st.none()]
    if n:
        choices.append(st.integers(-n, n - 1))
        if tuple_axes:
            choices.append(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)
                           .map(tuple))
    params = {"axis": draw(st.one_of(choices))}
    if keepdims:
        params["keepdims"] = draw(st.booleans())
    return Case((shape,), params)


@st.composite
def along_axis(draw, min_dims: int = 1, max_dims: int = 3, max_side: int = 3) -> Case:
    """One input with at least one axis and a single (possibly negative) `axis` (softmax and friends)."""
    shape = draw(mst.shapes(min_dims, max_dims, 1, max_side))
    return Case((shape,), {"axis": draw(st.integers(-len(shape), len(shape) - 1))})


def fixed(*shapes, **params) -> st.SearchStrategy:
    return st.just(Case(tuple(shapes), params))


# ------------------------------------------------------------------------------------------ drawing

def draw_arrays(data, spec: OpSpec, case: Case, dtype) -> list:
    """Arrays for a case, each with its own seed, domain and (drawn) memory layout."""
    arrays = []
    for k, shape in enumerate(case.shapes):
        seed = data.draw(st.integers(0, 2**31 - 1), label=f"seed of input {k}")
        contiguous = data.draw(st.booleans(), label=f"input {k} contiguous")
        arrays.append(mst.sample_array(seed, tuple(shape), dtype, spec.domain(k), contiguous))
    return arrays


def _leaves(spec: OpSpec, arrays: list) -> list:
    return [mg.Tensor(a, requires_grad=spec.differentiable and k not in spec.constant)
            for k, a in enumerate(arrays)]


def _call(spec: OpSpec, case: Case):
    return lambda *xs: spec.fn(*xs, **case.params)


# -------------------------------------------------------------------------------------------- tests

def make_tests(specs: list) -> tuple:
    """(test_forward, test_gradcheck, test_gradgradcheck, test_on_cuda) parametrized over `specs`."""
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"op spec names must be unique: {sorted(n for n in names if names.count(n) > 1)}")
    differentiable = [s for s in specs if s.differentiable]
    second = [s for s in specs if s.gradgrad]

    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("spec", specs, ids=str)
    @given(data=st.data())
    def test_forward(spec: OpSpec, dtype, data) -> None:
        case = data.draw(spec.cases, label="case")
        arrays = draw_arrays(data, spec, case, dtype)
        out = spec.fn(*_leaves(spec, arrays), **case.params)
        expected = np.asarray(spec.ref(*[a.astype(np.float64) for a in arrays], **case.params))
        assert out.shape == expected.shape, f"{spec.name}: shape {out.shape}, NumPy gives {expected.shape}"
        if spec.differentiable:
            assert out.dtype == dtype, f"{spec.name}: {np.dtype(dtype)} inputs gave a {out.dtype} output"
            assert out.requires_grad
        else:
            assert out.dtype == expected.dtype and not out.requires_grad and out.creator is None
        tolerance = dict(TOLERANCE[dtype])
        if dtype == np.float32 and spec.float32_atol is not None:
            tolerance["atol"] = spec.float32_atol
        np.testing.assert_allclose(out.numpy(), expected, **tolerance, err_msg=spec.name)

    @pytest.mark.gpu
    @pytest.mark.parametrize("spec", specs, ids=str)
    @given(data=st.data())
    def test_on_cuda(spec: OpSpec, data) -> None:
        case = data.draw(spec.cases, label="case")
        arrays = draw_arrays(data, spec, case, np.float64)
        outputs = {}
        for device in ("cpu", "cuda"):
            leaves = [mg.tensor(a, requires_grad=spec.differentiable and k not in spec.constant, device=device)
                      for k, a in enumerate(arrays)]
            y = spec.fn(*leaves, **case.params)
            assert y.device == device, f"{spec.name}: the output of {device} inputs is on {y.device}"
            grads = []
            if spec.differentiable:
                cotangent = mg.tensor(np.random.default_rng(0).standard_normal(y.shape), device=device)
                wanted = [x for x in leaves if x.requires_grad]
                grads = mg.grad(y, wanted, cotangent, allow_unused=True)
                assert all(g is None or g.device == device for g in grads), f"{spec.name}: gradient off {device}"
            outputs[device] = [y.numpy()] + [None if g is None else g.numpy() for g in grads]
        for k, (a, b) in enumerate(zip(outputs["cuda"], outputs["cpu"], strict=True)):
            if a is None or b is None:
                assert a is b, f"{spec.name}: output {k} is None on one device only"
            else:
                np.testing.assert_allclose(a, b, **TOLERANCE[np.float64], err_msg=f"{spec.name}: output {k}")

    return (test_forward, _derivative_test(gradcheck, differentiable), _derivative_test(gradgradcheck, second),
            test_on_cuda)


def _derivative_test(check: Callable, specs: list) -> Callable:
    """A test running `check` (gradcheck or gradgradcheck) on float64 leaves, with random cotangents."""

    @pytest.mark.parametrize("spec", specs, ids=str)
    @given(data=st.data())
    def test(spec: OpSpec, data) -> None:
        case = data.draw(spec.cases, label="case")
        inputs = _leaves(spec, draw_arrays(data, spec, case, np.float64))
        assert check(_call(spec, case), inputs, seed=data.draw(st.integers(0, 2**16), label="seed"))

    return test
