"""The reverse-mode engine: `backward` (behind Tensor.backward) and `grad` (mg.grad).

`backward` pops nodes from a heap keyed by generation (a node's generation is one more than its inputs'),
so every node runs after all its consumers, without recursion and without re-sorting. Gradients are
accumulated per node output, passed to the node's `backward` (itself built from Functions, so with
create_graph the sweep records a differentiable graph), and the graph is freed unless retain_graph.
"""
from __future__ import annotations

from heapq import heappop, heappush
import itertools
import time
from typing import Sequence

from . import backend, function
from .function import Function, _cast, _check_finite, set_grad_enabled
from .tensor import Tensor, _HookHandle, as_tensor
from .inplace import check_versions

_post_backward_hooks: list = []  # hook(leaves) after every backward(): minigen.distributed averages gradients


def register_post_backward_hook(hook):
    """Call `hook(leaves)` at the end of every `backward()` (never `grad()`), with the leaf Tensors whose
    `.grad` it changed; returns a handle whose `remove()` unregisters it."""
    _post_backward_hooks.append(hook)
    return _HookHandle(lambda: _post_backward_hooks.remove(hook) if hook in _post_backward_hooks else None)


def backward(outputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None], retain_graph: bool = False,
             create_graph: bool = False, inputs: Sequence[Tensor] | None = None,
             allow_unused: bool = False):
    """Reverse sweep from `outputs`.

    Without `inputs`, gradients are added into every reached leaf's `.grad`. With `inputs`, only the
    gradients of those tensors are computed and returned (nothing is accumulated); this is `mg.grad`.
    """
    roots, seeds = [], []
    for k, (y, g) in enumerate(zip(outputs, grad_outputs)):
        if not y._requires_grad:
            raise RuntimeError(f"backward: output {k} (shape {y.shape}) does not require grad "
                               "and has no grad_fn")
        if g is None:
            if y.data.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar outputs; "
                                   f"output {k} has shape {y.shape} (pass a gradient)")
            g = Tensor._make(backend.array_module(y.data).ones(y.data.shape, y.data.dtype))
        else:
            g = as_tensor(g, y)
            if g.shape != y.shape:
                raise ValueError(f"backward: gradient shape {g.shape} does not match output shape {y.shape}")
        roots.append(y)
        seeds.append(g)

    capture = None if inputs is None else _positions(inputs)
    needed = None if inputs is None else _nodes_leading_to(roots, capture)
    captured: list = [None] * (len(inputs) if inputs is not None else 0)
    add = _add_graph if create_graph else _add_raw

    pending: dict = {}  # Function -> [grads per output, its output Tensors (kept alive), needs _visit]
    leaves: dict = {}  # id(leaf) -> [leaf, grad]
    heap: list = []
    order = itertools.count()

    def send(t: Tensor, g: Tensor) -> None:
        """Add gradient g to what tensor t has received (t's creator runs once all of it has)."""
        f = t.creator
        if f is None:
            entry = leaves.get(id(t))
            if entry is None:
                leaves[id(t)] = [t, g]
            else:
                entry[1] = add(entry[1], g)
            return
        slot = pending.get(f)
        if slot is None:
            if needed is not None and f not in needed and id(t) not in capture:
                return
            if f.inputs is None:
                raise RuntimeError(f"backward: trying to backward through the graph a second time "
                                   f"(node {type(f).__name__} was freed); pass retain_graph=True to the "
                                   "first backward")
            slot = pending[f] = [[None] * len(f.outputs), [None] * len(f.outputs), capture is not None]
            heappush(heap, (-f.generation, next(order), f))
        grads, alive = slot[0], slot[1]
        i = t.index
        grads[i] = g if grads[i] is None else add(grads[i], g)
        alive[i] = t
        if t.hooks or t.retains_grad:
            slot[2] = True

    prof = function._profiler
    inspect = prof is not None or function._anomaly_mode
    versions = function.inplace_used  # some tensor was modified in place: check each node's inputs
    with set_grad_enabled(create_graph):
        for y, g in zip(roots, seeds):
            send(y, g)
        while heap:
            f = heappop(heap)[2]
            grads, alive, visit = pending.pop(f)
            if visit:
                for i, t in enumerate(alive):
                    if t is not None:
                        grads[i] = _visit(t, grads[i], capture, captured, add)
                if capture is not None and f not in needed:
                    continue
            if len(grads) > 1:
                _fill_missing(f, grads)
            if versions:
                check_versions(f)
            gxs = f.backward(*grads) if not inspect else _inspected_backward(f, grads, prof)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx in zip(f.inputs, gxs):
                if gx is not None and x._requires_grad:
                    if not isinstance(gx, Tensor):
                        raise TypeError(f"{type(f).__name__}.backward returned a {type(gx).__name__} where a "
                                        f"Tensor gradient for an input of shape {x.shape} is expected")
                    if gx.data.shape != x.data.shape:
                        raise RuntimeError(f"{type(f).__name__}.backward returned a gradient of shape "
                                           f"{gx.shape} for an input of shape {x.shape}")
                    if gx.data.dtype != x.data.dtype:  # promoted inputs: as PyTorch, each gradient takes
                        gx = _cast(gx, x.data.dtype)  # its input's dtype (differentiably)
                    send(x, gx)
            if not retain_graph:
                f.release()
        for t, g in leaves.values():
            if t.hooks or capture is not None:  # (a plain leaf, the common case, has nothing to visit)
                g = _visit(t, g, capture, captured, add, leaf=True)
            if capture is None:
                t.grad = g if t.grad is None else add(t.grad, g)

    if inputs is None:
        for hook in list(_post_backward_hooks):
            hook([t for t, _ in leaves.values()])
        return None
    for k, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: input {k} (shape {inputs[k].shape}) was not used to compute the "
                               "outputs; pass allow_unused=True")
    return tuple(captured)


def _inspected_backward(f: Function, grads: list, prof):
    """f.backward under the profiler's clock and anomaly mode's checks."""
    arrays = [g.data for g in grads if g is not None]
    if prof is not None:
        prof.synchronize(arrays)
    t0 = time.perf_counter()
    if prof is not None:
        prof.enter_backward()
    try:
        gxs = f.backward(*grads)
    except FloatingPointError as e:
        if not function._anomaly_mode:
            raise
        raise FloatingPointError(f"anomaly: {type(f).__name__} produced NaN or inf in backward ({e})") from e
    finally:
        if prof is not None:
            prof.synchronize(arrays)
            prof.exit_backward(type(f).__name__, time.perf_counter() - t0)
    if function._anomaly_mode:
        outs = gxs if isinstance(gxs, tuple) else (gxs,)
        _check_finite(type(f).__name__, "backward", [g.data for g in outs if g is not None], f.inputs)
    return gxs


def _fill_missing(f: Function, grads: list) -> None:
    """Zeros for the outputs of a multi-output node that received no gradient."""
    for i, g in enumerate(grads):
        if g is None:
            shape, dtype = f.output_meta[i]
            grads[i] = Tensor._make(backend.array_module(f.inputs[0].data).zeros(shape, dtype))


def _visit(t: Tensor, g: Tensor, capture, captured, add, leaf: bool = False) -> Tensor:
    """Run a tensor's hooks on its complete gradient, capture it for mg.grad, keep it if asked."""
    if t.hooks:
        for hook in t.hooks:
            out = hook(g)
            if out is not None:
                g = out
    if capture is not None:
        for k in capture.get(id(t), ()):
            captured[k] = g
    elif t.retains_grad and not leaf:
        t.grad = g if t.grad is None else add(t.grad, g)
    return g


def _positions(inputs: Sequence[Tensor]) -> dict:
    """id(tensor) -> every position it holds in `inputs`: mg.grad(y, [x, x]) answers (g, g), as PyTorch."""
    positions: dict = {}
    for k, t in enumerate(inputs):
        positions.setdefault(id(t), []).append(k)
    return positions


def _nodes_leading_to(roots: Sequence[Tensor], capture: dict) -> set:
    """The Functions on some path from `roots` down to a tensor in `capture` (for mg.grad pruning)."""
    nodes, stack, seen = [], [y.creator for y in roots if y.creator is not None], set()
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        nodes.append(f)
        if f.inputs is not None:
            stack.extend(x.creator for x in f.inputs if x.creator is not None)
    needed = set()
    for f in sorted(nodes, key=lambda f: f.generation):
        if f.inputs is not None and any(id(x) in capture or x.creator in needed for x in f.inputs):
            needed.add(f)
    return needed


def _add_raw(a: Tensor, b: Tensor) -> Tensor:
    return Tensor._make(a.data + b.data)


def _add_graph(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple:
    """d(outputs)/d(inputs) contracted with `grad_outputs`, returned instead of accumulated into .grad."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs]
    for k, x in enumerate(inputs):
        if not x.requires_grad:
            raise RuntimeError(f"grad: input {k} (shape {x.shape}) does not require grad")
    return backward(outputs, list(grad_outputs), retain_graph=create_graph if retain_graph is None else
                    retain_graph, create_graph=create_graph, inputs=inputs, allow_unused=allow_unused)
