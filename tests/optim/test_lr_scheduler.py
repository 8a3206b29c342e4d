"""Learning-rate schedules: values against their closed forms, the cGAN schedule, and resume."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen import optim
from minigen.optim import lr_scheduler as sch


def _sgd(lr=1.0, **kw):
    return optim.SGD([mg.tensor(np.ones(2), requires_grad=True)], lr=lr, **kw)


def _lrs(sched, n):
    """The rate at steps 0..n-1, read from the optimizer's group as training would see it."""
    out = []
    for _ in range(n):
        out.append(sched.optimizer.param_groups[0]["lr"])
        sched.step()
    return out


def test_step_lr():
    s = sch.StepLR(_sgd(), step_size=3, gamma=0.1)
    np.testing.assert_allclose(_lrs(s, 8), [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01], rtol=1e-12)


@given(gamma=st.floats(0.5, 1.0), lr=st.floats(1e-4, 1.0))
def test_exponential_lr(gamma, lr):
    s = sch.ExponentialLR(_sgd(lr), gamma=gamma)
    np.testing.assert_allclose(_lrs(s, 6), [lr * gamma ** t for t in range(6)], rtol=1e-12)
    assert s.get_last_lr() == [s.optimizer.param_groups[0]["lr"]]


def test_lambda_lr_per_group():
    a, b = (mg.tensor(np.ones(1), requires_grad=True) for _ in range(2))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 2.0}], lr=1.0)
    s = sch.LambdaLR(opt, [lambda t: 1 / (t + 1), lambda t: 0.5 ** t])
    for t in range(4):
        assert s.get_last_lr() == pytest.approx([1 / (t + 1), 2.0 * 0.5 ** t])
        s.step()
    with pytest.raises(ValueError, match="2 lr_lambdas for 1 parameter groups"):
        sch.LambdaLR(_sgd(), [abs, abs])


def test_linear_lr_ramps_then_holds():
    s = sch.LinearLR(_sgd(0.5), start_factor=0.2, end_factor=1.0, total_iters=4)
    np.testing.assert_allclose(_lrs(s, 7), [0.1, 0.2, 0.3, 0.4, 0.5, 0.5, 0.5], rtol=1e-12)


def test_cgan_schedule_decays_lr_to_its_floor_and_ramps_momentum():
    opt = _sgd(0.1, momentum=0.5)
    s = sch.ExponentialDecayWithMomentumRamp(opt, decay=1.00004, min_lr=1e-6, momentum_start=0.5,
                                             momentum_end=0.7, ramp_steps=4)
    moms = []
    for t in range(7):
        assert opt.param_groups[0]["lr"] == pytest.approx(0.1 / 1.00004 ** t, rel=1e-12)
        moms.append(opt.param_groups[0]["momentum"])
        s.step()
    np.testing.assert_allclose(moms, [0.5, 0.55, 0.6, 0.65, 0.7, 0.7, 0.7], rtol=1e-12)
    assert s.get_last_momentum() == [opt.param_groups[0]["momentum"]]
    # 0.1 / 1.00004^t reaches 1e-6 after ln(1e5) / ln(1.00004) ~ 287,831 updates, then stays there
    t_floor = math.ceil(math.log(1e5) / math.log(1.00004))
    s.last_epoch = t_floor - 2
    s.step()
    assert s.get_last_lr()[0] > 1e-6
    s.step()
    s.step()
    assert s.get_last_lr() == [1e-6]


@pytest.mark.parametrize("lr,decay,min_lr,m0,m1,ramp", [(0.1, 1.00004, 1e-6, 0.5, 0.7, 250),
                                                        (0.02, 1.00004, 1e-6, 0.5, 0.7, 250),
                                                        (0.3, 1.01, 1e-2, 0.1, 0.95, 37)])
def test_cgan_schedule_is_bit_for_bit_the_papers_formula(lr, decay, min_lr, m0, m1, ramp):
    """At every step t the group holds exactly (==) max(lr / decay ** t, min_lr) and
    m0 + (m1 - m0) * min(t, ramp) / ramp, evaluated in that order (as models/gan/cgan.py's paper schedule
    did by hand; (m1 - m0) * (min(t, ramp) / ramp) differs in the last bit at some steps)."""
    opt = _sgd(lr, momentum=m0)
    s = sch.ExponentialDecayWithMomentumRamp(opt, decay=decay, min_lr=min_lr, momentum_start=m0,
                                             momentum_end=m1, ramp_steps=ramp)
    for t in range(600):
        group = opt.param_groups[0]
        assert group["lr"] == max(lr / decay ** t, min_lr), t
        assert group["momentum"] == m0 + (m1 - m0) * min(t, ramp) / ramp, t
        s.step()


def test_momentum_ramp_order_of_operations_matters():
    """Why the test above compares with ==: the other grouping is a different number at t = 65."""
    assert 0.5 + (0.7 - 0.5) * 65 / 250 != 0.5 + (0.7 - 0.5) * (65 / 250)
    s = sch.ExponentialDecayWithMomentumRamp(_sgd(0.1, momentum=0.5), ramp_steps=250)
    assert s.momentum_at(65) == 0.5 + (0.7 - 0.5) * 65 / 250


def test_linear_decay_to_zero_is_bit_for_bit_one_minus_t_over_total():
    """LinearLR(1 -> 0 over T), the GANs' decay: lr * max(0, 1 - t / T) exactly at every step."""
    opt = _sgd(5e-4)
    s = sch.LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters=5000)
    for t in range(5003):
        assert opt.param_groups[0]["lr"] == 5e-4 * max(0.0, 1 - t / 5000), t
        s.step()


def test_cgan_schedule_drives_adam_beta1_and_refuses_groups_without_momentum():
    opt = optim.Adam([mg.tensor(np.ones(1), requires_grad=True)], lr=0.1, betas=(0.5, 0.999))
    s = sch.ExponentialDecayWithMomentumRamp(opt, ramp_steps=2)
    s.step()
    assert opt.param_groups[0]["betas"] == pytest.approx((0.6, 0.999))

    class NoMomentum(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, dict(lr=0.1))

    with pytest.raises(TypeError, match="no 'momentum' or 'betas'"):
        sch.ExponentialDecayWithMomentumRamp(NoMomentum([mg.tensor(np.ones(1), requires_grad=True)]))


@pytest.mark.parametrize("make", [lambda o: sch.StepLR(o, 2, 0.5), lambda o: sch.ExponentialLR(o, 0.9),
                                  lambda o: sch.LinearLR(o, 0.1, 1.0, 5),
                                  lambda o: sch.LambdaLR(o, lambda t: 1 / (1 + t)),
                                  lambda o: sch.ExponentialDecayWithMomentumRamp(o, decay=1.1, ramp_steps=5)])
def test_state_dict_resume(tmp_path, make):
    a = make(_sgd(0.1, momentum=0.5))
    for _ in range(3):
        a.step()
    mg.save(a, tmp_path / "s.npz")
    b = make(_sgd(0.1, momentum=0.5))
    b.load_state_dict(mg.load(tmp_path / "s.npz"))
    assert "optimizer" not in a.state_dict() and "lr_lambdas" not in a.state_dict()
    for _ in range(4):
        a.step()
        b.step()
        assert b.get_last_lr() == a.get_last_lr()
        assert b.optimizer.param_groups[0]["momentum"] == a.optimizer.param_groups[0]["momentum"]


def test_initial_lr_recorded_and_required_when_resuming_by_last_epoch():
    opt = _sgd(0.3)
    sch.StepLR(opt, 1, 0.5)
    assert opt.param_groups[0]["initial_lr"] == 0.3
    with pytest.raises(KeyError, match="initial_lr"):
        sch.StepLR(_sgd(), 1, last_epoch=5)
    s = sch.StepLR(opt, 1, 0.5, last_epoch=2)
    assert s.get_last_lr() == [0.3 * 0.5 ** 3]
