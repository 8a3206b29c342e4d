"""LSTMCell and LSTM (multi-layer, optionally bidirectional), PyTorch's gate order (i, f, g, o),
parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ..._reverse) and initialisation
U(-1/sqrt(hidden), 1/sqrt(hidden)).

    i, f, o = sigmoid(.), g = tanh(.)  of  x W_ih^T + b_ih + h W_hh^T + b_hh  (split in four)
    c' = f c + i g,   h' = o tanh(c')
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .. import functional as F
from ..autograd import Tensor
from ..ops.elementwise import sigmoid, tanh
from ..ops.linalg import matmul
from ..ops.shape import cat, stack, transpose
from ..dtypes import resolve
from . import init
from .module import Module, Parameter


def _lstm_step(gates_in: Tensor, h: Tensor, c: Tensor, w_hh: Tensor) -> tuple[Tensor, Tensor]:
    """One step given the input part of the gates (x W_ih^T + biases): returns (h', c')."""
    gates = gates_in + matmul(h, transpose(w_hh))
    n = h.shape[-1]
    i = sigmoid(gates[..., :n])
    f = sigmoid(gates[..., n:2 * n])
    g = tanh(gates[..., 2 * n:3 * n])
    o = sigmoid(gates[..., 3 * n:])
    c = f * c + i * g
    return o * tanh(c), c


def _input_gates(x: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """x W_ih^T + b_ih + b_hh (both biases folded into the input part, computed for all steps at once)."""
    gates = matmul(x, transpose(w_ih))
    if b_ih is not None:
        gates = gates + (b_ih + b_hh)
    return gates


def _zeros_state(x: Tensor, shape: tuple) -> Tensor:
    """A zero initial state on x's device and dtype."""
    return Tensor._make(backend.array_module(x.data).zeros(shape, x.dtype))


def _uniform_params(module: Module, hidden_size: int) -> None:
    """Every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) (PyTorch's RNN initialisation)."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class LSTMCell(Module):
    """One LSTM step: (x, (h, c)) -> (h', c'); x of shape (N, input_size) or (input_size,)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str = "cpu",
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        self.weight_ih = Parameter(np.zeros((4 * hidden_size, input_size), resolve(dtype)))
        self.weight_hh = Parameter(np.zeros((4 * hidden_size, hidden_size), resolve(dtype)))
        self.register_parameter("bias_ih", Parameter(np.zeros(4 * hidden_size, resolve(dtype))) if bias else None)
        self.register_parameter("bias_hh", Parameter(np.zeros(4 * hidden_size, resolve(dtype))) if bias else None)
        _uniform_params(self, self.hidden_size)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"LSTMCell({self.input_size}, {self.hidden_size}): expected input of shape "
                             f"(N, {self.input_size}) or ({self.input_size},), got {x.shape} on {x.device}")
        if hx is None:
            zero = _zeros_state(x, x.shape[:-1] + (self.hidden_size,))
            hx = (zero, zero)
        gates = _input_gates(x, self.weight_ih, self.bias_ih, self.bias_hh)
        return _lstm_step(gates, hx[0], hx[1], self.weight_hh)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class LSTM(Module):
    """A stack of LSTM layers over a sequence (T, N, input) (or (N, T, input) with batch_first, or
    unbatched (T, input)). Returns output (T, N, D*hidden) of the last layer and (h_n, c_n), each
    (num_layers*D, N, hidden), with D = 2 when bidirectional. Dropout acts between layers in training."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str = "cpu", dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        directions = 2 if bidirectional else 1
        h, dtype = self.hidden_size, resolve(dtype)
        for layer in range(num_layers):
            n_in = self.input_size if layer == 0 else h * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", Parameter(np.zeros((4 * h, n_in), dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", Parameter(np.zeros((4 * h, h), dtype)))
                for name in ("bias_ih", "bias_hh"):
                    self.register_parameter(f"{name}_l{layer}{suffix}",
                                            Parameter(np.zeros(4 * h, dtype)) if bias else None)
        _uniform_params(self, h)
        if device != "cpu":
            self.to(device)

    def _run(self, x: Tensor, layer: int, suffix: str, h: Tensor, c: Tensor) -> tuple[list, Tensor, Tensor]:
        """One direction of one layer over the whole sequence: the outputs in time order and (h_T, c_T)."""
        p = self._parameters
        gates = _input_gates(x, p[f"weight_ih_l{layer}{suffix}"], p[f"bias_ih_l{layer}{suffix}"],
                             p[f"bias_hh_l{layer}{suffix}"])
        w_hh = p[f"weight_hh_l{layer}{suffix}"]
        steps = range(x.shape[0] - 1, -1, -1) if suffix else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            h, c = _lstm_step(gates[t], h, c, w_hh)
            outputs[t] = h
        return outputs, h, c

    def forward(self, x: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        batched = x.ndim == 3
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"LSTM({self.input_size}, {self.hidden_size}): expected input of shape "
                             f"(T, N, {self.input_size}), (N, T, {self.input_size}) with batch_first, or "
                             f"(T, {self.input_size}); got {x.shape} on {x.device}")
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = transpose(x, (1, 0, 2))
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        if hx is None:
            h0 = c0 = _zeros_state(x, state_shape)
        else:
            h0, c0 = hx
            if not batched:
                h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
            if h0.shape != state_shape or c0.shape != state_shape:
                raise ValueError(f"LSTM: expected initial states of shape {state_shape}, got {h0.shape} and "
                                 f"{c0.shape}")
        hs, cs = [], []
        for layer in range(self.num_layers):
            per_direction = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                outputs, h, c = self._run(x, layer, suffix, h0[k], c0[k])
                per_direction.append(stack(outputs, axis=0))
                hs.append(h)
                cs.append(c)
            x = per_direction[0] if directions == 1 else cat(per_direction, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        h_n, c_n = stack(hs, axis=0), stack(cs, axis=0)
        if not batched:
            return x.squeeze(1), (h_n.squeeze(1), c_n.squeeze(1))
        if self.batch_first:
            x = transpose(x, (1, 0, 2))
        return x, (h_n, c_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s
