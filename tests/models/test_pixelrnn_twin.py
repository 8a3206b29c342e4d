"""bench/reference/pixelrnn_torch.py is minigen's PixelRNN: with minigen's weights copied in by name, the
torch twin gives the same log-likelihoods and gradients in float64, and one Adam step moves both to the
same weights (skipped without torch)."""
from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import minigen as mg
from minigen import models, optim

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def twin():
    """The script as a module; the thread setting it makes at import is undone for the other tests."""
    saved = os.environ.get("OMP_NUM_THREADS")
    path = os.path.join(ROOT, "bench", "reference", "pixelrnn_torch.py")
    spec = importlib.util.spec_from_file_location("pixelrnn_torch_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if saved is None:
        os.environ.pop("OMP_NUM_THREADS", None)
    else:
        os.environ["OMP_NUM_THREADS"] = saved
    return module


def pair(twin, name: str, seed: int = 0):
    """minigen's model (its default digits config, float64) and the twin holding the same weights."""
    mg.manual_seed(seed)
    cfg = models.model_class(name).default_config("digits")
    ours = models.create(name, **cfg).double()
    theirs = twin.BUILDS[name](cfg).double()
    mine = dict(ours.named_parameters())
    names = [n for n, _ in theirs.named_parameters()]
    assert sorted(names) == sorted(mine), "the twin's parameters are not minigen's"
    with torch.no_grad():
        for n, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(mine[n].data, np.float64)))
    return ours, theirs


def batch(seed: int = 1, n: int = 6) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 1, 8, 8)) < 0.4).astype(np.float64)


@pytest.mark.parametrize("name", ["pixelrnn-row", "pixelrnn-diag"])
def test_same_log_likelihood_gradients_and_adam_step(twin, name):
    ours, theirs = pair(twin, name)
    x = batch()
    lp = ours.log_prob(mg.tensor(x))
    tlp = theirs.log_prob(torch.from_numpy(x))
    np.testing.assert_allclose(lp.numpy(), tlp.detach().numpy(), rtol=1e-10, atol=1e-9)
    assert lp.numpy().std() > 0.1  # a batch of different images, not one number repeated

    opt, topt = optim.Adam(ours.parameters(), lr=1e-2), torch.optim.Adam(theirs.parameters(), lr=1e-2)
    loss, tloss = -lp.mean(), -tlp.mean()
    opt.zero_grad()
    topt.zero_grad()
    loss.backward()
    tloss.backward()
    mine = dict(ours.named_parameters())
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[n].grad.numpy(), p.grad.numpy(),
                                   rtol=1e-7, atol=1e-10, err_msg=n)
    opt.step()
    topt.step()
    for n, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[n].numpy(), p.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=n)
    np.testing.assert_allclose(ours.log_prob(mg.tensor(x)).numpy(), theirs.log_prob(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-10, atol=1e-9)

