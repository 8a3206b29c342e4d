"""PyTorch twin of minigen's Gated PixelCNN (and its class-conditional run) on statically binarized digits.

The same architecture as models/autoregressive/gated_pixelcnn.py, written here from its equations:

    [f_v, g_v] = W_v * v_{l-1} + V_v e(y),     v_l = tanh(f_v) sigmoid(g_v)
    [f_h, g_h] = W_h * h_{l-1} + W_link [f_v, g_v] + V_h e(y),     u_l = tanh(f_h) sigmoid(g_h)
    h_l = h_{l-1} + W_out dropout(u_l)  (layer 0: h_0 = W_out dropout(u_0)),   v_0 = h_0 = the image
    logits = 1x1(relu(1x1(relu(h_L)))), a sigmoid per pixel

W_v: a k x k kernel keeping the rows strictly above the centre in layer 0 ("V_A") and the centre row too
after ("V_B"); W_h: a 1 x k kernel keeping the pixels left of the centre ("H_A") and the centre too after
("H_B"); k = first_kernel in layer 0, 3 after; size-preserving zero padding; like minigen, masks on full
kernels instead of the paper's (k//2 + 1) x k vertical kernels and down-shift (the same dependencies).
e(y): one embedding per stack and layer (2p values per class), only in the class-conditional run.
Initialisation: PyTorch's defaults for Conv2d and Embedding (N(0, 1)), which minigen's layers copy.
tests/models/test_pixelcnn_gated_twin.py loads minigen's initial weights into this network and checks the
log-likelihood, its gradient and one Adam step against minigen's in float64.

The recipe, data, budget and evaluation are bench/reference/pixel_torch.py's (the zoo run's, read from
bench/zoo.py's ZOO_RUNS).

    python bench/reference/gated_pixelcnn_torch.py              # gated-pixelcnn and gated-pixelcnn@cond, seeds 0 1 2
    python bench/reference/gated_pixelcnn_torch.py --only gated-pixelcnn --seeds 0

Writes bench/results/reference.json[KEY] and bench/results/gated_pixelcnn_side_by_side.json.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each: a fair, quiet comparison on a shared box

import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/reference/, for the shared helpers
from pixel_torch import main  # noqa: E402

KEYS = ["gated-pixelcnn", "gated-pixelcnn@cond"]
NUM_CLASSES = 10


def stack_mask(k: int, mask_type: str) -> torch.Tensor:
    """The (rows, k) mask of a stack's kernel: V_A/V_B on k x k, H_A/H_B on 1 x k (centre k // 2)."""
    rows, c = (1 if mask_type[0] == "H" else k), k // 2
    keep = c + (mask_type[-1] == "B")  # taps kept: rows (vertical) or columns (horizontal) < keep
    mask = torch.zeros(rows, k)
    if mask_type[0] == "V":
        mask[:keep] = 1
    else:
        mask[0, :keep] = 1
    return mask


class StackConv(nn.Conv2d):
    """conv2d(x, w * mask) with the stack's mask, size-preserving."""

    def __init__(self, cin: int, cout: int, k: int, mask_type: str):
        rows = 1 if mask_type[0] == "H" else k
        super().__init__(cin, cout, (rows, k), padding=(rows // 2, k // 2))
        self.register_buffer("mask", stack_mask(k, mask_type))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


def gate(pre: torch.Tensor) -> torch.Tensor:
    f, g = pre.chunk(2, dim=1)
    return torch.tanh(f) * torch.sigmoid(g)


class GatedLayer(nn.Module):
    def __init__(self, cin: int, channels: int, k: int, first: bool, conditional: bool, dropout: float):
        super().__init__()
        self.first = first
        self.dropout = nn.Dropout(dropout)
        self.vertical = StackConv(cin, 2 * channels, k, "V_A" if first else "V_B")
        self.horizontal = StackConv(cin, 2 * channels, k, "H_A" if first else "H_B")
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        if conditional:
            self.embed_v = nn.Embedding(NUM_CLASSES, 2 * channels)
            self.embed_h = nn.Embedding(NUM_CLASSES, 2 * channels)

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None):
        bias_v = bias_h = 0.0
        if y is not None:
            bias_v, bias_h = (e(y)[:, :, None, None] for e in (self.embed_v, self.embed_h))
        pre_v = self.vertical(v) + bias_v
        out = self.out(self.dropout(gate(self.horizontal(h) + self.link(pre_v) + bias_h)))
        return gate(pre_v), out if self.first else h + out


class GatedPixelCNN(nn.Module):
    def __init__(self, channels: int, layers: int, first_kernel: int, conditional: bool, dropout: float):
        super().__init__()
        self.stack = nn.ModuleList([GatedLayer(1 if l == 0 else channels, channels, first_kernel if l == 0 else 3,
                                               l == 0, conditional, dropout) for l in range(layers)])
        self.head, self.logits = nn.Conv2d(channels, channels, 1), nn.Conv2d(channels, 1, 1)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        v = h = x
        for layer in self.stack:
            v, h = layer(v, h, y)
        logits = self.logits(torch.relu(self.head(torch.relu(h))))
        return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))


def build(cfg: dict) -> GatedPixelCNN:
    if cfg["likelihood"] != "bernoulli":
        raise ValueError(f"gated twin: binary digits only, got likelihood {cfg['likelihood']!r}")
    return GatedPixelCNN(cfg["channels"], cfg["layers"], cfg["first_kernel"], bool(cfg["class_conditional"]),
                         cfg["dropout"])


if __name__ == "__main__":
    main(KEYS, build, "gated_pixelcnn_side_by_side.json", __doc__.splitlines()[0])
