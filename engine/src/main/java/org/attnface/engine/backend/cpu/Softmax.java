package org.attnface.engine.backend.cpu;

import org.attnface.engine.backend.RowShape;

/** Row-wise softmax and the losses built on it, over [n, classes]. Rows are short (2 or 8): one thread. */
final class Softmax {
    private Softmax() {}

    static void softmax(RowShape r, float[] xa, int xo, float[] ya, int yo) {
        int n = r.n(), c = r.c();
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

    static void softmaxBackward(RowShape r, float[] ya, int yo, float[] ga, int go, float[] da, int dxo) {
        int n = r.n(), c = r.c();
        for (int i = 0; i < n; i++) {
            float dot = 0f;
            for (int j = 0; j < c; j++) dot += ga[go + i * c + j] * ya[yo + i * c + j];
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = ya[yo + i * c + j] * (ga[go + i * c + j] - dot);
        }
    }

    static void logSoftmax(RowShape r, float[] xa, int xo, float[] ya, int yo) {
        int n = r.n(), c = r.c();
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

    static void logSoftmaxBackward(RowShape r, float[] ya, int yo, float[] ga, int go, float[] da, int dxo) {
        int n = r.n(), c = r.c();
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

    static void crossEntropy(RowShape r, float[] xa, int xo, float[] la, int lo, float[] pa, int po, float[] loss, int lso) {
        int n = r.n(), c = r.c();
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
        loss[lso] = (float) (total / n);
    }

    static void crossEntropyBackward(RowShape r, float[] pa, int po, float[] la, int lo, float[] dloss, int dlo, float[] da, int dxo) {
        int n = r.n(), c = r.c();
        float g = dloss[dlo] / n;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = (pa[po + i * c + j] - (j == y ? 1f : 0f)) * g;
        }
    }

    static void expectedDistance(RowShape r, float[] xa, int xo, float[] la, int lo, float[] pa, int po, float[] loss, int lso) {
        int n = r.n(), c = r.c();
        double total = 0;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            softmaxRow(xa, xo + i * c, pa, po + i * c, c);
            double e = 0;
            for (int j = 0; j < c; j++) e += pa[po + i * c + j] * Math.abs(j - y);
            total += e;
        }
        loss[lso] = (float) (total / n);
    }

    static void expectedDistanceBackward(RowShape r, float[] pa, int po, float[] la, int lo, float[] dloss, int dlo, float[] da, int dxo) {
        int n = r.n(), c = r.c();
        float g = dloss[dlo] / n;
        for (int i = 0; i < n; i++) {
            int y = label(la, lo + i, c);
            float e = 0f;
            for (int j = 0; j < c; j++) e += pa[po + i * c + j] * Math.abs(j - y);
            for (int j = 0; j < c; j++) da[dxo + i * c + j] = pa[po + i * c + j] * (Math.abs(j - y) - e) * g;
        }
    }
}
