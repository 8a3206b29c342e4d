"""PixelCNN (van den Oord, Kalchbrenner & Kavukcuoglu, "Pixel Recurrent Neural Networks", 2016, sec. 3.5).

    p(x) = prod_{i, j} p(x_{R,i,j} | x_{<ij}) p(x_{G,i,j} | x_{<ij}, x_R) p(x_{B,i,j} | x_{<ij}, x_R, x_G)

computed for every pixel at once by masked convolutions (models/autoregressive/pixel_layers.py):

    h_0 = conv_A^{7x7}(x)                                                   the only layer that reads x
    h_l = h_{l-1} + conv_B^{1x1}(relu(conv_B^{3x3}(relu(conv_B^{1x1}(relu(h_{l-1}))))))   2h -> h -> h -> 2h
    logits = conv_B^{1x1}(relu(conv_B^{1x1}(relu(h_L))))                    per colour: 1 (sigmoid) or L (softmax)

Mask A hides the centre pixel's own colour from the first layer, mask B lets later layers see their own
position, so output (i, j, c) depends on exactly the pixels before (i, j) and the colours before c. The
stacked 3x3 masks leave a blind spot: pixels to the upper right that no path reaches (the test shows it;
the Gated PixelCNN removes it).

Deviations, and why: `layers` residual blocks of `channels` (2h) channels instead of 15 blocks of 2h = 256
(images are 8x8: a 7x7 first layer and a few 3x3 layers already see the whole causal past that the mask
lets through); optional dropout before the last 1x1 convolution of each block (1,297 training digits
overfit); 17-way softmax on the 17-level digits instead of 256-way.

Fast sampling: the layers are evaluated at the new pixel only, from caches of the (padded) inputs of the
convolutions wider than 1x1: the image and relu(h_{l-1}) before each block's 3x3 layer. A position's
activations depend only on earlier pixels, so once computed they never change.
"""
from __future__ import annotations

from minigen import backend, nn
from minigen.autograd import Tensor

from .pixel_base import PixelModel
from .pixel_layers import PixelConv2d, conv_at, pad_cache, pointwise


class ResidualBlock(nn.Module):
    """relu -> 1x1 (2h -> h) -> relu -> 3x3 mask B (h -> h) -> relu -> [dropout] -> 1x1 (h -> 2h), plus x."""

    def __init__(self, channels: int, colors: int, dropout: float):
        super().__init__()
        half = channels // 2
        self.reduce = PixelConv2d(channels, half, 1, "B", colors)
        self.conv = PixelConv2d(half, half, 3, "B", colors)
        self.expand = PixelConv2d(half, channels, 1, "B", colors)
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: Tensor) -> Tensor:
        inner = self.conv(self.reduce(h.relu()).relu()).relu()
        return h + self.expand(self.dropout(inner))


class PixelCNN(PixelModel):
    """A mask-A 7x7 layer, `layers` residual blocks of masked convolutions, two 1x1 output layers."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, channels: int = 64,
                 layers: int = 4, first_kernel: int = 7, dropout: float = 0.0, likelihood: str = "bernoulli",
                 levels: int = 2, binarize: str = "static", event_shape: tuple | None = None, ema: float = 0.0,
                 lr_schedule: str = "constant"):
        super().__init__(data, lr, batch_size, likelihood, levels, binarize, event_shape, ema, lr_schedule)
        c = self.colors
        if channels % (2 * c):
            raise ValueError(f"pixelcnn: channels must be a multiple of 2 x colours = {2 * c}, got {channels}")
        self.channels, self.num_layers = int(channels), int(layers)
        self.first = PixelConv2d(c, channels, first_kernel, "A", c)
        self.blocks = nn.ModuleList([ResidualBlock(channels, c, dropout) for _ in range(layers)])
        self.head = PixelConv2d(channels, channels, 1, "B", c)
        self.out = PixelConv2d(channels, c * self.outputs, 1, "B", c)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "channels": 64, "layers": 4, "first_kernel": 7, "dropout": 0.0,
                "likelihood": "bernoulli", "levels": 2, "binarize": "static", **PixelModel.TRAINING_DEFAULTS}

    def network(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        h = self.first(x)
        for block in self.blocks:
            h = block(h)
        return self.out(self.head(h.relu()).relu())

    # ----------------------------------------------------------------------------- fast sampler
    def start_cache(self, scaled, y=None) -> dict:
        """The padded image and, per block, the padded input of its 3x3 layer (filled as pixels arrive)."""
        xp = backend.array_module(scaled)
        k = self.first.kernel_size[0] // 2
        b = scaled.shape[0]
        inner = [xp.zeros((b, self.channels // 2, self.height + 2, self.width + 2), scaled.dtype)
                 for _ in self.blocks]
        layers = [self.first] + [m for blk in self.blocks for m in (blk.reduce, blk.conv, blk.expand)]
        weights = [(layer.masked_weight(), layer.bias.data) for layer in layers + [self.head, self.out]]
        return {"x": pad_cache(scaled, (k, k)), "pad": (k, k), "inner": inner, "weights": weights}

    def logits_at(self, cache: dict, i: int, j: int):
        """The network at pixel (i, j) only, writing each block's 3x3 input there into its cache."""
        xp = backend.array_module(cache["x"])
        weights = iter(cache["weights"])
        h = conv_at(*next(weights), cache["x"], i, j)
        for inner in cache["inner"]:
            reduce, conv, expand = next(weights), next(weights), next(weights)
            inner[:, :, i + 1, j + 1] = xp.maximum(pointwise(*reduce, xp.maximum(h, 0)), 0)
            h = h + pointwise(*expand, xp.maximum(conv_at(*conv, inner, i, j), 0))
        head, last = next(weights), next(weights)
        out = pointwise(*last, xp.maximum(pointwise(*head, xp.maximum(h, 0)), 0))
        return out.reshape(out.shape[0], self.colors, self.outputs)
