// Dropout with counter-based random numbers: keep element i when Rng.uniform(seed, i) >= p,
// so no mask is stored and the backward regenerates it (bit-identical to CpuBackend.dropout).
// Speed of light: 8 bytes per element (read x, write y) plus ~20 integer ops for the hash;
// for the 256x512 feature vectors it drops, pure launch latency.
#include "common.cuh"

extern "C" __global__ void dropout_fwd(const float* x, float* y, long long n, float p, unsigned long long seed,
                                       float keepScale) {
    FOR_EACH(i, n) y[i] = attnface_uniform(seed, (uint64_t)i) >= p ? __fmul_rn(x[i], keepScale) : 0.f;
}
