"""Long training loops do not leak: graphs are freed by reference counting alone (no cycles), so the
number of live Tensors and Functions and the process's resident memory stay flat."""
import gc
import os

import numpy as np

import minigen as mg
import minigen.functional as F
from minigen.autograd import Function

STEPS, EARLY = 2000, 100


def _live_objects() -> int:
    return sum(isinstance(o, (mg.Tensor, Function)) for o in gc.get_objects())


def _engine_objects_in_cycles() -> int:
    """Tensors and Functions that only the cycle collector could free (found with DEBUG_SAVEALL)."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        return sum(isinstance(o, (mg.Tensor, Function)) for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _forward(x, params):
    w1, b1, w2, b2 = params
    return F.linear(F.linear(x, w1, b1).tanh(), w2, b2)


def test_training_loop_keeps_live_tensors_and_memory_flat():
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((64, 16)).astype(np.float32))
    target = mg.tensor(np.sin(x.numpy().sum(axis=1, keepdims=True)))
    params = [mg.tensor(rng.standard_normal(s).astype(np.float32) * 0.3, requires_grad=True)
              for s in [(32, 16), (32,), (1, 32), (1,)]]
    losses, counts, rss = [], {}, {}
    gc.collect()
    gc.disable()
    try:
        for step in range(1, STEPS + 1):
            loss = F.mse_loss(_forward(x, params), target)
            loss.backward()
            for p in params:
                p.data -= 0.05 * p.grad.data
                p.grad = None
            losses.append(loss.item())
            _forward(x, params).sum().item()  # a graph that is built but never backpropagated
            if step in (EARLY, STEPS):
                del loss
                counts[step] = _live_objects()  # no collection: anything left alive here is not in a cycle
                rss[step] = _rss_bytes()
        cyclic = _engine_objects_in_cycles()
    finally:
        gc.enable()
    assert counts[STEPS] == counts[EARLY], counts
    assert cyclic == 0, f"{cyclic} Tensors/Functions were only freed by the cycle collector"
    assert rss[STEPS] - rss[EARLY] < 4 * 2**20, rss
    assert losses[-1] < 0.5 * losses[0]


def test_dropping_the_output_frees_a_graph_that_was_never_backpropagated():
    x = mg.tensor(np.ones((4, 4)), requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        before = _live_objects()
        y = x
        for _ in range(100):
            y = (y * 1.01).tanh() + x
        assert _live_objects() > before + 100
        del y
        assert _live_objects() == before
    finally:
        gc.enable()
