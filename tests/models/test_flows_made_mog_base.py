"""The MADE MoG base of MAF MoG (models/flows/made_mog_base.py): with every weight redrawn (so the mixture of
u_2 depends on u_1), its 2-D density integrates to 1 on a grid, each conditional is the mixture computed by
hand, samples have the density's mean, gradients reach every parameter; a MAF with it scores and samples."""
import numpy as np

import minigen as mg
import minigen.models as models
from minigen.models.flows.made_mog_base import MADEMixtureBase
from scipy import stats


def _base(seed=0, k=3, order=(1, 0)):
    base = MADEMixtureBase(2, k, 16, 2, np.array(order), seed=seed)
    rng = np.random.default_rng(seed)
    for p in base.parameters():
        p.data = rng.normal(0, 0.25, p.shape).astype(np.float32)
    return base.eval()


def _grid(lim=16.0, n=641):
    g = np.linspace(-lim, lim, n)
    xx, yy = np.meshgrid(g, g)
    return g, np.stack([xx.ravel(), yy.ravel()], 1).astype(np.float32)


def test_density_integrates_to_one_and_the_second_coordinate_depends_on_the_first():
    base = _base()
    g, points = _grid()
    log_p = base.distribution().log_prob(mg.tensor(points)).numpy().astype(np.float64)
    assert abs(np.exp(log_p).sum() * (g[1] - g[0]) ** 2 - 1) < 2e-3
    log_pi, loc, _ = base.parameters_of(mg.tensor(np.array([[0.0, -2.0], [0.0, 2.0]], np.float32)))
    assert np.abs(loc.numpy()[0, :, 0] - loc.numpy()[1, :, 0]).max() > 1e-3  # order (1, 0): u_0 given u_1
    np.testing.assert_allclose(loc.numpy()[0, :, 1], loc.numpy()[1, :, 1], atol=1e-6)  # u_1 first: fixed


def test_log_prob_is_the_product_of_the_conditional_mixtures():
    base = _base(seed=1)
    u = np.random.default_rng(2).normal(0, 1.5, (5, 2)).astype(np.float32)
    log_pi, loc, log_s = (t.numpy().astype(np.float64) for t in base.parameters_of(mg.tensor(u)))
    density = [sum(np.exp(log_pi[:, k, d]) * stats.norm(loc[:, k, d], np.exp(log_s[:, k, d])).pdf(u[:, d])
                   for k in range(3)) for d in range(2)]
    expected = np.log(density[0]) + np.log(density[1])
    np.testing.assert_allclose(base.distribution().log_prob(mg.tensor(u)).numpy(), expected, rtol=1e-5)


def test_samples_have_the_density_mean():
    base = _base(seed=3)
    g, points = _grid()
    p = np.exp(base.distribution().log_prob(mg.tensor(points)).numpy().astype(np.float64)) * (g[1] - g[0]) ** 2
    mg.manual_seed(0)
    u = base.distribution().sample((20000,)).numpy()
    assert u.shape == (20000, 2)
    np.testing.assert_allclose(u.mean(0), p @ points / p.sum(), atol=0.06)


def test_gradients_reach_every_parameter_and_maf_mog_scores_and_samples():
    base = MADEMixtureBase(4, 3, 8, 1, np.arange(4))  # last weights 0: the first step reaches those only
    for p in base.parameters():
        p.data = np.random.default_rng(4).normal(0, 0.25, p.shape).astype(np.float32)
    u = np.random.default_rng(5).normal(size=(5, 4)).astype(np.float32)
    base.distribution().log_prob(mg.tensor(u)).sum().backward()
    assert all(p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in base.parameters())
    model = models.create("maf", "digits", hidden=16, flows=2, components=3, made_mog=True)
    x = mg.tensor(np.random.default_rng(0).integers(0, 17, (3, 1, 8, 8)).astype(np.float32) + 0.5)
    assert np.isfinite(model.log_prob(x).numpy()).all()
    s = model.sample(2)
    assert s.shape == (2, 1, 8, 8) and set(np.unique(s.numpy())) <= set(range(17))
