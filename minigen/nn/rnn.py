"""Recurrent layers with PyTorch's gate orders, parameter names (weight_ih_l0, weight_hh_l0, bias_ih_l0,
bias_hh_l0, ..._reverse) and initialisation U(-1/sqrt(hidden), 1/sqrt(hidden)).

LSTM (gates i, f, g, o):
    i, f, o = sigmoid(.), g = tanh(.)  of  x W_ih^T + b_ih + h W_hh^T + b_hh  (split in four)
    c' = f c + i g,   h' = o tanh(c')
GRU (gates r, z, n):
    r, z = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
    n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),   h' = (1 - z) n + z h

The cells step once; LSTM and GRU share one stacked, optionally bidirectional loop (`_Recurrent`), which
carries the state as a tuple: (h, c) for the LSTM, (h,) for the GRU.
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
from .module import Module, Parameter, check_input_dtype


def _lstm_step(gates_in: Tensor, state: tuple, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """One LSTM step given the input part of the gates (x W_ih^T + both biases): returns (h', c')."""
    h, c = state
    gates = gates_in + matmul(h, transpose(w_hh))
    n = h.shape[-1]
    i = sigmoid(gates[..., :n])
    f = sigmoid(gates[..., n:2 * n])
    g = tanh(gates[..., 2 * n:3 * n])
    o = sigmoid(gates[..., 3 * n:])
    c = f * c + i * g
    return o * tanh(c), c


def _gru_step(gates_in: Tensor, state: tuple, w_hh: Tensor, b_hh: Tensor | None) -> tuple[Tensor]:
    """One GRU step given the input part of the gates (x W_ih^T + b_ih): returns (h',). b_hn stays inside
    r (...), so the hidden bias is not folded into the input part."""
    (h,) = state
    hidden = matmul(h, transpose(w_hh))
    if b_hh is not None:
        hidden = hidden + b_hh
    n = h.shape[-1]
    r = sigmoid(gates_in[..., :n] + hidden[..., :n])
    z = sigmoid(gates_in[..., n:2 * n] + hidden[..., n:2 * n])
    candidate = tanh(gates_in[..., 2 * n:] + r * hidden[..., 2 * n:])
    return (candidate + z * (h - candidate),)


def _input_gates(x: Tensor, w_ih: Tensor, b_ih: Tensor | None, b_hh: Tensor | None) -> Tensor:
    """x W_ih^T + b_ih (+ b_hh when given: the LSTM folds both biases here), for all steps at once."""
    gates = matmul(x, transpose(w_ih))
    if b_ih is not None:
        gates = gates + (b_ih if b_hh is None else b_ih + b_hh)
    return gates


def _zeros_state(x: Tensor, shape: tuple) -> Tensor:
    """A zero initial state on x's device and dtype."""
    return Tensor._make(backend.array_module(x.data).zeros(shape, x.dtype))


def _uniform_params(module: Module, hidden_size: int) -> None:
    """Every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden)) (PyTorch's RNN initialisation)."""
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class _Cell(Module):
    """One step of a recurrent layer; subclasses set `gates` (per hidden unit), `step` and `cell_state`."""

    gates = 0
    cell_state = False  # True: the state is (h, c), given and returned as a pair (LSTMCell)

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: str = "cpu",
                 dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bias
        rows, dtype = self.gates * self.hidden_size, resolve(dtype)
        self.weight_ih = Parameter(np.zeros((rows, self.input_size), dtype))
        self.weight_hh = Parameter(np.zeros((rows, self.hidden_size), dtype))
        self.register_parameter("bias_ih", Parameter(np.zeros(rows, dtype)) if bias else None)
        self.register_parameter("bias_hh", Parameter(np.zeros(rows, dtype)) if bias else None)
        _uniform_params(self, self.hidden_size)
        if device != "cpu":
            self.to(device)

    def forward(self, x: Tensor, hx=None):
        name = type(self).__name__
        if x.ndim not in (1, 2) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}({self.input_size}, {self.hidden_size}): expected input of shape "
                             f"(N, {self.input_size}) or ({self.input_size},), got {x.shape} on {x.device}")
        check_input_dtype(self, x, self.weight_ih)
        if hx is None:
            zero = _zeros_state(x, x.shape[:-1] + (self.hidden_size,))
            hx = (zero, zero) if self.cell_state else zero
        state = tuple(hx) if self.cell_state else (hx,)
        folded = self.bias_hh if self.cell_state else None
        out = type(self).step(_input_gates(x, self.weight_ih, self.bias_ih, folded), state, self.weight_hh,
                              None if self.cell_state else self.bias_hh)
        return out if self.cell_state else out[0]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class LSTMCell(_Cell):
    """One LSTM step: (x, (h, c)) -> (h', c'); x of shape (N, input_size) or (input_size,)."""

    gates, cell_state, step = 4, True, staticmethod(_lstm_step)


class GRUCell(_Cell):
    """One GRU step: (x, h) -> h'; x of shape (N, input_size) or (input_size,)."""

    gates, cell_state, step = 3, False, staticmethod(_gru_step)


class _Recurrent(Module):
    """A stack of recurrent layers over a sequence (T, N, input) (or (N, T, input) with batch_first, or
    unbatched (T, input)). Returns the last layer's output (T, N, D*hidden) and the final state, each part
    (num_layers*D, N, hidden), with D = 2 when bidirectional. Dropout acts between layers in training."""

    gates = 0
    cell_state = False

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: str = "cpu", dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.dropout, self.bidirectional = bias, batch_first, dropout, bidirectional
        directions = 2 if bidirectional else 1
        h, rows, dtype = self.hidden_size, self.gates * self.hidden_size, resolve(dtype)
        for layer in range(num_layers):
            n_in = self.input_size if layer == 0 else h * directions
            for suffix in ("", "_reverse")[:directions]:
                self.register_parameter(f"weight_ih_l{layer}{suffix}", Parameter(np.zeros((rows, n_in), dtype)))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", Parameter(np.zeros((rows, h), dtype)))
                for name in ("bias_ih", "bias_hh"):
                    self.register_parameter(f"{name}_l{layer}{suffix}",
                                            Parameter(np.zeros(rows, dtype)) if bias else None)
        _uniform_params(self, h)
        if device != "cpu":
            self.to(device)

    def _run(self, x: Tensor, layer: int, suffix: str, state: tuple) -> tuple[list, tuple]:
        """One direction of one layer over the whole sequence: the outputs in time order and the last state."""
        p = self._parameters
        b_hh = p[f"bias_hh_l{layer}{suffix}"]
        gates = _input_gates(x, p[f"weight_ih_l{layer}{suffix}"], p[f"bias_ih_l{layer}{suffix}"],
                             b_hh if self.cell_state else None)
        w_hh, b_hh = p[f"weight_hh_l{layer}{suffix}"], None if self.cell_state else b_hh
        step = type(self).step
        steps = range(x.shape[0] - 1, -1, -1) if suffix else range(x.shape[0])
        outputs = [None] * x.shape[0]
        for t in steps:
            state = step(gates[t], state, w_hh, b_hh)
            outputs[t] = state[0]
        return outputs, state

    def forward(self, x: Tensor, hx=None):
        name = type(self).__name__
        batched = x.ndim == 3
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{name}({self.input_size}, {self.hidden_size}): expected input of shape "
                             f"(T, N, {self.input_size}), (N, T, {self.input_size}) with batch_first, or "
                             f"(T, {self.input_size}); got {x.shape} on {x.device}")
        check_input_dtype(self, x, self.weight_ih_l0)
        if not batched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = transpose(x, (1, 0, 2))
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, x.shape[1], self.hidden_size)
        parts = 2 if self.cell_state else 1
        if hx is None:
            initial = (_zeros_state(x, state_shape),) * parts
        else:
            initial = tuple(hx) if self.cell_state else (hx,)
            if not batched:
                initial = tuple(s.unsqueeze(1) for s in initial)
            if any(s.shape != state_shape for s in initial):
                raise ValueError(f"{name}: expected initial states of shape {state_shape}, got "
                                 f"{' and '.join(str(s.shape) for s in initial)}")
        finals: list = [[] for _ in range(parts)]
        for layer in range(self.num_layers):
            per_direction = []
            for d, suffix in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                outputs, state = self._run(x, layer, suffix, tuple(s[k] for s in initial))
                per_direction.append(stack(outputs, axis=0))
                for final, s in zip(finals, state):
                    final.append(s)
            x = per_direction[0] if directions == 1 else cat(per_direction, axis=-1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        state = tuple(stack(final, axis=0) for final in finals)
        if not batched:
            x, state = x.squeeze(1), tuple(s.squeeze(1) for s in state)
        elif self.batch_first:
            x = transpose(x, (1, 0, 2))
        return x, (state if self.cell_state else state[0])

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


class LSTM(_Recurrent):
    """Stacked LSTM layers (see _Recurrent); returns (output, (h_n, c_n)) and takes hx = (h_0, c_0)."""

    gates, cell_state, step = 4, True, staticmethod(_lstm_step)


class GRU(_Recurrent):
    """Stacked GRU layers (see _Recurrent); returns (output, h_n) and takes hx = h_0."""

    gates, cell_state, step = 3, False, staticmethod(_gru_step)
