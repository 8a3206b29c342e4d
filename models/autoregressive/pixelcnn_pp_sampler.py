"""PixelCNN++'s cached fast sampler: the network evaluated on the rows and positions that a new pixel needs,
from caches of what earlier pixels already computed (in the spirit of Ramachandran et al., 2017, "Fast
Generation for Convolutional Autoregressive Models", which caches through strided layers too).

Why a cache is exact here (pixelcnn_pp.py's network, every layer read off its padding):

- Every shifted convolution's output at row r reads input rows r - 1 and r (2-row kernels padded above),
  down_shift reads row r - 1, the stride-2 down-sampling's 4x4 row m reads 8x8 rows 2m - 1 and 2m, and
  the transposed up-sampling's 8x8 row p reads 4x4 row p // 2 only. So the u stream ("down" kernels,
  which also read one column to the right) at 8x8 row r depends on the image's rows < r only, and at 4x4
  row m on rows < 2m: the whole of row i of every u layer can be computed once rows < i are drawn
  (`row_start`), and it never changes afterwards.
- The ul stream ("down_right" kernels: rows r - 1, r and columns c - 1, c; 1x1 short-cuts from u at the
  same position) at 8x8 position (r, c) depends on the pixels before (r, c) in raster order only, its 4x4
  position (m, c') reads 8x8 positions up to (2m, 2c') and so depends on pixels before (2m, 2c'), and the
  up-sampled (p, q) reads 4x4 (p // 2, q // 2). Visiting pixels in raster order, each layer's output at the
  current position reads only positions already computed (or just computed by the layer before), so it is
  computed once, when its position comes: 8x8 positions at their pixel, 4x4 position (m, c') at pixel
  (2m, 2c') (both coordinates even), when the 8x8 positions it reads are all known.

Per pixel that is one position of each ul layer (plus a 4x4 position at every fourth pixel) and per row one
row of each u layer, instead of the whole network at all 64 + 16 positions. Caches hold each convolution's
input (concat_elu(v), concat_elu(c), the image scaled to [-1, 1], the stride-2 layer's input) zero-padded
by PAD rows above and PAD columns on both sides, so a cache's zeros are the convolutions' zero padding;
dropout is off (sampling runs in evaluating()). The arithmetic differs from the engine's convolutions only
in summation order (tests/models/test_pixelcnn_pp.py: the same parameters to 1e-10 and the same
samples for the same seed as the naive sampler, float64).
"""
from __future__ import annotations

from minigen import backend

PAD = 2  # rows above and columns each side of every cache: at least each kernel's padding


def buffer(xp, batch: int, channels: int, height: int, width: int, dtype):
    """A zero cache for a (batch, channels, height, width) map, padded PAD rows above and PAD columns each side."""
    return xp.zeros((batch, channels, height + PAD, width + 2 * PAD), dtype)


def put(cache, i: int, j0: int, j1: int, value) -> None:
    """Store value (B, C, j1 - j0) at row i, columns j0..j1-1 of a padded cache."""
    cache[:, :, i + PAD, j0 + PAD:j1 + PAD] = value


def get(cache, i: int, j0: int, j1: int):
    return cache[:, :, i + PAD, j0 + PAD:j1 + PAD]


def conv_region(weight, bias, pads: tuple, cache, i: int, j0: int, j1: int, stride: int = 1):
    """A convolution padded by pads = (left, right, top, bottom) (as ShiftedConv) at output row i, columns
    j0..j1-1, from its input's padded cache: out[o, n] = sum_{c, a, b} w[o, c, a, b]
    x[c, i s - top + a, (j0 + n) s - left + b] + bias[o], (B, out, j1 - j0)."""
    xp = backend.array_module(cache)
    left, _, top, _ = pads
    kh, kw = weight.shape[2:]
    r0, c0, n = i * stride - top + PAD, j0 * stride - left + PAD, j1 - j0
    taps = [cache[:, :, r0 + a, c0 + b:c0 + b + stride * (n - 1) + 1:stride] for a in range(kh) for b in range(kw)]
    patch = xp.stack(taps, axis=2).reshape(cache.shape[0], -1, n)  # (B, C kh kw, n), ordered like the weight
    return weight.reshape(weight.shape[0], -1) @ patch + bias[:, None]


def nin(weight, bias, v):
    """A 1x1 convolution on v (B, C, n) -> (B, out, n)."""
    return weight[:, :, 0, 0] @ v + bias[:, None]


def elu(v):
    xp = backend.array_module(v)
    return xp.where(v > 0, v, xp.expm1(xp.minimum(v, 0))).astype(v.dtype, copy=False)


def concat_elu(v):
    return elu(backend.array_module(v).concatenate([v, -v], axis=1))


def sigmoid(v):
    xp = backend.array_module(v)
    return 1 / (1 + xp.exp(-v))


class Resnet:
    """One GatedResnet evaluated region by region: caches of concat_elu(v) (conv_in's input) and of
    concat_elu(c) (conv_out's input)."""

    def __init__(self, module, xp, batch: int, height: int, width: int, dtype):
        ch = module.conv_in.weight.shape[0]
        self.w_in = (module.conv_in.weight.data, module.conv_in.bias.data, module.conv_in.pads)
        self.w_out = (module.conv_out.weight.data, module.conv_out.bias.data, module.conv_out.pads)
        self.w_nin = None if module.nin is None else (module.nin.weight.data, module.nin.bias.data)
        self.v_cache = buffer(xp, batch, 2 * ch, height, width, dtype)
        self.c_cache = buffer(xp, batch, 2 * ch, height, width, dtype)

    def __call__(self, v, a, i: int, j0: int, j1: int):
        """v + c_1 sigmoid(c_2) at row i, columns j0..j1-1 (v, a: (B, C, n) there; a None without short-cut)."""
        put(self.v_cache, i, j0, j1, concat_elu(v))
        c = conv_region(*self.w_in, self.v_cache, i, j0, j1)
        if a is not None:
            c = c + nin(*self.w_nin, concat_elu(a))
        put(self.c_cache, i, j0, j1, concat_elu(c))
        c = conv_region(*self.w_out, self.c_cache, i, j0, j1)
        half = c.shape[1] // 2
        return v + c[:, :half] * sigmoid(c[:, half:])


class Stream:
    """One stream's caches at both scales: the up pass's outputs (the short-cuts, padded so the stride-2
    layer reads them too), the down pass's outputs (the u stream's feed the ul stream's short-cuts), and the
    resnets."""

    def __init__(self, model, which: int, xp, batch: int, dtype):
        n, ch, h, w = model.resnets, model.u_init.weight.shape[0], model.height, model.width
        self.sizes = [(h, w), (h // 2, w // 2)]
        up_scale = lambda k: 0 if k < n else 1        # up resnet k runs at 8x8 (0) or 4x4 (1),
        down_scale = lambda k: 1 if k <= n else 0     # down resnet k at 4x4 for k <= n, then 8x8
        up = model.up_ul if which else model.up_u
        down = model.down_ul if which else model.down_u
        self.up = [Resnet(m, xp, batch, *self.sizes[up_scale(k)], dtype) for k, m in enumerate(up)]
        self.down = [Resnet(m, xp, batch, *self.sizes[down_scale(k)], dtype) for k, m in enumerate(down)]
        self.pushed = [[buffer(xp, batch, ch, *self.sizes[s], dtype) for _ in range(n + 1)] for s in (0, 1)]
        self.down_out = [buffer(xp, batch, ch, *self.sizes[down_scale(k)], dtype) for k in range(2 * n + 2)]
        ds, us = model.downsample[which], model.upsample[which]
        self.downsample = (ds.weight.data, ds.bias.data, ds.pads)
        self.upsample = (us.weight.data, us.bias.data, (us.kernel_size[1] - 1) // 2 if us.kind == "down" else 0)


def upsample_region(weight, bias, left: int, row, p: int, q0: int, q1: int):
    """The stride-2 transposed convolution (weight (in, out, kh, kw)), cropped by `left` columns, at 8x8 row
    p, columns q0..q1-1, from its 4x4 input row p // 2 (B, in, W/2): output (p, q) takes w[:, :, p % 2, b]
    from input column j with 2 j + b = q + left."""
    xp = backend.array_module(row)
    kw = weight.shape[3]
    cols = []
    for q in range(q0, q1):
        total = bias
        for b in range(kw):
            j, rest = divmod(q + left - b, 2)
            if rest == 0 and 0 <= j < row.shape[2]:
                total = total + row[:, :, j] @ weight[:, :, p % 2, b]
        cols.append(xp.broadcast_to(total, (row.shape[0], weight.shape[1])))
    return xp.stack(cols, axis=2)


class FastSampler:
    """PixelCNN++'s caches for one sampling run: the image (as the network sees it, in [-1, 1]) and both
    streams. `row(i)` computes row i of every u layer; `at(i, j)` every ul layer at (i, j) and the
    mixture parameters there."""

    def __init__(self, model, scaled):
        xp = backend.array_module(scaled)
        self.model, self.n = model, model.resnets
        batch, dtype = scaled.shape[0], scaled.dtype
        self.x = buffer(xp, batch, 1, model.height, model.width, dtype)
        put_all = scaled * 2.0 - 1.0
        self.x[:, :, PAD:, PAD:PAD + model.width] = put_all
        weights = lambda m: (m.weight.data, m.bias.data, m.pads)
        self.u_init = weights(model.u_init)
        self.ul_init = [weights(m) for m in model.ul_init]
        self.out = (model.out.weight.data, model.out.bias.data)
        self.streams = [Stream(model, 0, xp, batch, dtype), Stream(model, 1, xp, batch, dtype)]
        self.xp = xp

    def write(self, i: int, j: int, scaled) -> None:
        """A new pixel, scaled to [0, 1], into the image cache (as 2 x - 1, the network's input)."""
        self.x[:, 0, i + PAD, j + PAD] = scaled * 2.0 - 1.0

    # ---------------------------------------------------------------------------------- the passes
    def _first(self, which: int, i: int, j0: int, j1: int):
        """u_0 = down_shift(conv_{2x3}(x)); ul_0 = down_shift(conv_{1x3}(x)) + right_shift(conv_{2x1}(x))."""
        shape = (self.x.shape[0], self.u_init[0].shape[0], j1 - j0)
        above = lambda w: conv_region(*w, self.x, i - 1, j0, j1) if i > 0 else self.xp.zeros(shape, self.x.dtype)
        if which == 0:
            return above(self.u_init)
        left = self.xp.zeros(shape, self.x.dtype)
        if j1 > 1:  # right_shift: column j reads column j - 1 (zero at column 0)
            left[:, :, max(j0, 1) - j0:] = conv_region(*self.ul_init[1], self.x, i, max(j0, 1) - 1, j1 - 1)
        return above(self.ul_init[0]) + left

    def _up(self, which: int, scale: int, v, i: int, j0: int, j1: int):
        """The up pass's resnets at one scale, pushing their outputs; v is the scale's first pushed value."""
        st, u = self.streams[which], self.streams[0]
        first = 0 if scale == 0 else self.n
        put(st.pushed[scale][0], i, j0, j1, v)
        for t in range(self.n):
            a = get(u.pushed[scale][t + 1], i, j0, j1) if which else None
            v = st.up[first + t](v, a, i, j0, j1)
            put(st.pushed[scale][t + 1], i, j0, j1, v)
        return v

    def _down(self, which: int, scale: int, v, i: int, j0: int, j1: int):
        """The down pass's resnets at one scale (n + 1 each), the matching pushed values as short-cuts."""
        st, u = self.streams[which], self.streams[0]
        first = 0 if scale == 1 else self.n + 1
        for t in range(self.n + 1):
            k = first + t
            short = get(st.pushed[scale][self.n - t], i, j0, j1)
            if which:
                short = self.xp.concatenate([get(u.down_out[k], i, j0, j1), short], axis=1)
            v = st.down[k](v, short, i, j0, j1)
            put(st.down_out[k], i, j0, j1, v)
        return v

    def _pass(self, which: int, i: int, j0: int, j1: int, small: bool):
        """Stream `which` at 8x8 row i, columns j0..j1-1; with `small`, first the 4x4 row i // 2 at columns
        j0 // 2..(j1 + 1) // 2 - 1 (when the 8x8 values it reads are all known)."""
        st = self.streams[which]
        self._up(which, 0, self._first(which, i, j0, j1), i, j0, j1)
        m = i // 2
        if small:
            c0, c1 = j0 // 2, (j1 + 1) // 2
            v = conv_region(*st.downsample, st.pushed[0][self.n], m, c0, c1, stride=2)
            v = self._up(which, 1, v, m, c0, c1)
            self._down(which, 1, v, m, c0, c1)
        w, b, left = st.upsample
        v = upsample_region(w, b, left, get(st.down_out[self.n], m, 0, self.model.width // 2), i, j0, j1)
        return self._down(which, 0, v, i, j0, j1)

    def row(self, i: int) -> None:
        """Row i of every u layer (and the 4x4 row i // 2 when i is even), once the rows above are drawn."""
        self._pass(0, i, 0, self.model.width, small=i % 2 == 0)

    def at(self, i: int, j: int):
        """Every ul layer at (i, j) (and the 4x4 (i // 2, j // 2) when both are even): (B, 3K) parameters."""
        ul = self._pass(1, i, j, j + 1, small=i % 2 == 0 and j % 2 == 0)
        return nin(*self.out, elu(ul))[:, :, 0]
