"""The PixelRNN layers' caches for the fast sampler (models/autoregressive/pixelrnn.py): one LSTM layer
evaluated pixel by pixel in raster order, on raw arrays, giving what the layer's forward gives there.

Notation: v(i, j) (B, 2h) is the layer's input at pixel (i, j), h(i, j) and c(i, j) (B, h) its states,
lstm(gates, c_prev) the cell of pixelrnn.lstm_update ([o, f, i, g]: c = s(f) c_prev + s(i) tanh(g),
h = s(o) tanh(c)).

Row LSTM (RowLSTMLayer): the state-to-state 1x3 convolution reads only row i - 1, the masked input-to-state
1x3 convolution (mask B) only v(i, j - 1) and v(i, j):

    h(i, j), c(i, j) = lstm(K_ss * h(i - 1, j - 1 .. j + 1) + K_is * v(i, j - 1 .. j), c(i - 1, j))

with h(-1, .) = c(-1, .) = 0 and zero padding at the row's ends. row_start(i) computes K_ss * h(i - 1, .)
for the whole row; step(i, j) adds the input term at (i, j) only.

Diagonal BiLSTM (DiagonalBiLSTMLayer): in image coordinates the skewed column recurrence of one direction
is (pixelrnn.DiagonalLSTM, K_ss a 2x1 convolution of the previous skewed column: its taps are the pixel
above and the pixel to the left; K_is 1x1)

    h(i, j), c(i, j) = lstm(W_above h(i - 1, j) + W_left h(i, j - 1) + b_ss + K_is v(i, j), c(i, j - 1))

with h(-1, .) = 0. Left of the image (j < 0: the skewed columns k = i + j < i) the skewed input is 0, so
the states there do not depend on the image: E(i) = (h, c)(i, -1), "the edge", is a function of the weights
and i alone (E(0) = 0), computed once in `diagonal_edges`. The left-to-right direction is evaluated per
pixel from h(i - 1, j), h(i, j - 1) (or E(i)) and v(i, j). The right-to-left direction runs the same
recurrence on the mirrored row (j -> W - 1 - j, its edge at j = W) and is shifted down one row, so
pixel (i, j) adds m(i - 1, j): at row_start(i) the whole row m(i - 1, .) is computed from v(i - 1, .)
and m(i - 2, .), which are known by then. The layer's output at (i, j) is h(i, j) + m(i - 1, j)
(m(-1, .) = 0).
"""
from __future__ import annotations

import numpy as np

from minigen import backend

from .pixel_layers import conv_at


def lstm_cell(gates, c_prev):
    """gates (..., 4h) as [o, f, i, g] -> (h, c), as pixelrnn.lstm_update on raw arrays."""
    xp = backend.array_module(gates)
    n = gates.shape[-1] // 4
    with np.errstate(over="ignore"):
        o, f, i = (1 / (1 + xp.exp(-gates[..., k * n:(k + 1) * n])) for k in range(3))
    c = f * c_prev + i * xp.tanh(gates[..., 3 * n:])
    return o * xp.tanh(c), c


class RowLSTMCache:
    """One Row LSTM layer's caches for `batch` images: its input (padded by one column on each side), the
    states of the row above, the states of the current row as they arrive, and the row's K_ss term."""

    def __init__(self, layer, batch: int, height: int, width: int, dtype):
        xp = backend.array_module(layer.input_to_state.weight.data)
        self.xp, self.width, hidden = xp, width, layer.hidden
        self.w_is, self.b_is = layer.input_to_state.masked_weight(), layer.input_to_state.bias.data
        self.w_ss, self.b_ss = layer.state_to_state.weight.data, layer.state_to_state.bias.data
        self.v = xp.zeros((batch, layer.input_to_state.in_channels, height, width + 2), dtype)
        self.h_above = xp.zeros((batch, hidden, width + 2), dtype)  # h(i - 1, .), zero-padded
        self.c_above = xp.zeros((batch, hidden, width), dtype)
        self.h_row, self.c_row = xp.zeros((batch, hidden, width), dtype), xp.zeros((batch, hidden, width), dtype)
        self.from_above = None

    def row_start(self, i: int) -> None:
        """K_ss * h(i - 1, .) + b_ss for the whole row i (B, 4h, W)."""
        if i > 0:
            self.h_above[:, :, 1:-1], self.c_above[...] = self.h_row, self.c_row
        w = self.width
        self.from_above = sum(self.w_ss[:, :, 0, t] @ self.h_above[:, :, t:t + w] for t in range(3)) \
            + self.b_ss[:, None]

    def step(self, i: int, j: int, v):
        """The layer's output h(i, j) (B, h) from its input v(i, j) (B, 2h)."""
        self.v[:, :, i, j + 1] = v
        gates = self.from_above[:, :, j] + conv_at(self.w_is, self.b_is, self.v, i, j, (0, 1))
        h, self.c_row[:, :, j] = lstm_cell(gates, self.c_above[:, :, j])
        self.h_row[:, :, j] = h
        return h


def diagonal_edges(lstm, height: int, dtype):
    """(h, c) (height, hidden) at (i, -1) of one direction: the skewed recurrence on columns k < i, where its
    input is 0 (skewed column k of row i is pixel j = k - i); row 0 has none (0)."""
    w_above, w_left, b = _state_weights(lstm)
    xp = backend.array_module(b)
    h = c = xp.zeros((height, w_above.shape[1]), dtype)  # skewed column k - 1 of every row (k = 0: zeros)
    edge_h, edge_c = xp.zeros_like(h), xp.zeros_like(c)
    for k in range(height - 1):
        above = xp.concatenate([xp.zeros_like(h[:1]), h[:-1]])  # row i - 1 of column k - 1
        h, c = lstm_cell(above @ w_above.T + h @ w_left.T + b, c)  # rows > k are left of the image
        edge_h[k + 1], edge_c[k + 1] = h[k + 1], c[k + 1]
    return edge_h, edge_c


def _state_weights(lstm):
    """A direction's 2x1 state-to-state convolution as (W_above, W_left, b_ss)."""
    w = lstm.state_to_state.weight.data
    return w[:, :, 0, 0], w[:, :, 1, 0], lstm.state_to_state.bias.data


class _Direction:
    """One direction's weights as matrices and its edge states."""

    def __init__(self, lstm, height: int, dtype):
        self.w_above, self.w_left, self.b_ss = _state_weights(lstm)
        self.w_is, self.b_is = lstm.input_to_state.masked_weight()[:, :, 0, 0], lstm.input_to_state.bias.data
        self.edge_h, self.edge_c = diagonal_edges(lstm, height, dtype)

    def cell(self, v, h_above, h_left, c_left):
        """(h, c) at one pixel from its input v (B, 2h) and the states above and to the left (B, h)."""
        gates = h_above @ self.w_above.T + h_left @ self.w_left.T + self.b_ss + v @ self.w_is.T + self.b_is
        return lstm_cell(gates, c_left)


class DiagonalBiLSTMCache:
    """One Diagonal BiLSTM layer's caches: the input rows, the left-to-right states of the row above and of the
    current row, and the right-to-left direction's output m of the row above (shifted down: this row's)."""

    def __init__(self, layer, batch: int, height: int, width: int, dtype):
        xp = backend.array_module(layer.forward_lstm.state_to_state.weight.data)
        self.xp, self.width, self.shape = xp, width, (batch, layer.forward_lstm.hidden)
        self.forward_dir = _Direction(layer.forward_lstm, height, dtype)
        self.mirrored = _Direction(layer.backward_lstm, height, dtype)
        self.v = xp.zeros((batch, layer.forward_lstm.input_to_state.in_channels, height, width), dtype)
        shape = (batch, layer.forward_lstm.hidden, width)
        self.h_above, self.h_row, self.c_row = xp.zeros(shape, dtype), xp.zeros(shape, dtype), xp.zeros(shape, dtype)
        self.m = xp.zeros(shape, dtype)  # m(i - 1, .): the right-to-left output added to row i

    def edge(self, d: _Direction, i: int):
        """Direction d's edge state E(i) as a batch ((B, h), (B, h))."""
        return self.xp.broadcast_to(d.edge_h[i], self.shape), self.xp.broadcast_to(d.edge_c[i], self.shape)

    def row_start(self, i: int) -> None:
        """Keep h(i - 1, .) and run the right-to-left direction over row i - 1 (from j = W - 1 down to 0)."""
        if i == 0:
            return
        self.h_above[...] = self.h_row
        m_above = self.m.copy()  # m(i - 2, .) (zeros when i = 1)
        h, c = self.edge(self.mirrored, i - 1)  # at j = W
        for j in range(self.width - 1, -1, -1):
            h, c = self.mirrored.cell(self.v[:, :, i - 1, j], m_above[:, :, j], h, c)
            self.m[:, :, j] = h

    def step(self, i: int, j: int, v):
        """The layer's output h(i, j) + m(i - 1, j) (B, h) from its input v(i, j) (B, 2h)."""
        self.v[:, :, i, j] = v
        h_left, c_left = self.edge(self.forward_dir, i) if j == 0 else (self.h_row[:, :, j - 1], self.c_row[:, :, j - 1])
        h, self.c_row[:, :, j] = self.forward_dir.cell(v, self.h_above[:, :, j], h_left, c_left)
        self.h_row[:, :, j] = h
        return h + self.m[:, :, j]
