"""models/gan/losses.py: the losses against NumPy, the gradient penalty (value, per-example interpolation,
gradcheck through double backward), weight clipping, the gradient norm."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigen as mg
from minigen import nn
from minigen.models.gan import losses
from minigen.testing import gradcheck
from minigen.testing import strategies as mst


def _np_softplus(a):
    return np.logaddexp(0, a)


NUMPY_D = {
    "minimax": lambda r, f: _np_softplus(-r).mean() + _np_softplus(f).mean(),
    "non-saturating": lambda r, f: _np_softplus(-r).mean() + _np_softplus(f).mean(),
    "wasserstein": lambda r, f: f.mean() - r.mean(),
    "hinge": lambda r, f: np.maximum(1 - r, 0).mean() + np.maximum(1 + f, 0).mean(),
    "least-squares": lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(),
}
NUMPY_G = {
    "minimax": lambda f: np.log(1 - 1 / (1 + np.exp(-f))).mean(),
    "non-saturating": lambda f: -np.log(1 / (1 + np.exp(-f))).mean(),
    "wasserstein": lambda f: -f.mean(),
    "hinge": lambda f: -f.mean(),
    "least-squares": lambda f: 0.5 * ((f - 1) ** 2).mean(),
}


@given(kind=st.sampled_from(losses.LOSSES), real=mst.arrays(shape=mst.shapes(1, 1, 1, 6), domain="nonzero"),
       fake=mst.arrays(shape=mst.shapes(1, 1, 1, 6), domain="nonzero"))
def test_losses_match_numpy(kind, real, fake):
    d = losses.discriminator_loss(kind, mg.tensor(real), mg.tensor(fake)).item()
    g = losses.generator_loss(kind, mg.tensor(fake)).item()
    np.testing.assert_allclose(d, NUMPY_D[kind](real, fake), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, NUMPY_G[kind](fake), rtol=1e-10, atol=1e-12)


def test_minimax_generator_gradient_saturates_where_non_saturating_does_not():
    """d/dl log(1 - s(l)) = -s(l) -> 0 when D rejects (l << 0); d/dl -log s(l) = s(l) - 1 -> -1."""
    logits = mg.tensor(np.array([-8.0, -6.0]), requires_grad=True)
    (g_mm,) = mg.grad(losses.generator_loss("minimax", logits), [logits])
    (g_ns,) = mg.grad(losses.generator_loss("non-saturating", logits), [logits])
    assert np.abs(g_mm.numpy()).max() < 2e-3
    assert np.abs(g_ns.numpy()).min() > 0.49  # (1 - s(l)) / 2 with the mean over 2


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        losses.discriminator_loss("kl", mg.zeros(2), mg.zeros(2))


def test_gradient_penalty_interpolates_per_example_and_norms_over_all_axes():
    """For f(x) = 0.5 ||x||^2 the gradient at x_hat is x_hat itself: the penalty is checkable in NumPy."""
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((4, 1, 2, 3)), rng.standard_normal((4, 1, 2, 3))
    alpha = rng.random(4)
    critic = lambda x: 0.5 * (x * x).flatten(1).sum(axis=1)
    gp = losses.gradient_penalty(critic, mg.tensor(real), mg.tensor(fake), 10.0, alpha=mg.tensor(alpha)).item()
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
    losses.gradient_penalty(critic, mg.tensor(real), mg.tensor(fake))
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
        return losses.gradient_penalty(critic, real, fake, 10.0, alpha=alpha)

    assert gradcheck(penalty, [w1, b1, w2], eps=1e-6, atol=1e-6, rtol=1e-4)


def test_clip_weights_bounds_every_parameter():
    mg.manual_seed(0)
    layer = nn.Linear(6, 5)
    layer.weight.data = layer.weight.data * 100
    before = layer.bias.numpy().copy()
    losses.clip_weights_(layer, 0.01)
    assert np.abs(layer.weight.numpy()).max() <= 0.01
    np.testing.assert_allclose(layer.bias.numpy(), np.clip(before, -0.01, 0.01))


def test_grad_norm_is_the_global_l2_norm_and_skips_missing_gradients():
    a = mg.tensor(np.array([3.0, 0.0]), requires_grad=True)
    b = mg.tensor(np.array([[4.0]]), requires_grad=True)
    c = mg.tensor(np.array([1.0]), requires_grad=True)
    (a * a * 0.5).sum().backward()
    (b * 4.0).sum().backward()
    assert c.grad is None
    assert losses.grad_norm([a, b, c]) == pytest.approx(5.0)
