"""The image-to-image networks on 8x8 images: pix2pix's U-Net generator and PatchGAN discriminator (Isola et al.
2017), shared by pix2pix, CycleGAN and StarGAN here, and the receptive-field formulas their tests check.

U-Net (paper: C64-C128-...-C512 down, CD512-...-C64 up, skip i <-> n - i). Here three levels for 8x8:

    e1 = conv4s2(x)                       (c1, 4, 4)      no norm on the first layer, as in the paper
    e2 = BN conv4s2(lrelu e1)             (c2, 2, 2)
    e3 = conv4s2(lrelu e2)                (c3, 1, 1)      the bottleneck: sees all 64 input pixels
    d3 = drop BN convT4s2(relu e3)        (c2, 2, 2)      then [d3, e2]: the skip from level 2
    d2 = drop BN convT4s2(relu [d3, e2])  (c1, 4, 4)      then [d2, e1]: the skip from level 1
    G(x) = sigmoid convT4s2(relu [d2, e1])  (out, 8, 8)   sigmoid for images in [0, 1] (the paper: tanh on [-1, 1])

LeakyReLU slope 0.2 down, ReLU up, dropout 0.5 on the two inner decoder layers (the paper's noise: pix2pix
has no z). Dropout is off in eval mode and batch norm uses its running statistics there (the paper keeps both on
at test time; here a translation is a fixed function, so metrics do not depend on the test batch).

PatchGAN: a fully convolutional discriminator whose every output judges one patch of its input,

    conv4s2p1 (c) -> lrelu -> conv2s1p0 (2c) -> BN -> lrelu -> conv1 (1)     3x3 logits on an 8x8 input

receptive field r = 1 + sum_l (k_l - 1) prod_{m<l} s_m = 1 + 3 + 1 * 2 + 0 = 6 (the paper's 70 of 256 pixels is
27 %; 6 of 8 here, the smallest that still sees a whole stroke next to its neighbour); patch (i, j) reads rows
start + i J .. start + i J + r - 1 (clipped), J = prod s_l the jump, start = -sum_l p_l prod_{m<l} s_m.
"""
from __future__ import annotations

import numpy as np

import minigen as mg
from minigen import nn

UNET_LAYER = (4, 2, 1)  # (kernel, stride, padding) of every U-Net conv and transposed conv
PATCH_LAYERS = ((4, 2, 1), (2, 1, 0), (1, 1, 0))
GATE_SCALE = 4.0  # the input skip adds 4 g (2x - 1) to the logits: sigmoid(+-4) = 0.98 / 0.02 at g = +-1
GAIN_RATE = 25.0  # g = tanh(25 w), 0 at the start: Adam moves w by about lr a step, so g reaches +-1 in a few
#                   hundred steps (at rate 1 it had moved by 0.05 after 500 steps, when the U-Net had settled)
SKIPS = ("none", "gain", "warps", "dihedral", "dense")
SYM_PRIOR = 0.0  # input_skip="dihedral": the identity's starting logit among the 8 symmetries (others 0)
SYM_RATE = 25.0  # input_skip="dihedral": the mixture logits are start + SYM_RATE v, v = 0 at the start
DENSE_RATE = 1.0  # input_skip="dense": M = I + DENSE_RATE W per pair, W = 0 at the start
WARPS = 4  # input_skip="warps": hypotheses per pair, the first from the identity, the others at random angles
_ROWS, _COLS = (a.reshape(-1).astype(np.float32) - 3.5 for a in np.mgrid[0:8, 0:8])  # pixel centres, centred


def affine_warp(x: mg.Tensor, theta: mg.Tensor) -> mg.Tensor:
    """Bilinear resampling of images x (n, 1, 8, 8) by per-image affine maps theta (n, 6) = (a, b, c, d, e, f):
    output pixel (r, s) (centred coordinates) reads x at (a r + b s + e, c r + d s + f), zero outside; built as
    a (n, 64, 64) matrix of bilinear weights relu(1 - |u - k|) relu(1 - |v - l|), differentiable in theta
    (a spatial transformer, Jaderberg et al. 2015, on the 8x8 grid)."""
    n = x.shape[0]
    rows, cols = (mg.tensor(g.reshape(1, 64, 1), device=x.device) for g in (_ROWS, _COLS))
    a, b, c, d, e, f = (theta[:, i].reshape(n, 1, 1) for i in range(6))
    u, v = a * rows + b * cols + e, c * rows + d * cols + f  # (n, 64 out, 1)
    weights = (1.0 - (u - rows.reshape(1, 1, 64)).abs()).relu() * (1.0 - (v - cols.reshape(1, 1, 64)).abs()).relu()
    return (weights @ x.reshape(n, 64, 1)).reshape(n, 1, 8, 8)


def dihedral_matrices() -> np.ndarray:
    """The 8 symmetries of the 8x8 grid (the dihedral group D4: turns by 0, 90, 180, 270 degrees counter-clockwise,
    then the same after a transpose) as (8, 64, 64) permutation matrices P_k, P_k @ x.flat = T_k(x).flat."""
    eye = np.eye(64, dtype=np.float32).reshape(64, 8, 8)
    maps = [np.rot90(eye, k, axes=(1, 2)) for k in range(4)]
    maps += [np.rot90(eye.transpose(0, 2, 1), k, axes=(1, 2)) for k in range(4)]
    return np.stack([m.reshape(64, 64).T for m in maps])


def receptive_field(layers) -> tuple[int, int, int]:
    """(r, jump, start) of a stack of convolutions [(kernel, stride, padding), ...]: output position i reads
    input positions start + i jump .. start + i jump + r - 1 along each axis."""
    r, jump, start = 1, 1, 0
    for k, s, p in layers:
        r += (k - 1) * jump
        start -= p * jump
        jump *= s
    return r, jump, start


def transposed_support(i: int, layers, size: int) -> tuple[int, int]:
    """The input positions [lo, hi] (clipped to 0..size-1) that output position i of a stack of transposed
    convolutions [(kernel, stride, padding), ...] (applied in order) reads: a transposed convolution writes input m
    to outputs m s - p .. m s - p + k - 1, so output i reads m in [ceil((i + p - k + 1) / s), floor((i + p) / s)]."""
    lo, hi = i, i
    for k, s, p in reversed(list(layers)):
        lo, hi = -((-(lo + p - k + 1)) // s), (hi + p) // s
        size //= s
    return max(lo, 0), min(hi, size - 1)


class DomainAffine(nn.Module):
    """h * gamma[c] + beta[c] per channel, one (gamma, beta) row per domain, picked by the one-hot c (n, D):
    the domain-dependent scale and shift of conditional normalization (StarGAN v2's AdaIN with a learned
    table instead of a style network). gamma starts at 1 and beta at 0, so every domain starts as the identity."""

    def __init__(self, channels: int, domains: int):
        super().__init__()
        self.gamma = nn.Parameter(np.ones((domains, channels), np.float32))
        self.beta = nn.Parameter(np.zeros((domains, channels), np.float32))

    def forward(self, h: mg.Tensor, c: mg.Tensor) -> mg.Tensor:
        shape = (h.shape[0], h.shape[1]) + (1,) * (h.ndim - 2)
        return h * (c @ self.gamma).reshape(shape) + (c @ self.beta).reshape(shape)


class UNet(nn.Module):
    """The pix2pix U-Net for 8x8 images (module docstring); `encode` gives the skips, `decode` uses them.
    `domains=D > 0` makes it conditional (StarGAN's `cond_norm`): every batch norm loses its own affine and is
    followed by a DomainAffine, and e1 and e3 (no norm there) get a DomainAffine too; forward(x, c) then takes
    the one-hot target domains c (n, D), so each domain scales and shifts every level, skips included.
    `input_skip="gain"` (with domains) adds a learned per-(source, target) multiple of the centred input to the
    output logits (forward's docstring): a path on which inverting the image is one sign flip; "warps" adds
    WARPS such terms per pair, each through its own learned spatial transformer (a turn is one of them);
    "dihedral" one term per pair through a learned mixture of the grid's 8 symmetries (an exact quarter turn is
    one of them), "dense" through a learned 64 x 64 map of the flattened image, the identity at the start."""

    def __init__(self, in_channels: int, out_channels: int = 1, channels=(32, 64, 64), dropout: float = 0.5,
                 domains: int = 0, input_skip: str = "none"):
        super().__init__()
        c1, c2, c3 = channels
        k, s, p = UNET_LAYER
        affine = not domains
        self.down = nn.ModuleList([nn.Conv2d(in_channels, c1, k, s, p), nn.Conv2d(c1, c2, k, s, p),
                                   nn.Conv2d(c2, c3, k, s, p)])
        self.down_norm = nn.BatchNorm2d(c2, affine=affine)
        self.up = nn.ModuleList([nn.ConvTranspose2d(c3, c2, k, s, p), nn.ConvTranspose2d(2 * c2, c1, k, s, p),
                                 nn.ConvTranspose2d(2 * c1, out_channels, k, s, p)])
        self.up_norm = nn.ModuleList([nn.BatchNorm2d(c2, affine=affine), nn.BatchNorm2d(c1, affine=affine)])
        self.drop = nn.Dropout(dropout)
        self.lrelu, self.relu = nn.LeakyReLU(0.2), nn.ReLU()
        self.domains = int(domains)
        if domains:  # e1, e2, e3, d3, d2
            self.film = nn.ModuleList([DomainAffine(ch, domains) for ch in (c1, c2, c3, c2, c1)])
        if input_skip not in SKIPS:
            raise ValueError(f"UNet: input_skip must be one of {SKIPS}, got {input_skip!r}")
        self.input_skip = input_skip
        if input_skip != "none":  # one gain per (source, target) pair, zero at the start
            if not domains:
                raise ValueError("UNet: input_skip needs domains > 0 (it is per pair of domains)")
            hypotheses = WARPS if input_skip == "warps" else 1
            self.pair_skip = nn.Parameter(np.zeros((domains * domains, hypotheses), np.float32))
            if input_skip == "dihedral":  # mixture weights softmax(start + SYM_RATE v) over the 8 symmetries
                start = np.zeros((domains * domains, 8), np.float32)
                start[:, 0] = SYM_PRIOR
                self.register_buffer("sym_start", mg.tensor(start))
                self.register_buffer("sym_maps", mg.tensor(dihedral_matrices().reshape(8 * 64, 64).T.copy()))
                #                                      x.flat @ sym_maps = [T_0 x, ..., T_7 x] (n, 8 * 64)
                self.pair_sym = nn.Parameter(np.zeros((domains * domains, 8), np.float32))
                self.symmetry = None  # an index 0..7 forces that symmetry for every pair (StarGAN's search)
                self.forced_gain = None  # a number forces that gain g for every pair (the same search)
            if input_skip == "dense":  # one 64 x 64 pixel map per pair, the identity at the start
                self.pair_dense = nn.Parameter(np.zeros((domains * domains, 64 * 64), np.float32))
            if input_skip == "warps":  # theta_k = start_k + GAIN_RATE w_k, w = 0 at the start
                angles = mg.rand(domains * domains, WARPS).numpy() * 2 * np.pi
                angles[:, 0] = 0.01 * mg.randn(domains * domains).numpy()  # off the kinks of the identity
                start = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles),
                                  np.zeros_like(angles), np.zeros_like(angles)], axis=-1)
                self.register_buffer("warp_start", mg.tensor(start.reshape(-1, WARPS * 6).astype(np.float32)))
                self.pair_warp = nn.Parameter(np.zeros((domains * domains, WARPS * 6), np.float32))

    def _mod(self, i: int, h: mg.Tensor, c) -> mg.Tensor:
        return self.film[i](h, c) if self.domains else h

    def encode(self, x: mg.Tensor, c=None) -> list:
        """[e1 (c1, 4, 4), e2 (c2, 2, 2), e3 (c3, 1, 1)]."""
        e1 = self._mod(0, self.down[0](x), c)
        e2 = self._mod(1, self.down_norm(self.down[1](self.lrelu(e1))), c)
        e3 = self._mod(2, self.down[2](self.lrelu(e2)), c)
        return [e1, e2, e3]

    def decode(self, skips: list, c=None) -> mg.Tensor:
        """The pre-sigmoid output (out, 8, 8) from the encoder's [e1, e2, e3]."""
        e1, e2, e3 = skips
        d3 = self.drop(self._mod(3, self.up_norm[0](self.up[0](self.relu(e3))), c))
        d2 = self.drop(self._mod(4, self.up_norm[1](self.up[1](self.relu(mg.cat([d3, e2], axis=1)))), c))
        return self.up[2](self.relu(mg.cat([d2, e1], axis=1)))

    def forward(self, x: mg.Tensor, c=None, pair=None) -> mg.Tensor:
        """sigmoid(U-Net(x)); conditional: c the one-hot target domains (n, D). With an input skip, pair is the
        one-hot (source, target) pairs (n, D * D), index source * D + target, and the logits gain
        GATE_SCALE * g * (2 x - 1), x the image channel, g = tanh(GAIN_RATE w[pair]) one learned number per pair
        (g = -1 is the inversion 1 - x, g = 1 a copy); "warps": sum_k GATE_SCALE g_k (2 T_k(x) - 1) over WARPS
        hypotheses per pair, T_k the affine_warp by theta_k = start_k + GAIN_RATE v_k (start: the identity for
        k = 0, a turn by a random angle for the others), each with its own gain g_k; "dihedral": the one term
        GATE_SCALE g (2 sum_k a_k T_k(x) - 1), T_k the symmetries of dihedral_matrices and a = softmax(start +
        SYM_RATE v[pair]) (or one symmetry forced by `symmetry`, for StarGAN's search); "dense": GATE_SCALE g
        (2 M x - 1), M = I + DENSE_RATE W[pair] on the flattened image."""
        if self.domains and c is None:
            raise TypeError(f"UNet with {self.domains} domains: forward(x, c) needs the one-hot target domains c")
        logits = self.decode(self.encode(x, c), c)
        if self.input_skip == "none":
            return mg.sigmoid(logits)
        if pair is None:
            raise TypeError("UNet with an input skip: forward(x, c, pair) needs the one-hot (source, target) pairs")
        n = x.shape[0]
        gains = mg.tanh(GAIN_RATE * (pair @ self.pair_skip))
        if getattr(self, "forced_gain", None) is not None:
            gains = mg.full((n, 1), self.forced_gain, device=x.device)
        if self.input_skip == "gain":
            return mg.sigmoid(logits + GATE_SCALE * gains.reshape(n, 1, 1, 1) * (2.0 * x[:, :1] - 1.0))
        if self.input_skip in ("dihedral", "dense"):
            flat = x[:, :1].reshape(n, 64)
            if self.input_skip == "dihedral":
                weights = mg.softmax(pair @ (self.sym_start + SYM_RATE * self.pair_sym), axis=1)  # (n, 8)
                if self.symmetry is not None:
                    weights = mg.tensor(np.eye(8, dtype=np.float32)[np.full(n, self.symmetry)], device=x.device)
                moved = (weights.reshape(n, 1, 8) @ (flat @ self.sym_maps).reshape(n, 8, 64)).reshape(n, 1, 8, 8)
            else:
                maps = (DENSE_RATE * (pair @ self.pair_dense)).reshape(n, 64, 64)
                moved = (flat + (maps @ flat.reshape(n, 64, 1)).reshape(n, 64)).reshape(n, 1, 8, 8)
            return mg.sigmoid(logits + GATE_SCALE * gains.reshape(n, 1, 1, 1) * (2.0 * moved - 1.0))
        thetas = pair @ (self.warp_start + GAIN_RATE * self.pair_warp)  # (n, WARPS * 6)
        for k in range(WARPS):
            warped = affine_warp(x[:, :1], thetas[:, 6 * k:6 * k + 6])
            logits = logits + GATE_SCALE * gains[:, k].reshape(n, 1, 1, 1) * (2.0 * warped - 1.0)
        return mg.sigmoid(logits)


class PatchGAN(nn.Module):
    """PatchGAN on 8x8 inputs: (n, in_channels, 8, 8) -> one logit per 6x6 patch, (n, 1, 3, 3). `trunk` gives the
    (2 channels, 3, 3) features the head reads (StarGAN adds its domain classifier there); `norm=False` drops the
    batch norm (a gradient penalty is per example)."""

    layers = PATCH_LAYERS

    def __init__(self, in_channels: int, channels: int = 32, out_channels: int = 1, norm: bool = True):
        super().__init__()
        (k1, s1, p1), (k2, s2, p2), (k3, s3, p3) = self.layers
        self.trunk = nn.Sequential(nn.Conv2d(in_channels, channels, k1, s1, p1), nn.LeakyReLU(0.2),
                                   nn.Conv2d(channels, 2 * channels, k2, s2, p2),
                                   nn.BatchNorm2d(2 * channels) if norm else nn.Identity(), nn.LeakyReLU(0.2))
        self.head = nn.Conv2d(2 * channels, out_channels, k3, s3, p3)

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return self.head(self.trunk(x))


class ResidualBlock(nn.Module):
    """h + BN conv3(relu BN conv3(h)): the residual block of the papers' generators (batch norm for instance norm)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels), nn.ReLU(),
                                  nn.Conv2d(channels, channels, 3, 1, 1), nn.BatchNorm2d(channels))

    def forward(self, h: mg.Tensor) -> mg.Tensor:
        return h + self.body(h)


class ResNetGenerator(nn.Module):
    """The CycleGAN / StarGAN generator scaled to 8x8 (the papers: c7s1-64, d128, d256, R256 x 6-9, u128, u64,
    c7s1-3 on 128-256 pixels). Here one down-sampling step, which keeps a 4x4 map of the digit:

        h0 = relu BN conv3s1(x)          (c, 8, 8)
        h1 = relu BN conv4s2(h0)         (2c, 4, 4)
        h2 = R(...R(h1))                 (2c, 4, 4)     `blocks` residual blocks, each 3x3 convs over the 4x4 map
        h3 = relu BN convT4s2(h2)        (c, 8, 8)
        G(x) = sigmoid conv3s1(h3)       (out, 8, 8)
    """

    def __init__(self, in_channels: int, out_channels: int = 1, channels: int = 32, blocks: int = 6):
        super().__init__()
        c = channels
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, 2 * c, 4, 2, 1), nn.BatchNorm2d(2 * c), nn.ReLU(),
            *[ResidualBlock(2 * c) for _ in range(blocks)],
            nn.ConvTranspose2d(2 * c, c, 4, 2, 1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.Conv2d(c, out_channels, 3, 1, 1))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return mg.sigmoid(self.net(x))


def translation_generator(owner: str, kind: str, in_channels: int, channels, dropout: float, blocks: int,
                          domains: int = 0, input_skip: str = "none"):
    """The generator a model's `generator` option names: "unet" (UNet with `channels` per level; conditional on
    `domains` target domains when > 0) or "resnet" (ResNetGenerator with channels[0] and `blocks`)."""
    if kind == "unet":
        return UNet(in_channels, 1, tuple(channels), dropout, domains, input_skip)
    if domains or input_skip != "none":
        raise ValueError(f"{owner}: cond_norm and input_skip are built for generator='unet' only")
    if kind == "resnet":
        return ResNetGenerator(in_channels, 1, int(channels[0]), blocks)
    raise ValueError(f"{owner}: generator must be 'unet' or 'resnet', got {kind!r}")
