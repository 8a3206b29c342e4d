"""PixelRNN (van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", 2016, sec. 3):
the Row LSTM and the Diagonal BiLSTM, with residual connections.

Both start with a 7x7 mask-A convolution and end like PixelCNN (relu, two 1x1 layers, a sigmoid or softmax
per pixel). Each LSTM layer maps its input x (2h channels) to states h, c (h channels) with the gates

    [o, f, i, g] = sigmoid/tanh(K_ss * h_prev + K_is * x),   c = f c_prev + i g,   h = o tanh(c)

and adds a 1x1 convolution of h back to x (the residual connection, 2h channels).

- Row LSTM: the image is processed row by row; K_is is a masked 1x3 convolution along the row (mask B:
  the pixel and its left neighbour), computed for all rows at once, and K_ss a 1x3 convolution of the
  previous row's h. The receptive field is a triangle above the pixel.
- Diagonal BiLSTM: the input map is skewed (row i shifted right by i) so that the diagonals become columns;
  K_is is a 1x1 (mask B) convolution, K_ss a 2x1 convolution of the previous column (in the image: the pixel
  above and the one to the left). Unskewed, h(i, j) sees the whole context above-left. A second LSTM runs on
  the mirrored image (right to left); its output is shifted down one row before the two are added, so the
  pixels to the right in the current row never leak. The receptive field is the causal past except, for
  pixels near the left edge, the end of the row just above: mask A lets a pixel's value in only at later
  positions, and the leftward path along a row (the mirrored LSTM) arrives one row later
  (tests/models/test_pixelrnn.py measures both fields against the Row LSTM's triangle).

Deviations, and why: `channels` = 2h small and `layers` few for 8x8 digits; one colour (the paper's
R -> G -> B masks are PixelCNN's, models/autoregressive/pixel_layers.py).

Fast sampling (pixelrnn_sampler.py): the first layer, each LSTM layer and the head are evaluated at the new
pixel only, from caches of the states the recurrences have already produced; what needs only rows < i (the
Row LSTM's state-to-state term, the Diagonal BiLSTM's whole right-to-left direction) is computed once per row.
"""
from __future__ import annotations

import minigen as mg
from minigen import backend, nn
from minigen.autograd import Tensor

from .pixel_base import PixelModel
from .pixel_layers import PixelConv2d, conv_at, pad_cache, pointwise
from .pixelrnn_sampler import DiagonalBiLSTMCache, RowLSTMCache


def lstm_update(gates: Tensor, c_prev: Tensor) -> tuple[Tensor, Tensor]:
    """[o, f, i, g] along axis 1 -> (h, c): c = sigmoid(f) c_prev + sigmoid(i) tanh(g), h = sigmoid(o) tanh(c)."""
    n = gates.shape[1] // 4
    o, f, i, g = (gates[:, k * n:(k + 1) * n] for k in range(4))
    c = f.sigmoid() * c_prev + i.sigmoid() * g.tanh()
    return o.sigmoid() * c.tanh(), c


def skew(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i moved right by i."""
    h = x.shape[2]
    return mg.cat([mg.pad(x[:, :, i:i + 1], (i, h - 1 - i)) for i in range(h)], axis=2)


def unskew(s: Tensor, width: int) -> Tensor:
    """The inverse of skew: row i read from columns i .. i + width - 1."""
    return mg.cat([s[:, :, i:i + 1, i:i + width] for i in range(s.shape[2])], axis=2)


class RowLSTMLayer(nn.Module):
    """Row by row: gates = conv_{1x3}(h of the row above) + masked conv_{1x3, B}(x of this row)."""

    CACHE = RowLSTMCache

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.input_to_state = PixelConv2d(channels, 4 * hidden, (1, 3), "B")
        self.state_to_state = nn.Conv2d(hidden, 4 * hidden, (1, 3), padding=(0, 1))
        self.hidden = hidden

    def forward(self, x: Tensor) -> Tensor:
        b, _, rows, width = x.shape
        from_input = self.input_to_state(x)
        h = c = mg.zeros((b, self.hidden, 1, width), dtype=x.dtype, device=x.device)
        out = []
        for i in range(rows):
            h, c = lstm_update(self.state_to_state(h) + from_input[:, :, i:i + 1], c)
            out.append(h)
        return mg.cat(out, axis=2)


class DiagonalLSTM(nn.Module):
    """One direction: skew, column by column gates = conv_{2x1}(h of the previous column) + conv_{1x1, B}(x),
    unskew."""

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.input_to_state = PixelConv2d(channels, 4 * hidden, 1, "B")
        self.state_to_state = nn.Conv2d(hidden, 4 * hidden, (2, 1))
        self.hidden = hidden

    def forward(self, x: Tensor) -> Tensor:
        b, _, rows, width = x.shape
        from_input = skew(self.input_to_state(x))
        h = c = mg.zeros((b, self.hidden, rows, 1), dtype=x.dtype, device=x.device)
        out = []
        for k in range(from_input.shape[3]):
            above_and_left = self.state_to_state(mg.pad(h, (0, 0, 1, 0)))   # rows i - 1 and i of column k - 1
            h, c = lstm_update(above_and_left + from_input[:, :, :, k:k + 1], c)
            out.append(h)
        return unskew(mg.cat(out, axis=3), width)


class DiagonalBiLSTMLayer(nn.Module):
    """Left-to-right plus right-to-left (on the mirrored image), the latter shifted down one row."""

    CACHE = DiagonalBiLSTMCache

    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.forward_lstm, self.backward_lstm = DiagonalLSTM(channels, hidden), DiagonalLSTM(channels, hidden)

    def forward(self, x: Tensor) -> Tensor:
        mirrored = self.backward_lstm(x[:, :, :, ::-1])[:, :, :, ::-1]
        return self.forward_lstm(x) + mg.pad(mirrored, (0, 0, 1, 0))[:, :, :x.shape[2]]


class PixelRNN(PixelModel):
    """A `first_kernel` (7x7) mask-A layer, `layers` LSTM layers (1x1 back to 2h channels, plus the input), two 1x1 output layers."""

    LAYER = RowLSTMLayer

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, channels: int = 32,
                 layers: int = 2, first_kernel: int = 7, likelihood: str = "bernoulli", levels: int = 2, binarize: str = "static",
                 event_shape: tuple | None = None, ema: float = 0.0, lr_schedule: str = "constant"):
        super().__init__(data, lr, batch_size, likelihood, levels, binarize, event_shape, ema, lr_schedule)
        if self.colors != 1 or channels % 2:
            raise ValueError(f"{self.name}: one colour and an even number of channels, got images "
                             f"{self.event_shape} and channels={channels}")
        hidden = channels // 2
        self.first = PixelConv2d(1, channels, first_kernel, "A")
        self.lstms = nn.ModuleList([self.LAYER(channels, hidden) for _ in range(layers)])
        self.back = nn.ModuleList([PixelConv2d(hidden, channels, 1, "B") for _ in range(layers)])
        self.head = PixelConv2d(channels, channels, 1, "B")
        self.out = PixelConv2d(channels, self.outputs, 1, "B")

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "channels": 32, "layers": 2, "first_kernel": 7, "likelihood": "bernoulli",
                "levels": 2, "binarize": "static", **PixelModel.TRAINING_DEFAULTS}

    def network(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        v = self.first(x)
        for lstm, back in zip(self.lstms, self.back):
            v = v + back(lstm(v))
        return self.out(self.head(v.relu()).relu())

    # ----------------------------------------------------------------------------- fast sampler
    def start_cache(self, scaled, y=None) -> dict:
        """The padded image, each LSTM layer's cache (pixelrnn_sampler.py) and the 1x1 layers' weights."""
        k = self.first.kernel_size[0] // 2
        b, dtype = scaled.shape[0], scaled.dtype
        layers = [lstm.CACHE(lstm, b, self.height, self.width, dtype) for lstm in self.lstms]
        weights = [(m.masked_weight(), m.bias.data) for m in [self.first, *self.back, self.head, self.out]]
        return {"x": pad_cache(scaled, (k, k)), "pad": (k, k), "layers": layers, "weights": weights}

    def row_start(self, cache: dict, i: int) -> None:
        """Each layer's work that needs only rows < i."""
        for layer in cache["layers"]:
            layer.row_start(i)

    def logits_at(self, cache: dict, i: int, j: int):
        """v_0 = first(x) at (i, j), v_{l+1} = v_l + back_l(lstm_l(v_l)) there, then the head."""
        xp = backend.array_module(cache["x"])
        first, *back = cache["weights"][:-2]
        v = conv_at(*first, cache["x"], i, j)
        for layer, weights in zip(cache["layers"], back):
            v = v + pointwise(*weights, layer.step(i, j, v))
        head, last = cache["weights"][-2:]
        out = pointwise(*last, xp.maximum(pointwise(*head, xp.maximum(v, 0)), 0))
        return out.reshape(out.shape[0], 1, self.outputs)


class RowLSTM(PixelRNN):
    """PixelRNN with Row LSTM layers (a triangular receptive field)."""

    LAYER = RowLSTMLayer


class DiagonalBiLSTM(PixelRNN):
    """PixelRNN with Diagonal BiLSTM layers (the whole causal past)."""

    LAYER = DiagonalBiLSTMLayer
