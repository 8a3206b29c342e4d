"""On a GPU: every registered model trains a few steps on CUDA through the trainer (finite losses, its
parameters and samples on CUDA), its GPU checkpoint loads into a CPU model that computes the same loss,
and resuming on CUDA continues from the checkpoint. Skipped without a GPU."""
import math

import numpy as np
import pytest

import minigen as mg
import minigen.models as models
from minigen import trainer

from test_contract import SMALL  # the contract's small configurations (tests/models is on sys.path)

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("name", models.names())
def test_model_trains_on_cuda_and_its_checkpoint_loads_on_the_cpu(tmp_path, name):
    mg.manual_seed(0)
    model = models.create(name, **SMALL.get(name, {}))
    history = trainer.train(model, 3, str(tmp_path), device="cuda", progress=False)
    assert all(p.device == "cuda" for p in model.parameters())
    assert history.data and all(math.isfinite(v) for values in history.data.values() for _, v in values), \
        history.data
    with model.evaluating():
        samples = model.sample(4, np.arange(4) % 10 if model.conditional else None)
    assert samples.device == "cuda" and np.isfinite(samples.numpy()).all()
    cpu = trainer.load_model(models.create(name, **SMALL.get(name, {})), str(tmp_path), "cpu")
    for (key, p), (_, q) in zip(model.named_parameters(), cpu.named_parameters()):
        assert q.device == "cpu"
        np.testing.assert_array_equal(q.numpy(), p.numpy(), err_msg=key)


def test_resume_on_cuda_continues_from_the_checkpoint(tmp_path):
    a = models.create("nade")
    trainer.train(a, 4, str(tmp_path), device="cuda", progress=False)
    b = models.create("nade")
    history = trainer.train(b, 6, str(tmp_path), device="cuda", resume=True, progress=False)
    assert [s for s, _ in history.data["loss"]] == list(range(1, 7))
    assert all(p.device == "cuda" for p in b.parameters())
