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

from emulated_implicit_gemm import implicit_gemm_forward, implicit_gemm_grad_input, implicit_gemm_grad_weight

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
