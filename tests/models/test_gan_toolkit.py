"""The GAN toolkit: losses against NumPy, the gradient penalty (value, per-example interpolation, gradcheck
through double backward), weight clipping, the alternating update with n_critic, the resumable toy stream."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
import minigen.models as models
from minigen import nn
from minigen.models import gan_toolkit as gt
from minigen.testing import gradcheck
from minigen.testing import strategies as mst


def _np_softplus(a):
    return np.logaddexp(0, a)


NUMPY_D = {
    "minimax": lambda r, f: _np_softplus(-r).mean() + _np_softplus(f).mean(),
    "non-saturating": lambda r, f: _np_softplus(-r).mean() + _np_softplus(f).mean(),
    "wasserstein": lambda r, f: f.mean() - r.mean(),
    "hinge": lambda r, f: np.maximum(1 - r, 0).mean() + np.maximum(1 + f, 0).mean(),
}
NUMPY_G = {
    "minimax": lambda f: np.log(1 - 1 / (1 + np.exp(-f))).mean(),
    "non-saturating": lambda f: -np.log(1 / (1 + np.exp(-f))).mean(),
    "wasserstein": lambda f: -f.mean(),
    "hinge": lambda f: -f.mean(),
}


@given(kind=st.sampled_from(gt.LOSSES), real=mst.arrays(shape=mst.shapes(1, 1, 1, 6), domain="nonzero"),
       fake=mst.arrays(shape=mst.shapes(1, 1, 1, 6), domain="nonzero"))
def test_losses_match_numpy(kind, real, fake):
    d = gt.discriminator_loss(kind, mg.tensor(real), mg.tensor(fake)).item()
    g = gt.generator_loss(kind, mg.tensor(fake)).item()
    np.testing.assert_allclose(d, NUMPY_D[kind](real, fake), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, NUMPY_G[kind](fake), rtol=1e-10, atol=1e-12)


def test_minimax_generator_gradient_saturates_where_non_saturating_does_not():
    """d/dl log(1 - s(l)) = -s(l) -> 0 when D rejects (l << 0); d/dl -log s(l) = s(l) - 1 -> -1."""
    logits = mg.tensor(np.array([-8.0, -6.0]), requires_grad=True)
    (g_mm,) = mg.grad(gt.generator_loss("minimax", logits), [logits])
    (g_ns,) = mg.grad(gt.generator_loss("non-saturating", logits), [logits])
    assert np.abs(g_mm.numpy()).max() < 2e-3
    assert np.abs(g_ns.numpy()).min() > 0.49  # (1 - s(l)) / 2 with the mean over 2


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        gt.discriminator_loss("kl", mg.zeros(2), mg.zeros(2))


def test_gradient_penalty_interpolates_per_example_and_norms_over_all_axes():
    """For f(x) = 0.5 ||x||^2 the gradient at x_hat is x_hat itself: the penalty is checkable in NumPy."""
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((4, 1, 2, 3)), rng.standard_normal((4, 1, 2, 3))
    alpha = rng.random(4)
    critic = lambda x: 0.5 * (x * x).flatten(1).sum(axis=1)
    gp = gt.gradient_penalty(critic, mg.tensor(real), mg.tensor(fake), 10.0, alpha=mg.tensor(alpha)).item()
    x_hat = alpha[:, None, None, None] * real + (1 - alpha[:, None, None, None]) * fake
    norms = np.sqrt((x_hat.reshape(4, -1) ** 2).sum(1))
    np.testing.assert_allclose(gp, 10 * ((norms - 1) ** 2).mean(), rtol=1e-9)


def test_gradient_penalty_draws_one_weight_per_example():
    """With real == fake + c (constant shift) and a linear-in-alpha check: x_hat - fake = alpha_i c must be
    a per-example multiple of c, which fails for per-pixel weights."""
    mg.manual_seed(3)
    seen = {}

    def critic(x):
        seen["x_hat"] = x.numpy().copy()
        return x.flatten(1).sum(axis=1)

    fake = np.zeros((5, 1, 3, 3))
    real = np.ones((5, 1, 3, 3))
    gt.gradient_penalty(critic, mg.tensor(real), mg.tensor(fake))
    per_example = seen["x_hat"].reshape(5, -1)
    assert np.allclose(per_example, per_example[:, :1])
    assert len(np.unique(per_example[:, 0])) == 5


def test_gradient_penalty_gradient_matches_finite_differences():
    """d penalty / d critic weights goes through mg.grad(create_graph=True): double backward, gradcheck'd."""
    rng = np.random.default_rng(1)
    real = mg.tensor(rng.standard_normal((3, 2, 2)))
    fake = mg.tensor(rng.standard_normal((3, 2, 2)))
    alpha = mg.tensor(rng.random(3))
    w1 = mg.tensor(rng.standard_normal((4, 5)) * 0.7, requires_grad=True)
    b1 = mg.tensor(rng.standard_normal(5) * 0.3, requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((5, 1)) * 0.7, requires_grad=True)

    def penalty(w1, b1, w2):
        critic = lambda x: ((x.flatten(1) @ w1 + b1).tanh() @ w2).reshape(x.shape[0])
        return gt.gradient_penalty(critic, real, fake, 10.0, alpha=alpha)

    assert gradcheck(penalty, [w1, b1, w2], eps=1e-6, atol=1e-6, rtol=1e-4)


def test_clip_weights_bounds_every_parameter():
    mg.manual_seed(0)
    layer = nn.Linear(6, 5)
    layer.weight.data = layer.weight.data * 100
    before = layer.bias.numpy().copy()
    gt.clip_weights_(layer, 0.01)
    assert np.abs(layer.weight.numpy()).max() <= 0.01
    np.testing.assert_allclose(layer.bias.numpy(), np.clip(before, -0.01, 0.01))


class _Counting:
    """An optimizer wrapper that counts steps."""

    def __init__(self, opt):
        self.opt, self.steps, self.param_groups = opt, 0, opt.param_groups

    def zero_grad(self):
        self.opt.zero_grad()

    def step(self):
        self.steps += 1
        self.opt.step()


def test_train_step_runs_n_critic_discriminator_updates_per_generator_update():
    mg.manual_seed(0)
    model = models.create("wgan-gp", data="ring8", batch_size=8, n_critic=3, g_hidden=[8], d_hidden=[8], z_dim=2)
    opt_g, opt_d = (_Counting(o) for o in model.configure_optimizers())
    loader = model.loader("train")
    batch = next(iter(loader))
    assert batch[0].shape == (24, 2)
    logs = model.train_step(batch, [opt_g, opt_d])
    assert (opt_d.steps, opt_g.steps) == (3, 1)
    assert {"d_loss", "g_loss", "gp", "g_grad_norm"} <= set(logs)


def test_generator_step_leaves_discriminator_gradients_alone():
    mg.manual_seed(0)
    model = models.create("gan", data="ring8", batch_size=8, g_hidden=[8], d_hidden=[8], z_dim=2)
    opt_g, _ = model.configure_optimizers()
    for p in model.discriminator.parameters():
        p.grad = None
    model.generator_step(8, None, opt_g)
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())


def test_toy_stream_resumes_exactly():
    a = gt.ToyStream("grid25", 16, seed=5)
    it = iter(a)
    next(it), next(it)
    state = a.state_dict()
    expected = next(it)[0].numpy()
    b = gt.ToyStream("grid25", 16, seed=5)
    b.load_state_dict(state)
    np.testing.assert_array_equal(next(iter(b))[0].numpy(), expected)
    assert not np.array_equal(next(iter(gt.ToyStream("grid25", 16, seed=6)))[0].numpy(), expected)


def test_linear_learning_rate_decay_reaches_zero():
    model = models.create("wgan-gp", data="ring8", decay_steps=4, lr=1e-3, g_hidden=[8], d_hidden=[8])
    opts = model.configure_optimizers()
    for t, factor in ((0, 1.0), (2, 0.5), (4, 0.0), (9, 0.0)):
        model.schedule(opts, t)
        assert all(g["lr"] == pytest.approx(1e-3 * factor) for o in opts for g in o.param_groups)
    batch = next(iter(model.loader("train")))
    model.train_step(batch, opts)
    assert int(model.steps_done.numpy()) == 1
