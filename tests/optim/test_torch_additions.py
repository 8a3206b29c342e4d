"""AdamW and CosineAnnealingLR against their published rules and against torch.optim step for step;
nn.utils.clip_grad_norm_ is optim's."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen import nn, optim
from minigen.optim.lr_scheduler import CosineAnnealingLR


def adamw_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
    """Loshchilov & Hutter (2019), Algorithm 2 with PyTorch's schedule multiplier 1: the decay acts on p,
    never enters the moments."""
    b1, b2 = betas
    m, v, v_max = np.zeros_like(p), np.zeros_like(p), np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        p = p * (1 - lr * weight_decay)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v_hat) + eps)
    return p


def _run(opt_cls, p0, grads, **hyper):
    p = mg.tensor(p0, requires_grad=True)
    opt = opt_cls([p], **hyper)
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
    return p.numpy()


@given(seed=st.integers(0, 2**31), lr=st.floats(1e-4, 0.1), weight_decay=st.sampled_from([0.0, 0.01, 0.5]),
       amsgrad=st.booleans())
def test_adamw_matches_the_decoupled_rule(seed, lr, weight_decay, amsgrad):
    rng = np.random.default_rng(seed)
    p0, grads = rng.standard_normal((3, 2)), [rng.standard_normal((3, 2)) for _ in range(6)]
    hyper = dict(lr=lr, weight_decay=weight_decay, amsgrad=amsgrad)
    np.testing.assert_allclose(_run(optim.AdamW, p0, grads, **hyper), adamw_reference(p0, grads, **hyper),
                               rtol=1e-10, atol=1e-12)
    if weight_decay:  # decoupled: not Adam's L2 rule (which differs by ~lr * weight_decay: 1e-6 at the least
        # here, so the tolerance of the check above, not allclose's default 1e-5, tells the two apart)
        assert not np.allclose(_run(optim.AdamW, p0, grads, **hyper), _run(optim.Adam, p0, grads, **hyper),
                               rtol=1e-10, atol=1e-12)


def test_adamw_and_cosine_annealing_match_torch_step_for_step():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0, grads = rng.standard_normal(5), [rng.standard_normal(5) for _ in range(12)]
    p = mg.tensor(p0, requires_grad=True)
    q = torch.tensor(p0, requires_grad=True)
    ours = optim.AdamW([p], lr=0.1, betas=(0.8, 0.99), weight_decay=0.3)
    theirs = torch.optim.AdamW([q], lr=0.1, betas=(0.8, 0.99), weight_decay=0.3)
    s_ours = CosineAnnealingLR(ours, T_max=5, eta_min=0.01)
    s_theirs = torch.optim.lr_scheduler.CosineAnnealingLR(theirs, T_max=5, eta_min=0.01)
    for g in grads:  # 12 steps: past T_max, where the cosine rises again
        p.grad, q.grad = mg.tensor(g), torch.tensor(g)
        ours.step()
        theirs.step()
        s_ours.step()
        s_theirs.step()
        assert s_ours.get_last_lr() == pytest.approx(s_theirs.get_last_lr(), rel=1e-12)
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_cosine_annealing_closed_form_and_resume():
    p = mg.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=4)
    rates = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        sched.step()
        rates.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(rates, [(1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)], atol=1e-15)
    assert rates[-1] == pytest.approx(0.0, abs=1e-15)
    state = sched.state_dict()
    opt2 = optim.SGD([p], lr=1.0)
    opt2.param_groups[0]["initial_lr"] = 1.0
    sched2 = CosineAnnealingLR(opt2, T_max=4, last_epoch=3)
    sched2.load_state_dict(state)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr()
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be positive, got 0"):
        CosineAnnealingLR(opt, T_max=0)


def test_nn_utils_names():
    assert nn.utils.clip_grad_norm_ is optim.clip_grad_norm_
    assert nn.utils.spectral_norm is nn.spectral_norm
    p = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    p.grad = mg.tensor(np.array([3.0, 4.0]))
    total = nn.utils.clip_grad_norm_([p], 1.0)
    assert float(total) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8], rtol=1e-6)
