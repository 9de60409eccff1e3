// Max and average pooling, forward and backward, as backend/cpu/Pool.java (max: padded
// positions never win and the gradient goes to the first maximum; avg: count_include_pad).
// Speed of light: a 3x3/2 max pool at batch 256 on 64x32x32 reads 67 MB and writes 17 MB:
// ~25 us at 3.35 TB/s; the window re-reads hit L1/L2. Backward max scatters with atomicAdd
// (overlapping windows when stride < kernel); backward avg gathers, so it needs no atomics.
#include "common.cuh"

struct PoolGeo { int n, c, h, w, kh, kw, stride, pad, p, q; };

extern "C" __global__ void max_pool_fwd(const float* x, float* y, PoolGeo g) {
    FOR_EACH(e, (long long)g.n * g.c * g.p * g.q) {
        int oq = (int)(e % g.q), op = (int)((e / g.q) % g.p);
        long long plane = e / ((long long)g.p * g.q);
        const float* xb = x + plane * g.h * g.w;
        int h0 = op * g.stride - g.pad, w0 = oq * g.stride - g.pad;
        int hs = max(h0, 0), he = min(h0 + g.kh, g.h), ws = max(w0, 0), we = min(w0 + g.kw, g.w);
        float m = -INFINITY;
        for (int ih = hs; ih < he; ih++)
            for (int iw = ws; iw < we; iw++) m = fmaxf(m, xb[ih * g.w + iw]);
        y[e] = m;
    }
}

// Index in its plane of the first input that equals output (op, oq)'s maximum m, in row-major
// window order (the CPU backend's choice), or -1.
__device__ __forceinline__ int first_max(const float* xb, float m, int op, int oq, PoolGeo g) {
    int h0 = op * g.stride - g.pad, w0 = oq * g.stride - g.pad;
    int hs = max(h0, 0), he = min(h0 + g.kh, g.h), ws = max(w0, 0), we = min(w0 + g.kw, g.w);
    for (int ih = hs; ih < he; ih++)
        for (int iw = ws; iw < we; iw++)
            if (xb[ih * g.w + iw] == m) return ih * g.w + iw;
    return -1;
}

// dx must be zeroed first.
extern "C" __global__ void max_pool_bwd(const float* x, const float* y, const float* dy, float* dx, PoolGeo g) {
    FOR_EACH(e, (long long)g.n * g.c * g.p * g.q) {
        int oq = (int)(e % g.q), op = (int)((e / g.q) % g.p);
        long long plane = e / ((long long)g.p * g.q);
        int at = first_max(x + plane * g.h * g.w, y[e], op, oq, g);
        if (at >= 0) atomicAdd(dx + plane * g.h * g.w + at, dy[e]);
    }
}

extern "C" __global__ void avg_pool_fwd(const float* x, float* y, PoolGeo g) {
    float inv = 1.f / (g.kh * g.kw);
    FOR_EACH(e, (long long)g.n * g.c * g.p * g.q) {
        int oq = (int)(e % g.q), op = (int)((e / g.q) % g.p);
        long long plane = e / ((long long)g.p * g.q);
        const float* xb = x + plane * g.h * g.w;
        int h0 = op * g.stride - g.pad, w0 = oq * g.stride - g.pad;
        int hs = max(h0, 0), he = min(h0 + g.kh, g.h), ws = max(w0, 0), we = min(w0 + g.kw, g.w);
        float s = 0.f;
        for (int ih = hs; ih < he; ih++)
            for (int iw = ws; iw < we; iw++) s += xb[ih * g.w + iw];
        y[e] = s * inv;
    }
}

// Gather: each input position sums the outputs whose windows contain it.
extern "C" __global__ void avg_pool_bwd(const float* dy, float* dx, PoolGeo g) {
    float inv = 1.f / (g.kh * g.kw);
    FOR_EACH(e, (long long)g.n * g.c * g.h * g.w) {
        int iw = (int)(e % g.w), ih = (int)((e / g.w) % g.h);
        long long plane = e / ((long long)g.h * g.w);
        const float* gb = dy + plane * g.p * g.q;
        // op*stride - pad <= ih < op*stride - pad + kh
        int ph = ih + g.pad, pw = iw + g.pad;
        int opLo = ph - g.kh + 1 <= 0 ? 0 : (ph - g.kh + 1 + g.stride - 1) / g.stride;
        int opHi = min(ph / g.stride, g.p - 1);
        int oqLo = pw - g.kw + 1 <= 0 ? 0 : (pw - g.kw + 1 + g.stride - 1) / g.stride;
        int oqHi = min(pw / g.stride, g.q - 1);
        float s = 0.f;
        for (int op = opLo; op <= opHi; op++)
            for (int oq = oqLo; oq <= oqHi; oq++) s += gb[op * g.q + oq];
        dx[e] = s * inv;
    }
}

// Deterministic max-pool backward (CudaBackend.setDeterministic): one thread per (sample,
// channel) plane visits the output positions in row-major order and adds into its own plane, so
// the float sums happen in a fixed order with no atomics. Slow (one thread does p*q windows; a
// few x slower than max_pool_bwd on the attn net's pools) but bit-reproducible. dx zeroed first.
extern "C" __global__ void max_pool_bwd_ordered(const float* x, const float* y, const float* dy, float* dx, PoolGeo g) {
    FOR_EACH(plane, (long long)g.n * g.c) {
        const float* xb = x + plane * g.h * g.w;
        float* db = dx + plane * g.h * g.w;
        for (int op = 0; op < g.p; op++)
            for (int oq = 0; oq < g.q; oq++) {
                long long e = plane * g.p * g.q + op * g.q + oq;
                int at = first_max(xb, y[e], op, oq, g);
                if (at >= 0) db[at] += dy[e];
            }
    }
}
