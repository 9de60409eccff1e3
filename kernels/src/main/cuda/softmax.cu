// Row-wise softmax over [n, c] and the losses built on it. Rows are short (2 gender classes,
// 8 age buckets): one thread per row, one block for the loss mean.
// Speed of light: n*c*4 bytes in and out, a few KB at batch 256: pure launch latency
// (~3 us each); nothing here is worth more than fusing into as few launches as possible,
// which is why each loss writes its probabilities and its reduced mean in one kernel.
#include "common.cuh"

__device__ __forceinline__ void softmax_row(const float* x, float* y, int c) {
    float m = -INFINITY;
    for (int j = 0; j < c; j++) m = fmaxf(m, x[j]);
    float s = 0.f;
    for (int j = 0; j < c; j++) { float e = expf(x[j] - m); y[j] = e; s += e; }
    float inv = 1.f / s;
    for (int j = 0; j < c; j++) y[j] *= inv;
}

// A label that is not a class index makes the row's loss NaN (the CPU throws instead; a kernel
// cannot, and NaN is what the anomaly check and the trainer's loss check catch).
__device__ __forceinline__ int label_of(const float* labels, int i, int c) {
    float v = labels[i];
    int k = (int)v;
    return (k == v && k >= 0 && k < c) ? k : -1;
}

extern "C" __global__ void softmax_fwd(const float* x, float* y, int n, int c) {
    FOR_EACH(i, n) softmax_row(x + i * c, y + i * c, c);
}

extern "C" __global__ void softmax_bwd(const float* y, const float* dy, float* dx, int n, int c) {
    FOR_EACH(i, n) {
        const float* yr = y + i * c; const float* gr = dy + i * c; float* dr = dx + i * c;
        float dot = 0.f;
        for (int j = 0; j < c; j++) dot += gr[j] * yr[j];
        for (int j = 0; j < c; j++) dr[j] = yr[j] * (gr[j] - dot);
    }
}

extern "C" __global__ void log_softmax_fwd(const float* x, float* y, int n, int c) {
    FOR_EACH(i, n) {
        const float* xr = x + i * c; float* yr = y + i * c;
        float m = -INFINITY;
        for (int j = 0; j < c; j++) m = fmaxf(m, xr[j]);
        double s = 0;
        for (int j = 0; j < c; j++) s += exp((double)(xr[j] - m));
        float lse = m + (float)log(s);
        for (int j = 0; j < c; j++) yr[j] = xr[j] - lse;
    }
}

extern "C" __global__ void log_softmax_bwd(const float* y, const float* dy, float* dx, int n, int c) {
    FOR_EACH(i, n) {
        const float* yr = y + i * c; const float* gr = dy + i * c; float* dr = dx + i * c;
        float s = 0.f;
        for (int j = 0; j < c; j++) s += gr[j];
        for (int j = 0; j < c; j++) dr[j] = gr[j] - expf(yr[j]) * s;
    }
}

// One block: probs rows and loss[0] = mean over rows of logsumexp - logit[label].
extern "C" __global__ void cross_entropy_fwd(const float* logits, const float* labels, float* probs, float* loss,
                                             int n, int c) {
    double total = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float* xr = logits + (long long)i * c;
        int y = label_of(labels, i, c);
        float m = -INFINITY;
        for (int j = 0; j < c; j++) m = fmaxf(m, xr[j]);
        double s = 0;
        for (int j = 0; j < c; j++) s += exp((double)(xr[j] - m));
        double lse = m + log(s);
        total += y < 0 ? (double)NAN : lse - xr[y];
        for (int j = 0; j < c; j++) probs[(long long)i * c + j] = (float)exp(xr[j] - lse);
    }
    double t = block_sum(total);
    if (threadIdx.x == 0) loss[0] = (float)(t / n);
}

extern "C" __global__ void cross_entropy_bwd(const float* probs, const float* labels, const float* dloss,
                                             float* dlogits, int n, int c) {
    float g = dloss[0] / n;
    FOR_EACH(e, (long long)n * c) {
        int i = (int)(e / c), j = (int)(e % c);
        int y = label_of(labels, i, c);
        dlogits[e] = y < 0 ? NAN : (probs[e] - (j == y ? 1.f : 0.f)) * g;
    }
}

// One block: probs rows and loss[0] = mean over rows of sum_k p_k |k - label|.
extern "C" __global__ void expected_distance_fwd(const float* logits, const float* labels, float* probs, float* loss,
                                                 int n, int c) {
    double total = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        int y = label_of(labels, i, c);
        float* pr = probs + (long long)i * c;
        softmax_row(logits + (long long)i * c, pr, c);
        double e = 0;
        for (int j = 0; j < c; j++) e += pr[j] * (double)abs(j - y);
        total += y < 0 ? (double)NAN : e;
    }
    double t = block_sum(total);
    if (threadIdx.x == 0) loss[0] = (float)(t / n);
}

extern "C" __global__ void expected_distance_bwd(const float* probs, const float* labels, const float* dloss,
                                                 float* dlogits, int n, int c) {
    float g = dloss[0] / n;
    FOR_EACH(i, n) {
        int y = label_of(labels, i, c);
        const float* pr = probs + i * c;
        float e = 0.f;
        for (int j = 0; j < c; j++) e += pr[j] * (float)abs(j - y);
        for (int j = 0; j < c; j++)
            dlogits[i * c + j] = y < 0 ? NAN : pr[j] * ((float)abs(j - y) - e) * g;
    }
}
