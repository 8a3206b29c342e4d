"""models/gan/base.py: the alternating update with n_critic, the frozen discriminator in the generator step,
the learning-rate decay through configure_schedulers (LinearLR, None = over the whole run), the protocol's
sample(n, y, rng=...) and the resumable toy loader."""
import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import optim, trainer
from minigen.models.gan.base import frozen

SMALL = {"batch_size": 8, "g_hidden": [8], "d_hidden": [8], "z_dim": 2}


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
    model = models.create("wgan-gp", data="ring8", **SMALL, n_critic=3)
    opt_g, opt_d = (_Counting(o) for o in model.configure_optimizers())
    batch = next(iter(model.loader("train")))
    assert batch[0].shape == (24, 2)
    logs = model.train_step(batch, [opt_g, opt_d], 0)
    assert (opt_d.steps, opt_g.steps) == (3, 1)
    assert {"d_loss", "g_loss", "gp", "g_grad_norm"} <= set(logs)
    with pytest.raises(ValueError, match="too small for n_critic=3"):
        model.train_step(batch[0][:2], [opt_g, opt_d], 1)


def test_generator_step_leaves_discriminator_gradients_alone():
    mg.manual_seed(0)
    model = models.create("gan", data="ring8", **SMALL)
    opt_g, _ = model.configure_optimizers()
    for p in model.discriminator.parameters():
        p.grad = None
    model.generator_step(8, None, opt_g)
    assert all(p.grad is None for p in model.discriminator.parameters())
    assert all(p.requires_grad for p in model.discriminator.parameters())
    assert all(p.grad is not None for p in model.generator.parameters())


def test_frozen_restores_requires_grad_after_an_error():
    layer = mg.nn.Linear(2, 2)
    with pytest.raises(RuntimeError):
        with frozen(layer):
            assert not any(p.requires_grad for p in layer.parameters())
            raise RuntimeError("inside")
    assert all(p.requires_grad for p in layer.parameters())


@pytest.mark.parametrize("decay_steps,run,expected", [
    (4, 10, [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]),  # decay over 4 steps, then 0
    (None, 4, [1.0, 0.75, 0.5, 0.25]),                # None: over the whole run
])
def test_linear_learning_rate_decay_through_configure_schedulers(decay_steps, run, expected):
    """The rate training step t sees is lr * (1 - min(t, T) / T), bit for bit the closed form."""
    model = models.create("wgan-gp", data="ring8", decay_steps=decay_steps, lr=1e-3, **SMALL)
    opts = model.configure_optimizers()
    schedulers = model.configure_schedulers(opts, run)
    assert len(schedulers) == 2 and all(isinstance(s, optim.lr_scheduler.LinearLR) for s in schedulers)
    total = run if decay_steps is None else decay_steps
    for t, factor in enumerate(expected):
        for opt in opts:
            assert opt.param_groups[0]["lr"] == pytest.approx(1e-3 * factor, abs=1e-15)
            assert opt.param_groups[0]["lr"] == 1e-3 * max(0.0, 1 - t / total)
        for s in schedulers:
            s.step()


def test_no_decay_means_no_scheduler():
    model = models.create("wgan-gp", data="digits", **SMALL)
    assert model.decay_steps == 0 and model.configure_schedulers(model.configure_optimizers(), 100) == []


def test_sample_follows_the_protocol():
    """rng fixes the samples; an unconditional GAN refuses labels; the model's mode is restored."""
    mg.manual_seed(0)
    model = models.create("gan", data="ring8", **SMALL)
    a = model.sample(6, rng=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(a, model.sample(6, rng=np.random.default_rng(3)).numpy())
    assert not np.array_equal(a, model.sample(6, rng=np.random.default_rng(4)).numpy())
    assert model.training
    with pytest.raises(TypeError, match="gan is unconditional"):
        model.sample(6, np.zeros(6, np.int64))
    assert model.random_labels(6, np.random.default_rng(0)) is None


def test_random_labels_of_a_conditional_gan_cover_its_classes():
    model = models.create("cgan", data="grid25", sizes=[4, 4, 4, 4, 4, 4], z_dim=2)
    labels = model.random_labels(2000, np.random.default_rng(0)).numpy()
    assert labels.min() == 0 and labels.max() == 24
    with pytest.raises(ValueError, match="labels must lie in 0..24"):
        model.sample(2, np.array([0, 25]))


def test_toy_loader_resumes_exactly():
    """A GAN's toy stream (batch k drawn with seed (seed, k)) continues where its saved state left it."""
    model = models.create("gan", data="grid25", **SMALL)
    a = model.loader("train", seed=5)
    it = iter(a)
    next(it), next(it)
    state = a.state_dict()
    expected = next(it)[0].numpy()
    b = model.loader("train", seed=5)
    b.load_state_dict(state)
    np.testing.assert_array_equal(next(iter(b))[0].numpy(), expected)
    assert not np.array_equal(next(iter(model.loader("train", seed=6)))[0].numpy(), expected)


def test_decay_resumes_exactly(tmp_path):
    """The trainer saves the schedulers: 3 + 3 resumed steps decaying over 4 end where 6 steps do. (With
    decay_steps None the decay spans the run the schedulers were made for, so a 3-step run resumed to 6 is
    a different schedule from a 6-step run.)"""
    def make():
        mg.manual_seed(0)
        return models.create("gan", data="ring8", **SMALL, decay_steps=4)

    a = make()
    trainer.train(a, 6, str(tmp_path / "a"), progress=False)
    b = make()
    trainer.train(b, 3, str(tmp_path / "b"), progress=False)
    c = make()
    trainer.train(c, 6, str(tmp_path / "b"), progress=False, resume=True)
    for (k, p), (_, q) in zip(a.state_dict().items(), c.state_dict().items()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
