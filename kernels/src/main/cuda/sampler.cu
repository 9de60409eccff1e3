// The spatial transformer: affine grid and bilinear sampling (align_corners = false, zeros
// outside), forward and backward, as backend/cpu/Sampler.java.
// Speed of light: grid_sample reads the grid (8 B per output pixel) and gathers 4 taps per
// output value; at batch 256, 3x64x64 that is ~12 MB of output and ~25 MB of traffic with L2
// hits for the taps: ~10 us at 3.35 TB/s. The backward scatters with atomicAdd into dx
// (each input pixel receives from up to ~4 outputs under a near-identity transform), so it
// is bound by atomic throughput in L2, still far under 100 us at these sizes.
#include "common.cuh"

extern "C" __global__ void affine_grid_fwd(const float* theta, float* grid, int n, int h, int w) {
    FOR_EACH(e, (long long)n * h * w) {
        int x = (int)(e % w), y = (int)((e / w) % h), i = (int)(e / ((long long)w * h));
        const float* t = theta + i * 6;
        // Explicit rounding (no FMA contraction): the grid is bit-identical to the CPU's, so the
        // sampler below takes the same floor() at pixel boundaries, where its gradient jumps.
        float ny = __fsub_rn(__fdiv_rn(__fadd_rn(__fmul_rn(2.f, (float)y), 1.f), (float)h), 1.f);
        float nx = __fsub_rn(__fdiv_rn(__fadd_rn(__fmul_rn(2.f, (float)x), 1.f), (float)w), 1.f);
        grid[e * 2] = __fadd_rn(__fadd_rn(__fmul_rn(t[0], nx), __fmul_rn(t[1], ny)), t[2]);
        grid[e * 2 + 1] = __fadd_rn(__fadd_rn(__fmul_rn(t[3], nx), __fmul_rn(t[4], ny)), t[5]);
    }
}

// One block per sample; double accumulators as on the CPU.
extern "C" __global__ void affine_grid_bwd(const float* dgrid, float* dtheta, int h, int w) {
    int i = blockIdx.x;
    double s[6] = {0, 0, 0, 0, 0, 0};
    for (int e = threadIdx.x; e < h * w; e += blockDim.x) {
        int x = e % w, y = e / w;
        double ny = (2.0 * y + 1.0) / h - 1.0, nx = (2.0 * x + 1.0) / w - 1.0;
        long long at = ((long long)i * h * w + e) * 2;
        double gx = dgrid[at], gy = dgrid[at + 1];
        s[0] += gx * nx; s[1] += gx * ny; s[2] += gx;
        s[3] += gy * nx; s[4] += gy * ny; s[5] += gy;
    }
    for (int j = 0; j < 6; j++) {
        double t = block_sum(s[j]);
        if (threadIdx.x == 0) dtheta[i * 6 + j] = (float)t;
    }
}

struct Taps {
    int x0, y0;
    float wx0, wx1, wy0, wy1;
    bool inX0, inX1, inY0, inY1;
};

__device__ __forceinline__ Taps taps(float gx, float gy, int h, int w) {
    Taps t;
    // Same rounding steps as Sampler.java, so floor() picks the same cell as the CPU.
    float ix = __fmul_rn(__fsub_rn(__fmul_rn(__fadd_rn(gx, 1.f), (float)w), 1.f), 0.5f);
    float iy = __fmul_rn(__fsub_rn(__fmul_rn(__fadd_rn(gy, 1.f), (float)h), 1.f), 0.5f);
    t.x0 = (int)floorf(ix); t.y0 = (int)floorf(iy);
    t.wx1 = ix - t.x0; t.wy1 = iy - t.y0; t.wx0 = 1.f - t.wx1; t.wy0 = 1.f - t.wy1;
    t.inX0 = t.x0 >= 0 && t.x0 < w; t.inX1 = t.x0 + 1 >= 0 && t.x0 + 1 < w;
    t.inY0 = t.y0 >= 0 && t.y0 < h; t.inY1 = t.y0 + 1 >= 0 && t.y0 + 1 < h;
    return t;
}

// One thread per output value (i, ch, pq): consecutive threads read consecutive grid points.
extern "C" __global__ void grid_sample_fwd(const float* x, const float* grid, float* y, int n, int c, int h, int w,
                                           int pq) {
    FOR_EACH(e, (long long)n * c * pq) {
        int at = (int)(e % pq);
        long long plane = e / pq;  // i * c + ch
        int i = (int)(plane / c);
        long long g = ((long long)i * pq + at) * 2;
        Taps t = taps(grid[g], grid[g + 1], h, w);
        const float* xb = x + plane * h * w;
        float v = 0.f;
        if (t.inY0 && t.inX0) v += xb[t.y0 * w + t.x0] * t.wy0 * t.wx0;
        if (t.inY0 && t.inX1) v += xb[t.y0 * w + t.x0 + 1] * t.wy0 * t.wx1;
        if (t.inY1 && t.inX0) v += xb[(t.y0 + 1) * w + t.x0] * t.wy1 * t.wx0;
        if (t.inY1 && t.inX1) v += xb[(t.y0 + 1) * w + t.x0 + 1] * t.wy1 * t.wx1;
        y[e] = v;
    }
}

// One thread per grid point (i, pq) looping over channels, as the CPU does: dgrid needs the sum
// over channels. dx (zeroed by the caller) receives atomicAdd scatters: several grid points can
// hit the same input pixel, so plain stores would race. dx or dgrid may be null.
extern "C" __global__ void grid_sample_bwd(const float* x, const float* grid, const float* dy, float* dx, float* dgrid,
                                           int n, int c, int h, int w, int pq) {
    FOR_EACH(e, (long long)n * pq) {
        int i = (int)(e / pq), at = (int)(e % pq);
        Taps t = taps(grid[e * 2], grid[e * 2 + 1], h, w);
        float gix = 0.f, giy = 0.f;
        for (int ch = 0; ch < c; ch++) {
            long long plane = (long long)i * c + ch;
            const float* xb = x + plane * h * w;
            float g = dy[plane * pq + at];
            float v00 = t.inY0 && t.inX0 ? xb[t.y0 * w + t.x0] : 0.f;
            float v01 = t.inY0 && t.inX1 ? xb[t.y0 * w + t.x0 + 1] : 0.f;
            float v10 = t.inY1 && t.inX0 ? xb[(t.y0 + 1) * w + t.x0] : 0.f;
            float v11 = t.inY1 && t.inX1 ? xb[(t.y0 + 1) * w + t.x0 + 1] : 0.f;
            gix += g * ((v01 - v00) * t.wy0 + (v11 - v10) * t.wy1);
            giy += g * ((v10 - v00) * t.wx0 + (v11 - v01) * t.wx1);
            if (dx) {
                float* db = dx + plane * h * w;
                if (t.inY0 && t.inX0) atomicAdd(db + t.y0 * w + t.x0, g * t.wy0 * t.wx0);
                if (t.inY0 && t.inX1) atomicAdd(db + t.y0 * w + t.x0 + 1, g * t.wy0 * t.wx1);
                if (t.inY1 && t.inX0) atomicAdd(db + (t.y0 + 1) * w + t.x0, g * t.wy1 * t.wx0);
                if (t.inY1 && t.inX1) atomicAdd(db + (t.y0 + 1) * w + t.x0 + 1, g * t.wy1 * t.wx1);
            }
        }
        if (dgrid) {
            // d ix / d gx = w / 2 and d iy / d gy = h / 2 (align_corners = false)
            dgrid[e * 2] = gix * w * 0.5f;
            dgrid[e * 2 + 1] = giy * h * 0.5f;
        }
    }
}

// Deterministic dx of the grid sample (CudaBackend.setDeterministic): one thread per (sample,
// channel) plane loops over that sample's grid points in order and adds the four bilinear taps
// into its own plane, so the scatter has a fixed summation order and no atomics. Slow: one
// thread does all pq points of a plane (n*c threads, e.g. 256*3 at the attn net's input), but
// bit-reproducible. dgrid comes from grid_sample_bwd with dx = null. dx must be zeroed first.
extern "C" __global__ void grid_sample_bwd_dx_ordered(const float* grid, const float* dy, float* dx,
                                                      int n, int c, int h, int w, int pq) {
    FOR_EACH(plane, (long long)n * c) {
        long long i = plane / c;
        float* db = dx + plane * h * w;
        for (int at = 0; at < pq; at++) {
            long long e = i * pq + at;
            Taps t = taps(grid[e * 2], grid[e * 2 + 1], h, w);
            float g = dy[plane * pq + at];
            if (t.inY0 && t.inX0) db[t.y0 * w + t.x0] += g * t.wy0 * t.wx0;
            if (t.inY0 && t.inX1) db[t.y0 * w + t.x0 + 1] += g * t.wy0 * t.wx1;
            if (t.inY1 && t.inX0) db[(t.y0 + 1) * w + t.x0] += g * t.wy1 * t.wx0;
            if (t.inY1 && t.inX1) db[(t.y0 + 1) * w + t.x0 + 1] += g * t.wy1 * t.wx1;
        }
    }
}
