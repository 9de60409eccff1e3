package org.attnface.engine.backend.cpu;

import org.attnface.engine.backend.SampleShape;

/**
 * The spatial transformer's two kernels, with PyTorch's conventions (align_corners = false,
 * zero padding): pixel centres sit at normalised coordinates (2i + 1) / size - 1.
 * Work is split by sample, so the scatter-add of the input gradient never races.
 */
final class Sampler {
    private Sampler() {}

    static void affineGrid(SampleShape shape, float[] t, int to, float[] g, int go) {
        int n = shape.n(), h = shape.p(), w = shape.q();
        for (int i = 0; i < n; i++) {
            int tb = to + i * 6;
            for (int y = 0; y < h; y++) {
                float ny = (2f * y + 1f) / h - 1f;
                for (int x = 0; x < w; x++) {
                    float nx = (2f * x + 1f) / w - 1f;
                    int at = go + ((i * h + y) * w + x) * 2;
                    g[at] = t[tb] * nx + t[tb + 1] * ny + t[tb + 2];
                    g[at + 1] = t[tb + 3] * nx + t[tb + 4] * ny + t[tb + 5];
                }
            }
        }
    }

    static void affineGridBackward(SampleShape shape, float[] g, int go, float[] t, int to) {
        int n = shape.n(), h = shape.p(), w = shape.q();
        for (int i = 0; i < n; i++) {
            double[] s = new double[6];
            for (int y = 0; y < h; y++) {
                double ny = (2.0 * y + 1.0) / h - 1.0;
                for (int x = 0; x < w; x++) {
                    double nx = (2.0 * x + 1.0) / w - 1.0;
                    int at = go + ((i * h + y) * w + x) * 2;
                    double gx = g[at], gy = g[at + 1];
                    s[0] += gx * nx; s[1] += gx * ny; s[2] += gx;
                    s[3] += gy * nx; s[4] += gy * ny; s[5] += gy;
                }
            }
            for (int j = 0; j < 6; j++) t[to + i * 6 + j] = (float) s[j];
        }
    }

    static void gridSample(CpuBackend be, SampleShape s, float[] xa, int xo, float[] ga, int go, float[] ya, int yo) {
        int n = s.n(), c = s.c(), h = s.h(), w = s.w(), p = s.p(), q = s.q();
        be.team().range(n, 1, (lo, hi, chunk) -> {
            for (int i = lo; i < hi; i++) {
                for (int pq = 0; pq < p * q; pq++) {
                    int gat = go + (i * p * q + pq) * 2;
                    float ix = ((ga[gat] + 1f) * w - 1f) * 0.5f, iy = ((ga[gat + 1] + 1f) * h - 1f) * 0.5f;
                    int x0 = (int) Math.floor(ix), y0 = (int) Math.floor(iy);
                    float wx1 = ix - x0, wy1 = iy - y0, wx0 = 1f - wx1, wy0 = 1f - wy1;
                    boolean inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w;
                    boolean inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h;
                    for (int ch = 0; ch < c; ch++) {
                        int base = xo + (i * c + ch) * h * w;
                        float v = 0f;
                        if (inY0 && inX0) v += xa[base + y0 * w + x0] * wy0 * wx0;
                        if (inY0 && inX1) v += xa[base + y0 * w + x0 + 1] * wy0 * wx1;
                        if (inY1 && inX0) v += xa[base + (y0 + 1) * w + x0] * wy1 * wx0;
                        if (inY1 && inX1) v += xa[base + (y0 + 1) * w + x0 + 1] * wy1 * wx1;
                        ya[yo + (i * c + ch) * p * q + pq] = v;
                    }
                }
            }
        });
    }

    /** dxa and dga may each be null when that gradient is not needed. */
    static void gridSampleBackward(CpuBackend be, SampleShape s, float[] xa, int xo, float[] ga, int go, float[] da, int dyo,
                                   float[] dxa, int dxo, float[] dga, int dgo) {
        int n = s.n(), c = s.c(), h = s.h(), w = s.w(), p = s.p(), q = s.q();
        be.team().range(n, 1, (lo, hi, chunk) -> {
            if (dxa != null) java.util.Arrays.fill(dxa, dxo + lo * c * h * w, dxo + hi * c * h * w, 0f);
            for (int i = lo; i < hi; i++) {
                for (int pq = 0; pq < p * q; pq++) {
                    int gat = go + (i * p * q + pq) * 2;
                    float ix = ((ga[gat] + 1f) * w - 1f) * 0.5f, iy = ((ga[gat + 1] + 1f) * h - 1f) * 0.5f;
                    int x0 = (int) Math.floor(ix), y0 = (int) Math.floor(iy);
                    float wx1 = ix - x0, wy1 = iy - y0, wx0 = 1f - wx1, wy0 = 1f - wy1;
                    boolean inX0 = x0 >= 0 && x0 < w, inX1 = x0 + 1 >= 0 && x0 + 1 < w;
                    boolean inY0 = y0 >= 0 && y0 < h, inY1 = y0 + 1 >= 0 && y0 + 1 < h;
                    float gix = 0f, giy = 0f;
                    for (int ch = 0; ch < c; ch++) {
                        int base = xo + (i * c + ch) * h * w, dbase = dxo + (i * c + ch) * h * w;
                        float g = da[dyo + (i * c + ch) * p * q + pq];
                        float v00 = inY0 && inX0 ? xa[base + y0 * w + x0] : 0f;
                        float v01 = inY0 && inX1 ? xa[base + y0 * w + x0 + 1] : 0f;
                        float v10 = inY1 && inX0 ? xa[base + (y0 + 1) * w + x0] : 0f;
                        float v11 = inY1 && inX1 ? xa[base + (y0 + 1) * w + x0 + 1] : 0f;
                        gix += g * ((v01 - v00) * wy0 + (v11 - v10) * wy1);
                        giy += g * ((v10 - v00) * wx0 + (v11 - v01) * wx1);
                        if (dxa != null) {
                            if (inY0 && inX0) dxa[dbase + y0 * w + x0] += g * wy0 * wx0;
                            if (inY0 && inX1) dxa[dbase + y0 * w + x0 + 1] += g * wy0 * wx1;
                            if (inY1 && inX0) dxa[dbase + (y0 + 1) * w + x0] += g * wy1 * wx0;
                            if (inY1 && inX1) dxa[dbase + (y0 + 1) * w + x0 + 1] += g * wy1 * wx1;
                        }
                    }
                    if (dga != null) {
                        int at = dgo + (i * p * q + pq) * 2;
                        // d ix / d gx = w / 2 and d iy / d gy = h / 2 (align_corners = false).
                        dga[at] = gix * w * 0.5f;
                        dga[at + 1] = giy * h * 0.5f;
                    }
                }
            }
        });
    }
}
