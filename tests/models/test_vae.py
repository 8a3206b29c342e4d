"""VAE, conditional VAE, beta-VAE, IWAE and the autoencoder: the ELBO's KL sign and reduction against Monte
Carlo, KL warm-up driven by the trainer's step, the shared importance-sampled log p(x) (chunked), the IWAE
bound's monotonicity in k on a trained model, labels (required by the CVAE, refused by the others) and
traversals, the Bernoulli-needs-binary check, and short training runs."""
import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.distributions import Normal
from minigen.models.base import GenerativeModel, LatentVariableModel
from minigen.models.latent.vae import VariationalModel, log_mean_exp

TINY = {"hidden": 32, "latent": 4, "eval_k": 20}


def tiny(name, **kw):
    mg.manual_seed(0)
    return models.create(name, **{**TINY, **kw})


def batch_of(model, n=16, split="test"):
    b = model.eval_batch(split)
    return (b[0][:n], b[1][:n]) if isinstance(b, tuple) else b[:n]


def train(model, steps):
    """`steps` optimizer steps on batches of 32 training images, passing the step as the trainer does; the
    logs of every step."""
    opts = model.configure_optimizers()
    loader = model.loader("train", batch_size=32)
    logs, it = [], iter(loader)
    for step in range(steps):
        try:
            batch = next(it)
        except StopIteration:
            it = iter(loader)
            batch = next(it)
        logs.append(model.train_step(batch, opts, step))
    return logs


def losses(model, steps):
    return [entry["loss"] for entry in train(model, steps)]


# --------------------------------------------------------------------------- the ELBO vs Monte Carlo

def test_elbo_kl_sign_and_reduction_match_monte_carlo():
    """Analytic KL per example = E_q[log q(z|x) - log p(z)] summed over latent dims; the ELBO is the mean
    log-weight, summed over pixels; the loss is its negative mean over the batch."""
    model = tiny("vae").double()
    x = batch_of(model, 8).double()
    recon, kl = model.elbo_terms(x)
    assert kl.shape == (8,) and recon.shape == (8,)
    q = model.encode(x.flatten(1))
    mg.manual_seed(1)
    z = q.rsample((20_000,))
    mc_terms = (q.log_prob(z) - Normal(0.0, 1.0).log_prob(z).astype(np.float64)).sum(axis=-1).numpy()
    se = mc_terms.std(0) / math.sqrt(len(mc_terms))
    assert np.all(kl.numpy() >= 0)
    assert np.all(np.abs(mc_terms.mean(0) - kl.numpy()) < 5 * se + 1e-9), (mc_terms.mean(0), kl.numpy())
    # E_q[log w] is the ELBO: compare many single-sample ELBOs with the mean log-weight
    mg.manual_seed(2)
    log_w = model.log_weights(x, 4000).numpy()
    elbos = np.stack([model.elbo(x).numpy() for _ in range(400)])
    se = np.sqrt(log_w.var(0) / len(log_w) + elbos.var(0) / len(elbos))
    assert np.all(np.abs(log_w.mean(0) - elbos.mean(0)) < 5 * se)
    # the pixel term is a sum over the 64 pixels (a mean would be ~64x smaller)
    assert np.all(recon.numpy() < -20)
    mg.manual_seed(3)
    r1, k1 = model.elbo_terms(x)
    mg.manual_seed(3)
    assert model.loss(x).item() == pytest.approx(-(r1 - k1).numpy().mean(), rel=1e-12)


def test_beta_weights_only_the_kl_term_in_training():
    model = tiny("beta-vae", beta=3.0).double()
    x = batch_of(model, 8).double()
    mg.manual_seed(4)
    recon, kl = model.elbo_terms(x)
    mg.manual_seed(4)
    loss, logs = model.objective(x)
    assert loss.item() == pytest.approx(-(recon - 3.0 * kl).numpy().mean(), rel=1e-12)
    assert logs["elbo"].item() == pytest.approx((recon - kl).numpy().mean(), rel=1e-12)


def test_kl_warmup_ramps_the_weight_with_the_step():
    model = tiny("vae", warmup=100, beta=2.0)
    assert [model.kl_weight(step) for step in (0, 50, 100, 400)] == [0.0, 1.0, 2.0, 2.0]
    assert model.kl_weight() == 2.0  # no step: warm-up over (loss(batch), evaluation)
    assert tiny("vae", beta=2.0).kl_weight(0) == 2.0  # warmup=0: no ramp
    assert not any(name.startswith("steps") for name in model.state_dict())  # no counter of its own


def test_train_step_weights_the_kl_at_the_step_it_is_given():
    """train_step(batch, optimizers, step) trains on recon - beta_step KL: step 25 of a 100-step warm-up to
    beta = 2 weights the KL by 0.5, the same batch at step 400 by 2."""
    model = tiny("vae", warmup=100, beta=2.0).double()
    x = batch_of(model, 8).double()
    opts = model.configure_optimizers()
    for step, weight in ((25, 0.5), (400, 2.0)):
        mg.manual_seed(10)
        recon, kl = (t.numpy() for t in model.elbo_terms(x))
        mg.manual_seed(10)
        logs = model.train_step(x, opts, step)
        assert logs["loss"] == pytest.approx(-(recon - weight * kl).mean(), rel=1e-12)
        assert logs["elbo"] == pytest.approx((recon - kl).mean(), rel=1e-12)


# ---------------------------------------------------------------------- importance-sampled log p(x)

def test_log_prob_estimate_is_chunked_and_chunk_invariant(monkeypatch):
    model = tiny("vae")
    x = batch_of(model, 10)
    mg.manual_seed(5)
    whole = model.log_prob_estimate(x, 30, chunk_size=30).numpy()
    calls = []
    original = type(model).log_weights

    def spy(self, batch, k):
        calls.append(k)
        return original(self, batch, k)

    monkeypatch.setattr(type(model), "log_weights", spy)
    mg.manual_seed(5)
    chunked = model.log_prob_estimate(x, 30, chunk_size=7).numpy()
    assert calls == [7, 7, 7, 7, 2]
    np.testing.assert_allclose(chunked, whole, rtol=1e-5)  # the same draws, combined chunk by chunk
    assert not model.log_prob_estimate(x, 5).requires_grad


def test_log_mean_exp_is_stable():
    a = mg.tensor(np.array([[1000.0, -1000.0], [1000.0, -1001.0]]))
    np.testing.assert_allclose(log_mean_exp(a, axis=0).numpy(), [1000.0, -1000.0 + math.log((1 + math.e ** -1) / 2)])


@pytest.fixture(scope="module")
def trained_vae():
    model = tiny("vae", hidden=64, latent=8, lr=3e-3)
    train(model, 800)
    return model


def test_iwae_bound_is_non_decreasing_in_k_on_a_trained_model(trained_vae):
    x = trained_vae.eval_batch("test")
    mg.manual_seed(6)
    bounds = [np.mean([trained_vae.iwae_bound(x, k).numpy().mean() for _ in range(3)]) for k in (1, 5, 50)]
    estimate = trained_vae.log_prob_estimate(x, 1000).numpy().mean()
    assert bounds[0] < bounds[1] < bounds[2] <= estimate + 0.05, (bounds, estimate)
    assert bounds[2] - bounds[0] > 0.1  # a trained model's posterior is not exact: the gap is real


def test_metrics_names_and_relations(trained_vae):
    m = trained_vae.metrics("test")
    for key in ("test_elbo", "test_recon", "test_kl", "iwae_nll", "iwae_nll_sem", "iwae_k"):
        assert key in m
    assert m["test_elbo"] == pytest.approx(m["test_recon"] - m["test_kl"])
    assert m["test_kl"] > 0 and m["test_elbo"] < 0
    assert m["iwae_nll"] < -m["test_elbo"]  # the importance-sampled NLL is tighter than the ELBO


# -------------------------------------------------------------------------------------- likelihoods

def test_bernoulli_likelihood_refuses_gray_levels():
    model = tiny("vae")
    gray = mg.tensor(np.full((2, 1, 8, 8), 7.0, np.float32))
    with pytest.raises(ValueError, match="Bernoulli likelihood is only valid on binary pixels"):
        model.loss(gray)


def test_gaussian_likelihood_on_dequantized_levels_reports_discrete_nats():
    model = tiny("vae", likelihood="gaussian")
    assert model.binarize is None
    x = batch_of(model, 8)
    assert float(x.numpy().max()) > 1  # gray levels 0..16
    curve = losses(model, 40)
    assert np.mean(curve[-10:]) < np.mean(curve[:10])
    # log P(x) of a discrete image is at most 0: the dequantized bound must respect that
    assert float(model.log_prob_estimate(x, 20).numpy().max()) < 0
    s = model.sample(5)
    assert s.shape == (5, 1, 8, 8) and s.numpy().min() >= 0 and s.numpy().max() <= 16


# --------------------------------------------------------------------------------- CVAE / beta-VAE

def test_cvae_takes_labels_and_samples_a_chosen_class():
    model = tiny("cvae")
    assert model.conditional
    x, y = batch_of(model, 8)
    assert model.elbo((x, y)).shape == (8,)
    mg.manual_seed(7)
    a = model.sample(4, y=3, mean=True).numpy()
    mg.manual_seed(7)
    b = model.sample(4, y=[5, 5, 5, 5], mean=True).numpy()
    assert a.shape == (4, 1, 8, 8) and not np.allclose(a, b)  # same z, different class, different image
    assert model.sample(12, np.arange(12) % 10).shape == (12, 1, 8, 8)
    with pytest.raises(TypeError, match="cvae is conditional: sample\\(n, y\\) needs y"):
        model.sample(12)
    with pytest.raises(ValueError, match="labels must lie in 0..9"):
        model.sample(2, y=10)
    with pytest.raises(TypeError, match="vae is unconditional"):
        tiny("vae").sample(2, y=1)
    with pytest.raises(TypeError):  # options after y are keyword-only
        model.sample(2, 3, True)


def test_cvae_uses_the_label():
    """After training, the true label explains x better than a wrong one: log p(x|y) > log p(x|y')."""
    model = tiny("cvae", hidden=64)
    train(model, 150)
    x, y = batch_of(model, 100)
    mg.manual_seed(8)
    right = model.log_prob_estimate((x, y), 50).numpy().mean()
    wrong = model.log_prob_estimate((x, mg.tensor((y.numpy() + 1) % 10)), 50).numpy().mean()
    assert right > wrong + 1.0


def test_traversal_has_one_row_per_latent_dimension():
    model = tiny("beta-vae", latent=3)
    t = model.traversal(steps=5)
    assert t.shape == (15, 1, 8, 8)
    rows = t.numpy().reshape(3, 5, 64)
    centre = model.sample(1, mean=True)  # any image; only the structure of the sweep is checked here
    assert centre.shape == (1, 1, 8, 8)
    assert all(np.allclose(rows[i, 2], rows[0, 2]) for i in range(3))  # the middle column is z = 0 for all
    assert not np.allclose(rows[0, 0], rows[0, -1])
    assert model.traversal(batch_of(model, 2), steps=3).shape == (9, 1, 8, 8)


# ------------------------------------------------------------------------------------- training

@pytest.mark.parametrize("name,extra", [("vae", {}), ("cvae", {}), ("beta-vae", {}), ("iwae", {"k": 3}),
                                        ("ae", {})])
def test_short_training_lowers_the_loss(name, extra):
    kw = {"hidden": 32, "latent": 4} if name == "ae" else {**TINY, **extra}
    mg.manual_seed(0)
    model = models.create(name, **kw)
    curve = losses(model, 40)
    assert np.mean(curve[-10:]) < np.mean(curve[:10]) - 1.0, curve
    s = model.sample(6, np.arange(6) % 10 if model.conditional else None)
    assert s.shape == (6, 1, 8, 8) and set(np.unique(s.numpy())) <= {0.0, 1.0}


def test_iwae_objective_is_the_k_sample_bound():
    model = tiny("iwae", k=4).double()
    x = batch_of(model, 6).double()
    mg.manual_seed(9)
    loss, logs = model.objective(x)
    mg.manual_seed(9)
    log_w = model.log_weights(x, 4).numpy()
    expected = np.log(np.exp(log_w).mean(0))
    assert loss.item() == pytest.approx(-expected.mean(), rel=1e-10)
    assert "iwae_bound_k4" in logs
    with pytest.raises(ValueError, match="k must be at least 1"):
        models.create("iwae", k=0)
    assert models.create("iwae-k50").k == 50


def test_autoencoder_metrics_and_reconstructions():
    mg.manual_seed(0)
    model = models.create("ae", hidden=32, latent=4)
    train(model, 60)
    m = model.metrics("test")
    assert set(m) == {"test_recon_bce", "test_pixel_error"}
    assert 0 < m["test_pixel_error"] < 0.5 and m["test_recon_bce"] > 0
    r = model.reconstruct(batch_of(model, 3))
    assert r.shape == (3, 1, 8, 8) and 0 <= r.numpy().min() and r.numpy().max() <= 1


@pytest.mark.parametrize("name,rows", [("vae", 8), ("cvae", 8), ("beta-vae", 6), ("ae", 8)])
def test_sample_figure_shows_data_reconstructions_and_samples(name, rows, tmp_path):
    """Ten a row: test digits, reconstructions, then 60 samples (beta-VAE: one traversal row per latent)."""
    from PIL import Image

    model = models.create(name, hidden=16, latent=4)
    path = model.sample_figure(str(tmp_path / "fig.png"), 64)
    width, height = Image.open(path).size
    assert (width, height) == ((10 * 9 + 1) * 4, (rows * 9 + 1) * 4)


@pytest.mark.parametrize("name", ["vae", "cvae", "beta-vae", "iwae", "iwae-k50", "gumbel-vae", "ladder-vae",
                                  "ae"])
def test_capabilities_are_declared_by_subclassing(name):
    """The VAE family implements the protocol's LatentVariableModel (through VariationalModel); the plain
    autoencoder has no likelihood and no posterior: a GenerativeModel only."""
    cls = models.model_class(name)
    assert issubclass(cls, GenerativeModel)
    assert issubclass(cls, LatentVariableModel) == (name != "ae")
    assert issubclass(cls, VariationalModel) == (name != "ae")


@pytest.mark.parametrize("name", ["vae", "ae"])
def test_sample_measures_in_eval_mode_and_restores_the_mode(name, monkeypatch):
    model = tiny(name) if name != "ae" else models.create("ae", hidden=16, latent=4)
    modes = []
    original = type(model.decoder).forward

    def spy(self, x):
        modes.append(self.training)
        return original(self, x)

    monkeypatch.setattr(type(model.decoder), "forward", spy)
    model.train()
    s = model.sample(3)
    assert modes and not any(modes) and model.training and not s.requires_grad
