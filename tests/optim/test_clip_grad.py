"""clip_grad_norm_: the joint norm, the rescaling, and that gradients are replaced, not written."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen.optim import clip_grad_norm_
from minigen.testing import strategies as mst


@given(seed=st.integers(0, 2 ** 31), max_norm=st.floats(0.1, 10.0), norm_type=st.sampled_from([1.0, 2.0, 3.0]))
def test_clips_to_max_norm_jointly(seed, max_norm, norm_type):
    shapes = [(3, 2), (4,), ()]
    grads = [mst.sample_array(seed + k, s) for k, s in enumerate(shapes)]
    params = [mg.tensor(np.zeros(s), requires_grad=True) for s in shapes]
    for p, g in zip(params, grads):
        p.grad = mg.tensor(g)
    originals = [p.grad for p in params]
    total = clip_grad_norm_(params, max_norm, norm_type)
    flat = np.concatenate([g.ravel() for g in grads])
    expected = np.sum(np.abs(flat) ** norm_type) ** (1 / norm_type)
    assert float(total) == pytest.approx(expected, rel=1e-12)
    scale = min(1.0, max_norm / (expected + 1e-6))
    for p, g, orig in zip(params, grads, originals):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=1e-12)
        np.testing.assert_array_equal(orig.numpy(), g)


def test_inf_norm_skips_missing_grads_and_leaves_small_grads_alone():
    a = mg.tensor(np.zeros(3), requires_grad=True)
    b = mg.tensor(np.zeros(2), requires_grad=True)
    a.grad = mg.tensor(np.array([0.1, -0.3, 0.2]))
    same = a.grad
    assert float(clip_grad_norm_([a, b], 1.0, norm_type=float("inf"))) == pytest.approx(0.3)
    assert a.grad is same and b.grad is None
    assert float(clip_grad_norm_(a, 0.15, norm_type="inf")) == pytest.approx(0.3)
    np.testing.assert_allclose(a.grad.numpy(), np.array([0.1, -0.3, 0.2]) * 0.15 / (0.3 + 1e-6))
    assert float(clip_grad_norm_([b], 1.0)) == 0.0
