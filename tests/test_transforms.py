"""minigen.distributions' transforms and TransformedDistribution: inverse(forward(x)) == x in float64,
log_abs_det_jacobian against log |det J| of the engine's own full Jacobian (tests/flow_checks.py), over
hypothesis-drawn shapes and parameters; the change of variables against SciPy and a numerical integral."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st
from scipy import integrate, stats

import minigen as mg
from minigen import distributions as D
from flow_checks import check_bijection, full_jacobian

shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)
seeds = st.integers(0, 2**16)


def t64(a, requires_grad=False):
    return mg.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


@given(shapes, seeds, st.booleans(), st.integers(0, 1))
def test_affine_transform(shape, seed, tensor_params, event_dim):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if tensor_params:
        scale = rng.uniform(0.3, 2.0, shape[-1:]) * rng.choice([-1, 1], shape[-1:])
        t = D.AffineTransform(t64(rng.standard_normal(shape[-1:])), t64(scale), event_dim=event_dim)
    else:
        t = D.AffineTransform(float(rng.standard_normal()), float(rng.uniform(-2, -0.3)), event_dim=event_dim)
    check_bijection(t, x)


@given(shapes, seeds)
def test_exp_transform(shape, seed):
    check_bijection(D.ExpTransform(), np.random.default_rng(seed).standard_normal(shape))


@given(shapes, seeds)
def test_sigmoid_transform(shape, seed):
    check_bijection(D.SigmoidTransform(), 3 * np.random.default_rng(seed).standard_normal(shape))


@given(shapes, seeds, st.sampled_from([0.0, 1e-6, 0.05, 0.2]))
def test_logit_transform(shape, seed, alpha):
    x = np.random.default_rng(seed).uniform(0.01, 0.99, shape)
    check_bijection(D.LogitTransform(alpha), x)


def test_logit_transform_inverts_sigmoid_and_rejects_bad_alpha():
    x = t64(np.linspace(-4, 4, 9))
    np.testing.assert_allclose(D.LogitTransform(0.0).forward(D.SigmoidTransform().forward(x)).numpy(), x.numpy(),
                               atol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        D.LogitTransform(0.5)


@given(shapes, seeds)
def test_compose_and_inverse_transforms(shape, seed):
    rng = np.random.default_rng(seed)
    parts = [D.AffineTransform(float(rng.standard_normal()), float(rng.uniform(0.5, 2))), D.SigmoidTransform(),
             D.LogitTransform(0.1), D.ExpTransform()]
    compose = D.ComposeTransform(parts)
    x = rng.standard_normal(shape)
    check_bijection(compose, x)
    check_bijection(compose.inv, compose.forward(t64(x)).numpy())
    assert compose.inv.inv is compose


def test_compose_sums_elementwise_terms_inside_a_vector_event():
    """An elementwise part inside a composite of event_dim 1 contributes its terms summed over the event."""
    compose = D.ComposeTransform([D.ExpTransform(), D.AffineTransform(0.0, t64([1.0, 2.0, 3.0]), event_dim=1)])
    assert compose.event_dim == 1
    x = np.random.default_rng(0).standard_normal((4, 3))
    check_bijection(compose, x)
    _, ldj = compose.forward_and_log_det(t64(x))
    np.testing.assert_allclose(ldj.numpy(), x.sum(1) + math.log(6.0), atol=1e-12)


def test_full_jacobian_sees_a_wrong_log_det():
    """The check can fail: a transform whose log-det forgets a factor is caught."""
    class Wrong(D.ExpTransform):
        def log_abs_det_jacobian(self, x, y):
            return 2 * x

        def forward_and_log_det(self, x):
            y = self.forward(x)
            return y, self.log_abs_det_jacobian(x, y)

    with pytest.raises(AssertionError):
        check_bijection(Wrong(), np.array([0.3, -0.5]))
    np.testing.assert_allclose(full_jacobian(lambda v: v * v, np.array([1.0, 2.0])), np.diag([2.0, 4.0]))


# ------------------------------------------------------------------------------ TransformedDistribution

@given(shapes, seeds)
def test_lognormal_matches_scipy(shape, seed):
    rng = np.random.default_rng(seed)
    loc, scale = rng.standard_normal(shape), rng.uniform(0.3, 2, shape)
    d = D.TransformedDistribution(D.Normal(t64(loc), t64(scale)), D.ExpTransform())
    y = rng.lognormal(size=shape)
    assert d.batch_shape == shape and d.event_shape == ()
    np.testing.assert_allclose(d.log_prob(t64(y)).numpy(), stats.lognorm.logpdf(y, scale, scale=np.exp(loc)),
                               rtol=1e-10)


@pytest.mark.parametrize("last, support", [(D.SigmoidTransform(), (0.0, 1.0)),
                                           (D.LogitTransform(0.1).inv, (-0.125, 1.125))])
def test_density_through_a_composite_integrates_to_one(last, support):
    d = D.TransformedDistribution(D.Normal(t64(0.3), t64(1.2)), [D.AffineTransform(0.5, 2.0), last])
    total, _ = integrate.quad(lambda v: math.exp(d.log_prob(t64(v)).item()), *support, limit=200)
    assert abs(total - 1) < 1e-6


def test_vector_event_reinterprets_an_elementwise_base():
    base = D.Normal(t64(np.zeros(3)), t64(np.ones(3)))
    d = D.TransformedDistribution(base, D.AffineTransform(t64([1.0, 2.0, 3.0]), t64([2.0, 0.5, 1.0]), event_dim=1))
    assert d.batch_shape == () and d.event_shape == (3,)
    y = np.random.default_rng(1).standard_normal((5, 3))
    expected = stats.norm.logpdf(y, [1, 2, 3], [2, 0.5, 1]).sum(1)
    np.testing.assert_allclose(d.log_prob(t64(y)).numpy(), expected, rtol=1e-10)


def test_sample_shapes_and_rsample_gradient():
    mg.manual_seed(0)
    scale = t64(2.0, requires_grad=True)
    d = D.TransformedDistribution(D.Normal(t64(np.zeros(2)), t64(np.ones(2))),
                                  [D.AffineTransform(1.0, scale), D.ExpTransform()])
    s = d.sample((4,))
    assert s.shape == (4, 2) and not s.requires_grad and (s.numpy() > 0).all()
    r = d.rsample((1000,))
    (g,) = mg.grad(r.log().mean(), [scale], retain_graph=True)
    # d/ds mean(log r) = mean(eps) where log r = 1 + s eps
    assert abs(g.item()) < 0.15
    (g,) = mg.grad((r.log() ** 2).mean(), [scale])
    assert abs(g.item() - 2 * 2.0) < 0.5  # d/ds E[(1 + s eps)^2] = 2 s


def test_transformed_distribution_errors():
    with pytest.raises(TypeError, match="Transform"):
        D.TransformedDistribution(D.Normal(0.0, 1.0), [lambda v: v])
    with pytest.raises(ValueError, match="event_dim"):
        D.TransformedDistribution(D.Normal(t64(0.0), t64(1.0)), D.AffineTransform(0.0, 1.0, event_dim=1))
