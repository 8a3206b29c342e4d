"""A CPU emulator of the CUDA launches in kernels/: each kernel's index arithmetic, ported line by line.

`install(monkeypatch)` routes the CUDA paths of minigen.kernels to NumPy: `_cuda.cupy()` returns NumPy
(with `empty` filled with NaN, so an element no thread writes shows up), and `_cuda.function` returns an
`EmulatedKernel` that first checks every argument against the parameter list parsed from the .cu file
(array dtypes, C-contiguity, np.int32 / scalar_t scalars) and then runs the Python port of the kernel
below for every block and thread of the launch, through bounds-checked "pointers" that also fail when
two threads write one element (the kernels are gathers: every output is written exactly once).
Small BLOCK and MAX_BLOCKS make the grid-stride loops wrap.
"""
from __future__ import annotations

import math
import re
import types

import numpy as np

from minigen.kernels import _cuda

_SIGNATURE = re.compile(r'extern "C" __global__ void (\w+)\(([^)]*)\)')


def parameter_types(name: str, kernel: str) -> list[str]:
    """C types of `kernel`'s parameters in kernels/NAME.cu, e.g. ["scalar_t*", "int", ...]."""
    for m in _SIGNATURE.finditer(_cuda.source(name)):
        if m.group(1) == kernel:
            params = [p.replace("__restrict__", "").replace("const", "").split() for p in m.group(2).split(",")]
            return ["".join(p[:-1]) + ("*" if "*" in p[-1] else "") for p in params]
    raise KeyError(f"no kernel {kernel} in {name}.cu")


class Ptr:
    """A flat view of an array with bounds checks and at-most-one write per element per launch."""

    def __init__(self, array: np.ndarray, name: str):
        self.a = array.reshape(-1)
        self.name = name
        self.written = np.zeros(self.a.size, bool)

    def _check(self, i: int) -> int:
        if not 0 <= i < self.a.size:
            raise IndexError(f"{self.name}: index {i} out of bounds for {self.a.size} elements")
        return i

    def __getitem__(self, i):
        return self.a[self._check(int(i))].item()

    def __setitem__(self, i, value):
        i = self._check(int(i))
        if self.written[i]:
            raise AssertionError(f"{self.name}: element {i} written twice in one launch (a race)")
        self.written[i] = True
        self.a[i] = value


class Launch:
    """blockIdx.x, blockDim.x (== BLOCK), gridDim.x of the block being emulated, and the defines."""

    def __init__(self, block: int, grid: int, defines: dict, memory: dict):
        self.block, self.grid, self.defines, self.memory = block, grid, defines, memory
        self.bid = 0

    def thread_starts(self):
        """(threadIdx.x, the first index of a grid-stride loop) for each thread of this block."""
        return ((tid, self.bid * self.block + tid) for tid in range(self.block))

    @property
    def stride(self) -> int:
        return self.grid * self.block


def block_sum(values: list) -> float:
    """common.cuh's shared-memory tree over BLOCK values."""
    sh = list(values)
    s = len(sh) // 2
    while s > 0:
        for tid in range(s):
            sh[tid] += sh[tid + s]
        s //= 2
    return sh[0]


class EmulatedKernel:
    """Stands for `_cuda.function(name, kernel, dtype, **defines)`."""

    memory: dict = {}  # address -> Ptr, for kernels that receive tables of addresses
    launches = 0  # how many launches were emulated (tests check that the kernel path ran)
    log: list = []  # the names of the kernels launched, in order (tests check which path ran)

    def __init__(self, name: str, kernel: str, dtype, **defines):
        self.name, self.kernel, self.dtype = name, kernel, np.dtype(dtype)
        _cuda.scalar_type(self.dtype, name)
        self.defines = {"BLOCK": _cuda.BLOCK, **defines}
        self.types = parameter_types(name, kernel)
        self.body = BODIES[kernel]

    def _check(self, k: int, ctype: str, arg):
        where = f"{self.kernel} argument {k} ({ctype})"
        index_t = np.int8 if self.defines.get("index_t") == "signed char" else np.int32
        arrays = {"scalar_t*": self.dtype, "int*": np.int32, "index_t*": index_t, "longlong*": np.int64}
        if ctype in arrays:
            assert isinstance(arg, np.ndarray), f"{where}: expected an array, got {type(arg).__name__}"
            assert arg.dtype == arrays[ctype], f"{where}: dtype {arg.dtype}, expected {np.dtype(arrays[ctype])}"
            assert arg.flags.c_contiguous, f"{where}: the array is not C-contiguous"
            return Ptr(arg, where)
        expected = {"int": np.int32, "scalar_t": self.dtype.type}[ctype]
        assert type(arg) is expected, f"{where}: got {type(arg).__name__}, expected {expected.__name__}"
        return arg.item()

    def __call__(self, grid: tuple, block: tuple, args: tuple) -> None:
        assert block == (_cuda.BLOCK,), f"{self.kernel}: launched with block {block}, compiled for {_cuda.BLOCK}"
        assert 1 <= grid[0] <= _cuda.MAX_BLOCKS, f"{self.kernel}: grid {grid} outside [1, {_cuda.MAX_BLOCKS}]"
        assert len(args) == len(self.types), f"{self.kernel}: {len(args)} arguments for {len(self.types)}"
        ptrs = [self._check(k, t, a) for k, (t, a) in enumerate(zip(self.types, args))]
        EmulatedKernel.launches += 1
        EmulatedKernel.log.append(self.kernel)
        launch = Launch(block[0], grid[0], self.defines, self.memory)
        for bid in range(grid[0]):
            launch.bid = bid
            self.body(launch, *ptrs)


class _NumpyAsCupy(types.SimpleNamespace):
    """NumPy standing in for CuPy; `empty` is NaN-filled so that unwritten outputs are visible."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=np.float64):
        a = np.empty(shape, dtype)
        a.fill(np.nan if a.dtype.kind == "f" else -1)
        return a


def install(monkeypatch, block: int = 4, max_blocks: int = 3, tiles: dict | None = None) -> None:
    """Route minigen.kernels' CUDA paths through this emulator for one test."""
    from minigen.kernels import implicit_gemm

    def address(a):
        EmulatedKernel.memory[a.ctypes.data] = Ptr(a, f"array at {a.ctypes.data}")
        return a.ctypes.data

    monkeypatch.setattr(_cuda, "cupy", lambda: _NumpyAsCupy())
    monkeypatch.setattr(_cuda, "function", EmulatedKernel)
    monkeypatch.setattr(_cuda, "address", address)
    monkeypatch.setattr(_cuda, "BLOCK", block)
    monkeypatch.setattr(_cuda, "MAX_BLOCKS", max_blocks)
    monkeypatch.setattr(implicit_gemm, "device_taps", lambda taps: tuple(np.ascontiguousarray(t, np.int32)
                                                                        for t in taps))
    monkeypatch.setattr(implicit_gemm, "TILES", dict(TILE_M=4, TILE_N=4, TILE_K=2, THREADS_M=2) if tiles is None
                        else tiles)
    EmulatedKernel.memory = {}
    EmulatedKernel.log = []


# -------------------------------------------------------------------------------------- maxout.cu

def maxout_forward(L, x, y, arg, groups, pieces, inner):
    for _, idx in L.thread_starts():
        while idx < groups * inner:
            k, g = idx % inner, idx // inner
            xg = g * pieces * inner + k
            best, best_p = x[xg], 0
            for p in range(1, pieces):
                v = x[xg + p * inner]
                if v > best:
                    best, best_p = v, p
            y[idx] = best
            arg[idx] = best_p
            idx += L.stride


def maxout_backward(L, gy, arg, gx, groups, pieces, inner):
    for _, idx in L.thread_starts():
        while idx < groups * pieces * inner:
            k = idx % inner
            p = (idx // inner) % pieces
            g = idx // (inner * pieces)
            out = g * inner + k
            gx[idx] = gy[out] if arg[out] == p else 0.0
            idx += L.stride


def maxout_select(L, x, arg, y, groups, pieces, inner):
    for _, idx in L.thread_starts():
        while idx < groups * inner:
            k, g = idx % inner, idx // inner
            y[idx] = x[(g * pieces + arg[idx]) * inner + k]
            idx += L.stride


# ------------------------------------------------------------------------------- spectral_norm.cu

def sn_wt_u(L, W, u, v_raw, m, n):
    for _, j in L.thread_starts():
        while j < n:
            v_raw[j] = sum(W[i * n + j] * u[i] for i in range(m))
            j += L.stride


def sn_w_v(L, W, v_raw, v, u_raw, m, n, eps):
    B = L.defines["BLOCK"]
    sq = [sum(v_raw[j] * v_raw[j] for j in range(tid, n, B)) for tid in range(L.block)]
    inv = 1.0 / max(math.sqrt(block_sum(sq)), eps)
    if L.bid == 0:
        for tid in range(L.block):
            for j in range(tid, n, B):
                v[j] = v_raw[j] * inv
    for i in range(L.bid, m, L.grid):
        acc = [sum(W[i * n + j] * v_raw[j] for j in range(tid, n, B)) for tid in range(L.block)]
        u_raw[i] = block_sum(acc) * inv


def sn_normalize(L, u_raw, u, sigma, m, eps):
    B = L.defines["BLOCK"]
    sq = block_sum([sum(u_raw[i] * u_raw[i] for i in range(tid, m, B)) for tid in range(L.block)])
    norm = max(math.sqrt(sq), eps)
    for tid in range(L.block):
        for i in range(tid, m, B):
            u[i] = u_raw[i] / norm
    sigma[0] = sq / norm


def sn_scale(L, W, sigma, y, total):
    for _, idx in L.thread_starts():
        while idx < total:
            y[idx] = W[idx] / sigma[0]
            idx += L.stride


# ------------------------------------------------------------------------------------ bias_act.cu

def _activate(z, act, slope):
    if act == 1:
        return z if z > 0 else 0.0
    if act == 2:
        return z if z > 0 else z * slope
    if act == 3:
        return math.tanh(z)
    if act == 4:
        return 1 / (1 + math.exp(-z))
    return z


def _derivative(y, act, slope):
    if act == 1:
        return 1.0 if y > 0 else 0.0
    if act == 2:
        return 1.0 if y > 0 else slope
    if act == 3:
        return 1 - y * y
    if act == 4:
        return y * (1 - y)
    return 1.0


def bias_act_forward(L, x, b, y, total, C, inner, act, slope):
    for _, idx in L.thread_starts():
        while idx < total:
            c = (idx // inner) % C
            y[idx] = _activate(x[idx] + b[c], act, slope)
            idx += L.stride


def bias_act_backward(L, gy, y, gz, total, act, slope):
    for _, idx in L.thread_starts():
        while idx < total:
            gz[idx] = gy[idx] * _derivative(y[idx], act, slope)
            idx += L.stride


# -------------------------------------------------------------------------------------- im2col.cu

def im2col(L, x, cols, N, C, H, W, kh, kw, Ho, Wo, sh, sw, ph, pw, dh, dw):
    total = N * C * kh * kw * Ho * Wo
    for _, idx in L.thread_starts():
        while idx < total:
            w = idx % Wo
            h = (idx // Wo) % Ho
            j = (idx // (Wo * Ho)) % kw
            i = (idx // (Wo * Ho * kw)) % kh
            nc = idx // (Wo * Ho * kw * kh)
            r = h * sh - ph + i * dh
            s = w * sw - pw + j * dw
            cols[idx] = x[(nc * H + r) * W + s] if 0 <= r < H and 0 <= s < W else 0.0
            idx += L.stride


def col2im(L, cols, x, N, C, H, W, kh, kw, Ho, Wo, sh, sw, ph, pw, dh, dw):
    total = N * C * H * W
    for _, idx in L.thread_starts():
        while idx < total:
            s = idx % W
            r = (idx // W) % H
            nc = idx // (W * H)
            col = nc * kh * kw * Ho * Wo
            acc = 0.0
            for i in range(kh):
                hs = r + ph - i * dh  # C's / and % agree with Python's for hs >= 0, tested first
                if hs < 0 or hs % sh != 0 or hs // sh >= Ho:
                    continue
                for j in range(kw):
                    ws = s + pw - j * dw
                    if ws < 0 or ws % sw != 0 or ws // sw >= Wo:
                        continue
                    acc += cols[col + ((i * kw + j) * Ho + hs // sh) * Wo + ws // sw]
            x[idx] = acc
            idx += L.stride


# ------------------------------------------------------------------------------- implicit_gemm.cu

class Geometry(types.SimpleNamespace):
    """struct Geometry: N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx."""

    FIELDS = "N C H W O Ho Wo T sh sw ph pw dh dw G dy dx".split()

    def __init__(self, *values):
        super().__init__(**dict(zip(self.FIELDS, values)))
        self.Cg, self.Og = self.C // self.G, self.O // self.G


def gemm_tile(L, a, b, store, m0, n0, k0, k1):
    """Phase by phase: every thread loads its share of the two shared tiles, (__syncthreads), every thread
    multiplies; shared memory starts as None each K step, so a read of an element nobody loaded fails."""
    D = L.defines
    TM, TN, TK, THM = D["TILE_M"], D["TILE_N"], D["TILE_K"], D["THREADS_M"]
    assert L.block % THM == 0 and TM % THM == 0 and TN % (L.block // THM) == 0, "static_assert"
    THN = L.block // THM
    RM, RN = TM // THM, TN // THN
    acc = [[[0.0] * RN for _ in range(RM)] for _ in range(L.block)]
    for k in range(k0, k1, TK):
        As = [[None] * (TM + 1) for _ in range(TK)]
        Bs = [[None] * (TN + 1) for _ in range(TK)]
        for tid in range(L.block):
            for e in range(tid, TK * TM, L.block):
                kk, mm = (e % TK, e // TK) if a.k_contiguous else (e // TM, e % TM)
                As[kk][mm] = a(m0 + mm, k + kk) if k + kk < k1 else 0.0
            for e in range(tid, TK * TN, L.block):
                kk, nn = (e % TK, e // TK) if b.k_contiguous else (e // TN, e % TN)
                Bs[kk][nn] = b(k + kk, n0 + nn) if k + kk < k1 else 0.0
        for tid in range(L.block):
            tm, tn = tid % THM, tid // THM
            for kk in range(TK):
                av = [As[kk][tm + r * THM] for r in range(RM)]
                bv = [Bs[kk][tn + q * THN] for q in range(RN)]
                for r in range(RM):
                    for q in range(RN):
                        acc[tid][r][q] += av[r] * bv[q]
    for tid in range(L.block):
        tm, tn = tid % THM, tid // THM
        for r in range(RM):
            for q in range(RN):
                store(m0 + tm + r * THM, n0 + tn + q * THN, acc[tid][r][q])


def _operand(k_contiguous):
    def wrap(f):
        f.k_contiguous = k_contiguous
        return f
    return wrap


def patches(x, q, g):
    @_operand(False)
    def a(m, k):
        if m >= q.N * q.Ho * q.Wo:
            return 0.0
        j, i, n = m % q.Wo, (m // q.Wo) % q.Ho, m // (q.Wo * q.Ho)
        t, c = k % q.T, k // q.T
        r = i * q.sh + q.dy[t] * q.dh - q.ph
        s = j * q.sw + q.dx[t] * q.dw - q.pw
        if r < 0 or r >= q.H or s < 0 or s >= q.W:
            return 0.0
        return x[((n * q.C + g * q.Cg + c) * q.H + r) * q.W + s]
    return a


def filters(wp, q, g):
    return _operand(True)(lambda k, o: wp[(g * q.Og + o) * q.Cg * q.T + k] if o < q.Og else 0.0)


def phase_pixel(q, phase, m):
    """struct Phase's pixel(): (n, r, s) of the phase's m-th input pixel."""
    r0, s0, Hp, Wp = phase
    return m // (Wp * Hp), r0 + (m // Wp) % Hp * q.sh, s0 + m % Wp * q.sw


def output_gradients(gy, q, g, phase):
    @_operand(False)
    def a(m, k):
        if m >= q.N * phase[2] * phase[3]:
            return 0.0
        n, r, s = phase_pixel(q, phase, m)
        t, o = k % q.T, k // q.T
        ri = r + q.ph - q.dy[t] * q.dh
        sj = s + q.pw - q.dx[t] * q.dw
        if ri < 0 or sj < 0 or ri % q.sh != 0 or sj % q.sw != 0:  # C's % agrees for ri, sj >= 0
            return 0.0
        i, j = ri // q.sh, sj // q.sw
        if i >= q.Ho or j >= q.Wo:
            return 0.0
        return gy[((n * q.O + g * q.Og + o) * q.Ho + i) * q.Wo + j]
    return a


def transposed_filters(wp, q, g):
    @_operand(False)
    def b(k, c):
        if c >= q.Cg:
            return 0.0
        t, o = k % q.T, k // q.T
        return wp[((g * q.Og + o) * q.Cg + c) * q.T + t]
    return b


def output_gradient_rows(gy, q, g):
    @_operand(True)
    def a(o, k):
        if o >= q.Og:
            return 0.0
        j, i, n = k % q.Wo, (k // q.Wo) % q.Ho, k // (q.Wo * q.Ho)
        return gy[((n * q.O + g * q.Og + o) * q.Ho + i) * q.Wo + j]
    return a


def patch_columns(p, q):
    return _operand(True)(lambda k, ct: p(k, ct) if ct < q.Cg * q.T else 0.0)


def _tile_origin(L, tile, tiles_m, tiles_n):
    return (tile // tiles_n) % tiles_m * L.defines["TILE_M"], tile % tiles_n * L.defines["TILE_N"]


def implicit_gemm_forward(L, x, wp, b, dy, dx, y, N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, has_bias):
    q = Geometry(N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx)
    M, Og = N * Ho * Wo, q.Og
    tiles_m, tiles_n = -(-M // L.defines["TILE_M"]), -(-Og // L.defines["TILE_N"])
    for tile in range(L.bid, G * tiles_m * tiles_n, L.grid):
        g = tile // (tiles_m * tiles_n)
        m0, n0 = _tile_origin(L, tile, tiles_m, tiles_n)

        def store(m, o, v, g=g):
            if m >= M or o >= Og:
                return
            j, i, n = m % Wo, (m // Wo) % Ho, m // (Wo * Ho)
            y[((n * O + g * Og + o) * Ho + i) * Wo + j] = v + b[g * Og + o] if has_bias else v

        gemm_tile(L, patches(x, q, g), filters(wp, q, g), store, m0, n0, 0, q.Cg * T)


def implicit_gemm_grad_input(L, gy, wp, dy, dx, gx, N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G,
                             r0, s0, Hp, Wp):
    q = Geometry(N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx)
    phase = (r0, s0, Hp, Wp)
    M, Cg = N * Hp * Wp, q.Cg
    tiles_m, tiles_n = -(-M // L.defines["TILE_M"]), -(-Cg // L.defines["TILE_N"])
    for tile in range(L.bid, G * tiles_m * tiles_n, L.grid):
        g = tile // (tiles_m * tiles_n)
        m0, n0 = _tile_origin(L, tile, tiles_m, tiles_n)

        def store(m, c, v, g=g):
            if m >= M or c >= Cg:
                return
            n, r, s = phase_pixel(q, phase, m)
            gx[((n * C + g * Cg + c) * H + r) * W + s] = v

        gemm_tile(L, output_gradients(gy, q, g, phase), transposed_filters(wp, q, g), store, m0, n0, 0, q.Og * T)


def implicit_gemm_grad_weight(L, x, gy, dy, dx, gw_partial, N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G,
                              splits, slice_):
    q = Geometry(N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx)
    Og, CT, K = q.Og, q.Cg * T, N * Ho * Wo
    tiles_m, tiles_n = -(-Og // L.defines["TILE_M"]), -(-CT // L.defines["TILE_N"])
    for tile in range(L.bid, splits * G * tiles_m * tiles_n, L.grid):
        split = tile // (G * tiles_m * tiles_n)
        g = tile // (tiles_m * tiles_n) % G
        m0, n0 = _tile_origin(L, tile, tiles_m, tiles_n)

        def store(o, ct, v, g=g, split=split):
            if o < Og and ct < CT:
                gw_partial[(split * O + g * Og + o) * CT + ct] = v

        k0 = split * slice_
        gemm_tile(L, output_gradient_rows(gy, q, g), patch_columns(patches(x, q, g), q), store, m0, n0, k0,
                  min(K, k0 + slice_))


# ---------------------------------------------------------------------------------------- adam.cu

def _adam_update(p, g, m, v, i, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt):
    pi = p[i]
    gi = g[i] + weight_decay * pi
    mi = m[i]
    mi += (1 - beta1) * (gi - mi)
    vi = beta2 * v[i] + (1 - beta2) * gi * gi
    m[i] = mi
    v[i] = vi
    p[i] = pi - step_size * mi / (math.sqrt(vi) / bc2_sqrt + eps)


def adam_step(L, p, g, m, v, n, *hyper):
    for _, i in L.thread_starts():
        while i < n:
            _adam_update(p, g, m, v, i, *hyper)
            i += L.stride


def adam_multi(L, table, tensors, chunks, *hyper):
    chunk = L.defines["CHUNK"]
    for k in range(L.bid, chunks, L.grid):
        t = table[5 * tensors + k]
        start = table[5 * tensors + chunks + k]
        size = table[4 * tensors + t]
        end = min(start + chunk, size)
        p, g, m, v = (L.memory[table[j * tensors + t]] for j in range(4))
        for tid in range(L.block):
            for i in range(start + tid, end, L.block):
                _adam_update(p, g, m, v, i, *hyper)


BODIES = {f.__name__: f for f in (
    maxout_forward,
    maxout_backward, maxout_select, sn_wt_u, sn_w_v, sn_normalize, sn_scale, bias_act_forward,
    bias_act_backward, im2col, col2im, adam_step, adam_multi, implicit_gemm_forward, implicit_gemm_grad_input,
    implicit_gemm_grad_weight)}
