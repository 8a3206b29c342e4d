"""Random computation graphs as a hypothesis strategy: `graphs()`.

    from hypothesis import given
    from minigen.testing import gradcheck
    from minigen.testing.strategies import graphs

    @given(graphs())
    def test_whole_graph_gradients(graph):
        assert gradcheck(graph, graph.leaves())

A drawn `Graph` is a short program: leaves of drawn shapes, dtypes and domains (values from seeded NumPy
generators), then steps, each an op from a table applied to earlier values, so values fan out (a value may
feed several steps, or the same step twice). Its outputs are the values no step consumed. Each step is kept
inside its op's domain by evaluating the graph while it is drawn: an op whose inputs fall outside its
domain (a log of a value below 0.1, a max whose two largest entries nearly tie, a relu within 1e-3 of its
kink), whose output is not finite, exceeds `bound` or has more than `max_elements` entries, is not taken
and another is drawn. So central differences stay valid, and hypothesis shrinks a failing graph to a
minimal one, printed as the program that reproduces it (its repr).

The op table is a sequence of `GraphOp`s: `minigen.testing.graph_ops.DEFAULT_OPS`, or your own, or both
(`DEFAULT_OPS + (my_op,)`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from hypothesis import strategies as st

from .. import autograd
from ..autograd import Tensor

KINK = 1e-3  # how far inputs stay from a kink or a tie (central differences move them by ~1e-6)


@dataclass(frozen=True, eq=False)
class GraphOp:
    """One op the strategy may apply.

    - `fn(*tensors, **params) -> Tensor`: the computation;
    - `code`: how a step prints, a format string over the operands' names ({0}, {1}, ...) and the
      params' literals ({axis}), e.g. "F.softmax({0}, axis={axis})"; by default `name(v0, v1, k=...)`;
    - `params(draw, shape) -> dict | None`: keyword parameters for a first operand of `shape`, drawn with
      hypothesis' `draw`, or None when the op does not apply to that shape;
    - `operands(draw, shape, params) -> [(shape, domain), ...]`: the further operands (an earlier value of
      that shape, or a fresh leaf from that strategies domain);
    - `domain(*arrays, **params) -> bool`: whether the operands' values lie where the op is smooth.
    """

    name: str
    fn: Callable[..., Tensor]
    code: str | None = None
    params: Callable | None = None
    operands: Callable | None = None
    domain: Callable | None = None

    def __repr__(self) -> str:
        return f"GraphOp({self.name!r})"

    def show(self, names: Sequence[str], params: dict) -> str:
        """The step's right-hand side in Python."""
        literals = {k: literal(v) for k, v in params.items()}
        if self.code is not None:
            return self.code.format(*names, **literals)
        args = list(names) + [f"{k}={v}" for k, v in literals.items()]
        return f"{self.name}({', '.join(args)})"


class Index(tuple):
    """A tuple index that prints as a subscript: Index((slice(None, None, -1), 0)) -> `::-1, 0`."""

    def __repr__(self) -> str:
        return ", ".join(_index_item(i) for i in self) or "()"


def _index_item(i) -> str:
    if isinstance(i, slice):
        parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if parts[2] else "")
    if i is Ellipsis:
        return "..."
    return literal(i)


def literal(v) -> str:
    """A Python expression for a parameter value (arrays as np.array([...]))."""
    if isinstance(v, np.ndarray):
        kind = {"b": "bool", "i": "np.int64", "u": "np.int64"}.get(v.dtype.kind)
        return f"np.array({v.tolist()})" if kind is None else f"np.array({v.tolist()}, dtype={kind})"
    if isinstance(v, tuple) and not isinstance(v, Index):
        return "(" + ", ".join(literal(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


@dataclass(frozen=True)
class Leaf:
    """An input of the graph: `sample_array(seed, shape, dtype, domain)`, requiring grad or constant."""

    shape: tuple
    dtype: str
    domain: str
    seed: int
    requires_grad: bool

    def array(self) -> np.ndarray:
        from .strategies import sample_array  # strategies re-exports graphs(): imported here, not above

        return sample_array(self.seed, self.shape, np.dtype(self.dtype), self.domain)

    def show(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        return (f"mg.tensor(sample_array({self.seed}, {self.shape}, np.{self.dtype}, "
                f"{self.domain!r}){grad})")


@dataclass(frozen=True, eq=False)
class Step:
    """`op` applied to earlier values (indices into Graph.values) with keyword `params`."""

    op: GraphOp
    args: tuple
    params: dict = field(default_factory=dict)


class Graph:
    """A drawn computation: `values` (Leafs and Steps in program order) and the indices of its outputs.

    Call it on its leaves (`graph(*graph.leaves())`) for its outputs, `evaluate` for every value, and
    print it (repr) for the program that builds it. (A plain class, not a dataclass, so that hypothesis
    reports a failing graph by this repr.)
    """

    def __init__(self, values: Sequence, outputs: Sequence[int]):
        self.values = tuple(values)
        self.outputs = tuple(outputs)

    @property
    def leaf_positions(self) -> list:
        return [i for i, v in enumerate(self.values) if isinstance(v, Leaf)]

    @property
    def steps(self) -> list:
        return [v for v in self.values if isinstance(v, Step)]

    @property
    def op_names(self) -> list:
        return [s.op.name for s in self.steps]

    def __len__(self) -> int:
        return len(self.steps)

    def leaves(self) -> list:
        """Fresh leaf Tensors (new arrays each call), in program order."""
        return [Tensor(self.values[i].array(), requires_grad=self.values[i].requires_grad)
                for i in self.leaf_positions]

    def evaluate(self, *leaves: Tensor, replace: dict | None = None) -> list:
        """Every value, in program order, computed from `leaves`; `replace` maps value indices to Tensors
        used in their place (to cut the graph there)."""
        if len(leaves) != len(self.leaf_positions):
            raise ValueError(f"graph: expected {len(self.leaf_positions)} leaves, got {len(leaves)}")
        replace = replace or {}
        given = dict(zip(self.leaf_positions, leaves))
        out: list = []
        for i, v in enumerate(self.values):
            if i in replace:
                out.append(replace[i])
            elif isinstance(v, Leaf):
                out.append(given[i])
            else:
                out.append(v.op.fn(*[out[j] for j in v.args], **v.params))
        return out

    def __call__(self, *leaves: Tensor) -> tuple:
        values = self.evaluate(*leaves)
        return tuple(values[i] for i in self.outputs)

    def program(self, imports: bool = True) -> str:
        """The graph as a Python program that builds it (`outputs` last)."""
        lines = ["import numpy as np", "import minigen as mg", "import minigen.functional as F",
                 "from minigen.testing.strategies import sample_array"] if imports else []
        for i, v in enumerate(self.values):
            rhs = v.show() if isinstance(v, Leaf) else v.op.show([f"v{j}" for j in v.args], v.params)
            lines.append(f"v{i} = {rhs}")
        lines.append(f"outputs = ({''.join(f'v{i}, ' for i in self.outputs).rstrip()})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"\n# a graph of {len(self)} ops\n" + self.program(imports=False) + "\n"


def _default_shapes(max_dims: int, max_side: int, max_elements: int) -> st.SearchStrategy:
    return (st.lists(st.integers(1, max_side), min_size=0, max_size=max_dims).map(tuple)
            .filter(lambda s: int(np.prod(s)) <= max_elements))


@st.composite
def graphs(draw, ops: Sequence[GraphOp] | None = None, *, min_leaves: int = 1, max_leaves: int = 3,
           min_ops: int = 1, max_ops: int = 6, shapes: st.SearchStrategy | None = None,
           dtypes: Sequence = (np.float64,), domains: Sequence[str] = ("real", "positive", "unit", "distinct"),
           constants: bool = True, max_elements: int = 36, bound: float = 1e3, attempts: int = 4) -> Graph:
    """Random computation graphs (see the module docstring).

    `ops`: the op table (default `graph_ops.DEFAULT_OPS`); `shapes`: a strategy of leaf shapes (default up
    to 4 axes of sides 1..3, at most `max_elements` entries); `dtypes`, `domains`: drawn per leaf;
    `constants`: some leaves may not require grad (the first always does); `bound`: the largest magnitude
    a value may reach; `attempts`: ops tried per step before the step is left out.
    """
    if ops is None:
        from .graph_ops import DEFAULT_OPS

        ops = DEFAULT_OPS
    ops = tuple(ops)
    if not ops:
        raise ValueError("graphs: the op table is empty")
    shapes = _default_shapes(4, 3, max_elements) if shapes is None else shapes
    dtypes = [np.dtype(d).name for d in dtypes]
    builder = _Builder(draw, dtypes, list(domains), constants, max_elements, bound)
    for _ in range(draw(st.integers(min_leaves, max_leaves), label="leaves")):
        builder.leaf(draw(shapes, label="leaf shape"))
    for _ in range(draw(st.integers(min_ops, max_ops), label="ops")):
        for _ in range(attempts):
            if builder.step(draw(st.sampled_from(ops), label="op")):
                break
    return builder.graph()


class _Builder:
    """Grows a graph step by step, evaluating it (without recording) to keep each op in its domain."""

    def __init__(self, draw, dtypes, domains, constants, max_elements, bound):
        self.draw, self.dtypes, self.domains = draw, dtypes, domains
        self.constants, self.max_elements, self.bound = constants, max_elements, bound
        self.values: list = []
        self.tensors: list = []  # the value of each entry of self.values

    def leaf(self, shape: tuple, domain: str | None = None, dtype: str | None = None) -> int:
        draw = self.draw
        dtype = dtype or draw(st.sampled_from(self.dtypes), label="dtype")
        domain = domain or draw(st.sampled_from(self.domains), label="domain")
        first = not any(isinstance(v, Leaf) for v in self.values)
        requires_grad = first or not self.constants or draw(st.integers(0, 3), label="constant") > 0
        leaf = Leaf(tuple(int(s) for s in shape), dtype, domain, draw(st.integers(0, 2**16), label="seed"),
                    requires_grad)
        self.values.append(leaf)
        self.tensors.append(Tensor(leaf.array()))
        return len(self.values) - 1

    def step(self, op: GraphOp) -> bool:
        """Try `op` on drawn operands; keep it (True) when it applies and stays in its domain."""
        draw = self.draw
        first = draw(st.integers(0, len(self.values) - 1), label="operand")
        shape = self.tensors[first].shape
        params = {} if op.params is None else op.params(draw, shape)
        if params is None:
            return False
        mark = len(self.values)  # fresh leaves made for this step are dropped if the step is refused
        args = [first]
        for other_shape, domain in (op.operands(draw, shape, params) if op.operands else ()):
            args.append(self._operand(tuple(other_shape), domain, self.tensors[first].dtype.name))
        arrays = [self.tensors[j].data for j in args]
        if op.domain is not None and not op.domain(*arrays, **params):
            return self._refuse(mark)
        with autograd.no_grad(), np.errstate(all="ignore"):  # an overflow is refused just below
            out = op.fn(*[self.tensors[j] for j in args], **params)
        a = out.data
        if (a.dtype.kind != "f" or a.size == 0 or a.size > self.max_elements or not np.isfinite(a).all()
                or np.abs(a).max() > self.bound):
            return self._refuse(mark)
        self.values.append(Step(op, tuple(args), params))
        self.tensors.append(out)
        return True

    def _operand(self, shape: tuple, domain: str, dtype: str) -> int:
        """An earlier value of `shape` whose values lie in `domain`, or a fresh leaf of it."""
        candidates = [j for j, t in enumerate(self.tensors) if t.shape == shape and in_domain(t.data, domain)]
        if candidates and self.draw(st.booleans(), label="reuse"):
            return candidates[self.draw(st.integers(0, len(candidates) - 1), label="which")]
        return self.leaf(shape, domain, dtype)

    def _refuse(self, mark: int) -> bool:
        del self.values[mark:], self.tensors[mark:]
        return False

    def graph(self) -> Graph:
        used = {j for v in self.values if isinstance(v, Step) for j in v.args}
        outputs = tuple(i for i, v in enumerate(self.values) if isinstance(v, Step) and i not in used)
        if not outputs:  # no step was taken: the leaves are the outputs
            outputs = tuple(range(len(self.values)))
        return Graph(tuple(self.values), outputs)


def in_domain(a: np.ndarray, domain: str) -> bool:
    """Whether the values of `a` could have come from `domain` (strategies.sample_array's domains)."""
    if domain == "positive":
        return bool((a > 0.1).all())
    if domain == "unit":
        return bool(((a > 0.02) & (a < 0.98)).all())
    if domain == "nonzero":
        return bool((np.abs(a) > 0.1).all())
    if domain == "distinct":
        flat = np.sort(a.reshape(-1))
        return flat.size < 2 or bool(np.diff(flat).min() > KINK)
    return True
