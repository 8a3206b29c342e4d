"""The graphs() strategy itself: drawn graphs are valid programs, every op of the table applies, users' op
tables work, a planted wrong backward shrinks to a small graph that names it, and the README's example
runs."""
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings

from minigen.autograd import Function
from minigen.testing import gradcheck
from minigen.testing.graph_ops import DEFAULT_OPS, FAMILIES
from minigen.testing.graphs import Leaf, Step
from minigen.testing.strategies import GraphOp, graphs

README = Path(__file__).resolve().parents[2] / "README.md"
QUICK = settings(max_examples=300, database=None, phases=[Phase.generate],
                 suppress_health_check=list(HealthCheck))


@settings(max_examples=40)
@given(graphs(max_elements=36, bound=1e3))
def test_drawn_graphs_are_valid(graph):
    """Every step's inputs lie in its op's domain, every value is a finite float array within the bound
    and the size limit, outputs are exactly the unconsumed steps, and the printed program rebuilds the
    same outputs."""
    leaves = graph.leaves()
    values = graph.evaluate(*leaves)
    assert isinstance(graph.values[0], Leaf) and graph.values[0].requires_grad
    consumed = {j for s in graph.steps for j in s.args}
    for i, (spec, v) in enumerate(zip(graph.values, values)):
        a = v.numpy()
        assert a.dtype.kind == "f" and 0 < a.size <= 36 and np.isfinite(a).all() and np.abs(a).max() <= 1e3
        if isinstance(spec, Step):
            assert all(j < i for j in spec.args), "a step reads a later value"
            if spec.op.domain is not None:
                assert spec.op.domain(*[values[j].numpy() for j in spec.args], **spec.params), spec.op.name
    if graph.steps:
        assert set(graph.outputs) == {i for i, s in enumerate(graph.values) if isinstance(s, Step)} - consumed
    namespace: dict = {}
    exec(graph.program(), namespace)
    for got, want in zip(namespace["outputs"], graph(*graph.leaves()), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("op", DEFAULT_OPS, ids=lambda op: op.name)
def test_every_op_of_the_default_table_applies(op):
    """Each op finds operands in its domain from drawn leaves (so none is silently never drawn)."""
    graph = find(graphs(ops=[op]), lambda g: len(g) > 0, settings=QUICK)
    assert set(graph.op_names) == {op.name}


def test_the_table_covers_the_families_of_the_issue():
    names = {op.name for op in DEFAULT_OPS}
    assert len(names) == len(DEFAULT_OPS)
    assert set(FAMILIES) == {"elementwise", "reductions", "shapes", "linalg", "losses", "convolution"}
    for wanted in ["exp", "log", "add", "div", "maximum", "where", "sum", "max", "logsumexp", "softmax",
                   "log_softmax", "var", "cumsum", "reshape", "permute", "expand", "squeeze", "getitem", "cat",
                   "stack", "matmul", "mse_loss", "cross_entropy", "binary_cross_entropy", "conv2d",
                   "max_pool2d", "avg_pool2d", "layer_norm", "batch_norm"]:
        assert wanted in names


def test_getitem_draws_negative_steps_integer_arrays_and_masks():
    getitem = [op for op in DEFAULT_OPS if op.name == "getitem"]

    def has(pattern):
        return lambda g: any(re.search(pattern, line) for line in g.program().splitlines() if "[" in line)

    for pattern in [r"\[[^]]*:-\d", r"np\.array\(\[-?\d", r"dtype=bool", r"\.\.\.", r"None"]:
        find(graphs(ops=getitem), has(pattern), settings=QUICK)


class _Cube(Function):
    """x^3, d/dx = 3 x^2."""

    def forward(self, x):
        return x ** 3

    def backward(self, gy):
        x = self.inputs[0]
        return gy * 3 * x * x


def test_a_users_op_table():
    cube = GraphOp("cube", _Cube.apply)
    graph = find(graphs(ops=[cube], min_ops=2), lambda g: len(g) >= 2, settings=QUICK)
    assert graph.op_names == ["cube", "cube"] and "cube(v" in repr(graph)
    assert gradcheck(graph, graph.leaves())


class _PlantedSquare(Function):
    """x^2 with a wrong backward: 3 x gy instead of 2 x gy."""

    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * 3 * self.inputs[0]


def test_a_planted_wrong_backward_shrinks_to_a_small_graph_naming_it():
    planted = GraphOp("planted_square", _PlantedSquare.apply)
    graph = find(graphs(ops=DEFAULT_OPS + (planted,)),
                 lambda g: not gradcheck(g, g.leaves(), raise_exception=False),
                 settings=settings(max_examples=2000, database=None, derandomize=True,
                                   suppress_health_check=list(HealthCheck)))
    assert "planted_square" in graph.op_names and len(graph) <= 2, repr(graph)
    assert "planted_square(v" in repr(graph)


def test_the_readme_example_runs():
    """The gradient-checking section's graph example, as a user would paste it."""
    section = README.read_text().split("## Checking gradients in your own tests", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.S) if "graphs(" in b]
    assert blocks, "the README's gradient-checking section has no graphs() example"
    namespace: dict = {}
    exec(blocks[0], namespace)
    tests = [f for name, f in namespace.items() if name.startswith("test_") and callable(f)]
    assert tests
    for test in tests:
        test()
