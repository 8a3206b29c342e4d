"""The categorical-latent VAE (models/discrete_vae.py, "gumbel-vae"): REINFORCE is unbiased (against the exact gradient by enumerating every code),
Gumbel-softmax has lower variance on the same model and batch, the baseline reduces REINFORCE's variance,
temperature annealing driven by the trainer's step (and exact resume), straight-through, and the exact log p(x)
by enumeration against the IWAE estimate."""
import itertools
import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.distributions import Bernoulli
from test_vae import train  # shared helper (tests/models is on sys.path)

SMALL = {"groups": 2, "categories": 3, "hidden": 16, "eval_k": 50, "variance_draws": 10}


def small(**kw):
    mg.manual_seed(0)
    return models.create("gumbel-vae", **{**SMALL, **kw})


def all_codes(groups, categories):
    """Every one-hot code (K^N, N, K)."""
    eye = np.eye(categories)
    return np.stack([np.stack([eye[c] for c in combo]) for combo in
                     itertools.product(range(categories), repeat=groups)])


def exact_elbo(model, x):
    """sum_z q(z|x) log p(x|z) - KL(q || uniform), by enumerating every code (differentiable)."""
    q = model.encode(x.flatten(1))
    codes = mg.tensor(all_codes(model.groups, model.categories).astype(x.dtype))  # (C, N, K)
    log_px = model.decode(codes).log_prob(x.flatten(1)[:, None, :]).sum(axis=-1)  # (B, C)
    log_q = (q.logits[:, None] * codes[None]).sum(axis=(-1, -2))  # (B, C)
    return (log_q.exp() * log_px).sum(axis=1) - model.kl(q), log_px, log_q


def test_reinforce_is_unbiased_against_enumeration():
    """The mean REINFORCE gradient over many draws (one example repeated) matches the exact gradient.
    Any baseline that does not depend on z keeps it unbiased; the exact E_q[f] keeps its variance small."""
    model = small().double()
    x1 = model.eval_batch("test")[:1].double()
    params = list(model.encoder.parameters())
    elbo, log_px, log_q = exact_elbo(model, x1)
    exact = np.concatenate([g.numpy().ravel() for g in mg.grad(-elbo.mean(), params)])
    last = model.baseline_net[-1]
    last.weight.data[:] = 0
    last.bias.data[:] = 0
    model.signal_mean.data = np.asarray((np.exp(log_q.numpy()) * log_px.numpy()).sum())
    n = 20_000
    repeated = mg.tensor(np.repeat(x1.numpy(), n, axis=0))
    mg.manual_seed(1)
    mc = mg.grad(model.surrogate(repeated, "reinforce", baseline=True)[0], params)
    mc = np.concatenate([g.numpy().ravel() for g in mc])
    assert np.linalg.norm(mc - exact) < 0.03 * np.linalg.norm(exact), (np.linalg.norm(mc - exact),
                                                                       np.linalg.norm(exact))


def test_exact_log_likelihood_by_enumeration_matches_the_importance_sampled_estimate():
    model = small()
    train(model, 100)
    x = model.eval_batch("test")[:20]
    with mg.no_grad():
        elbo, log_px, _ = exact_elbo(model, x)
        exact = (log_px.numpy() - model.groups * math.log(model.categories))
        exact = np.log(np.exp(exact - exact.max(1, keepdims=True)).sum(1)) + exact.max(1)
    assert np.all(elbo.numpy() <= exact + 1e-5)  # Jensen, exactly
    mg.manual_seed(2)
    estimate = model.log_prob_estimate(x, 3000).numpy()
    np.testing.assert_allclose(estimate, exact, atol=0.05)
    draws = np.stack([model.elbo(x).numpy() for _ in range(300)])  # single-draw ELBOs average to the exact one
    assert np.all(np.abs(draws.mean(0) - elbo.numpy()) < 5 * draws.std(0) / math.sqrt(300) + 1e-4)


def test_gumbel_has_lower_variance_than_reinforce_and_the_baseline_helps():
    model = small(hidden=32, groups=4, categories=5)
    train(model, 300)  # long enough for the baseline to track the learning signal
    batch = model.eval_batch("test")[:32]
    mg.manual_seed(3)
    gumbel = model.gradient_variance(batch, "gumbel", draws=20)
    reinforce = model.gradient_variance(batch, "reinforce", baseline=True, draws=20)
    plain = model.gradient_variance(batch, "reinforce", baseline=False, draws=20)
    assert gumbel < reinforce < plain, (gumbel, reinforce, plain)


def test_temperature_is_annealed_to_its_floor():
    model = small(tau0=2.0, tau_min=0.5, anneal_rate=1e-2)
    taus = [model.temperature(step) for step in (0, 50, 10_000)]
    assert taus[0] == 2.0 and taus[1] == pytest.approx(2.0 * math.exp(-0.5)) and taus[2] == 0.5
    assert model.temperature() == 0.5  # no step: the annealed temperature, where metrics() measures
    assert small(tau0=2.0, tau_min=0.5, anneal_rate=0.0).temperature() == 2.0  # no anneal: tau0 throughout
    assert not any(name.startswith("steps") for name in model.state_dict())  # no counter of its own
    with pytest.raises(ValueError, match="tau_min <= tau0"):
        small(tau0=0.1, tau_min=0.5)
    with pytest.raises(ValueError, match="anneal_rate must be >= 0"):
        small(anneal_rate=-1e-3)


def test_train_step_uses_the_temperature_of_the_step_it_is_given(monkeypatch):
    """The relaxed sample of train_step(batch, optimizers, step) has temperature tau_step, and so does
    the logged tau; metrics() measures the Gumbel variance at temperature() and reports it."""
    from minigen import distributions

    model = small(tau0=2.0, tau_min=0.5, anneal_rate=1e-2)
    seen = []
    original = distributions.RelaxedOneHotCategorical.__init__

    def spy(self, temperature, *args, **kwargs):
        seen.append(float(temperature))
        original(self, temperature, *args, **kwargs)

    monkeypatch.setattr(distributions.RelaxedOneHotCategorical, "__init__", spy)
    opts = model.configure_optimizers()
    x = model.eval_batch("test")[:8]
    for step in (0, 50, 10_000):
        logs = model.train_step(x, opts, step)
        assert seen[-1] == logs["tau"] == pytest.approx(model.temperature(step))
    seen.clear()
    m = model.metrics("test")
    assert m["tau"] == 0.5 and set(seen) == {0.5}


def test_straight_through_decodes_one_hot_codes_and_passes_gradients(monkeypatch):
    model = small(hard=True)
    seen = []
    original = type(model).decode

    def spy(self, z, y=None):
        seen.append(z.numpy())
        return original(self, z, y)

    monkeypatch.setattr(type(model), "decode", spy)
    x = model.eval_batch("test")[:4]
    loss = model.surrogate(x, "gumbel")[0]
    assert set(np.unique(seen[0])) == {0.0, 1.0} and np.all(seen[0].sum(-1) == 1)
    grads = mg.grad(loss, list(model.encoder.parameters()))
    assert any(float(np.abs(g.numpy()).sum()) > 0 for g in grads)


@pytest.mark.parametrize("estimator", ["gumbel", "reinforce"])
def test_short_training_raises_the_elbo(estimator):
    model = small(estimator=estimator, hidden=32)
    logs = train(model, 60)
    elbo = [entry["elbo"] for entry in logs]
    assert np.mean(elbo[-15:]) > np.mean(elbo[:15]) + 1.0
    s = model.sample(5)
    assert s.shape == (5, 1, 8, 8) and set(np.unique(s.numpy())) <= {0.0, 1.0}
    with pytest.raises(TypeError, match="gumbel-vae is unconditional"):
        model.sample(5, y=1)
    with pytest.raises(TypeError, match="gumbel-vae is unconditional: encode"):
        model.encode(model.eval_batch("test")[:2].flatten(1), y=mg.tensor(np.array([0, 1])))


def test_metrics_report_both_estimators_variance():
    m = small().metrics("test")
    for key in ("test_elbo", "iwae_nll", "grad_var_gumbel", "grad_var_reinforce", "grad_var_reinforce_no_baseline"):
        assert key in m and np.isfinite(m[key])
    with pytest.raises(ValueError, match="estimator must be one of"):
        small(estimator="vimco")
    with pytest.raises(ValueError, match="binary pixels"):
        small().loss(mg.tensor(np.full((2, 1, 8, 8), 3.0, np.float32)))
    assert isinstance(small().decode(mg.zeros(1, 2, 3)), Bernoulli)


def test_resume_continues_the_anneal_and_the_baseline(tmp_path):
    """10 steps + resume + 10 steps == 20 steps, to the bit: the temperature comes from the trainer's step
    (restored from the checkpoint), the baseline's running mean is a buffer saved in it."""
    from minigen.trainer import train as run

    def fresh():
        mg.manual_seed(0)
        return small(anneal_rate=0.03)  # above tau_min = 0.5 through step 19

    a = fresh()
    whole = run(a, 20, str(tmp_path / "a"), batch_size=16, progress=False)
    b = fresh()
    run(b, 10, str(tmp_path / "b"), batch_size=16, progress=False)
    c = fresh()
    resumed = run(c, 20, str(tmp_path / "b"), batch_size=16, progress=False, resume=True)
    taus = [tau for _, tau in resumed.data["tau"]]
    assert taus == [tau for _, tau in whole.data["tau"]]
    assert taus[10] == pytest.approx(math.exp(-0.03 * 10)) and taus[-1] == pytest.approx(math.exp(-0.03 * 19))
    assert resumed.data["loss"] == whole.data["loss"]
    for (name, p), q in zip(a.state_dict().items(), c.state_dict().values()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=name)
