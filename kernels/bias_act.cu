// Fused bias + activation: y = act(x + b[c]), with the channel c of element idx at (idx / inner) % C
// (inner = 1 for (N, F) inputs, H * W for NCHW). Backward needs only y: act'(z) is a function of y for
// every activation here (slope > 0 keeps the sign of z in y for leaky_relu).
// act: 0 identity, 1 relu, 2 leaky_relu, 3 tanh, 4 sigmoid.
#include "common.cuh"

__device__ __forceinline__ scalar_t activate(scalar_t z, int act, scalar_t slope)
{
    switch (act) {
        case 1: return z > scalar_t(0) ? z : scalar_t(0);
        case 2: return z > scalar_t(0) ? z : z * slope;
        case 3: return tanh(z);
        case 4: return scalar_t(1) / (scalar_t(1) + exp(-z));
        default: return z;
    }
}

// d act / dz written with y = act(z).
__device__ __forceinline__ scalar_t derivative(scalar_t y, int act, scalar_t slope)
{
    switch (act) {
        case 1: return y > scalar_t(0) ? scalar_t(1) : scalar_t(0);
        case 2: return y > scalar_t(0) ? scalar_t(1) : slope;
        case 3: return scalar_t(1) - y * y;
        case 4: return y * (scalar_t(1) - y);
        default: return scalar_t(1);
    }
}

extern "C" __global__ void bias_act_forward(
    const scalar_t* __restrict__ x, const scalar_t* __restrict__ b, scalar_t* __restrict__ y,
    int total, int C, int inner, int act, scalar_t slope)
{
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        const int c = (idx / inner) % C;
        y[idx] = activate(x[idx] + b[c], act, slope);
    }
}

// gz = gy * act'(z), from the forward output y.
extern "C" __global__ void bias_act_backward(
    const scalar_t* __restrict__ gy, const scalar_t* __restrict__ y, scalar_t* __restrict__ gz,
    int total, int act, scalar_t slope)
{
    for (int idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total; idx += gridDim.x * blockDim.x) {
        gz[idx] = gy[idx] * derivative(y[idx], act, slope);
    }
}
