// Convolution as an implicit GEMM: the im2col matrix is never stored. Each block computes one
// TILE_M x TILE_N tile of a GEMM C = A B and walks K in TILE_K slices; both operand slices are gathered
// straight from the arrays into shared memory, then every thread accumulates an RM x RN piece of the tile
// in registers. One list of kernel taps serves conv2d (every tap) and PixelCNN's masked convolutions
// (only the unmasked taps: the masked ones are never read, nor multiplied by zero).
//
// Geometry (contiguous NCHW): x (N, C, H, W), y (N, O, Ho, Wo), groups G with Cg = C / G input and
// Og = O / G output channels per group; T taps, tap t at kernel offset (dy[t], dx[t]); stride (sh, sw),
// dilation (dh, dw), top/left zero padding (ph, pw). The weight arrives packed as wp (O, Cg, T).
// Output pixel (i, j) reads, through tap t, the input pixel
//     r = i sh + dy[t] dh - ph,   s = j sw + dx[t] dw - pw      (0 outside the image)
// The three GEMMs, per group g (k = c T + t or o T + t, m = an output or input pixel):
//   forward      y[n, gOg+o, i, j]   = b[gOg+o] + sum_(c,t) wp[gOg+o, c, t] x[n, gCg+c, r, s]
//                M = N Ho Wo (n,i,j)   Ncols = Og   K = Cg T
//   grad_input   gx[n, gCg+c, r, s]  = sum_(o,t) wp[gOg+o, c, t] gy[n, gOg+o, i, j]  over the (i, j, t) that
//                read (r, s): i = (r + ph - dy[t] dh) / sh where that division is exact and 0 <= i < Ho
//                M = N Hp Wp (n,rp,sp) Ncols = Cg   K = Og T        (also conv_transpose2d's forward)
//                One launch per phase (r0, s0) of the stride: the pixels r = r0 + rp sh, s = s0 + sp sw
//                (Hp x Wp of them), with only the taps whose division is exact there (the caller picks
//                them), so a stride-2 layer does not multiply 3 zeros out of 4.
//   grad_weight  gwp[gOg+o, c, t]    = sum_(n,i,j) gy[n, gOg+o, i, j] x[n, gCg+c, r, s]
//                M = Og                Ncols = Cg T K = N Ho Wo, cut into S slices whose partial sums the
//                caller adds (gw_partial is (S, O, Cg T)): no atomics, reproducible.
// Every output element is written by exactly one thread.
#include "common.cuh"

#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef THREADS_M
#define THREADS_M 16
#endif
#define THREADS_N (BLOCK / THREADS_M)
#define RM (TILE_M / THREADS_M)
#define RN (TILE_N / THREADS_N)
static_assert(BLOCK % THREADS_M == 0 && TILE_M % THREADS_M == 0 && TILE_N % THREADS_N == 0,
              "the thread grid must tile TILE_M x TILE_N");

struct Geometry {
    int N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G;
    const int* dy;
    const int* dx;
    __device__ int Cg() const { return C / G; }
    __device__ int Og() const { return O / G; }
};

// C[m, n] = sum_(k0 <= k < k1) a(m, k) b(k, n) for the tile at (m0, n0); the operands return 0 outside their
// matrices (k is kept below k1 here). An operand whose consecutive k are adjacent in memory sets
// k_contiguous, so that consecutive threads load consecutive k (coalesced); otherwise consecutive m or n.
// Every thread of the block must call it (it synchronises).
template <class A, class B, class Store>
__device__ void gemm_tile(const A& a, const B& b, const Store& store, int m0, int n0, int k0, int k1)
{
    __shared__ scalar_t As[TILE_K][TILE_M + 1];  // +1: the k-major stores hit different banks
    __shared__ scalar_t Bs[TILE_K][TILE_N + 1];
    const int tm = threadIdx.x % THREADS_M;
    const int tn = threadIdx.x / THREADS_M;
    scalar_t acc[RM][RN];
    for (int r = 0; r < RM; ++r)
        for (int q = 0; q < RN; ++q) acc[r][q] = scalar_t(0);
    for (int k = k0; k < k1; k += TILE_K) {
        for (int e = threadIdx.x; e < TILE_K * TILE_M; e += BLOCK) {
            const int kk = A::k_contiguous ? e % TILE_K : e / TILE_M;
            const int mm = A::k_contiguous ? e / TILE_K : e % TILE_M;
            As[kk][mm] = k + kk < k1 ? a(m0 + mm, k + kk) : scalar_t(0);
        }
        for (int e = threadIdx.x; e < TILE_K * TILE_N; e += BLOCK) {
            const int kk = B::k_contiguous ? e % TILE_K : e / TILE_N;
            const int nn = B::k_contiguous ? e / TILE_K : e % TILE_N;
            Bs[kk][nn] = k + kk < k1 ? b(k + kk, n0 + nn) : scalar_t(0);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < TILE_K; ++kk) {
            scalar_t av[RM], bv[RN];
            for (int r = 0; r < RM; ++r) av[r] = As[kk][tm + r * THREADS_M];
            for (int q = 0; q < RN; ++q) bv[q] = Bs[kk][tn + q * THREADS_N];
            for (int r = 0; r < RM; ++r)
                for (int q = 0; q < RN; ++q) acc[r][q] += av[r] * bv[q];
        }
        __syncthreads();
    }
    for (int r = 0; r < RM; ++r)
        for (int q = 0; q < RN; ++q) store(m0 + tm + r * THREADS_M, n0 + tn + q * THREADS_N, acc[r][q]);
}

// ------------------------------------------------------------------------------------- the operands

// x[n, gCg + c, r, s] for output pixel m = (n, i, j) and k = (c, t); 0 in the padding. (forward's A)
struct Patches {
    const scalar_t* x; Geometry q; int g;
    static constexpr bool k_contiguous = false;
    __device__ scalar_t operator()(int m, int k) const {
        if (m >= q.N * q.Ho * q.Wo) return scalar_t(0);
        const int j = m % q.Wo, i = (m / q.Wo) % q.Ho, n = m / (q.Wo * q.Ho);
        const int t = k % q.T, c = k / q.T;
        const int r = i * q.sh + q.dy[t] * q.dh - q.ph;
        const int s = j * q.sw + q.dx[t] * q.dw - q.pw;
        if (r < 0 || r >= q.H || s < 0 || s >= q.W) return scalar_t(0);
        return x[((n * q.C + g * q.Cg() + c) * q.H + r) * q.W + s];
    }
};

// wp[gOg + o, c, t] as (k = (c, t), o). (forward's B)
struct Filters {
    const scalar_t* wp; Geometry q; int g;
    static constexpr bool k_contiguous = true;
    __device__ scalar_t operator()(int k, int o) const {
        return o < q.Og() ? wp[(g * q.Og() + o) * q.Cg() * q.T + k] : scalar_t(0);
    }
};

// The input pixels of one stride phase: m = (n, rp, sp) is pixel (r0 + rp sh, s0 + sp sw) of image n.
struct Phase {
    int r0, s0, Hp, Wp;
    __device__ void pixel(const Geometry& q, int m, int& n, int& r, int& s) const {
        s = s0 + m % Wp * q.sw;
        r = r0 + (m / Wp) % Hp * q.sh;
        n = m / (Wp * Hp);
    }
};

// gy[n, gOg + o, i, j] for input pixel m = (n, r, s) of the phase and k = (o, t), where output pixel (i, j)
// reads (r, s) through tap t; 0 where no output pixel does. (grad_input's A)
struct OutputGradients {
    const scalar_t* gy; Geometry q; int g; Phase p;
    static constexpr bool k_contiguous = false;
    __device__ scalar_t operator()(int m, int k) const {
        if (m >= q.N * p.Hp * p.Wp) return scalar_t(0);
        int n, r, s;
        p.pixel(q, m, n, r, s);
        const int t = k % q.T, o = k / q.T;
        const int ri = r + q.ph - q.dy[t] * q.dh;  // i sh, when some output row i reads row r
        const int sj = s + q.pw - q.dx[t] * q.dw;
        if (ri < 0 || sj < 0 || ri % q.sh != 0 || sj % q.sw != 0) return scalar_t(0);
        const int i = ri / q.sh, j = sj / q.sw;
        if (i >= q.Ho || j >= q.Wo) return scalar_t(0);
        return gy[((n * q.O + g * q.Og() + o) * q.Ho + i) * q.Wo + j];
    }
};

// wp[gOg + o, c, t] as (k = (o, t), c). (grad_input's B)
struct TransposedFilters {
    const scalar_t* wp; Geometry q; int g;
    static constexpr bool k_contiguous = false;
    __device__ scalar_t operator()(int k, int c) const {
        if (c >= q.Cg()) return scalar_t(0);
        const int t = k % q.T, o = k / q.T;
        return wp[((g * q.Og() + o) * q.Cg() + c) * q.T + t];
    }
};

// gy[n, gOg + o, i, j] as (o, k = (n, i, j)). (grad_weight's A)
struct OutputGradientRows {
    const scalar_t* gy; Geometry q; int g;
    static constexpr bool k_contiguous = true;
    __device__ scalar_t operator()(int o, int k) const {
        if (o >= q.Og()) return scalar_t(0);
        const int j = k % q.Wo, i = (k / q.Wo) % q.Ho, n = k / (q.Wo * q.Ho);
        return gy[((n * q.O + g * q.Og() + o) * q.Ho + i) * q.Wo + j];
    }
};

// x[n, gCg + c, r, s] as (k = (n, i, j), (c, t)): the patches again, transposed. (grad_weight's B)
struct PatchColumns {
    Patches patches;
    static constexpr bool k_contiguous = true;
    __device__ scalar_t operator()(int k, int ct) const {
        return ct < patches.q.Cg() * patches.q.T ? patches(k, ct) : scalar_t(0);
    }
};

// ----------------------------------------------------------------------------------------- kernels
// One block per tile (grid-stride over tiles); tile index = ((g tiles_m + tile_m) tiles_n + tile_n).

extern "C" __global__ void implicit_gemm_forward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ wp, const scalar_t* __restrict__ b,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ y,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int sh, int sw, int ph, int pw, int dh, int dw,
    int G, int has_bias)
{
    const Geometry q{N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx};
    const int M = N * Ho * Wo, Og = q.Og();
    const int tiles_m = (M + TILE_M - 1) / TILE_M, tiles_n = (Og + TILE_N - 1) / TILE_N;
    for (int tile = blockIdx.x; tile < G * tiles_m * tiles_n; tile += gridDim.x) {
        const int g = tile / (tiles_m * tiles_n);
        const int m0 = (tile / tiles_n) % tiles_m * TILE_M, n0 = tile % tiles_n * TILE_N;
        auto store = [&](int m, int o, scalar_t v) {
            if (m >= M || o >= Og) return;
            const int j = m % Wo, i = (m / Wo) % Ho, n = m / (Wo * Ho);
            y[((n * O + g * Og + o) * Ho + i) * Wo + j] = has_bias ? v + b[g * Og + o] : v;
        };
        gemm_tile(Patches{x, q, g}, Filters{wp, q, g}, store, m0, n0, 0, q.Cg() * T);
    }
}

extern "C" __global__ void implicit_gemm_grad_input(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ wp,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ gx,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int sh, int sw, int ph, int pw, int dh, int dw,
    int G, int r0, int s0, int Hp, int Wp)
{
    const Geometry q{N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx};
    const Phase phase{r0, s0, Hp, Wp};
    const int M = N * Hp * Wp, Cg = q.Cg();
    const int tiles_m = (M + TILE_M - 1) / TILE_M, tiles_n = (Cg + TILE_N - 1) / TILE_N;
    for (int tile = blockIdx.x; tile < G * tiles_m * tiles_n; tile += gridDim.x) {
        const int g = tile / (tiles_m * tiles_n);
        const int m0 = (tile / tiles_n) % tiles_m * TILE_M, n0 = tile % tiles_n * TILE_N;
        auto store = [&](int m, int c, scalar_t v) {
            if (m >= M || c >= Cg) return;
            int n, r, s;
            phase.pixel(q, m, n, r, s);
            gx[((n * C + g * Cg + c) * H + r) * W + s] = v;
        };
        gemm_tile(OutputGradients{gy, q, g, phase}, TransposedFilters{wp, q, g}, store, m0, n0, 0, q.Og() * T);
    }
}

// The split-K tile index is ((split G + g) tiles_m + tile_m) tiles_n + tile_n; split covers K in
// [split slice, (split + 1) slice), slice a multiple of TILE_K.
extern "C" __global__ void implicit_gemm_grad_weight(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ gy,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ gw_partial,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int sh, int sw, int ph, int pw, int dh, int dw,
    int G, int splits, int slice)
{
    const Geometry q{N, C, H, W, O, Ho, Wo, T, sh, sw, ph, pw, dh, dw, G, dy, dx};
    const int Og = q.Og(), CT = q.Cg() * T, K = N * Ho * Wo;
    const int tiles_m = (Og + TILE_M - 1) / TILE_M, tiles_n = (CT + TILE_N - 1) / TILE_N;
    for (int tile = blockIdx.x; tile < splits * G * tiles_m * tiles_n; tile += gridDim.x) {
        const int split = tile / (G * tiles_m * tiles_n);
        const int g = tile / (tiles_m * tiles_n) % G;
        const int m0 = (tile / tiles_n) % tiles_m * TILE_M, n0 = tile % tiles_n * TILE_N;
        auto store = [&](int o, int ct, scalar_t v) {
            if (o < Og && ct < CT) gw_partial[(split * O + g * Og + o) * CT + ct] = v;
        };
        const int k0 = split * slice;
        gemm_tile(OutputGradientRows{gy, q, g}, PatchColumns{Patches{x, q, g}}, store, m0, n0, k0,
                  min(K, k0 + slice));
    }
}
