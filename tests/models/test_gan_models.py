"""Every GAN on tiny configurations: shapes and ranges, the discriminator learns, maxout and spectral norm
against NumPy, exact resume, the CLI end to end."""
import json

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import nn, trainer
from minigen.models import gan_toolkit as gt

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
    batches = iter(model.loader("train"))
    for _ in range(2):
        logs = model.train_step(next(batches), opts)
    assert all(np.isfinite(v) for v in logs.values())
    x = model.sample(5, np.random.default_rng(0)).numpy()
    if data == "digits":
        assert x.shape == (5, 1, 8, 8) and x.min() >= 0 and x.max() <= 1
    else:
        assert x.shape == (5, 2)
    np.testing.assert_array_equal(x, model.sample(5, np.random.default_rng(0)).numpy())


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
        return gt.discriminator_loss(model.loss_kind, model.critic(real, y), model.critic(fake, y))

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


def test_cgan_schedule_and_toy_labels():
    model = tiny("cgan", "ring8")
    opts = model.configure_optimizers()
    model.schedule(opts, 1000)
    group = opts[0].param_groups[0]
    assert group["lr"] == pytest.approx(model.lr / 1.00004 ** 1000) and group["momentum"] == pytest.approx(0.7)
    model.schedule(opts, 125)
    assert opts[1].param_groups[0]["momentum"] == pytest.approx(0.6)
    model.schedule(opts, 10 ** 7)
    assert opts[1].param_groups[0]["lr"] == 1e-6
    x, y = next(iter(model.loader("train")))
    centres = gt.toy_centres("ring8")
    assert (np.linalg.norm(x.numpy() - centres[y.numpy()], axis=1) < 0.2).all()
    z = model.noise(1000, np.random.default_rng(0)).numpy()
    assert z.shape == (1000, 8) and z.min() >= 0 and z.max() < 1


def test_cgan_model_selection_keeps_the_best_generator(monkeypatch):
    model = tiny("cgan", "ring8", select_every=1)
    scores = iter([1.0, 3.0, 2.0])
    monkeypatch.setattr(model, "_validation_score", lambda: next(scores))
    kept = {}
    for k in range(3):
        for p in model.generator.parameters():
            p.data = p.data + 1.0
        model.select()
        kept[k] = [p.numpy().copy() for p in model.generator.parameters()]
    for p, q in zip(model.selected.parameters(), kept[1]):
        np.testing.assert_array_equal(p.numpy(), q)
    assert float(model.best_valid_ll.numpy()) == 3.0


def test_cgan_word_vectors_and_task():
    from minigen.models.gan.cgan import NAMES, word_vectors

    w = word_vectors()
    assert w.shape == (10, 3, 64)
    np.testing.assert_allclose(np.linalg.norm(w, axis=-1), 1.0, rtol=1e-6)
    flat = w.reshape(30, 64)
    cos = flat @ flat.T
    assert (cos[~np.eye(30, dtype=bool)] < 0.99).all()  # thirty distinct directions
    assert len({n for names in NAMES for n in names}) == 30
    model = tiny("cgan", "digits", task="words")
    opts = model.configure_optimizers()
    model.train_step(next(iter(model.loader("train"))), opts)
    m = model.metrics("valid")
    assert 0 <= m["word_acc"] <= 1 and 0 <= m["word_names"] <= 1


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


@pytest.mark.parametrize("name", ["cgan", "wgan-gp"])
def test_resume_is_exact(tmp_path, name):
    a = tiny(name, "ring8")
    trainer.train(a, 6, str(tmp_path / "a"), progress=False)
    b = tiny(name, "ring8")
    trainer.train(b, 3, str(tmp_path / "b"), progress=False)
    c = tiny(name, "ring8")
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
