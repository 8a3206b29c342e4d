"""minigen.viz: the computation graph as DOT text (and rendered through Graphviz when it is installed)."""
import re
import shutil

import numpy as np
import pytest

import minigen as mg
from minigen.viz import graph


def _nodes(dot: str) -> dict:
    """DOT name -> label of every node line."""
    return dict(re.findall(r'^  (\w+) \[label="([^"]*)"', dot, flags=re.M))


def _edges(dot: str) -> list:
    return re.findall(r"^  (\w+) -> (\w+);", dot, flags=re.M)


def _small_model():
    w = mg.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    w.name = "weight"
    b = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    x = mg.ones(4, 3)
    loss = ((x @ w + b).tanh() * 0.5).sum()
    return loss, w, b, x


def test_dot_has_one_node_per_function_and_per_tensor():
    loss, w, b, x = _small_model()
    dot = graph(loss, names={"bias": b})
    assert dot.startswith("digraph minigen {") and dot.rstrip().endswith("}")
    nodes = _nodes(dot)
    ops = sorted(label for name, label in nodes.items() if name.startswith("f"))
    assert ops == ["Add", "MatMul", "Mul", "Sum", "Tanh"]
    tensors = [label for name, label in nodes.items() if name.startswith("t")]
    # loss, tanh*0.5, the scalar 0.5, tanh, x@w+b, x@w, b, x, w
    assert len(tensors) == 9
    assert r"weight\n(3, 2) float32" in tensors and r"bias\n(2,) float32" in tensors
    assert r"constant\n(4, 3) float32" in tensors
    assert r"output\n() float32" in tensors


def test_edges_follow_the_computation_and_mark_leaves():
    loss, w, b, x = _small_model()
    dot = graph(loss)
    nodes = _nodes(dot)
    by_label = {label: name for name, label in nodes.items()}
    matmul, weight = by_label["MatMul"], by_label[r"weight\n(3, 2) float32"]
    assert (weight, matmul) in _edges(dot)
    assert (by_label["Sum"], by_label[r"output\n() float32"]) in _edges(dot)
    weight_line = next(line for line in dot.splitlines() if line.startswith(f"  {weight} "))
    assert 'style="filled"' in weight_line and "#cfe2ff" in weight_line  # a parameter leaf
    # every Function has one edge to its output and one from each input
    assert len(_edges(dot)) == 5 + (1 + 2 + 2 + 1 + 2)


def test_a_shared_subexpression_is_drawn_once():
    x = mg.tensor(np.ones(3), requires_grad=True)
    e = x.exp()
    dot = graph((e * e + e).sum())
    labels = list(_nodes(dot).values())
    assert labels.count("Exp") == 1
    assert labels.count(r"parameter\n(3,) float64") == 1


def test_a_deep_graph_is_walked_without_recursion():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0
    labels = list(_nodes(graph(y)).values())
    assert labels.count("Mul") == 5000


def test_a_graph_freed_by_backward_is_an_error_and_a_retained_one_draws():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = (x * 2).sum()
    y.backward(retain_graph=True)
    assert {"Mul", "Sum"} <= set(_nodes(graph(y)).values())
    y.backward()
    with pytest.raises(RuntimeError, match=r"viz.graph: the graph behind this tensor was freed by backward\(\) "
                                           r"\(at node Sum, output shape \(\)\); draw it before backward\(\)"):
        graph(y)


def test_writing_dot_text(tmp_path):
    loss, *_ = _small_model()
    path = tmp_path / "g.dot"
    text = graph(loss, path=str(path))
    assert path.read_text() == text


def test_rendering_without_graphviz_says_so_and_keeps_the_dot_file(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, *_ = _small_model()
    with pytest.raises(RuntimeError, match=r"Graphviz is not installed .* DOT text was written to .*g\.dot"):
        graph(loss, path=str(tmp_path / "g.svg"))
    assert (tmp_path / "g.dot").read_text().startswith("digraph")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_rendering_svg_with_graphviz(tmp_path):
    loss, *_ = _small_model()
    graph(loss, path=str(tmp_path / "g.svg"))
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "MatMul" in svg and "weight" in svg


def test_graph_figure_draws_ops_and_leaves_without_graphviz(tmp_path):
    from minigen.viz import graph_figure

    w = mg.randn(3, 2, requires_grad=True)
    loss = (mg.randn(4, 3) @ w).relu().sum()
    path = graph_figure(loss, str(tmp_path / "g.png"), names={"w": w}, title="relu(x w)")
    assert (tmp_path / "g.png").stat().st_size > 1000 and path.endswith("g.png")
    loss.backward()
    with pytest.raises(RuntimeError, match=r"viz.graph_figure: the graph behind this tensor was freed"):
        graph_figure(loss, str(tmp_path / "h.png"))
