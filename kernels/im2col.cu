// im2col and col2im: the copies that turn a convolution on the GPU into one cuBLAS GEMM (CuPy has no
// cuDNN convolution here). x is (N, C, H, W), cols (N, C, kh, kw, Ho, Wo), both contiguous:
//
//   im2col  cols[n, c, i, j, h, w] = x[n, c, h sh - ph + i dh, w sw - pw + j dw]   (0 outside the image)
//   col2im  x[n, c, r, s] = sum of cols[n, c, i, j, h, w] over the (i, j, h, w) with
//           h sh - ph + i dh = r and w sw - pw + j dw = s                       (the adjoint of im2col)
//
// im2col reads the zero padding as 0 (no padded copy of x); col2im is a gather, one thread per element of
// x summing the taps that land on it (no atomics: deterministic). For col2im, (H, W) is the image it
// writes, which may be smaller than the padded extent that the windows cover (conv_transpose2d's crop).
#include "common.cuh"

// One thread per element of cols (grid-stride); consecutive threads read x along a row.
extern "C" __global__ void im2col(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ cols,
    int N, int C, int H, int W, int kh, int kw, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw)
{
    const int total = N * C * kh * kw * Ho * Wo;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int w = idx % Wo;
        const int h = (idx / Wo) % Ho;
        const int j = (idx / (Wo * Ho)) % kw;
        const int i = (idx / (Wo * Ho * kw)) % kh;
        const int nc = idx / (Wo * Ho * kw * kh);  // n * C + c
        const int r = h * sh - ph + i * dh;
        const int s = w * sw - pw + j * dw;
        cols[idx] = (r >= 0 && r < H && s >= 0 && s < W) ? x[(nc * H + r) * W + s] : scalar_t(0);
    }
}

// One thread per element of x: the taps (i, j) whose window position (h, w) lands on (r, s).
extern "C" __global__ void col2im(
    const scalar_t* __restrict__ cols, scalar_t* __restrict__ x,
    int N, int C, int H, int W, int kh, int kw, int Ho, int Wo, int sh, int sw, int ph, int pw, int dh, int dw)
{
    const int total = N * C * H * W;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int s = idx % W;
        const int r = (idx / W) % H;
        const int nc = idx / (W * H);  // n * C + c
        const scalar_t* col = cols + nc * kh * kw * Ho * Wo;  // cols[n, c, 0, 0, 0, 0]
        scalar_t acc = scalar_t(0);
        for (int i = 0; i < kh; ++i) {
            const int hs = r + ph - i * dh;  // = h sh
            if (hs < 0 || hs % sh != 0 || hs / sh >= Ho) continue;
            for (int j = 0; j < kw; ++j) {
                const int ws = s + pw - j * dw;  // = w sw
                if (ws < 0 || ws % sw != 0 || ws / sw >= Wo) continue;
                acc += col[((i * kw + j) * Ho + hs / sh) * Wo + ws / sw];
            }
        }
        x[idx] = acc;
    }
}
