"""SGD, Adam and RMSprop against plain-NumPy references of their published update rules, plus the
Optimizer protocol: param groups, zero_grad, gradient aliasing, dtype, errors, and exact resume."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen import optim
from minigen.autograd import Tensor

STEPS = 6


# ------------------------------------------------------------------------------ NumPy references

def sgd_reference(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    """Sutskever et al. (2013) momentum as PyTorch states it; Nesterov as g + momentum * b."""
    buf = None
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
    return p


def adam_reference(p, grads, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    """Kingma & Ba (2015), Algorithm 1 (bias-corrected m_hat, v_hat); AMSGrad (Reddi et al., 2018) keeps
    the running maximum of v and bias-corrects it like v."""
    b1, b2 = betas
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    v_max = np.zeros_like(p)
    for t, g in enumerate(grads, start=1):
        g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - b1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return p


def rmsprop_reference(p, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """Tieleman & Hinton (2012); centered as Graves (2013), eq. 38-40; momentum on the scaled step."""
    s = np.zeros_like(p)
    a = np.zeros_like(p)
    buf = np.zeros_like(p)
    for g in grads:
        g = g + weight_decay * p
        s = alpha * s + (1 - alpha) * g ** 2
        a = alpha * a + (1 - alpha) * g
        scale = np.sqrt(s - a ** 2 if centered else s) + eps
        if momentum:
            buf = momentum * buf + g / scale
            p = p - lr * buf
        else:
            p = p - lr * g / scale
    return p


# ---------------------------------------------------------------------------------------- helpers

def run(opt_cls, p0, grads, **hyper):
    """Apply `grads` one per step through the optimizer; return the final values."""
    p = mg.tensor(p0, requires_grad=True)
    opt = opt_cls([p], **hyper)
    for g in grads:
        opt.zero_grad()
        p.grad = mg.tensor(g)
        opt.step()
    return p.numpy()


def problem(seed, shape=(3, 2), steps=STEPS, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape).astype(dtype), [rng.standard_normal(shape).astype(dtype)
                                                       for _ in range(steps)]


seeds = st.integers(0, 2 ** 31)


# ---------------------------------------------------------------------------------- update rules

@given(seed=seeds, lr=st.floats(1e-3, 0.5), momentum=st.sampled_from([0.0, 0.5, 0.9]),
       dampening=st.sampled_from([0.0, 0.3]), weight_decay=st.sampled_from([0.0, 0.01]))
def test_sgd_matches_reference(seed, lr, momentum, dampening, weight_decay):
    p0, grads = problem(seed)
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    np.testing.assert_allclose(run(optim.SGD, p0, grads, **hyper), sgd_reference(p0, grads, **hyper),
                               rtol=1e-12, atol=1e-12)


@given(seed=seeds, lr=st.floats(1e-3, 0.5), momentum=st.sampled_from([0.5, 0.9]),
       weight_decay=st.sampled_from([0.0, 0.01]))
def test_sgd_nesterov_matches_reference(seed, lr, momentum, weight_decay):
    p0, grads = problem(seed)
    hyper = dict(lr=lr, momentum=momentum, nesterov=True, weight_decay=weight_decay)
    got = run(optim.SGD, p0, grads, **hyper)
    np.testing.assert_allclose(got, sgd_reference(p0, grads, **hyper), rtol=1e-12, atol=1e-12)
    plain = sgd_reference(p0, grads, lr=lr, momentum=momentum, weight_decay=weight_decay)
    assert not np.allclose(got, plain)


@given(seed=seeds, lr=st.floats(1e-4, 0.1), b1=st.sampled_from([0.0, 0.5, 0.9]),
       b2=st.sampled_from([0.9, 0.999]), eps=st.sampled_from([1e-8, 1e-3]),
       weight_decay=st.sampled_from([0.0, 0.1]), amsgrad=st.booleans())
def test_adam_matches_reference(seed, lr, b1, b2, eps, weight_decay, amsgrad):
    p0, grads = problem(seed)
    hyper = dict(lr=lr, betas=(b1, b2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    np.testing.assert_allclose(run(optim.Adam, p0, grads, **hyper), adam_reference(p0, grads, **hyper),
                               rtol=1e-10, atol=1e-12)


def test_amsgrad_differs_from_adam_when_gradients_shrink():
    p0 = np.zeros(4)
    grads = [np.full(4, 10.0), np.full(4, 0.1), np.full(4, 0.1)]
    a = run(optim.Adam, p0, grads, lr=0.1)
    b = run(optim.Adam, p0, grads, lr=0.1, amsgrad=True)
    np.testing.assert_allclose(b, adam_reference(p0, grads, lr=0.1, amsgrad=True), rtol=1e-12)
    assert np.all(np.abs(p0 - b) < np.abs(p0 - a))


def test_adam_first_step_moves_each_coordinate_by_lr():
    """Bias correction makes the first step lr * g / |g| (up to eps), whatever the gradient's scale."""
    p0 = np.zeros(5)
    g = np.array([1e-3, -2.0, 50.0, -0.1, 7.0])
    got = run(optim.Adam, p0, [g], lr=0.01)
    np.testing.assert_allclose(got, -0.01 * np.sign(g), rtol=1e-4)


@given(seed=seeds, lr=st.floats(1e-4, 0.1), alpha=st.sampled_from([0.9, 0.99]),
       momentum=st.sampled_from([0.0, 0.9]), centered=st.booleans(),
       weight_decay=st.sampled_from([0.0, 0.05]))
def test_rmsprop_matches_reference(seed, lr, alpha, momentum, centered, weight_decay):
    p0, grads = problem(seed)
    hyper = dict(lr=lr, alpha=alpha, momentum=momentum, centered=centered, weight_decay=weight_decay)
    np.testing.assert_allclose(run(optim.RMSprop, p0, grads, **hyper),
                               rmsprop_reference(p0, grads, **hyper), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps, lr=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.01, centered=True, momentum=0.5)])
def test_minimizes_a_quadratic_through_backward(make):
    target = np.array([1.0, -2.0, 3.0], np.float32)
    x = mg.zeros(3, requires_grad=True)
    opt = make([x])
    for _ in range(300):
        opt.zero_grad()
        ((x - mg.tensor(target)) ** 2).sum().backward()
        opt.step()
    assert x.dtype == np.float32
    np.testing.assert_allclose(x.numpy(), target, atol=0.05)


# ------------------------------------------------------------------------------------- protocol

@pytest.mark.parametrize("opt_cls, hyper", [(optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
                                            (optim.Adam, dict(weight_decay=0.1, amsgrad=True)),
                                            (optim.RMSprop, dict(centered=True, momentum=0.9))])
def test_aliased_gradients_are_never_written(opt_cls, hyper):
    g = mg.tensor(np.array([0.5, -1.0, 2.0]))
    before = g.numpy().copy()
    a = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    opt = opt_cls([a, b], **hyper)
    for _ in range(3):
        a.grad = b.grad = g
        opt.step()
    np.testing.assert_array_equal(g.numpy(), before)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_param_groups_defaults_and_per_group_hyperparameters():
    p0, grads = problem(1, steps=3)
    a = mg.tensor(p0, requires_grad=True)
    b = mg.tensor(p0, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)
    for g in grads:
        a.grad, b.grad = mg.tensor(g), mg.tensor(g)
        opt.step()
    np.testing.assert_allclose(a.numpy(), sgd_reference(p0, grads, 0.1, 0.9), rtol=1e-12)
    np.testing.assert_allclose(b.numpy(), sgd_reference(p0, grads, 0.5, 0.9), rtol=1e-12)


def test_zero_grad_and_skipping_parameters_without_gradient():
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = mg.tensor(np.ones(2))
    opt.step()
    np.testing.assert_array_equal(b.numpy(), np.ones(2))
    assert b not in opt.state and opt.state[a]["step"] == 1
    opt.zero_grad()
    assert a.grad is None
    a.grad = mg.tensor(np.ones(2))
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(2))


def test_errors_name_the_problem():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([p], lr=-1.0)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    p.grad = mg.tensor(np.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        optim.SGD([p], lr=0.1).step()


def test_step_with_closure_returns_the_loss():
    x = mg.tensor(np.array([2.0]), requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(x.numpy(), [1.0])


# -------------------------------------------------------------------------------------- resume

CONFIGS = [(optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)),
           (optim.SGD, dict(lr=0.05, momentum=0.5, dampening=0.1)),
           (optim.Adam, dict(lr=0.01, betas=(0.8, 0.99), weight_decay=1e-3)),
           (optim.Adam, dict(lr=0.01, amsgrad=True)),
           (optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
           (optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.9)),
           (optim.RMSprop, dict(lr=0.01, alpha=0.9, weight_decay=1e-2))]


def _fake_grad(p: Tensor, k: int, t: int) -> Tensor:
    """A gradient that depends on the parameter's value and on the step (so state matters)."""
    noise = np.random.default_rng([k, t]).standard_normal(p.shape).astype(p.dtype)
    return mg.tensor(p.numpy() * 0.5 + noise)


def _train(params, opt, sched, steps, start=0):
    for t in range(start, start + steps):
        opt.zero_grad()
        for k, p in enumerate(params):
            p.grad = _fake_grad(p, k, t)
        opt.step()
        sched.step()


@pytest.mark.parametrize("opt_cls, hyper", CONFIGS)
def test_resume_from_a_saved_state_dict_is_bit_exact(tmp_path, opt_cls, hyper):
    rng = np.random.default_rng(0)
    init = [rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(3).astype(np.float32)]

    def build():
        ps = [mg.tensor(a, requires_grad=True) for a in init]
        opt = opt_cls([{"params": ps[:1]}, {"params": ps[1:], "lr": hyper["lr"] / 2}], **hyper)
        return ps, opt, optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)

    ps, opt, sched = build()
    _train(ps, opt, sched, 20)

    qs, opt2, sched2 = build()
    _train(qs, opt2, sched2, 10)
    mg.save({"params": {str(k): q for k, q in enumerate(qs)}, "optimizer": opt2, "scheduler": sched2},
            tmp_path / "ckpt.npz")
    ck = mg.load(tmp_path / "ckpt.npz")
    rs, opt3, sched3 = build()
    for k, r in enumerate(rs):
        r.data = ck["params"][str(k)].numpy()
    opt3.load_state_dict(ck["optimizer"])
    sched3.load_state_dict(ck["scheduler"])
    _train(rs, opt3, sched3, 10, start=10)

    for p, r in zip(ps, rs):
        assert r.dtype == p.dtype
        np.testing.assert_array_equal(r.numpy(), p.numpy())
    assert opt3.param_groups[1]["lr"] == opt.param_groups[1]["lr"]
    if opt_cls is optim.Adam:
        assert isinstance(opt3.param_groups[0]["betas"], tuple)


def test_state_dict_is_a_snapshot_and_numbers_params_by_position():
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    a.grad, b.grad = mg.tensor(np.ones(2)), mg.tensor(np.ones(3))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["state"][1]["exp_avg"].shape == (3,)
    saved = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], saved)
    assert sd["state"][0]["step"] == 1


def test_load_state_dict_rejects_a_different_layout():
    a = mg.tensor(np.ones(2), requires_grad=True)
    b = mg.tensor(np.ones(3), requires_grad=True)
    sd = optim.SGD([a, b], lr=0.1).state_dict()
    with pytest.raises(ValueError, match="group 0 holds 2 parameters"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="state dict has 1 parameter groups, the optimizer has 2"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)


@pytest.mark.gpu
@pytest.mark.parametrize("opt_cls, hyper", CONFIGS)
def test_gpu_update_matches_cpu(opt_cls, hyper):
    p0, grads = problem(3, shape=(5, 4), dtype=np.float32)
    cpu = run(opt_cls, p0, grads, **hyper)
    p = mg.tensor(p0, requires_grad=True, device="cuda")
    opt = opt_cls([p], **hyper)
    for g in grads:
        p.grad = mg.tensor(g, device="cuda")
        opt.step()
    assert p.device == "cuda"
    np.testing.assert_allclose(p.numpy(), cpu, rtol=1e-5, atol=1e-6)
    sd = opt.state_dict()
    q = mg.tensor(p0, requires_grad=True)
    opt_cpu = opt_cls([q], **hyper)
    opt_cpu.load_state_dict(sd)
    assert all(mg.backend.device_of(v) == "cpu" for v in opt_cpu.state[q].values() if hasattr(v, "shape"))


def test_numpy_scalar_hyperparameters_keep_float32_state():
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=np.float64(0.1), momentum=np.float64(0.9), weight_decay=np.float64(0.01))
    opt2 = optim.Adam([mg.tensor(np.ones(3, np.float32), requires_grad=True)], betas=np.array([0.8, 0.9]))
    for _ in range(2):
        p.grad = mg.tensor(np.ones(3, np.float32))
        opt.step()
    assert p.dtype == np.float32 and opt.state[p]["momentum_buffer"].dtype == np.float32
    assert type(opt.param_groups[0]["lr"]) is float and opt2.param_groups[0]["betas"] == (0.8, 0.9)
