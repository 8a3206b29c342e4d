// Masked 2-D convolution for PixelCNN-style models: stride 1, zero padding (ph, pw), and only the
// T unmasked taps of the kernel. Tap t sits at kernel offset (dy[t], dx[t]); the weight arrives packed
// as wp (O, C, T), so masked-out taps are never read nor multiplied by zero.
//
//   y[n, o, i, j]  = b[o] + sum_c sum_t wp[o, c, t] x[n, c, i + dy[t] - ph, j + dx[t] - pw]
//   gx[n, c, r, s] = sum_o sum_t wp[o, c, t] gy[n, o, r - dy[t] + ph, s - dx[t] + pw]   (flipped taps)
//   gw[o, c, t]    = sum_n sum_i sum_j gy[n, o, i, j] x[n, c, i + dy[t] - ph, j + dx[t] - pw]
//
// Every output element is written by exactly one thread (gathers, no atomics): deterministic.
// Layouts are contiguous NCHW; x is (N, C, H, W), y and gy are (N, O, Ho, Wo) with Ho = H + 2 ph - kh + 1.
#include "common.cuh"

// One thread per output element (grid-stride).
extern "C" __global__ void masked_conv2d_forward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ wp, const scalar_t* __restrict__ b,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ y,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int ph, int pw, int has_bias)
{
    const int total = N * O * Ho * Wo;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int j = idx % Wo;
        const int i = (idx / Wo) % Ho;
        const int o = (idx / (Wo * Ho)) % O;
        const int n = idx / (Wo * Ho * O);
        scalar_t acc = has_bias ? b[o] : scalar_t(0);
        for (int t = 0; t < T; ++t) {
            const int r = i + dy[t] - ph;
            const int s = j + dx[t] - pw;
            if (r < 0 || r >= H || s < 0 || s >= W) continue;
            const scalar_t* xp = x + (n * C * H + r) * W + s;  // x[n, 0, r, s]
            const scalar_t* wt = wp + o * C * T + t;           // wp[o, 0, t]
            for (int c = 0; c < C; ++c) acc += wt[c * T] * xp[c * H * W];
        }
        y[idx] = acc;
    }
}

// Gradient for the input: a transposed masked convolution, one thread per input element.
extern "C" __global__ void masked_conv2d_grad_input(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ wp,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ gx,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int ph, int pw)
{
    const int total = N * C * H * W;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int s = idx % W;
        const int r = (idx / W) % H;
        const int c = (idx / (W * H)) % C;
        const int n = idx / (W * H * C);
        scalar_t acc = scalar_t(0);
        for (int t = 0; t < T; ++t) {
            const int i = r - dy[t] + ph;
            const int j = s - dx[t] + pw;
            if (i < 0 || i >= Ho || j < 0 || j >= Wo) continue;
            const scalar_t* g = gy + (n * O * Ho + i) * Wo + j;  // gy[n, 0, i, j]
            const scalar_t* wt = wp + c * T + t;                 // wp[0, c, t]
            for (int o = 0; o < O; ++o) acc += wt[o * C * T] * g[o * Ho * Wo];
        }
        gx[idx] = acc;
    }
}

// Gradient for the packed weight: one block per (o, c, t), its threads reduce over (n, i, j).
extern "C" __global__ void masked_conv2d_grad_weight(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ gy,
    const int* __restrict__ dy, const int* __restrict__ dx, scalar_t* __restrict__ gwp,
    int N, int C, int H, int W, int O, int Ho, int Wo, int T, int ph, int pw)
{
    __shared__ scalar_t sh[BLOCK];
    const int count = N * Ho * Wo;
    for (int blk = blockIdx.x; blk < O * C * T; blk += gridDim.x) {
        const int t = blk % T;
        const int c = (blk / T) % C;
        const int o = blk / (T * C);
        const int oy = dy[t] - ph;
        const int ox = dx[t] - pw;
        scalar_t acc = scalar_t(0);
        for (int k = threadIdx.x; k < count; k += BLOCK) {
            const int j = k % Wo;
            const int i = (k / Wo) % Ho;
            const int n = k / (Wo * Ho);
            const int r = i + oy;
            const int s = j + ox;
            if (r < 0 || r >= H || s < 0 || s >= W) continue;
            acc += gy[((n * O + o) * Ho + i) * Wo + j] * x[((n * C + c) * H + r) * W + s];
        }
        acc = block_sum(acc, sh);
        if (threadIdx.x == 0) gwp[blk] = acc;
    }
}
