// Shared by every kernel in kernels/: the block-wide sum used by the reductions.
// The loader (kernels/_cuda.py) pastes this file in place of `#include "common.cuh"` before NVRTC
// compiles a kernel, and defines scalar_t (float or double) and BLOCK (threads per block, a power of 2).
#ifndef scalar_t
#define scalar_t float
#endif
#ifndef BLOCK
#define BLOCK 256
#endif

// Sum of v over the block's BLOCK threads (a shared-memory tree); every thread gets the total.
// Every thread of the block must call it (it synchronises).
__device__ __forceinline__ scalar_t block_sum(scalar_t v, scalar_t* sh)
{
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = BLOCK / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    scalar_t total = sh[0];
    __syncthreads();
    return total;
}
