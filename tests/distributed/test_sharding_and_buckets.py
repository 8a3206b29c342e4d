"""The pieces of data parallelism that need no MPI: shards, sharded random draws, gradient buckets, the
engine's post-backward hook. (tests/distributed/test_data_parallel.py runs them in 2 processes.)"""
import numpy as np
import pytest

import minigen as mg
from minigen import engine
from minigen.distributed.gradients import GradientAverager
from minigen.distributed.sharding import ShardError, ShardedGenerator, shard_batch


@pytest.mark.parametrize("world", [2, 3])
def test_sharded_draws_are_the_rows_of_one_processs_draw(world):
    whole = np.random.default_rng(7)
    views = [ShardedGenerator(np.random.default_rng(7), r, world) for r in range(world)]
    for draw in (lambda g, m: g.standard_normal((m, 3), dtype=np.float32), lambda g, m: g.random(m),
                 lambda g, m: g.integers(0, 10, size=m), lambda g, m: g.uniform(-1, 1, size=(m, 2))):
        expected = draw(whole, 4 * world)
        parts = [draw(v, 4) for v in views]
        for r, part in enumerate(parts):
            np.testing.assert_array_equal(part, expected[r::world])
    scalars = {int(v.integers(100)) for v in views}  # a scalar draw is the same everywhere
    assert scalars == {int(whole.integers(100))}
    assert all(v.bit_generator.state == whole.bit_generator.state for v in views)  # still in sync


def test_shards_are_strided_rows_and_uneven_batches_are_refused():
    x, y = mg.arange(12).reshape(6, 2), mg.arange(6)
    sx, sy = shard_batch((x, y), 1, 3, step=0)
    np.testing.assert_array_equal(sy.numpy(), [1, 4])
    np.testing.assert_array_equal(sx.numpy(), x.numpy()[1::3])
    with pytest.raises(ShardError, match="step 5 holds 6 examples, which 4 ranks"):
        shard_batch(x, 0, 4, step=5)


class _TwoRanks:
    """A communicator standing for 2 ranks whose other rank holds `other` (added by all_reduce)."""

    world_size = 2

    def __init__(self, other: dict):
        self.other, self.messages = other, []

    def all_reduce(self, a, op="sum", kind="other"):
        self.messages.append(a.size)
        a += self.other.pop(0)
        return a


@pytest.mark.parametrize("bucket_bytes,messages", [(0, 4), (10**6, 3)])
def test_gradients_are_averaged_in_buckets(bucket_bytes, messages):
    params = [mg.randn(3, 2, requires_grad=True), mg.randn(4, requires_grad=True),
              mg.randn(2, dtype=mg.float64, requires_grad=True), mg.randn(5, requires_grad=True)]
    grads = [np.random.default_rng(k).standard_normal(p.shape).astype(p.numpy().dtype)
             for k, p in enumerate(params)]
    others = [g * 3 for g in grads]
    averager = GradientAverager(None, params, bucket_bytes)
    for p, g in zip(params, grads):
        p.grad = mg.tensor(g)
    plan = averager.buckets(params)
    assert [len(b) for b in plan] == ([1, 1, 1, 1] if bucket_bytes == 0 else [2, 1, 1])  # float64 alone
    flat_others = [np.concatenate([o.ravel() for o in others[i:j]]) for i, j in
                   ([(0, 1), (1, 2), (2, 3), (3, 4)] if bucket_bytes == 0 else [(0, 2), (2, 3), (3, 4)])]
    averager.comm = _TwoRanks(flat_others)
    kept = [g.copy() for g in grads]
    averager(list(reversed(params)))  # the engine's order does not matter: the parameters' order is used
    assert len(averager.comm.messages) == messages
    for p, g, o in zip(params, kept, others):
        np.testing.assert_allclose(p.grad.numpy(), (g + o) / 2, rtol=1e-6)
        assert p.grad.dtype == p.dtype
    for g, k in zip(grads, kept):  # the old gradient arrays are not written
        np.testing.assert_array_equal(g, k)


def test_post_backward_hook_sees_the_leaves_of_backward_not_of_grad():
    seen = []
    handle = engine.register_post_backward_hook(lambda leaves: seen.append(len(leaves)))
    try:
        a, b = mg.randn(3, requires_grad=True), mg.randn(3, requires_grad=True)
        (a * b).sum().backward()
        mg.grad((a * a).sum(), [a])
    finally:
        handle.remove()
    (a * b).sum().backward()
    assert seen == [2]
