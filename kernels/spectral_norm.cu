// Spectral normalisation (Miyato et al. 2018): one power-iteration step on W (m, n), row-major, with
// a persistent u (m), then y = W / sigma. Four launches, no host synchronisation:
//
//   sn_wt_u      v_raw = W^T u                         one thread per column (coalesced along rows)
//   sn_w_v       v = v_raw / max(|v_raw|, eps),        one block per row; every block recomputes
//                u_raw = W v                           |v_raw| (n is small) so no grid-wide sync is needed
//   sn_normalize u = u_raw / max(|u_raw|, eps),        one block
//                sigma = u . W v = |u_raw|^2 / max(|u_raw|, eps)
//   sn_scale     y = W / sigma                         one thread per element, sigma read from memory
#include "common.cuh"

extern "C" __global__ void sn_wt_u(
    const scalar_t* __restrict__ W, const scalar_t* __restrict__ u, scalar_t* __restrict__ v_raw,
    int m, int n)
{
    for (int j = blockIdx.x * blockDim.x + threadIdx.x; j < n; j += gridDim.x * blockDim.x) {
        scalar_t acc = scalar_t(0);
        for (int i = 0; i < m; ++i) acc += W[i * n + j] * u[i];
        v_raw[j] = acc;
    }
}

extern "C" __global__ void sn_w_v(
    const scalar_t* __restrict__ W, const scalar_t* __restrict__ v_raw, scalar_t* __restrict__ v,
    scalar_t* __restrict__ u_raw, int m, int n, scalar_t eps)
{
    __shared__ scalar_t sh[BLOCK];
    scalar_t sq = scalar_t(0);
    for (int j = threadIdx.x; j < n; j += BLOCK) sq += v_raw[j] * v_raw[j];
    const scalar_t inv = scalar_t(1) / fmax(sqrt(block_sum(sq, sh)), eps);
    if (blockIdx.x == 0) {
        for (int j = threadIdx.x; j < n; j += BLOCK) v[j] = v_raw[j] * inv;
    }
    for (int i = blockIdx.x; i < m; i += gridDim.x) {
        scalar_t acc = scalar_t(0);
        for (int j = threadIdx.x; j < n; j += BLOCK) acc += W[i * n + j] * v_raw[j];
        acc = block_sum(acc, sh);
        if (threadIdx.x == 0) u_raw[i] = acc * inv;
    }
}

extern "C" __global__ void sn_normalize(
    const scalar_t* __restrict__ u_raw, scalar_t* __restrict__ u, scalar_t* __restrict__ sigma,
    int m, scalar_t eps)
{
    __shared__ scalar_t sh[BLOCK];
    scalar_t sq = scalar_t(0);
    for (int i = threadIdx.x; i < m; i += BLOCK) sq += u_raw[i] * u_raw[i];
    sq = block_sum(sq, sh);
    const scalar_t norm = fmax(sqrt(sq), eps);
    for (int i = threadIdx.x; i < m; i += BLOCK) u[i] = u_raw[i] / norm;
    if (threadIdx.x == 0) sigma[0] = sq / norm;
}

extern "C" __global__ void sn_scale(
    const scalar_t* __restrict__ W, const scalar_t* __restrict__ sigma, scalar_t* __restrict__ y, int total)
{
    const scalar_t s = sigma[0];
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        y[idx] = W[idx] / s;
    }
}
