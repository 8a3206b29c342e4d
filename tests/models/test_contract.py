"""The model contract (docs/design.md, "The model protocol") checked for every registered model.

Each registry name is built with its defaults (shrunk by SMALL where the defaults are slow), trained two
steps on a small batch on the CPU through the protocol's calls, sampled with the declared signature, saved
and reloaded; likelihood and latent-variable models also have their declared methods checked. A model added
to the registry is covered by this file without another line; `test_a_broken_model_fails_the_contract`
shows that the check can fail.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import nn
from minigen.autograd import Tensor
from minigen.models.base import DIGITS_SHAPE, GenerativeModel, LatentVariableModel, LikelihoodModel

BATCH = 8
SMALL = {"made": {"hidden": 32, "num_masks": 2, "ensemble": 2}, "iwae-k50": {"k": 4},
         "nice": {"hidden": 8, "layers": 1}, "maf": {"hidden": 16, "flows": 2}, "realnvp": {"hidden": 4},
         "glow": {"hidden": 4, "steps": 1}, "iaf-vae": {"hidden": 16, "flow_hidden": 8}, "rbm": {"hidden": 8},
         "ebm": {"buffer_size": 64, "langevin_steps": 5, "sample_steps": 5},
         "gated-pixelcnn": {"channels": 8, "layers": 2}, "pixelcnn-pp": {"channels": 8},
         "pixelrnn-row": {"channels": 8, "layers": 1}, "pixelrnn-diag": {"channels": 8, "layers": 1},
         "wavenet": {"data": "tones", "residual_channels": 4, "skip_channels": 8, "dilation_cycles": 1,
                     "max_dilation": 4, "window": 32, "clip_length": 64},
         "wavegan": {"data": "tones", "model_size": 2, "upsamplings": 1, "z_dim": 8},
         "prior-elbo-vae": {"z_samples": 2000}, "vade": {"hidden": 32}, "aae": {"hidden": 32},
         "factor-vae": {"hidden": 32, "d_hidden": [16]},
         "cyclegan": {"channels": (8, 8, 8), "d_channels": 8}, "stargan": {"channels": (8, 8, 8), "d_channels": 8}}


def first_batch(model: GenerativeModel):
    """One training batch as the trainer passes it."""
    batch = next(iter(model.loader("train", batch_size=BATCH, seed=0)))
    return tuple(batch) if isinstance(batch, (tuple, list)) else batch


def data_of(batch) -> Tensor:
    return batch[0] if isinstance(batch, tuple) else batch


def labels_for(model: GenerativeModel, n: int):
    return np.arange(n) % 10 if model.conditional else None


def assert_finite(t: Tensor, what: str) -> None:
    assert isinstance(t, Tensor), f"{what}: expected a Tensor, got {type(t).__name__}"
    assert np.isfinite(t.numpy()).all(), f"{what}: not finite"


def check_contract(model: GenerativeModel, name: str, tmp_path) -> None:
    """Every promise of the protocol that a short run can check; an AssertionError names the broken one."""
    assert isinstance(model, GenerativeModel), f"{name}: not a GenerativeModel"
    assert model.registry_name == name and model.name == name
    optimizers = model.configure_optimizers()
    schedulers = model.configure_schedulers(optimizers, 2)
    assert isinstance(optimizers, list) and optimizers, f"{name}: configure_optimizers must return a list"
    assert isinstance(schedulers, list), f"{name}: configure_schedulers must return a list"
    batch = first_batch(model)
    model.train()
    for step in range(2):
        logs = model.train_step(batch, optimizers, step)
        for scheduler in schedulers:
            scheduler.step()
        assert isinstance(logs, dict) and logs, f"{name}: train_step must return a non-empty dict"
        for key, value in logs.items():
            assert isinstance(value, float) and math.isfinite(value), f"{name}: log {key}={value!r}"
    assert model.training, f"{name}: train_step left the model in eval mode"

    with model.evaluating():
        assert not model.training
        samples = model.sample(3, labels_for(model, 3))
    assert model.training, f"{name}: evaluating() did not restore training mode"
    assert tuple(samples.shape) == (3, *model.event_shape), \
        f"{name}: sample(3) has shape {samples.shape}, expected (3, *{model.event_shape})"
    assert_finite(samples, f"{name}.sample")
    with pytest.raises(TypeError, match=name):
        model.sample(3, None if model.conditional else np.zeros(3, np.int64))

    path = str(tmp_path / f"{name}.npz")
    mg.save(model.state_dict(), path)
    twin = models.create(name, **SMALL.get(name, {}))
    twin.load_state_dict(mg.load(path))
    for (key, p), (_, q) in zip(sorted(model.state_dict().items()), sorted(twin.state_dict().items())):
        np.testing.assert_array_equal(np.asarray(q.numpy() if isinstance(q, Tensor) else q),
                                      np.asarray(p.numpy() if isinstance(p, Tensor) else p), err_msg=f"{name}: {key}")

    if isinstance(model, LikelihoodModel):
        with model.evaluating(), twin.evaluating():
            log_p = model.log_prob(batch)
            assert tuple(log_p.shape) == (BATCH,), f"{name}: log_prob has shape {log_p.shape}, expected ({BATCH},)"
            assert_finite(log_p, f"{name}.log_prob")
            np.testing.assert_allclose(twin.log_prob(batch).numpy(), log_p.numpy(), rtol=1e-6,
                                       err_msg=f"{name}: the reloaded model computes another log_prob")
    if isinstance(model, LatentVariableModel):
        with model.evaluating():
            elbo = model.elbo(batch)
            estimate = model.log_prob_estimate(batch, 4)
        for what, t in (("elbo", elbo), ("log_prob_estimate", estimate)):
            assert tuple(t.shape) == (BATCH,), f"{name}: {what} has shape {t.shape}, expected ({BATCH},)"
            assert_finite(t, f"{name}.{what}")
        assert float(estimate.numpy().mean()) <= 0.0 or model.binarize is None, \
            f"{name}: a log-probability estimate of binary images above 0"


@pytest.mark.parametrize("name", models.names())
def test_registered_model_keeps_the_contract(name, tmp_path):
    mg.manual_seed(0)
    check_contract(models.create(name, **SMALL.get(name, {})), name, tmp_path)


class _WrongShapeSampler(LikelihoodModel):
    """A model that breaks the protocol: its samples lack the channel axis."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64):
        super().__init__(data, lr, batch_size)
        self.logits = nn.Parameter(np.zeros(int(np.prod(DIGITS_SHAPE)), np.float32))

    def log_prob(self, x, reduce: bool = True):
        flat = x.flatten(1)
        return (flat * self.logits - mg.tensor(np.log1p(np.exp(self.logits.numpy())))).sum(axis=1)

    def sample(self, n: int, y=None):
        self.labels(n, y)
        return mg.zeros(n, 8, 8)


def test_a_broken_model_fails_the_contract(tmp_path, monkeypatch):
    monkeypatch.setitem(models.REGISTRY, "broken", ("base", "GenerativeModel"))
    monkeypatch.setattr(models, "model_class", lambda name: _WrongShapeSampler)
    model = models.create("broken")
    with pytest.raises(AssertionError, match="expected \\(3, \\*\\(1, 8, 8\\)\\)"):
        check_contract(model, "broken", tmp_path)
