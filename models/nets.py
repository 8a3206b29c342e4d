"""The networks that several models share: one MLP builder and DCGAN's convolutional blocks.

`mlp` builds every fully connected stack in models/ (encoders, decoders, generators, discriminators), so a
reader learns one function; the model files say only which sizes, activations and normalisations they use.
"""
from __future__ import annotations

from minigen import nn


def mlp(sizes, activation=nn.ReLU, out_activation=None, wrap=None, norm=None, norm_first: bool = True,
        flatten: bool = False, head: bool = True) -> nn.Sequential:
    """Linear layers sizes[0] -> sizes[1] -> ... -> sizes[-1].

    Every hidden layer is Linear [-> norm(width)] -> activation(); with `norm` the Linear has no bias (the
    norm's shift replaces it), and `norm_first=False` leaves the first hidden layer unnormalised (DCGAN's D).
    With `head` (the default) the last Linear is the output layer, followed only by `out_activation()` if
    given; with head=False every layer is a hidden layer (a feature body). `flatten` puts nn.Flatten() in
    front (image input); `wrap(linear)` wraps every Linear (e.g. nn.spectral_norm).
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: need at least an input and an output size, got {sizes}")
    wrap = wrap or (lambda layer: layer)
    layers: list = [nn.Flatten()] if flatten else []
    pairs = list(zip(sizes, sizes[1:]))
    for k, (a, b) in enumerate(pairs):
        if head and k == len(pairs) - 1:
            layers.append(wrap(nn.Linear(a, b)))
            if out_activation is not None:
                layers.append(out_activation())
            break
        normed = norm is not None and (norm_first or k > 0)
        layers.append(wrap(nn.Linear(a, b, bias=not normed)))
        if normed:
            layers.append(norm(b))
        layers.append(activation())
    return nn.Sequential(*layers)


def dcgan_init_(module: nn.Module) -> None:
    """DCGAN's initialisation: Conv/Linear weights ~ N(0, 0.02), biases 0; batch-norm scales ~ N(1, 0.02),
    shifts 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def conv_generator(in_dim: int, c: int) -> nn.Sequential:
    """DCGAN's generator for 8x8 images: z (n, in_dim) -> (n, 1, 8, 8) in [-1, 1].

    Linear -> BN -> ReLU -> (2c, 2, 2) -> ConvT(2c -> c, 4, s2, p1) -> BN -> ReLU -> ConvT(c -> 1, 4, s2, p1) -> tanh
    """
    return nn.Sequential(
        nn.Linear(in_dim, 2 * c * 4, bias=False), nn.BatchNorm1d(2 * c * 4), nn.ReLU(),
        nn.Unflatten(1, (2 * c, 2, 2)),
        nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
        nn.ConvTranspose2d(c, 1, 4, stride=2, padding=1), nn.Tanh())


def conv_body(c: int) -> nn.Sequential:
    """DCGAN's discriminator body for 8x8 images: x (n, 1, 8, 8) in [-1, 1] -> features (n, 2c, 2, 2).

    Conv(1 -> c, 4, s2, p1) -> LReLU(0.2) -> Conv(c -> 2c, 4, s2, p1) -> BN -> LReLU(0.2)
    """
    return nn.Sequential(
        nn.Conv2d(1, c, 4, stride=2, padding=1), nn.LeakyReLU(0.2),
        nn.Conv2d(c, 2 * c, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * c), nn.LeakyReLU(0.2))
