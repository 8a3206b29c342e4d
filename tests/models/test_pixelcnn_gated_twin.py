"""The PyTorch twin of the Gated PixelCNN (bench/reference/gated_pixelcnn_torch.py) is the same network as
minigen's: with minigen's initial weights copied in, in float64, the log-likelihood of a batch of digits,
its gradient and the weights after one Adam step agree to 1e-10, for the zoo's unconditional and
class-conditional configurations (dropout off: its noise is each library's own). Skipped without torch."""
import os
import sys

import numpy as np
import pytest

import minigen as mg
from minigen import models, optim
from minigen.data import load_digits

torch = pytest.importorskip("torch")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "reference"))
_threads = os.environ.get("OMP_NUM_THREADS")
from autoregressive_torch import config  # noqa: E402
from gated_pixelcnn_torch import build  # noqa: E402

if _threads is None:  # the scripts set one thread for their own runs: undone for the other tests
    os.environ.pop("OMP_NUM_THREADS", None)


def twins(key: str):
    """minigen's model with its own initial weights, the twin with a copy of them; both float64."""
    cfg, _ = config(key)
    cfg = {**cfg, "dropout": 0.0}
    mg.manual_seed(3)
    ours = models.create("gated-pixelcnn", **cfg).double()
    theirs = build(cfg).double()
    params = dict(ours.named_parameters())
    assert set(params) == {name for name, _ in theirs.named_parameters()}
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(params[name].numpy()))
    return ours, theirs, cfg


@pytest.mark.parametrize("key", ["gated-pixelcnn", "gated-pixelcnn@cond"])
def test_same_log_likelihood_gradient_and_adam_step_as_minigen(key):
    ours, theirs, cfg = twins(key)
    d = load_digits("train", binarize="static")
    x, y = d.images[:32].astype(np.float64), d.labels[:32]
    conditional = cfg["class_conditional"]
    batch = (mg.tensor(x), mg.tensor(y)) if conditional else mg.tensor(x)
    args = (torch.from_numpy(x), torch.from_numpy(y)) if conditional else (torch.from_numpy(x),)

    lp_ours, lp_theirs = ours.log_prob(batch), theirs.log_prob(*args)
    np.testing.assert_allclose(lp_ours.numpy(), lp_theirs.detach().numpy(), rtol=1e-10)
    assert -lp_ours.numpy().mean() > 30  # untrained: far from the data, so a wrong layer would show

    opt_ours = optim.Adam(ours.parameters(), lr=cfg["lr"])
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=cfg["lr"])
    loss_ours, loss_theirs = -lp_ours.mean(), -lp_theirs.mean()
    loss_ours.backward()
    loss_theirs.backward()
    mine = dict(ours.named_parameters())
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[name].grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=name)
    opt_ours.step()
    opt_theirs.step()
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(mine[name].numpy(), p.detach().numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    with torch.no_grad():
        np.testing.assert_allclose(ours.log_prob(batch).numpy(), theirs.log_prob(*args).numpy(), rtol=1e-10)


def test_the_label_embeddings_matter():
    """The conditional twin's likelihood changes with the labels (the embeddings are wired in)."""
    _, theirs, _ = twins("gated-pixelcnn@cond")
    x = torch.from_numpy(load_digits("train", binarize="static").images[:8].astype(np.float64))
    with torch.no_grad():
        a, b = theirs.log_prob(x, torch.zeros(8, dtype=torch.int64)), theirs.log_prob(x, torch.ones(8, dtype=torch.int64))
    assert (a - b).abs().min() > 1e-3


def test_the_twins_training_loop_is_minigens_trainer(tmp_path, monkeypatch):
    """From the same weights in float64, bench/reference/pixel_torch.py's loop (the zoo recipe: minigen's
    batches for the seed, Adam, the EMA evaluated at the end, the labels of the conditional run) ends at the
    test NLL of minigen's trainer on the same steps: the twin's runs differ from minigen's only in the random
    draws (initial weights, dropout)."""
    import pixel_torch

    from minigen import trainer

    ours, theirs, cfg = twins("gated-pixelcnn@cond")
    cfg = {**cfg, "batch_size": 16, "ema": 0.5}  # a short average that follows the training
    ours.batch_size, ours.ema = 16, 0.5

    class Double(torch.nn.Module):  # the batches come in float32, as minigen's DataLoader gives them
        def __init__(self, net):
            super().__init__()
            self.net = net

        def log_prob(self, x, y):
            return self.net.log_prob(x.double(), y)

    with ours.evaluating():
        before = -ours.log_prob(ours.eval_batch("test")).numpy().mean()
    monkeypatch.setattr(pixel_torch, "config", lambda key: (cfg, 8))
    torch_nll = pixel_torch.train_torch("gated-pixelcnn@cond", 1, lambda c: Double(theirs))["test_nll"]
    trainer.train(ours, 8, str(tmp_path), seed=1, progress=False, checkpoint_every=10 ** 9)
    with ours.evaluating():
        nll = -ours.log_prob(ours.eval_batch("test")).numpy().mean()
    assert abs(nll - before) > 0.5  # it trained
    assert nll == pytest.approx(torch_nll, rel=1e-10)
