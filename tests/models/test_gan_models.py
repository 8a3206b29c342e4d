"""Every GAN on tiny configurations: shapes and ranges, the discriminator learns, maxout and spectral norm
against NumPy, the cGAN's schedule and model selection, InfoGAN's bound and codes, exact resume, the CLI end
to end. (The cGAN words model: test_gan_cgan_words.py.)"""
import json

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import nn, optim, trainer
from minigen.data.toys import toy_centres
from minigen.models.gan.losses import discriminator_loss

GANS = ("gan", "cgan", "dcgan", "infogan", "wgan", "wgan-gp", "sngan")
TINY = {
    "gan": {"z_dim": 4, "g_hidden": [16], "d_hidden": [8], "batch_size": 16},
    "cgan": {"z_dim": 8, "sizes": [8, 8, 16, 8, 4, 8], "batch_size": 16, "select_every": 0},
    "dcgan": {"z_dim": 4, "channels": 4, "hidden": [16, 16], "batch_size": 16},
    "infogan": {"z_dim": 4, "channels": 4, "hidden": [16, 16], "batch_size": 16},
    "wgan": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16], "batch_size": 8, "n_critic": 2},
    "wgan-gp": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16], "batch_size": 8, "n_critic": 2},
    "sngan": {"z_dim": 4, "g_hidden": [16], "d_hidden": [16], "batch_size": 16},
}


def tiny(name, data, **extra):
    mg.manual_seed(0)
    return models.create(name, data=data, **{**TINY[name], **extra})


@pytest.mark.parametrize("name", GANS)
@pytest.mark.parametrize("data", ["digits", "grid25"])
def test_train_step_and_samples(name, data):
    model = tiny(name, data)
    opts = model.configure_optimizers()
    schedulers = model.configure_schedulers(opts, 2)
    batches = iter(model.loader("train"))
    for step in range(2):
        logs = model.train_step(next(batches), opts, step)
        for s in schedulers:
            s.step()
    assert all(np.isfinite(v) for v in logs.values())
    y = np.arange(5) % 3 if model.conditional else None
    x = model.sample(5, y, rng=np.random.default_rng(0)).numpy()
    if data == "digits":
        assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    else:
        assert x.shape == (5, 2)
    np.testing.assert_array_equal(x, model.sample(5, y, rng=np.random.default_rng(0)).numpy())
    assert model.training


@pytest.mark.parametrize("name", ["gan", "dcgan", "wgan-gp", "sngan", "cgan"])
def test_discriminator_learns_against_a_fixed_generator(name):
    """30 discriminator updates on fixed real/generated batches lower its loss (wiring, signs, optimizer)."""
    model = tiny(name, "ring8", lr=1e-2 if name != "cgan" else 0.05)
    model.eval()  # no dropout noise, batch norm in eval mode: a deterministic objective
    _, opt_d = model.configure_optimizers()
    batch = next(iter(model.loader("train")))
    real, y = batch[0], (batch[1] if model.conditional else None)
    z = model.noise(real.shape[0], np.random.default_rng(0))

    def d_loss():
        with mg.no_grad():
            fake = model.generate(z, y)
        return discriminator_loss(model.loss_kind, model.critic(real, y), model.critic(fake, y))

    before = d_loss().item()
    for _ in range(30):
        loss = d_loss()
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
    assert d_loss().item() < before - 0.05


def test_gan_discriminator_maxout_matches_numpy():
    model = tiny("gan", "digits", dropout=0.0, input_dropout=0.0)
    layer = next(m for m in model.discriminator.modules() if isinstance(m, nn.Maxout))
    x = np.random.default_rng(0).standard_normal((5, 64)).astype(np.float32)
    pre = x @ layer.weight.numpy().T + layer.bias.numpy()
    expected = pre.reshape(5, layer.out_features, layer.pieces).max(-1)
    np.testing.assert_allclose(layer(mg.tensor(x)).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_sngan_every_discriminator_layer_has_sigma_of_its_weight():
    """After power iterations, sigma = u^T W v matches NumPy's largest singular value and W / sigma has
    spectral norm 1, for every layer of the discriminator."""
    model = tiny("sngan", "ring8")
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32))
    for _ in range(60):
        model.critic(x)
    linears = [m for m in model.discriminator.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 2
    for layer in linears:
        w = layer.weight_orig.numpy().astype(np.float64)
        u, v = layer.weight_u.numpy(), layer.weight_v.numpy()
        np.testing.assert_allclose(u @ w @ v, np.linalg.svd(w, compute_uv=False)[0], rtol=1e-4)
        np.testing.assert_allclose(np.linalg.svd(layer.weight.numpy(), compute_uv=False)[0], 1.0, rtol=1e-4)


def test_cgan_requires_labels_and_samples_each_class():
    model = tiny("cgan", "ring8")
    with pytest.raises(TypeError, match="cgan is conditional"):
        model.sample(4)
    with pytest.raises(TypeError, match="integer labels"):
        model.sample(4, np.zeros(4))
    a = model.sample(4, 3, rng=np.random.default_rng(0)).numpy()  # a scalar label is repeated
    np.testing.assert_array_equal(a, model.sample(4, np.full(4, 3), rng=np.random.default_rng(0)).numpy())
    assert not np.array_equal(a, model.sample(4, 5, rng=np.random.default_rng(0)).numpy())


def test_cgan_schedule_is_the_papers_closed_form():
    """The schedulers from configure_schedulers give every step t exactly (==) lr_t = max(lr / decay^t,
    min_lr) and m_t = m0 + (m1 - m0) * min(t, ramp) / ramp, both optimizers, before each update."""
    model = tiny("cgan", "ring8", momentum_steps=7, decay=1.5, min_lr=1e-3)
    opts = model.configure_optimizers()
    schedulers = model.configure_schedulers(opts, 20)
    assert all(isinstance(s, optim.lr_scheduler.ExponentialDecayWithMomentumRamp) for s in schedulers)
    (m0, m1), lr = model.momentum, model.lr
    for t in range(20):
        for opt in opts:
            group = opt.param_groups[0]
            assert group["lr"] == max(lr / 1.5 ** t, 1e-3)
            assert group["momentum"] == m0 + (m1 - m0) * min(t, 7) / 7
        for s in schedulers:
            s.step()
    assert opts[0].param_groups[0]["lr"] == 1e-3 and opts[1].param_groups[0]["momentum"] == 0.7


def test_cgan_toy_labels_and_uniform_noise():
    model = tiny("cgan", "ring8")
    x, y = next(iter(model.loader("train")))
    assert (np.linalg.norm(x.numpy() - toy_centres("ring8")[y.numpy()], axis=1) < 0.2).all()
    z = model.noise(1000, np.random.default_rng(0)).numpy()
    assert z.shape == (1000, 8) and z.min() >= 0 and z.max() < 1


def test_cgan_model_selection_keeps_the_best_generator(monkeypatch):
    model = tiny("cgan", "ring8", select_every=1)
    scores = iter([1.0, 3.0, 2.0])
    monkeypatch.setattr(model, "validation_score", lambda: next(scores))
    kept = {}
    for k in range(3):
        for p in model.generator.parameters():
            p.data = p.data + 1.0
        model.select()
        kept[k] = [p.numpy().copy() for p in model.generator.parameters()]
    for p, q in zip(model.selected.parameters(), kept[1]):
        np.testing.assert_array_equal(p.numpy(), q)
    assert float(model.best_valid_ll.numpy()) == 3.0
    assert model.final_generator() is model.selected


def test_cgan_selects_after_every_select_every_updates_counted_by_the_step_argument(monkeypatch):
    model = tiny("cgan", "ring8", select_every=3)
    calls = []
    monkeypatch.setattr(model, "select", lambda: calls.append(True) or {"valid_score": 0.0})
    opts = model.configure_optimizers()
    batches = iter(model.loader("train"))
    selected_at = []
    for step in (0, 1, 2, 3, 4, 5, 8):
        n = len(calls)
        model.train_step(next(batches), opts, step)
        if len(calls) > n:
            selected_at.append(step)
    assert selected_at == [2, 5, 8]  # after updates 3, 6 and 9


def test_infogan_lower_bound_is_log_k_minus_cross_entropy():
    model = tiny("infogan", "grid25")
    z = model.noise(6, np.random.default_rng(0))
    cat = z.numpy()[:, model.noise_dim:model.noise_dim + 10].argmax(1)
    cont = z.numpy()[:, model.noise_dim + 10:]
    q = np.zeros((6, 14), np.float32)
    q[np.arange(6), cat] = 30.0  # a perfect categorical posterior
    q[:, 10:12] = cont
    l_cat, l_cont = model.info_lower_bound(mg.tensor(q), z)
    assert l_cat.item() == pytest.approx(np.log(10), abs=1e-5)
    # sd 1 Gaussian at the right mean: log N(0; 0, 1) per code + log 2 (the entropy of U(-1, 1))
    assert l_cont.item() == pytest.approx(2 * (-0.5 * np.log(2 * np.pi) + np.log(2)), abs=1e-5)
    uniform_l_cat, _ = model.info_lower_bound(mg.zeros(6, 14), z)
    assert uniform_l_cat.item() == pytest.approx(0.0, abs=1e-6)


def test_infogan_sample_fixes_the_codes_it_is_given():
    model = tiny("infogan", "digits")
    with model.evaluating():
        cont = np.tile(np.linspace(-1, 1, 4)[:, None], (1, 2))
        a = model.sample(4, rng=np.random.default_rng(0), cat=3, cont=cont)
        z = model.noise(4, np.random.default_rng(0), cat=3, cont=cont)
        np.testing.assert_array_equal(a.numpy(), model.generate(z).numpy())
    codes = z.numpy()[:, model.noise_dim:]
    assert (codes[:, :10].argmax(1) == 3).all()
    np.testing.assert_allclose(codes[:, 10:], cont, rtol=1e-6)
    assert model.training


@pytest.mark.parametrize("name", ["cgan", "wgan-gp"])
def test_resume_is_exact(tmp_path, name):
    """6 steps = 3 steps + 3 resumed, with the schedules (a fixed decay length: with decay_steps None the
    decay would span each run's own length, 6 or 3)."""
    extra = {} if name == "cgan" else {"decay_steps": 5}
    a = tiny(name, "ring8", **extra)
    trainer.train(a, 6, str(tmp_path / "a"), progress=False)
    b = tiny(name, "ring8", **extra)
    trainer.train(b, 3, str(tmp_path / "b"), progress=False)
    c = tiny(name, "ring8", **extra)
    trainer.train(c, 6, str(tmp_path / "b"), progress=False, resume=True)
    for (k, p), (_, q) in zip(a.state_dict().items(), c.state_dict().items()):
        np.testing.assert_array_equal(np.asarray(p.numpy() if hasattr(p, "numpy") else p),
                                      np.asarray(q.numpy() if hasattr(q, "numpy") else q), err_msg=k)


def test_cli_trains_a_toy_gan(tmp_path):
    from minigen.cli import main

    out = tmp_path / "run"
    sets = [a for k, v in TINY["wgan-gp"].items() for a in ("--set", f"{k}={json.dumps(v)}")]
    main(["train", "wgan-gp", "--data", "ring8", "--steps", "3", "--out", str(out), "--no-progress", *sets])
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"modes_ring8", "hq_ring8"} <= set(metrics)
    assert (out / "samples.png").stat().st_size > 0
