package org.attnface.engine.backend.cpu;

import org.attnface.engine.Tensor;

/** Row-wise softmax and the losses built on it, over [n, classes]. Rows are short (2 or 8): one thread. */
final class Softmax {
    private Softmax() {}

    private static int rows(Tensor x) { return x.dim(0); }

    private static int cols(Tensor x) { return (int) (x.numel() / x.dim(0)); }

    static void softmax(Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), n = rows(x), c = cols(x);
        for (int i = 0; i < n; i++) softmaxRow(xa, xo + i * c, ya, yo + i * c, c);
    }

    /** Max-subtracted so that exp never overflows. */
    static void softmaxRow(float[] x, int xo, float[] y, int yo, int c) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < c; j++) max = Math.max(max, x[xo + j]);
        float sum = 0f;
        for (int j = 0; j < c; j++) {
            float e = (float) Math.exp(x[xo + j] - max);
            y[yo + j] = e;
            sum += e;
        }
        float inv = 1f / sum;
        for (int j = 0; j < c; j++) y[yo + j] *= inv;
    }

    static void softmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        float[] ya = CpuBackend.a(y), ga = CpuBackend.a(dy), da = CpuBackend.a(dx);
        int yo = CpuBackend.o(y), go = CpuBackend.o(dy), dxo = CpuBackend.o(dx), n = rows(y), c = cols(y);
        for (int i = 0; i < n; i++) {
            float dot = 0f;
            for (int j = 0; j < c; j++) dot += ga[go + i * c + j] * ya[yo + i * c + j];
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = ya[yo + i * c + j] * (ga[go + i * c + j] - dot);
        }
    }

    static void logSoftmax(Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), n = rows(x), c = cols(x);
        for (int i = 0; i < n; i++) {
            int xr = xo + i * c, yr = yo + i * c;
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, xa[xr + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.exp(xa[xr + j] - max);
            float lse = max + (float) Math.log(sum);
            for (int j = 0; j < c; j++) ya[yr + j] = xa[xr + j] - lse;
        }
    }

    static void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) {
        float[] ya = CpuBackend.a(y), ga = CpuBackend.a(dy), da = CpuBackend.a(dx);
        int yo = CpuBackend.o(y), go = CpuBackend.o(dy), dxo = CpuBackend.o(dx), n = rows(y), c = cols(y);
        for (int i = 0; i < n; i++) {
            float sum = 0f;
            for (int j = 0; j < c; j++) sum += ga[go + i * c + j];
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = ga[go + i * c + j] - (float) Math.exp(ya[yo + i * c + j]) * sum;
        }
    }

    static int label(float[] l, int at, int c) {
        float v = l[at];
        int k = (int) v;
        if (k != v || k < 0 || k >= c)
            throw new IllegalArgumentException("label " + v + " at row " + at + " is not a class index in [0, " + c + ")");
        return k;
    }

    static void crossEntropy(Tensor logits, Tensor labels, Tensor probs, Tensor loss) {
        float[] xa = CpuBackend.a(logits), la = CpuBackend.a(labels), pa = CpuBackend.a(probs);
        int xo = CpuBackend.o(logits), lo = CpuBackend.o(labels), po = CpuBackend.o(probs), n = rows(logits), c = cols(logits);
        double total = 0;
        for (int i = 0; i < n; i++) {
            int xr = xo + i * c;
            int y = label(la, lo + i, c);
            float max = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, xa[xr + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.exp(xa[xr + j] - max);
            double lse = max + Math.log(sum);
            total += lse - xa[xr + y];
            for (int j = 0; j < c; j++) pa[po + i * c + j] = (float) Math.exp(xa[xr + j] - lse);
        }
        CpuBackend.a(loss)[CpuBackend.o(loss)] = (float) (total / n);
    }

    static void crossEntropyBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits) {
        float[] pa = CpuBackend.a(probs), la = CpuBackend.a(labels), da = CpuBackend.a(dlogits);
        int po = CpuBackend.o(probs), lo = CpuBackend.o(labels), dxo = CpuBackend.o(dlogits), n = rows(probs), c = cols(probs);
        float g = CpuBackend.a(dloss)[CpuBackend.o(dloss)] / n;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = (pa[po + i * c + j] - (j == y ? 1f : 0f)) * g;
        }
    }

    static void expectedDistance(Tensor logits, Tensor labels, Tensor probs, Tensor loss) {
        float[] xa = CpuBackend.a(logits), la = CpuBackend.a(labels), pa = CpuBackend.a(probs);
        int xo = CpuBackend.o(logits), lo = CpuBackend.o(labels), po = CpuBackend.o(probs), n = rows(logits), c = cols(logits);
        double total = 0;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            softmaxRow(xa, xo + i * c, pa, po + i * c, c);
            double e = 0;
            for (int j = 0; j < c; j++) e += pa[po + i * c + j] * Math.abs(j - y);
            total += e;
        }
        CpuBackend.a(loss)[CpuBackend.o(loss)] = (float) (total / n);
    }

    static void expectedDistanceBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits) {
        float[] pa = CpuBackend.a(probs), la = CpuBackend.a(labels), da = CpuBackend.a(dlogits);
        int po = CpuBackend.o(probs), lo = CpuBackend.o(labels), dxo = CpuBackend.o(dlogits), n = rows(probs), c = cols(probs);
        float g = CpuBackend.a(dloss)[CpuBackend.o(dloss)] / n;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            float e = 0f;
            for (int j = 0; j < c; j++) e += pa[po + i * c + j] * Math.abs(j - y);
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = pa[po + i * c + j] * (Math.abs(j - y) - e) * g;
        }
    }
}
