// Elementwise ops, broadcasting, reductions and copies.
// Speed of light: all of these are bandwidth-bound (<= 1 FLOP per 4 bytes). A binary op over
// n floats moves 12n bytes: at n = 256*64*32*32 (16.8M, a ResNet-18 stem activation at
// batch 256, 64x64) that is 201 MB, 60 us at 3.35 TB/s (H100) or 42 us at 4.8 TB/s (H200).
// axpy/sgd-like updates move 12n, relu 8n, a reduction 4n. Launch overhead (~3-5 us) dominates
// below ~1M elements, which is why the training step should run as a CUDA graph.
#include "common.cuh"

enum { OP_ADD = 0, OP_SUB = 1, OP_MUL = 2, OP_DIV = 3 };

__device__ __forceinline__ float apply_op(int op, float a, float b) {
    switch (op) {
        case OP_ADD: return a + b;
        case OP_SUB: return a - b;
        case OP_MUL: return a * b;
        default: return a / b;
    }
}

extern "C" __global__ void binary_flat(int op, const float* a, const float* b, float* out, long long n) {
    FOR_EACH(i, n) out[i] = apply_op(op, a[i], b[i]);
}

extern "C" __global__ void binary_bcast(int op, const float* a, const float* b, float* out, long long n, Shape6 g) {
    FOR_EACH(i, n) {
        long long rem = i, oa = 0, ob = 0;
        for (int d = g.rank - 1; d >= 0; d--) {
            int k = (int)(rem % g.dims[d]);
            rem /= g.dims[d];
            oa += (long long)k * g.stride_a[d];
            ob += (long long)k * g.stride_b[d];
        }
        out[i] = apply_op(op, a[oa], b[ob]);
    }
}

// out[o] = sum over the reduced index space of x. g.dims = x's shape, g.stride_a = out's strides over
// x's index space (0 along reduced dims), g.stride_b = 1 where a dim is reduced. One block per output
// element; the reduced dims are enumerated by r, the kept dims by the output index.
extern "C" __global__ void sum_to(const float* x, float* out, int outN, long long reduced, Shape6 g) {
    for (int o = blockIdx.x; o < outN; o += gridDim.x) {
        // kept-dim coordinates from o (out is contiguous in the kept dims' order)
        int keptIdx[6];
        {
            int rem = o;
            for (int d = g.rank - 1; d >= 0; d--) {
                if (g.stride_b[d]) { keptIdx[d] = 0; continue; }
                keptIdx[d] = rem % g.dims[d];
                rem /= g.dims[d];
            }
        }
        double s = 0;
        for (long long r = threadIdx.x; r < reduced; r += blockDim.x) {
            long long rem = r, off = 0, stride = 1;
            for (int d = g.rank - 1; d >= 0; d--) {
                int k;
                if (g.stride_b[d]) { k = (int)(rem % g.dims[d]); rem /= g.dims[d]; }
                else k = keptIdx[d];
                off += k * stride;
                stride *= g.dims[d];
            }
            s += x[off];
        }
        double t = block_sum(s);
        if (threadIdx.x == 0) out[o] = (float)t;
    }
}

extern "C" __global__ void axpy_f32(float alpha, const float* x, float* y, long long n) {
    FOR_EACH(i, n) y[i] += alpha * x[i];
}

extern "C" __global__ void scale_f32(const float* x, float alpha, float* out, long long n) {
    FOR_EACH(i, n) out[i] = alpha * x[i];
}

// out = alpha * s[0] * x, with s read on the device (a loss gradient), as CpuBackend computes it.
extern "C" __global__ void scale_by_scalar(const float* x, const float* s, float alpha, float* out, long long n) {
    float k = alpha * s[0];
    FOR_EACH(i, n) out[i] = k * x[i];
}

extern "C" __global__ void relu_fwd(const float* x, float* y, long long n) {
    FOR_EACH(i, n) y[i] = fmaxf(x[i], 0.f);
}

extern "C" __global__ void relu_bwd(const float* y, const float* dy, float* dx, long long n) {
    FOR_EACH(i, n) dx[i] = y[i] > 0.f ? dy[i] : 0.f;
}

// Grid-wide reductions in two stages (Reductions.java): each of a few blocks per SM reduces a
// grid-strided share of x into one double partial; one block then adds the partials in a fixed
// order, so the result depends only on the grid size (fixed per GPU) and is deterministic.
// Double accumulators, as the CPU sums in double. Stage 1 reads x once: memory-bound at full
// bandwidth, where the former single block reached about 1/100 of it (11 M floats: ~44 MB).
template <int MODE>  // 0: sum, 1: sum of squares, 2: count of NaN/Inf
__device__ __forceinline__ void reduce_partials(const float* x, long long n, double* partial) {
    double s = 0;
    FOR_EACH(i, n) {
        float v = x[i];
        s += MODE == 0 ? (double)v : MODE == 1 ? (double)v * v : (isfinite(v) ? 0.0 : 1.0);
    }
    double t = block_sum(s);
    if (threadIdx.x == 0) partial[blockIdx.x] = t;
}

extern "C" __global__ void sum_partials(const float* x, long long n, double* partial) { reduce_partials<0>(x, n, partial); }
extern "C" __global__ void sum_squares_partials(const float* x, long long n, double* partial) { reduce_partials<1>(x, n, partial); }
extern "C" __global__ void nonfinite_partials(const float* x, long long n, double* partial) { reduce_partials<2>(x, n, partial); }

// Stage 2, one block: out[0] = the sum of the partials. With clip (max_norm > 0) the partials are
// squares: out[0] = the L2 norm and out[1] = max_norm / norm when the norm exceeds max_norm, else 1
// (the factor scale_by_scalar applies, so clipping never waits for the host).
extern "C" __global__ void __launch_bounds__(1024) reduce_finalize(const double* partial, int parts, float max_norm, float* out) {
    double s = 0;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) s += partial[i];
    double t = block_sum(s);
    if (threadIdx.x == 0) {
        if (max_norm > 0) {
            double norm = sqrt(t);
            out[0] = (float)norm;
            out[1] = norm > max_norm ? (float)(max_norm / norm) : 1.f;
        } else {
            out[0] = (float)t;
        }
    }
}

extern "C" __global__ void copy2d(const float* src, int srcStride, int srcCol, float* dst, int dstStride, int dstCol,
                                  int rows, int cols) {
    FOR_EACH(i, (long long)rows * cols) {
        long long r = i / cols, c = i % cols;
        dst[r * dstStride + dstCol + c] = src[r * srcStride + srcCol + c];
    }
}

// y[n,k,pq] += bias[k] (after the cuDNN convolution).
extern "C" __global__ void bias_add_nchw(float* y, const float* bias, int k, int pq, long long total) {
    FOR_EACH(i, total) y[i] += bias[(i / pq) % k];
}
