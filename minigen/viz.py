"""Pictures: the graph of a computation (DOT/SVG), image grids and training curves."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np

from .autograd import Tensor

# ------------------------------------------------------------------------------------- computation graph

_TENSOR_STYLE = {"output": "#c6efce", "parameter": "#cfe2ff", "constant": "#eeeeee", "value": "#ffffff"}


def graph(outputs, path: str | None = None, names: dict | None = None) -> str:
    """The graph that produced `outputs` (a Tensor or a list) as Graphviz DOT text.

    One box per tensor (its name, shape and dtype; leaves that require grad are parameters, other leaves
    constants) and one ellipse per Function (its op name), edges in the direction of the computation.
    `names` maps names to tensors (e.g. `dict(model.named_parameters())`); `Tensor.name` is used too.
    With `path`, the text is written there, or for a .svg/.png path rendered with Graphviz's `dot`.
    backward() frees the graph it walks (unless retain_graph=True), so draw before it: a freed graph is a
    RuntimeError saying so, never a partial picture.
    """
    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    label_of = {id(t): n for n, t in (names or {}).items()}
    ids: dict = {}  # id(tensor or Function) -> its DOT name, numbered in the order met
    lines = ["digraph minigen {", '  rankdir="BT";', '  node [fontname="Helvetica", fontsize=10];']
    edges = []

    def node(obj) -> str:
        return ids.setdefault(id(obj), f"{'t' if isinstance(obj, Tensor) else 'f'}{len(ids)}")

    for t, f, first in _walk(roots, "viz.graph"):
        name = node(t)
        lines.append(f"  {name} {_tensor_attributes(t, label_of.get(id(t)), any(t is r for r in roots))};")
        if f is None:
            continue
        edges.append(f"  {node(f)} -> {name};")
        if first:
            lines.append(f'  {node(f)} [label="{type(f).__name__}", shape=ellipse, style=filled, '
                         'fillcolor="#fff2cc"];')
            for x in f.inputs:
                edges.append(f"  {node(x)} -> {node(f)};")
    text = "\n".join(lines + edges + ["}"]) + "\n"
    if path is not None:
        _write_graph(text, path)
    return text


def _walk(roots: list, owner: str):
    """Every tensor behind `roots` once, depth first: yields (tensor, its creator Function or None, whether
    this is the creator's first visit); a graph freed by backward() is a RuntimeError naming `owner`."""
    seen: set = set()
    stack = list(reversed(roots))
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        f = t.creator
        if f is None:
            yield t, None, False
            continue
        first = id(f) not in seen
        if first:
            seen.add(id(f))
            if f.inputs is None:
                raise RuntimeError(f"{owner}: the graph behind this tensor was freed by backward() (at node "
                                   f"{type(f).__name__}, output shape {tuple(t.shape)}); draw it before "
                                   "backward(), or call backward(retain_graph=True)")
            stack.extend(reversed(f.inputs))
        yield t, f, first


def graph_figure(outputs, path: str, names: dict | None = None, title: str | None = None) -> str:
    """The graph of `outputs` drawn with matplotlib (no Graphviz needed): one ellipse per Function (its op
    name), one box per leaf (its name from `names` or `Tensor.name`, and shape; parameters blue, constants
    grey), laid out top to bottom by depth (an op's row is 1 + the deepest row it reads from, a leaf sits
    just above its first reader). Intermediate tensors are the arrows. Draw before backward(), which frees
    the graph."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    roots = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    label_of = {id(t): n for n, t in (names or {}).items()}
    order, inputs_of, label, colour = [], {}, {}, {}
    for t, f, first in _walk(roots, "viz.graph_figure"):
        if f is None and id(t) not in label:
            order.append(id(t))
            role = "parameter" if t.requires_grad else "constant"
            label[id(t)] = f"{label_of.get(id(t)) or t.name or role}\n{tuple(t.shape)}"
            colour[id(t)], inputs_of[id(t)] = _TENSOR_STYLE[role], []
        elif first:
            order.append(id(f))
            label[id(f)], colour[id(f)] = type(f).__name__, _TENSOR_STYLE["output"] if any(
                r.creator is f for r in roots) else "#fff2cc"
            inputs_of[id(f)] = [id(x.creator) if x.creator is not None else id(x) for x in f.inputs]
    column: dict = {}
    ops = [key for key in order if inputs_of[key]]
    while len(column) < len(ops):  # each pass places the ops whose op inputs all have a row
        for key in ops:
            if key not in column and all(k in column or not inputs_of[k] for k in inputs_of[key]):
                column[key] = 1 + max((column[k] for k in inputs_of[key] if inputs_of[k]), default=0)
    for key in order:  # leaves: the row above their first reader
        if not inputs_of[key]:
            column[key] = min(column[r] for r in ops if key in inputs_of[r]) - 1
    rows: dict = {}
    place = {}
    for key in sorted(order, key=lambda k: (column[k], bool(inputs_of[k]))):
        place[key] = (rows.setdefault(column[key], 0), column[key])
        rows[column[key]] += 1
    for key, (x, y) in place.items():  # centre each row
        place[key] = (x - (rows[y] - 1) / 2, y)
    height, width = max(column.values()) + 1, max(rows.values())
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * width), max(3, 0.42 * height)))
    for key, ins in inputs_of.items():
        for k in ins:
            ax.annotate("", xy=place[key], xytext=place[k], arrowprops=dict(arrowstyle="->", lw=0.5, alpha=0.5))
    for key, (cx, cy) in place.items():
        shape = "round,pad=0.2" if inputs_of[key] else "square,pad=0.2"
        ax.text(cx, cy, label[key], ha="center", va="center", fontsize=6,
                bbox=dict(boxstyle=shape, fc=colour[key], ec="0.5", lw=0.5))
    ax.set(xlim=(-width / 2 - 0.2, width / 2 + 0.2), ylim=(height - 0.4, -0.6))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _tensor_attributes(t, given_name: str | None, is_output: bool) -> str:
    if is_output:
        role = "output"
    elif t.creator is not None:
        role = "value"
    else:
        role = "parameter" if t.requires_grad else "constant"
    title = given_name or t.name or (role if role in ("output", "parameter", "constant") else "")
    label = (f"{title}\\n" if title else "") + f"{tuple(t.shape)} {t.dtype}"
    style = "filled" if t.creator is None else "rounded,filled"
    return f'[label="{_escape(label)}", shape=box, style="{style}", fillcolor="{_TENSOR_STYLE[role]}"]'


def _escape(text: str) -> str:
    return text.replace('"', '\\"')


def _write_graph(text: str, path: str) -> None:
    """Write DOT text to `path`, or render it to .svg/.png with Graphviz (the .dot file is kept beside it)."""
    root, ext = os.path.splitext(path)
    if ext.lower() not in (".svg", ".png"):
        with open(path, "w") as f:
            f.write(text)
        return
    dot_path = root + ".dot"
    with open(dot_path, "w") as f:
        f.write(text)
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(f"graph: cannot render {path}: Graphviz is not installed (no `dot` on PATH); "
                           f"the DOT text was written to {dot_path}")
    subprocess.run([dot, f"-T{ext[1:].lower()}", dot_path, "-o", path], check=True, capture_output=True)


# ------------------------------------------------------------------------------- images and curves

def image_grid(images, nrow: int | None = None, padding: int = 1, value_range: tuple | None = None) -> np.ndarray:
    """Tile images (N, C, H, W) or (N, H, W) into one uint8 array (H', W') or (H', W', 3).

    Values are scaled from `value_range` (default: the images' own min and max) to 0..255."""
    a = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4 or a.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected (N, 1|3, H, W) or (N, H, W) images, got shape {a.shape}")
    lo, hi = value_range if value_range is not None else (float(a.min()), float(a.max()))
    a = np.clip((a - lo) / max(hi - lo, 1e-12), 0, 1)
    n, c, h, w = a.shape
    nrow = nrow or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / nrow))
    grid = np.ones((c, rows * (h + padding) + padding, nrow * (w + padding) + padding), np.float32) * 0.5
    for k in range(n):
        r, q = divmod(k, nrow)
        top, left = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, top:top + h, left:left + w] = a[k]
    grid = (grid * 255).round().astype(np.uint8)
    return grid[0] if c == 1 else grid.transpose(1, 2, 0)


def save_image_grid(images, path: str, nrow: int | None = None, scale: int = 4,
                    value_range: tuple | None = None) -> str:
    """Write `image_grid(images)` as a PNG, each pixel enlarged `scale` times (nearest neighbour)."""
    from PIL import Image

    grid = image_grid(images, nrow, value_range=value_range)
    grid = grid.repeat(scale, axis=0).repeat(scale, axis=1)
    Image.fromarray(grid).save(path)
    return path


def save_samples(model, path: str, n: int = 64) -> str:
    """A model's picture of its samples: `model.sample_figure(path, n)` (the model protocol, docs/design.md)."""
    return model.sample_figure(path, n)


def toy_figure(points, centres, path: str, title: str | None = None) -> str:
    """Scatter 2-D points (blue) over a toy's mode centres (red crosses), square axes around the modes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts, centres = np.asarray(points), np.asarray(centres)
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.4)
    ax.scatter(centres[:, 0], centres[:, 1], marker="x", c="red", s=25)
    lim = np.abs(centres).max() * 1.4
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_curves(history: dict, path: str, title: str | None = None) -> str:
    """One panel per logged series {name: [(step, value), ...]}, raw and smoothed (moving average)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted(history) or ["(nothing logged)"]
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 2.4 * len(names)), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        pts = np.asarray(history.get(name, []), dtype=float).reshape(-1, 2)
        if len(pts):
            ax.plot(pts[:, 0], pts[:, 1], lw=0.6, alpha=0.4, color="C0")
            k = max(1, len(pts) // 50)
            smooth = np.convolve(pts[:, 1], np.ones(k) / k, mode="valid")
            ax.plot(pts[k - 1:, 0], smooth, lw=1.5, color="C0")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
