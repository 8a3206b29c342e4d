"""Hypothesis strategies for tensors, shapes, broadcastable pairs, conv geometries and safe domains.

    from hypothesis import given
    from minigen.testing import strategies as mst

    @given(mst.tensors(shape=mst.shapes(min_dims=1, max_dims=3)))
    def test_tanh_is_bounded(x):
        assert (x.tanh().numpy() <= 1).all()

Values are drawn from a seeded NumPy generator (a hypothesis-drawn seed), which keeps examples cheap to
generate and shrink. `domain` picks safe inputs: "real", "positive" (log, sqrt, pow bases, divisors),
"unit" (0, 1) (probabilities), "nonzero" (away from 0, for abs and division), "distinct" (well-separated
values, so max/min/relu have no ties or kinks within finite-difference range).

`graphs()` draws whole random computation graphs (minigen/testing/graphs.py; its op table is
minigen/testing/graph_ops.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from ..autograd import Tensor

DOMAINS = ("real", "positive", "unit", "nonzero", "distinct")


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes with the given number of dimensions and side lengths."""
    return st.lists(st.integers(min_side, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def sample_array(seed: int, shape: tuple, dtype=np.float64, domain: str = "real",
                 contiguous: bool = True) -> np.ndarray:
    """A deterministic array of `shape` drawn from `domain`; non-contiguous when asked (a transposed copy)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape, dtype=np.int64))
    if domain == "real":
        a = rng.standard_normal(n)
    elif domain == "positive":
        a = rng.uniform(0.5, 2.0, n)
    elif domain == "unit":
        a = rng.uniform(0.05, 0.95, n)
    elif domain == "nonzero":
        a = rng.uniform(0.3, 2.0, n) * rng.choice([-1.0, 1.0], n)
    elif domain == "distinct":
        a = (rng.permutation(n) - n / 2) * 0.1 + rng.uniform(-0.01, 0.01, n)
        a = np.where(np.abs(a) < 0.03, a + 0.05, a)
    else:
        raise ValueError(f"unknown domain {domain!r}; expected one of {DOMAINS}")
    a = a.reshape(shape).astype(dtype)
    if not contiguous and a.ndim >= 2:
        a = np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)
    return a


@st.composite
def arrays(draw, shape=None, dtype=np.float64, domain: str = "real", contiguous=None) -> np.ndarray:
    """NumPy arrays of a given or drawn shape (a strategy or a tuple)."""
    if shape is None:
        shape = shapes()
    if isinstance(shape, st.SearchStrategy):
        shape = draw(shape)
    if contiguous is None:
        contiguous = draw(st.booleans())
    seed = draw(st.integers(0, 2**31 - 1))
    return sample_array(seed, tuple(shape), dtype, domain, contiguous)


@st.composite
def tensors(draw, shape=None, dtype=np.float64, domain: str = "real", requires_grad: bool = True,
            contiguous=None) -> Tensor:
    """Leaf Tensors over `arrays(...)`; float64 and requiring grad by default (ready for gradcheck)."""
    a = draw(arrays(shape, dtype, domain, contiguous))
    return Tensor(a, requires_grad=requires_grad and np.dtype(dtype).kind == "f")


@st.composite
def broadcastable_shapes(draw, max_dims: int = 3, max_side: int = 4) -> tuple:
    """A pair of shapes that broadcast together (sides set to 1 or dropped on either side)."""
    full = draw(shapes(0, max_dims, 1, max_side))

    def shrink(shape):
        drop = draw(st.integers(0, len(shape)))
        return tuple(1 if draw(st.booleans()) else s for s in shape[drop:])

    return shrink(full), shrink(full)


@dataclass(frozen=True)
class ConvGeometry:
    """A valid convolution problem: input (N, C, H, W), weight (O, C/groups, kh, kw) and its settings."""

    batch: int
    in_channels: int
    out_channels: int
    size: tuple
    kernel: tuple
    stride: int
    padding: int
    dilation: int
    groups: int

    @property
    def input_shape(self) -> tuple:
        return (self.batch, self.in_channels) + self.size

    @property
    def weight_shape(self) -> tuple:
        return (self.out_channels, self.in_channels // self.groups) + self.kernel


@st.composite
def conv_geometries(draw, dims: int = 2, max_size: int = 7, max_kernel: int = 3, max_channels: int = 4,
                    allow_groups: bool = True) -> ConvGeometry:
    """Conv geometries whose output is at least 1 pixel along every spatial axis (a side may exceed
    `max_size` when the dilated kernel needs it)."""
    groups = draw(st.sampled_from([1, 2])) if allow_groups else 1
    cin = groups * draw(st.integers(1, max_channels // groups))
    cout = groups * draw(st.integers(1, max_channels // groups))
    kernel = tuple(draw(st.integers(1, max_kernel)) for _ in range(dims))
    stride = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    dilation = draw(st.integers(1, 2))
    smallest = [max(1, dilation * (k - 1) + 1 - 2 * padding) for k in kernel]
    size = tuple(draw(st.integers(lo, max(lo, max_size))) for lo in smallest)
    return ConvGeometry(draw(st.integers(1, 2)), cin, cout, size, kernel, stride, padding, dilation, groups)


from .graphs import Graph, GraphOp, graphs  # noqa: E402, F401  (re-exported; random computation graphs; they draw leaves here)
