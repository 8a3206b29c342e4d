"""kernel_emulator's port of kernels/implicit_gemm.cu, line by line: the tiled GEMM with its shared-memory phases,
the patch / filter / output-gradient operands of the forward, grad_input (by stride phases) and grad_weight launches.
Pure index arithmetic on the emulator's bounds-checked pointers (kernel_emulator.Ptr) and its launch `L`;
kernel_emulator.py lists these bodies in BODIES and runs them."""
from __future__ import annotations

import types

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
