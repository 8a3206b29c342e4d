"""Langevin dynamics and the replay buffer (models/energy/langevin.py) and the deep EBM (models/energy/ebm.py):
the chain's moments on a 2-D Gaussian energy at temperature 1 and below, the sampler's clipping and box, the
buffer's restarts, and that contrastive training lowers the data's energy below the sampler's."""
from __future__ import annotations

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen.models.energy.langevin import ReplayBuffer, energy_grad, langevin

MU = np.array([1.0, -2.0])
SIGMA = np.array([[1.0, 0.6], [0.6, 2.0]])


def gaussian_energy(x: mg.Tensor) -> mg.Tensor:
    """E(x) = (x - mu)^T Sigma^-1 (x - mu) / 2 per row."""
    d = x - mg.tensor(MU)
    return 0.5 * ((d @ mg.tensor(np.linalg.inv(SIGMA))) * d).sum(axis=1)


def chain_moments(temperature: float, step: float = 0.02, chains: int = 2000, burn_in: int = 300,
                  keep: int = 300) -> tuple:
    """Mean and covariance of Langevin chains after burn-in, pooled over chains and every 10th step."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((chains, 2)) * 3
    noise = np.sqrt(2 * step * temperature)
    frames = langevin(gaussian_energy, x, burn_in + keep, step, noise, rng=rng, every=10)
    pooled = np.concatenate(frames[burn_in // 10 + 1:])
    return pooled.mean(axis=0), np.cov(pooled.T)


@pytest.mark.parametrize("temperature", [1.0, 0.25])
def test_langevin_chain_has_the_moments_of_the_gaussian_energy_after_burn_in(temperature):
    mean, cov = chain_moments(temperature)
    np.testing.assert_allclose(mean, MU, atol=0.05)
    np.testing.assert_allclose(cov, temperature * SIGMA, atol=0.06 * temperature)


def test_energy_grad_is_the_gradient_of_the_energy():
    x = np.random.default_rng(1).standard_normal((5, 2))
    np.testing.assert_allclose(energy_grad(gaussian_energy, x), (x - MU) @ np.linalg.inv(SIGMA), rtol=1e-10)


def test_the_sampler_clips_gradients_and_stays_in_its_box():
    x = np.full((4, 2), 10.0)
    frames = langevin(gaussian_energy, x, 5, step_size=0.5, noise=0.0, grad_clip=0.1, every=1)
    steps = np.abs(np.diff(np.stack(frames), axis=0))
    assert steps.max() == pytest.approx(0.05), "each move is at most step_size * grad_clip per coordinate"
    boxed = langevin(gaussian_energy, x, 3, step_size=0.5, noise=1.0, bounds=(-1.0, 1.0))
    assert boxed.min() >= -1.0 and boxed.max() <= 1.0


def test_float32_chains_stay_float32_with_float64_step_and_noise():
    x = np.zeros((4, 2), np.float32)
    step = np.float64(0.01)
    end = langevin(lambda v: (v * v).sum(), x, 2, step_size=step, noise=np.sqrt(2 * step),
                   rng=np.random.default_rng(0))
    assert end.dtype == np.float32


def test_replay_buffer_restarts_a_share_from_noise_and_keeps_chain_ends():
    data = np.full((1000, 2), 7.0, np.float32)
    buffer = ReplayBuffer(data, -1.0, 1.0, reinit=0.2)
    idx, starts = buffer.draw(5000, np.random.default_rng(0))
    fresh = (starts != 7.0).all(axis=1)
    assert 0.17 < fresh.mean() < 0.23 and np.abs(starts[fresh]).max() <= 1.0
    buffer.push(idx[:3], np.zeros((3, 2), np.float32))
    assert (data[idx[:3]] == 0).all(), "push writes the chains' ends into the caller's array"
    with pytest.raises(ValueError, match="reinit"):
        ReplayBuffer(data, 0.0, 1.0, reinit=1.5)


def small_ebm(data: str = "ring8"):
    mg.manual_seed(0)
    return models.create("ebm", data=data, hidden=[32, 32], batch_size=64, langevin_steps=10, buffer_size=256,
                         sample_steps=20)


def test_each_update_lowers_the_data_energy_against_the_negatives(monkeypatch):
    model = small_ebm()
    batch = next(iter(model.loader("train", seed=0)))
    noise = mg.tensor(model.buffer.noise(64, np.random.default_rng(0)))
    monkeypatch.setattr(model, "negatives", lambda n: noise)
    monkeypatch.setattr(model, "to_model", lambda x: x * (1 / 2 ** 0.5))  # no randomness on the data side
    pos = model.to_model(batch[0])

    def gap() -> float:
        with model.evaluating():
            return float(model.energy(noise).numpy().mean() - model.energy(pos).numpy().mean())

    opts = [mg.optim.SGD(model.parameters(), lr=0.05)]
    before = gap()
    for step in range(5):
        logs = model.train_step(batch, opts, step)
    assert gap() > before + 1e-3, f"E(neg) - E(pos): {before:.5f} -> {gap():.5f}"
    assert set(logs) >= {"loss", "e_pos", "e_neg"} and logs["e_pos"] < logs["e_neg"]


def test_the_regulariser_pulls_large_energies_towards_zero(monkeypatch):
    model = small_ebm()
    model.energy_net[-1].bias.data[...] = 5.0  # every energy near 5
    batch = next(iter(model.loader("train", seed=0)))
    monkeypatch.setattr(model, "negatives", lambda n: mg.tensor(model.buffer.noise(n, np.random.default_rng(0))))
    opts = [mg.optim.SGD(model.parameters(), lr=0.01)]
    model.train_step(batch, opts, 0)
    assert float(model.energy_net[-1].bias.numpy()[0]) < 5.0 - 0.01 * 2 * 0.1 * 2 * 4.0


def test_sampling_leaves_no_parameter_gradients_and_keeps_the_box():
    model = small_ebm("grid25")
    with model.evaluating():
        x = model.sample(50, rng=np.random.default_rng(0)).numpy()
    assert all(p.grad is None for p in model.parameters())
    assert np.abs(x).max() <= 2.0 * 8 ** 0.5 + 1e-5  # the box, in data units
    frames = model.chain(4, 20, every=5, rng=np.random.default_rng(0))
    assert frames.shape == (5, 4, 2)


def test_digits_are_dequantized_into_the_unit_box():
    model = small_ebm("digits")
    levels = mg.tensor(np.tile(np.arange(17, dtype=np.float32), 4)[:64].reshape(1, 1, 8, 8))
    x = model.to_model(levels).numpy()
    assert (x >= 0).all() and (x < 1).all()
    assert (np.floor(x * 17) == levels.numpy()).all(), "(level + u) / 17 keeps each level in its own bin"


def test_the_toy_energy_reads_the_scaled_coordinates():
    """E(x) = f(c x): the toys' default c = 4 (the input_scale deviation in models/energy/ebm.py)."""
    model = small_ebm()
    assert model.input_scale == 4.0 and models.create("ebm", data="digits", hidden=[8]).input_scale == 1.0
    x = mg.tensor(np.random.default_rng(0).standard_normal((6, 2)).astype(np.float32))
    with model.evaluating():
        np.testing.assert_allclose(model.energy(x).numpy(), model.energy_net(x * 4.0).numpy().ravel(), rtol=1e-6)
