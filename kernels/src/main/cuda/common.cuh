// Shared helpers of the attnface kernels: the counter-based random numbers of
// org.attnface.engine.backend.Rng (bit-identical), launch geometry, block reductions.
#pragma once
#ifdef __CUDACC_RTC__
// NVRTC (the start-up compile for old drivers) has no system headers: the fixed-width types we use.
typedef unsigned long long uint64_t;
typedef unsigned int uint32_t;
typedef long long int64_t;
typedef int int32_t;
#define INFINITY __int_as_float(0x7f800000)
#define NAN __int_as_float(0x7fc00000)
#else
#include <stdint.h>
#endif

// SplitMix64 finaliser over a Weyl sequence: the same 64-bit arithmetic as Rng.mix
// (Java's >>> is the unsigned shift here, multiplications wrap mod 2^64 in both).
// Host-callable too, so a host program can check it against Rng.java without a GPU.
__host__ __device__ __forceinline__ uint64_t attnface_hash(uint64_t seed, uint64_t counter) {
    uint64_t z = seed + (counter + 1ull) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Uniform in [0, 1) with 24 random bits, exactly Rng.uniform: the integer is below 2^24,
// so the conversion and the power-of-two scale are exact.
__host__ __device__ __forceinline__ float attnface_uniform(uint64_t seed, uint64_t counter) {
    return (float)(attnface_hash(seed, counter) >> 40) * 5.9604644775390625e-8f;
}

// Grid-stride loop over n elements.
#define FOR_EACH(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (long long)(n); \
         i += (long long)blockDim.x * gridDim.x)

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
template <typename T>
__device__ __forceinline__ T block_sum(T v) {
    __shared__ T warp_sums[32];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    __syncthreads();  // warp_sums may still be read by a previous call
    if (lane == 0) warp_sums[warp] = v;
    __syncthreads();
    T total = 0;
    for (int w = 0; w < warps; w++) total += warp_sums[w];  // same order in every thread: deterministic
    return total;
}

// Broadcast geometry of up to 6 dimensions, passed by value.
struct Shape6 {
    int rank;
    int dims[6];
    int stride_a[6];  // element strides of the first input over the output's index space (0 = broadcast)
    int stride_b[6];
};
