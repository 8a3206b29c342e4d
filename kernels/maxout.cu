// Maxout: y = max over `pieces` consecutive channels, keeping the winning piece for backward.
// x is viewed as (groups, pieces, inner) with groups = outer * units (channel = unit * pieces + piece);
// y, arg and gy are (groups, inner). index_t (signed char or int) holds the argmax; ties go to the
// first piece, as NumPy's argmax.
#include "common.cuh"

#ifndef index_t
#define index_t int
#endif

// One thread per output element.
extern "C" __global__ void maxout_forward(
    const scalar_t* __restrict__ x, scalar_t* __restrict__ y, index_t* __restrict__ arg,
    int groups, int pieces, int inner)
{
    const int total = groups * inner;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int k = idx % inner;
        const int g = idx / inner;
        const scalar_t* xg = x + g * pieces * inner + k;  // x[g, 0, k]
        scalar_t best = xg[0];
        int best_p = 0;
        for (int p = 1; p < pieces; ++p) {
            const scalar_t v = xg[p * inner];
            if (v > best) { best = v; best_p = p; }
        }
        y[idx] = best;
        arg[idx] = (index_t)best_p;
    }
}

// Backward as a gather: one thread per input element, which receives gy when it was its group's argmax.
extern "C" __global__ void maxout_backward(
    const scalar_t* __restrict__ gy, const index_t* __restrict__ arg, scalar_t* __restrict__ gx,
    int groups, int pieces, int inner)
{
    const int total = groups * pieces * inner;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int k = idx % inner;
        const int p = (idx / inner) % pieces;
        const int g = idx / (inner * pieces);
        const int out = g * inner + k;
        gx[idx] = ((int)arg[out] == p) ? gy[out] : scalar_t(0);
    }
}

// The adjoint of backward: y[g, k] = x[g, arg[g, k], k] (used by double backward).
extern "C" __global__ void maxout_select(
    const scalar_t* __restrict__ x, const index_t* __restrict__ arg, scalar_t* __restrict__ y,
    int groups, int pieces, int inner)
{
    const int total = groups * inner;
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int k = idx % inner;
        const int g = idx / inner;
        y[idx] = x[(g * pieces + (int)arg[idx]) * inner + k];
    }
}
