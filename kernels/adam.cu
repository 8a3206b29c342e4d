// Adam (Kingma & Ba 2015) with PyTorch's formula, updating p, m, v in place:
//   g = g + weight_decay p;  m = m + (1 - beta1)(g - m);  v = beta2 v + (1 - beta2) g^2
//   p = p - step_size m / (sqrt(v) / bc2_sqrt + eps),  step_size = lr / (1 - beta1^t), bc2_sqrt = sqrt(1 - beta2^t)
// adam_step updates one tensor; adam_multi updates a list of tensors in one launch, one block per chunk
// of CHUNK elements, reading the tensors' addresses and sizes from a table (see adam.py).
#include "common.cuh"

#ifndef CHUNK
#define CHUNK 16384
#endif

__device__ __forceinline__ void adam_update(
    scalar_t* p, const scalar_t* g, scalar_t* m, scalar_t* v, int i, scalar_t beta1, scalar_t beta2,
    scalar_t eps, scalar_t weight_decay, scalar_t step_size, scalar_t bc2_sqrt)
{
    const scalar_t pi = p[i];
    const scalar_t gi = g[i] + weight_decay * pi;
    scalar_t mi = m[i];
    mi += (scalar_t(1) - beta1) * (gi - mi);
    const scalar_t vi = beta2 * v[i] + (scalar_t(1) - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - step_size * mi / (sqrt(vi) / bc2_sqrt + eps);
}

extern "C" __global__ void adam_step(
    scalar_t* __restrict__ p, const scalar_t* __restrict__ g, scalar_t* __restrict__ m,
    scalar_t* __restrict__ v, int n, scalar_t beta1, scalar_t beta2, scalar_t eps, scalar_t weight_decay,
    scalar_t step_size, scalar_t bc2_sqrt)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        adam_update(p, g, m, v, i, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt);
    }
}

// table (int64): [p addresses (T), g addresses (T), m addresses (T), v addresses (T), sizes (T),
//                 chunk tensor index (K), chunk first element (K)]
extern "C" __global__ void adam_multi(
    const long long* __restrict__ table, int tensors, int chunks, scalar_t beta1, scalar_t beta2,
    scalar_t eps, scalar_t weight_decay, scalar_t step_size, scalar_t bc2_sqrt)
{
    for (int k = blockIdx.x; k < chunks; k += gridDim.x) {
        const int t = (int)table[5 * tensors + k];
        const int start = (int)table[5 * tensors + chunks + k];
        const int size = (int)table[4 * tensors + t];
        const int end = start + CHUNK < size ? start + CHUNK : size;
        scalar_t* p = (scalar_t*)table[t];
        const scalar_t* g = (const scalar_t*)table[tensors + t];
        scalar_t* m = (scalar_t*)table[2 * tensors + t];
        scalar_t* v = (scalar_t*)table[3 * tensors + t];
        for (int i = start + threadIdx.x; i < end; i += blockDim.x) {
            adam_update(p, g, m, v, i, beta1, beta2, eps, weight_decay, step_size, bc2_sqrt);
        }
    }
}
