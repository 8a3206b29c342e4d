"""PyTorch twins of minigen's PixelRNNs, the Row LSTM and the Diagonal BiLSTM, run side by side.

minigen's models/autoregressive/pixelrnn.py (zoo keys pixelrnn-row and pixelrnn-diag), on statically
binarized digits. A rerun rewrites bench/results/pixelrnn_side_by_side.json[KEY] with minigen's zoo number
(seed 0) only; minigen's seeds 1 and 2 there came from the zoo commands with --seed 1, 2 (or use --minigen).

The same architecture, parameter for parameter (the same names, so minigen's weights load by name; the
equivalence is checked in float64 by tests/models/test_pixelrnn_twin.py):

- a 7x7 mask-A convolution to 2h channels;
- per layer v <- v + back(lstm(v)), back a 1x1 convolution of the h-channel states to 2h channels, and the
  LSTM gates [o, f, i, g] = K_ss * h_prev + K_is * x, c = sigmoid(f) c_prev + sigmoid(i) tanh(g),
  h = sigmoid(o) tanh(c):
  - Row LSTM, row by row: K_is a masked 1x3 convolution of the row (mask B: the pixel and its left
    neighbour), K_ss a 1x3 convolution of the previous row's h;
  - Diagonal BiLSTM: skew (row i shifted right by i), column by column K_is a 1x1 convolution and K_ss a
    2x1 convolution of the previous column (the pixel above and the one to the left), unskew; a second
    LSTM on the mirrored image, its output shifted down one row, added;
- relu, a 1x1 layer, relu, a 1x1 layer to one logit per pixel (a sigmoid).

PyTorch's default Conv2d init, which minigen's copies. The same split and batches (minigen's DataLoader
with the run's seed), the zoo run's lr, batch size, steps, EMA and schedule (bench/zoo.py's ZOO_RUNS) and
the same evaluation (exact test NLL in nats per image on the 300 test digits), through the pixel twins'
shared loop and command line (bench/reference/pixel_torch.py).

    python bench/reference/pixelrnn_torch.py                       # both, seeds 0 1 2
    python bench/reference/pixelrnn_torch.py --only pixelrnn-diag --seeds 0

minigen's number for seed 0 is the zoo run's (bench/results/zoo.json); --minigen retrains minigen here for
every seed. Writes bench/results/reference.json[KEY] and bench/results/pixelrnn_side_by_side.json[KEY].
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each: a fair, quiet comparison on a shared box

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/reference/, for the shared helpers
from pixel_torch import main  # noqa: E402
from pixelcnn_torch import MaskedConv  # noqa: E402


def lstm_update(gates: torch.Tensor, c_prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[o, f, i, g] along dim 1 -> (h, c)."""
    o, f, i, g = gates.chunk(4, dim=1)
    c = torch.sigmoid(f) * c_prev + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def skew(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, H, W + H - 1): row i moved right by i."""
    h = x.shape[2]
    return torch.cat([F.pad(x[:, :, i:i + 1], (i, h - 1 - i)) for i in range(h)], dim=2)


def unskew(s: torch.Tensor, width: int) -> torch.Tensor:
    return torch.cat([s[:, :, i:i + 1, i:i + width] for i in range(s.shape[2])], dim=2)


class RowLSTMLayer(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.input_to_state = MaskedConv(channels, 4 * hidden, (1, 3), "B")
        self.state_to_state = nn.Conv2d(hidden, 4 * hidden, (1, 3), padding=(0, 1))
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, rows, width = x.shape
        from_input = self.input_to_state(x)
        h = c = x.new_zeros((b, self.hidden, 1, width))
        out = []
        for i in range(rows):
            h, c = lstm_update(self.state_to_state(h) + from_input[:, :, i:i + 1], c)
            out.append(h)
        return torch.cat(out, dim=2)


class DiagonalLSTM(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.input_to_state = MaskedConv(channels, 4 * hidden, 1, "B")
        self.state_to_state = nn.Conv2d(hidden, 4 * hidden, (2, 1))
        self.hidden = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, rows, width = x.shape
        from_input = skew(self.input_to_state(x))
        h = c = x.new_zeros((b, self.hidden, rows, 1))
        out = []
        for k in range(from_input.shape[3]):
            above_and_left = self.state_to_state(F.pad(h, (0, 0, 1, 0)))  # rows i - 1 and i of column k - 1
            h, c = lstm_update(above_and_left + from_input[:, :, :, k:k + 1], c)
            out.append(h)
        return unskew(torch.cat(out, dim=3), width)


class DiagonalBiLSTMLayer(nn.Module):
    def __init__(self, channels: int, hidden: int):
        super().__init__()
        self.forward_lstm, self.backward_lstm = DiagonalLSTM(channels, hidden), DiagonalLSTM(channels, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mirrored = self.backward_lstm(x.flip(3)).flip(3)
        return self.forward_lstm(x) + F.pad(mirrored, (0, 0, 1, 0))[:, :, :x.shape[2]]


class PixelRNN(nn.Module):
    def __init__(self, layer: type, channels: int, layers: int, first_kernel: int):
        super().__init__()
        hidden = channels // 2
        self.first = MaskedConv(1, channels, first_kernel, "A")
        self.lstms = nn.ModuleList([layer(channels, hidden) for _ in range(layers)])
        self.back = nn.ModuleList([MaskedConv(hidden, channels, 1, "B") for _ in range(layers)])
        self.head, self.out = MaskedConv(channels, channels, 1, "B"), MaskedConv(channels, 1, 1, "B")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        v = self.first(x)
        for lstm, back in zip(self.lstms, self.back):
            v = v + back(lstm(v))
        logits = self.out(torch.relu(self.head(torch.relu(v))))
        return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))


def builder(layer: type):
    """build(cfg) of a PixelRNN with `layer` LSTM layers and the zoo config's sizes."""
    def build(cfg: dict) -> PixelRNN:
        if cfg["likelihood"] != "bernoulli":
            raise ValueError(f"pixelrnn twin: binary digits only, got likelihood {cfg['likelihood']!r}")
        return PixelRNN(layer, cfg["channels"], cfg["layers"], cfg["first_kernel"])
    return build


BUILDS = {"pixelrnn-diag": builder(DiagonalBiLSTMLayer), "pixelrnn-row": builder(RowLSTMLayer)}

if __name__ == "__main__":
    main(list(BUILDS), BUILDS, "pixelrnn_side_by_side.json", __doc__.splitlines()[0])
