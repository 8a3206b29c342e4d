"""The engines bench/peers.py compares, each behind the same small interface, so that every workload
(bench/peers_workloads.py) is written once.

An engine wraps arrays as parameters (leaves that get gradients) or constants, provides the few ops the
workloads use (each engine's own function where it has one: its conv, its softplus, its cross-entropy),
and a backward/zero-grad/SGD step. Nothing here imports an engine at module level: this file is also
loaded by the legacy worker (NumPy < 1.24, DeZero and Chainer), where minigen and PyTorch are absent.

Ops every engine provides: linear(x, w, b) with w (out, in), relu, sigmoid, tanh, exp, softplus, sum,
conv2d(x, w, b, stride, padding) (cross-correlation, w (O, C, kh, kw)), reshape, upsample2 (nearest, by
reshape + broadcast + reshape), detach, cross_entropy(logits, labels) (mean), bce_logits(logits, target)
(mean of softplus(l) - t l).
"""
from __future__ import annotations

import importlib

import numpy as np


class Engine:
    """The shared interface; subclasses override what their engine spells differently."""

    name = "?"
    module = "?"  # what to import to tell whether the engine is there

    def version(self) -> str:
        return importlib.import_module(self.module).__version__

    # arrays in and out
    def param(self, a: np.ndarray):
        raise NotImplementedError

    def const(self, a: np.ndarray):
        raise NotImplementedError

    def labels(self, a: np.ndarray):
        """Integer class labels as the engine's cross-entropy takes them."""
        return a

    def value(self, t) -> np.ndarray:
        return np.asarray(t.data)

    def grad(self, p) -> np.ndarray:
        return np.asarray(p.grad)

    # training
    def zero_grads(self, params) -> None:
        for p in params:
            p.grad = None

    def backward(self, loss) -> None:
        loss.backward()

    def sgd(self, params, lr: float) -> None:
        for p in params:
            p.data -= lr * self.grad(p)

    # ops with one spelling in most engines
    def reshape(self, x, shape):
        return x.reshape(shape)

    def upsample2(self, x):
        n, c, h, w = x.shape
        return self.reshape(self.broadcast_to(self.reshape(x, (n, c, h, 1, w, 1)), (n, c, h, 2, w, 2)),
                            (n, c, 2 * h, 2 * w))

    def bce_logits(self, logits, target):
        return self.mean(self.softplus(logits) - target * logits)

    def mean(self, x):
        return self.sum(x) * (1.0 / x.size)

    def linear(self, x, w, b):
        return x @ w.T + b


class Minigen(Engine):
    name, module = "minigen", "minigen"

    def __init__(self):
        import minigen as mg
        import minigen.functional as F
        from minigen.ops.conv import conv2d
        self.mg, self.F, self._conv2d = mg, F, conv2d

    def param(self, a):
        return self.mg.tensor(a, requires_grad=True)

    def const(self, a):
        return self.mg.tensor(a)

    def labels(self, a):
        return self.mg.tensor(a)

    def grad(self, p):
        return p.grad.data

    def sgd(self, params, lr):
        for p in params:
            p.data -= lr * p.grad.data

    def linear(self, x, w, b): return self.F.linear(x, w, b)
    def relu(self, x): return x.relu()
    def sigmoid(self, x): return x.sigmoid()
    def tanh(self, x): return x.tanh()
    def exp(self, x): return x.exp()
    def softplus(self, x): return x.softplus()
    def sum(self, x): return x.sum()
    def mean(self, x): return x.mean()
    def broadcast_to(self, x, shape): return x.expand(*shape)
    def detach(self, x): return x.detach()
    def conv2d(self, x, w, b, stride=1, padding=0): return self._conv2d(x, w, b, stride=stride, padding=padding)
    def cross_entropy(self, logits, labels): return self.F.cross_entropy(logits, labels)
    def bce_logits(self, logits, target): return self.F.binary_cross_entropy_with_logits(logits, target)


class Torch(Engine):
    name, module = "torch", "torch"

    def __init__(self):
        import torch
        self.torch, self.F = torch, torch.nn.functional

    def param(self, a):
        return self.torch.from_numpy(a.copy()).requires_grad_()

    def const(self, a):
        return self.torch.from_numpy(a.copy())

    def labels(self, a):
        return self.torch.from_numpy(a.astype(np.int64))

    def value(self, t):
        return t.detach().numpy()

    def grad(self, p):
        return p.grad.numpy()

    def sgd(self, params, lr):
        for p in params:
            p.data.add_(p.grad, alpha=-lr)

    def linear(self, x, w, b): return self.F.linear(x, w, b)
    def relu(self, x): return x.relu()
    def sigmoid(self, x): return x.sigmoid()
    def tanh(self, x): return x.tanh()
    def exp(self, x): return x.exp()
    def softplus(self, x): return self.F.softplus(x)
    def sum(self, x): return x.sum()
    def mean(self, x): return x.mean()
    def broadcast_to(self, x, shape): return x.expand(*shape)
    def detach(self, x): return x.detach()
    def conv2d(self, x, w, b, stride=1, padding=0): return self.F.conv2d(x, w, b, stride=stride, padding=padding)
    def cross_entropy(self, logits, labels): return self.F.cross_entropy(logits, labels)
    def bce_logits(self, logits, target): return self.F.binary_cross_entropy_with_logits(logits, target)


class MyGrad(Engine):
    name, module = "mygrad", "mygrad"

    def __init__(self):
        import mygrad
        from mygrad.nnet.layers import conv_nd
        from mygrad.nnet.losses import softmax_crossentropy
        self.m, self._conv, self._ce = mygrad, conv_nd, softmax_crossentropy

    def param(self, a):
        return self.m.tensor(a.copy())

    def const(self, a):
        return self.m.tensor(a.copy(), constant=True)

    def grad(self, p):
        return p.grad

    def zero_grads(self, params):
        for p in params:
            p.null_grad()

    def relu(self, x): return self.m.nnet.activations.relu(x)
    def sigmoid(self, x): return self.m.nnet.activations.sigmoid(x)
    def tanh(self, x): return self.m.tanh(x)
    def exp(self, x): return self.m.exp(x)
    def softplus(self, x): return self.m.logaddexp(0.0, x)
    def sum(self, x): return self.m.sum(x)
    def mean(self, x): return self.m.mean(x)
    def broadcast_to(self, x, shape): return self.m.broadcast_to(x, shape)
    def detach(self, x): return self.m.tensor(x.data, constant=True)

    def conv2d(self, x, w, b, stride=1, padding=0):
        """MyGrad refuses a stride that leaves padded rows unused ((H + 2p - k) % s != 0) where the others
        drop them: then the rows and columns that no window reaches are left out of the padding."""
        k, size = w.shape[2], x.shape[2]
        unused = (size + 2 * padding - k) % stride
        if unused:
            n, c = x.shape[:2]
            x = self._pad(x, padding, padding - unused)
            padding = 0
        return self._conv(x, w, stride=stride, padding=padding) + b.reshape(1, -1, 1, 1)

    def _pad(self, x, before: int, after: int):
        """Zeros around the last two axes (square images), by concatenation (MyGrad has no pad)."""
        n, c, h, _ = x.shape
        zeros = lambda *shape: self.m.tensor(np.zeros(shape, x.dtype), constant=True)  # noqa: E731
        x = self.m.concatenate([zeros(n, c, before, h), x, zeros(n, c, after, h)], axis=2)
        return self.m.concatenate([zeros(n, c, x.shape[2], before), x, zeros(n, c, x.shape[2], after)], axis=3)

    def cross_entropy(self, logits, labels): return self._ce(logits, labels)


class DeZero(Engine):
    name, module = "dezero", "dezero"

    def __init__(self):
        import dezero
        import dezero.functions as F
        self.dz, self.F = dezero, F

    def version(self):
        from importlib.metadata import version
        return version("dezero")

    def param(self, a):
        return self.dz.Variable(a.copy())

    def const(self, a):
        return self.dz.Variable(a.copy())

    def grad(self, p):
        return p.grad.data

    def zero_grads(self, params):
        for p in params:
            p.cleargrad()

    def sgd(self, params, lr):
        for p in params:
            p.data -= lr * p.grad.data

    def linear(self, x, w, b): return self.F.linear(x, w.T, b)  # DeZero's W is (in, out)
    def relu(self, x): return self.F.relu(x)
    def sigmoid(self, x): return self.F.sigmoid(x)
    def tanh(self, x): return self.F.tanh(x)
    def exp(self, x): return self.F.exp(x)
    def sum(self, x): return self.F.sum(x)
    def reshape(self, x, shape): return self.F.reshape(x, shape)
    def broadcast_to(self, x, shape): return self.F.broadcast_to(x, shape)
    def detach(self, x): return self.dz.Variable(x.data)

    def softplus(self, x):
        """DeZero has no softplus (nor abs): relu(x) + log(1 + exp(-|x|)) with |x| = 2 relu(x) - x."""
        r = self.F.relu(x)
        return r + self.F.log(1.0 + self.F.exp(x - 2.0 * r))

    def conv2d(self, x, w, b, stride=1, padding=0):
        return self.F.conv2d(x, w, b, stride=stride, pad=padding)

    def cross_entropy(self, logits, labels): return self.F.softmax_cross_entropy(logits, labels)


class Chainer(Engine):
    name, module = "chainer", "chainer"

    def __init__(self):
        import chainer
        import chainer.functions as F
        self.ch, self.F = chainer, F

    def param(self, a):
        return self.ch.Variable(a.copy())

    def const(self, a):
        return self.ch.Variable(a.copy(), requires_grad=False)

    def labels(self, a):
        return a.astype(np.int32)

    def value(self, t):
        return np.asarray(t.array)

    def zero_grads(self, params):
        for p in params:
            p.cleargrad()

    def sgd(self, params, lr):
        for p in params:
            p.array -= lr * p.grad

    def linear(self, x, w, b): return self.F.linear(x, w, b)
    def relu(self, x): return self.F.relu(x)
    def sigmoid(self, x): return self.F.sigmoid(x)
    def tanh(self, x): return self.F.tanh(x)
    def exp(self, x): return self.F.exp(x)
    def softplus(self, x): return self.F.softplus(x)
    def sum(self, x): return self.F.sum(x)
    def mean(self, x): return self.F.mean(x)
    def reshape(self, x, shape): return self.F.reshape(x, shape)
    def broadcast_to(self, x, shape): return self.F.broadcast_to(x, shape)
    def detach(self, x): return x.array

    def conv2d(self, x, w, b, stride=1, padding=0):
        return self.F.convolution_2d(x, w, b, stride=stride, pad=padding)

    def cross_entropy(self, logits, labels): return self.F.softmax_cross_entropy(logits, labels)


ENGINES = {e.name: e for e in (Minigen, Torch, MyGrad, DeZero, Chainer)}
LEGACY = ("dezero", "chainer")  # run in the second virtual environment (NumPy < 1.24)


def available(name: str) -> bool:
    """Whether the engine imports here (its import errors are reasons, not failures)."""
    try:
        importlib.import_module(ENGINES[name].module)
        return True
    except Exception:
        return False
