"""On a GPU: every layer moved with .to("cuda") computes what it computes on the CPU, forward and
backward, and keeps its Parameter objects. Skipped without CuPy and a GPU."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import minigen as mg
from minigen import nn

pytestmark = pytest.mark.gpu

BUILDERS = {
    "linear": (lambda: nn.Linear(5, 3), (4, 5)),
    "conv1d_causal": (lambda: nn.Conv1d(2, 3, 3, dilation=2, causal=True), (2, 2, 9)),
    "conv2d": (lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), (2, 3, 7, 7)),
    "conv_transpose2d": (lambda: nn.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 4, 4)),
    "masked_conv2d": (lambda: nn.MaskedConv2d(2, 3, 5, "A"), (2, 2, 6, 6)),
    "batch_norm2d": (lambda: nn.BatchNorm2d(3), (4, 3, 2, 2)),
    "layer_norm": (lambda: nn.LayerNorm(6), (3, 6)),
    "lstm": (lambda: nn.LSTM(3, 4, num_layers=2, bidirectional=True), (5, 2, 3)),
    "maxout": (lambda: nn.Maxout(4, 3, 2), (5, 4)),
    "spectral_norm": (lambda: nn.spectral_norm(nn.Linear(4, 6)), (3, 4)),
}


def _first(out):
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("name", list(BUILDERS))
def test_layer_on_cuda_matches_cpu(name):
    mg.manual_seed(0)
    build, shape = BUILDERS[name]
    cpu = build().double()
    gpu = copy.deepcopy(cpu)
    params = list(gpu.parameters())
    assert gpu.to("cuda") is gpu and all(p is q for p, q in zip(params, gpu.parameters()))
    assert all(p.device == "cuda" for p in gpu.parameters()) and all(b.device == "cuda" for b in gpu.buffers())
    x = np.random.default_rng(1).normal(size=shape)
    outputs = {}
    for module, device in ((cpu, "cpu"), (gpu, "cuda")):
        y = _first(module(mg.tensor(x, device=device)))
        cot = np.random.default_rng(2).normal(size=y.shape)
        (y * mg.tensor(cot, device=device)).sum().backward()
        outputs[device] = y.numpy()
    np.testing.assert_allclose(outputs["cuda"], outputs["cpu"], rtol=1e-9, atol=1e-12)
    for (key, p), q in zip(cpu.named_parameters(), gpu.parameters()):
        np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-8, atol=1e-12, err_msg=key)
    for (key, b), c in zip(cpu.named_buffers(), gpu.buffers()):
        np.testing.assert_allclose(c.numpy(), b.numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


def test_state_dict_crosses_devices_and_init_runs_on_gpu():
    mg.manual_seed(0)
    layer = nn.Linear(3, 2, device="cuda")
    assert layer.weight.device == "cuda"
    nn.init.orthogonal_(layer.weight)
    w = layer.weight.numpy()
    np.testing.assert_allclose(w @ w.T, np.eye(2), atol=1e-5)
    cpu = nn.Linear(3, 2)
    cpu.load_state_dict(layer.state_dict())
    assert cpu.weight.device == "cpu"
    np.testing.assert_array_equal(cpu.weight.numpy(), w)
    emb = nn.Embedding(5, 2, padding_idx=0).to("cuda")
    out = emb(mg.tensor(np.array([0, 3]), device="cuda"))
    assert out.device == "cuda" and (out.numpy()[0] == 0).all()
    drop = nn.Dropout2d(0.5).to("cuda")
    assert drop(mg.ones(2, 3, 2, 2, device="cuda")).device == "cuda"
