"""Module machinery: registration, traversal, state_dict, strict loading, modes, devices, dtypes, hooks,
containers, and Parameter as an engine input."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import minigen as mg
from minigen import nn
from minigen.autograd import Function, Tensor


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.drop = nn.Dropout(0.5)
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.register_buffer("steps", mg.zeros(1))
        self.plain = 3

    def forward(self, x):
        return self.drop(self.bn(self.fc(x))) * self.scale


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(4, 2)
        self.shared = self.head  # the same module twice: its parameters are listed once

    def forward(self, x):
        return self.head(self.block(x))


def test_registration_and_names():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["block.scale", "block.fc.weight", "block.fc.bias", "block.bn.weight", "block.bn.bias",
                     "head.weight", "head.bias"]
    assert len(list(net.parameters())) == 7
    assert [n for n, _ in net.named_buffers()] == ["block.steps", "block.bn.running_mean",
                                                   "block.bn.running_var", "block.bn.num_batches_tracked"]
    assert [n for n, _ in net.named_modules()] == ["", "block", "block.fc", "block.bn", "block.drop", "head"]
    assert [type(m).__name__ for m in net.children()] == ["Block", "Linear"]
    assert net.block.plain == 3 and "plain" not in net.block._parameters
    assert net.num_parameters() == 1 + 12 + 4 + 4 + 4 + 8 + 2


def test_reassignment_moves_between_registries():
    m = nn.Module()
    m.x = nn.Parameter(np.zeros(2))
    m.x = nn.Linear(1, 1)
    assert "x" not in m._parameters and "x" in m._modules
    m.register_buffer("b", mg.zeros(2))
    m.b = mg.ones(2)
    assert m._buffers["b"].numpy().tolist() == [1, 1]
    with pytest.raises(TypeError, match="buffer 'b'"):
        m.b = 3
    del m.x
    assert not hasattr(m, "x")
    with pytest.raises(AttributeError, match="Module.__init__"):
        class Broken(nn.Module):
            def __init__(self):
                self.w = nn.Parameter(np.zeros(1))
        Broken()


def test_state_dict_roundtrip():
    mg.manual_seed(0)
    a, b = Net(), Net()
    a.block.bn(mg.randn(5, 4))  # change the running statistics
    sd = a.state_dict()
    assert list(sd) == ["block.scale", "block.steps", "block.fc.weight", "block.fc.bias", "block.bn.weight",
                        "block.bn.bias", "block.bn.running_mean", "block.bn.running_var",
                        "block.bn.num_batches_tracked", "head.weight", "head.bias"]
    assert not any(v.requires_grad for v in sd.values())
    params_before = {n: p for n, p in b.named_parameters()}
    result = b.load_state_dict({k: v.numpy() for k, v in sd.items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy())
    assert all(p is params_before[n] for n, p in b.named_parameters())
    b.head.weight.data[0, 0] = 123.0  # a copy was loaded, not an alias
    assert a.head.weight.data[0, 0] != 123.0


def test_strict_loading_fails_atomically():
    mg.manual_seed(1)
    a, b = Net(), Net()
    before = {k: v.numpy().copy() for k, v in b.state_dict().items()}
    sd = {k: v.numpy() for k, v in a.state_dict().items()}
    del sd["head.bias"]
    sd["extra.weight"] = np.zeros(3)
    sd["block.fc.weight"] = np.zeros((5, 3))
    with pytest.raises(RuntimeError) as err:
        b.load_state_dict(sd)
    message = str(err.value)
    for fragment in ("missing keys: head.bias", "unexpected keys: extra.weight",
                     "block.fc.weight: checkpoint (5, 3) vs model (4, 3)"):
        assert fragment in message
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    sd["block.fc.weight"] = a.block.fc.weight.numpy()
    result = b.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["head.bias"] and result.unexpected_keys == ["extra.weight"]
    np.testing.assert_array_equal(b.head.weight.numpy(), a.head.weight.numpy())
    np.testing.assert_array_equal(b.head.bias.numpy(), before["head.bias"])


def test_shape_mismatch_fails_even_when_not_strict():
    m = nn.Linear(2, 3)
    with pytest.raises(RuntimeError, match="weight: checkpoint"):
        m.load_state_dict({"weight": np.zeros((3, 3)), "bias": np.zeros(3)}, strict=False)


def test_train_eval_recursive_and_dropout():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    x = mg.randn(6, 3)
    np.testing.assert_array_equal(net(x).numpy(), net(x).numpy())  # eval is deterministic
    net.train()
    assert all(m.training for m in net.modules())


def test_to_keeps_parameter_identity_and_casts():
    net = Net()
    params = list(net.parameters())
    buffers = list(net.buffers())
    net(mg.randn(4, 3)).sum().backward()
    assert net.to("cpu") is net
    assert all(p is q for p, q in zip(params, net.parameters()))
    assert all(b is c for b, c in zip(buffers, net.buffers()))
    net.double()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    assert net.block.bn.num_batches_tracked.dtype == np.int64  # integer buffers are not cast
    assert all(p is q for p, q in zip(params, net.parameters()))
    with pytest.raises(ValueError, match="unknown device"):
        net.to("tpu")


def test_zero_grad_and_requires_grad():
    net = Net()
    net(mg.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    assert net.num_parameters(trainable_only=True) == 0


def test_repr_is_nested_like_pytorch():
    net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Dropout(0.1)))
    assert repr(net) == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
                         "  (1): Sequential(\n    (0): ReLU()\n    (1): Dropout(p=0.1)\n  )\n)")
    assert repr(nn.Parameter(np.zeros(1, np.float32))).startswith("Parameter containing:\ntensor(")


def test_hooks_and_apply():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out.shape))
    out = lin(mg.ones(1, 2))
    np.testing.assert_allclose(out.numpy(), lin.bias.numpy()[None])
    assert calls == [(1, 2)]
    h1.remove()
    h2.remove()
    lin(mg.ones(1, 2))
    assert calls == [(1, 2)]
    seen = []
    nn.Sequential(lin, nn.Tanh()).apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "Tanh", "Sequential"]


def test_deepcopy_is_independent():
    net = Net()
    clone = copy.deepcopy(net)
    clone.head.weight.data += 1
    assert not np.allclose(clone.head.weight.numpy(), net.head.weight.numpy())
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in net.named_parameters()]


def test_containers():
    layers = [nn.Linear(2, 2) for _ in range(3)]
    seq = nn.Sequential(*layers)
    assert seq[1] is layers[1] and seq[-1] is layers[2] and len(seq) == 3
    assert isinstance(seq[:2], nn.Sequential) and len(seq[:2]) == 2
    ml = nn.ModuleList(layers[:2])
    ml.append(layers[2])
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "Linear", "Linear"]
    assert len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"a": layers[0], "b": nn.ReLU()})
    assert "a" in md and list(md) == ["a", "b"] and md["a"] is layers[0]
    assert [n for n, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("enc", nn.Linear(2, 3)), ("act", nn.ReLU())]))
    assert [n for n, _ in named.named_parameters()] == ["enc.weight", "enc.bias"]


class _Probe(Function):
    """Records the dtype and array type the engine hands to forward."""

    seen: list = []

    def forward(self, a, b):
        _Probe.seen.append((a.dtype, b.dtype))
        return a * b

    def backward(self, gy):
        a, b = self.inputs
        return gy * b, None


def test_parameter_is_a_tensor_everywhere():
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    _Probe.seen.clear()
    y = _Probe.apply(p, 3.0)  # a Python scalar takes the Parameter's dtype (float64 here)
    assert _Probe.seen == [(np.float64, np.float64)]
    y.sum().backward()
    np.testing.assert_array_equal(p.grad.numpy(), [3.0, 3.0])
    q = nn.Parameter(mg.tensor([1.0, -2.0]))
    z = (q * 2 + 1).relu() @ q + mg.where(q > 0, q, 0.0).sum() + q.sum()
    g, = mg.grad(z, [q])
    np.testing.assert_allclose(g.numpy(), [2 * 1 + 3 + 1 + 1, 0 + 1])
    assert nn.Parameter(np.zeros(2), requires_grad=False).requires_grad is False
