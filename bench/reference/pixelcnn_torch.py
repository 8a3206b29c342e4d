"""PyTorch twin of minigen's PixelCNN on statically binarized digits, run side by side.

Same architecture (a mask-A 7x7 convolution, residual blocks relu -> 1x1 -> relu -> 3x3 mask B -> relu ->
1x1 plus the skip, two 1x1 output layers, a sigmoid per pixel; PyTorch's default Conv2d init, which
minigen's copies), the same split and batches (minigen's DataLoader with the run's seed), Adam with the zoo
run's learning rate, batch size and steps (read from bench/zoo.py's ZOO_RUNS, so the budgets cannot drift
apart), the same recipe (`lr_schedule="cosine"`: torch's CosineAnnealingLR over the run; `ema` > 0: torch's
AveragedModel with get_ema_multi_avg_fn, updated after every step and evaluated instead of the trained
weights), and the same evaluation: exact test NLL in nats per image on the 300 test digits.

    python bench/reference/pixelcnn_torch.py                 # the zoo's pixelcnn config, seeds 0 1 2
    python bench/reference/pixelcnn_torch.py --seeds 0 --minigen   # also retrain minigen here

minigen's number for seed 0 is the zoo run's (bench/results/zoo.json, the same command); --minigen retrains
minigen in this process for every seed instead. Writes bench/results/reference.json["pixelcnn"]
(read-modify-write, other entries kept) and bench/results/pixelcnn_side_by_side.json. The training loop,
the recipe and the results are bench/reference/pixel_torch.py's, shared by the pixel twins.
"""
from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each: a fair, quiet comparison on a shared box

import torch  # noqa: E402
from torch import nn  # noqa: E402

from minigen.kernels.masked_conv2d import pixelcnn_mask  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # bench/reference/, for the shared helpers
from pixel_torch import main  # noqa: E402


class MaskedConv(nn.Conv2d):
    """Size-preserving conv2d(x, w * mask) with the raster mask A or B; k: an int or (kh, kw)."""

    def __init__(self, cin: int, cout: int, k, mask_type: str):
        kh, kw = (k, k) if isinstance(k, int) else k
        super().__init__(cin, cout, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", torch.from_numpy(pixelcnn_mask(kh, kw, mask_type)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class Block(nn.Module):
    def __init__(self, channels: int, dropout: float):
        super().__init__()
        half = channels // 2
        self.reduce, self.conv = MaskedConv(channels, half, 1, "B"), MaskedConv(half, half, 3, "B")
        self.expand, self.dropout = MaskedConv(half, channels, 1, "B"), nn.Dropout(dropout)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        inner = torch.relu(self.conv(torch.relu(self.reduce(torch.relu(h)))))
        return h + self.expand(self.dropout(inner))


class PixelCNN(nn.Module):
    def __init__(self, channels: int, layers: int, first_kernel: int, dropout: float):
        super().__init__()
        self.first = MaskedConv(1, channels, first_kernel, "A")
        self.blocks = nn.ModuleList([Block(channels, dropout) for _ in range(layers)])
        self.head, self.out = MaskedConv(channels, channels, 1, "B"), MaskedConv(channels, 1, 1, "B")

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h)
        logits = self.out(torch.relu(self.head(torch.relu(h))))
        return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))


def build(cfg: dict) -> PixelCNN:
    return PixelCNN(cfg["channels"], cfg["layers"], cfg["first_kernel"], cfg["dropout"])


if __name__ == "__main__":
    main(["pixelcnn"], build, "pixelcnn_side_by_side.json", __doc__.splitlines()[0])
