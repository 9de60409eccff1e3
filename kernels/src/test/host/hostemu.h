// Runs the attnface kernels on the host, one simulated thread at a time, to check index math.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <vector>
struct U3 { unsigned x, y, z; };
static U3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __launch_bounds__(x)
#define __restrict__
inline void __syncthreads() {}
template <class T> T __shfl_xor_sync(unsigned, T, int) { return T(0); }  // blockDim 1: no other lanes
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float a) { return std::sqrt(a); }
inline float atomicAdd(float* p, float v) { float o = *p; *p += v; return o; }
using std::min; using std::max; using std::isfinite;
// Every thread of every block in turn; coop = kernels with block reductions run with blockDim 1.
template <class F> void run(unsigned blocks, unsigned threads, bool coop, F f) {
    gridDim = {blocks, 1, 1};
    blockDim = {coop ? 1u : threads, 1, 1};
    for (unsigned b = 0; b < blocks; b++)
        for (unsigned t = 0; t < blockDim.x; t++) { blockIdx = {b, 0, 0}; threadIdx = {t, 0, 0}; f(); }
}
