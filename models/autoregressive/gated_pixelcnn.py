"""Gated PixelCNN (van den Oord, Kalchbrenner, Vinyals, Espeholt, Graves & Kavukcuoglu, "Conditional Image
Generation with PixelCNN Decoders", 2016), optionally class-conditional: the conditional PixelCNN decoder.

Two stacks remove PixelCNN's blind spot. The vertical stack v sees the rows above, the horizontal stack h
the pixels to the left in the row and, through a 1x1 link, the vertical stack at the same position. Every
layer l applies the gated unit to 2p pre-activations split into halves (f, g):

    v_l = tanh(f_v) * sigmoid(g_v),      [f_v, g_v] = W_v * v_{l-1} + V_v e(y)
    u_l = tanh(f_h) * sigmoid(g_h),      [f_h, g_h] = W_h * h_{l-1} + W_link [f_v, g_v] + V_h e(y)
    h_l = h_{l-1} + W_out dropout(u_l)   (a residual connection; layer 0 has no h_{-1})
    logits = 1x1(relu(1x1(relu(h_L))))   a sigmoid per pixel (binary) or a softmax over L levels

where * is a masked convolution: W_v masks "V_A" (rows strictly above) in layer 0 and "V_B" (rows above
and the centre row) after; W_h is a 1 x k row kernel masked "H_A" (left of the centre) in layer 0 and
"H_B" (left and centre) after; e(y) is a learned embedding of the label (the paper's h, a one-hot class: V e(y) is its V^T h), added
in every layer of both stacks. v at row i thus depends on image rows < i only, so the link from v to h at
the same position leaks nothing, and h at (i, j) reaches every earlier pixel of the receptive field.

Deviations, and why: the paper implements the vertical stack with (k//2 + 1) x k kernels and shifts it
down one row before the link; masks V_A/V_B on k x k kernels give the same dependency structure without
the shift (the fast sampler then reads v at the current row). Layer 0 uses a `first_kernel` x
`first_kernel` kernel, later ones 3x3, `channels` = p small for 8x8 digits; optional dropout on u_l
before W_out (as PixelCNN's residual blocks; 1,297 training digits overfit); one colour only (the R -> G ->
B groups are PixelCNN's, models/autoregressive/pixelcnn.py).

Fast sampling: at the start of row i the whole vertical stack of row i is computed (it needs rows < i
only); then each pixel evaluates the horizontal stack at its position from caches of h_{l-1}.
"""
from __future__ import annotations


from minigen import backend, nn
from minigen.autograd import Tensor

from .pixel_base import PixelModel
from .pixel_layers import StackConv2d, conv_at, pad_cache, pointwise


def gate(pre):
    """tanh(f) * sigmoid(g) for pre = [f, g] along axis 1 (Tensors or raw arrays)."""
    half = pre.shape[1] // 2
    f, g = pre[:, :half], pre[:, half:]
    if isinstance(pre, Tensor):
        return f.tanh() * g.sigmoid()
    xp = backend.array_module(pre)
    return xp.tanh(f) / (1 + xp.exp(-g))


class GatedLayer(nn.Module):
    """One layer of both stacks: (v, h) -> (v', h')."""

    def __init__(self, in_channels: int, channels: int, kernel: int, first: bool, num_classes: int | None,
                 dropout: float = 0.0):
        super().__init__()
        self.first = first
        self.dropout = nn.Dropout(dropout)
        self.vertical = StackConv2d(in_channels, 2 * channels, kernel, "V_A" if first else "V_B")
        self.horizontal = StackConv2d(in_channels, 2 * channels, kernel, "H_A" if first else "H_B")
        self.link = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.out = nn.Conv2d(channels, channels, 1)
        if num_classes:
            self.embed_v = nn.Embedding(num_classes, 2 * channels)
            self.embed_h = nn.Embedding(num_classes, 2 * channels)

    def condition(self, y: Tensor | None) -> tuple:
        """The per-example biases V_v e(y), V_h e(y) as (B, 2p, 1, 1) (zeros without labels)."""
        if y is None:
            return 0.0, 0.0
        return tuple(e(y).unsqueeze(2).unsqueeze(3) for e in (self.embed_v, self.embed_h))

    def forward(self, v: Tensor, h: Tensor, y: Tensor | None) -> tuple[Tensor, Tensor]:
        bias_v, bias_h = self.condition(y)
        pre_v = self.vertical(v) + bias_v
        u = gate(self.horizontal(h) + self.link(pre_v) + bias_h)
        out = self.out(self.dropout(u))
        return gate(pre_v), out if self.first else h + out


class GatedPixelCNN(PixelModel):
    """`layers` gated layers of vertical and horizontal stacks, optionally conditioned on the class."""

    def __init__(self, data: str = "digits", lr: float = 1e-3, batch_size: int = 64, channels: int = 32,
                 layers: int = 5, first_kernel: int = 7, class_conditional: bool = False, dropout: float = 0.0,
                 likelihood: str = "bernoulli", levels: int = 2, binarize: str = "static",
                 event_shape: tuple | None = None, ema: float = 0.0, lr_schedule: str = "constant"):
        super().__init__(data, lr, batch_size, likelihood, levels, binarize, event_shape, ema, lr_schedule)
        if self.colors != 1:
            raise ValueError(f"gated-pixelcnn: one colour channel only, got images of shape {self.event_shape}")
        self.conditional = bool(class_conditional)
        self.channels = int(channels)
        classes = self.num_classes if self.conditional else None
        self.stack = nn.ModuleList([GatedLayer(1 if l == 0 else channels, channels,
                                               first_kernel if l == 0 else 3, l == 0, classes, dropout)
                                    for l in range(layers)])
        self.head = nn.Conv2d(channels, channels, 1)
        self.logits = nn.Conv2d(channels, self.outputs, 1)

    @classmethod
    def default_config(cls, data: str) -> dict:
        return {"lr": 1e-3, "batch_size": 64, "channels": 32, "layers": 5, "first_kernel": 7,
                "class_conditional": False, "dropout": 0.0, "likelihood": "bernoulli", "levels": 2, "binarize": "static",
                **PixelModel.TRAINING_DEFAULTS}

    def network(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        v = h = x
        for layer in self.stack:
            v, h = layer(v, h, y)
        return self.logits(self.head(h.relu()).relu())

    # ----------------------------------------------------------------------------- fast sampler
    def start_cache(self, scaled, y=None) -> dict:
        """Padded inputs of every layer's stacks, the rows of vertical pre-activations, the label biases."""
        xp = backend.array_module(scaled)
        b, k = scaled.shape[0], self.stack[0].vertical.kernel_size[0] // 2
        shape = (b, self.channels, self.height + 2, self.width + 2)
        layers = []
        for layer in self.stack:
            bias_v, bias_h = (xp.zeros((1, 1), scaled.dtype),) * 2 if y is None else \
                (t.data[:, :, 0, 0] for t in layer.condition(y))
            layers.append({"v": layer.vertical.masked_weight(), "v_b": layer.vertical.bias.data,
                           "h": layer.horizontal.masked_weight(), "h_b": layer.horizontal.bias.data,
                           "link": (layer.link.weight.data, layer.link.bias.data),
                           "out": (layer.out.weight.data, layer.out.bias.data), "bias_v": bias_v,
                           "bias_h": bias_h, "v_in": xp.zeros(shape, scaled.dtype), "h_in": xp.zeros(shape, scaled.dtype),
                           "pre_v": xp.zeros((b, 2 * self.channels, self.width), scaled.dtype)})
        x = pad_cache(scaled, (k, k))
        layers[0]["v_in"] = layers[0]["h_in"] = x  # layer 0 reads the image itself
        return {"x": x, "pad": (k, k), "layers": layers,
                "head": (self.head.weight.data, self.head.bias.data),
                "logits": (self.logits.weight.data, self.logits.bias.data)}

    def row_start(self, cache: dict, i: int) -> None:
        """The vertical stack of row i in every layer (rows < i of the image are known)."""
        layers = cache["layers"]
        for l, state in enumerate(layers):
            for j in range(self.width):
                pre = conv_at(state["v"], state["v_b"], state["v_in"], i, j) + state["bias_v"]
                state["pre_v"][:, :, j] = pre
                if l + 1 < len(layers):
                    layers[l + 1]["v_in"][:, :, i + 1, j + 1] = gate(pre)

    def logits_at(self, cache: dict, i: int, j: int):
        """The horizontal stack and the head at pixel (i, j), writing each layer's h there."""
        xp = backend.array_module(cache["x"])
        layers, h = cache["layers"], None
        for l, state in enumerate(layers):
            pre = (conv_at(state["h"], state["h_b"], state["h_in"], i, j, cache["pad"] if l == 0 else (1, 1))
                   + pointwise(*state["link"], state["pre_v"][:, :, j]) + state["bias_h"])
            out = pointwise(*state["out"], gate(pre))
            h = out if l == 0 else h + out
            if l + 1 < len(layers):
                layers[l + 1]["h_in"][:, :, i + 1, j + 1] = h
        out = pointwise(*cache["logits"], xp.maximum(pointwise(*cache["head"], xp.maximum(h, 0)), 0))
        return out.reshape(out.shape[0], 1, self.outputs)
