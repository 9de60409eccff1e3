package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.backend.ConvShape;

/**
 * Convolution as im2col + GEMM, one image per task: the column matrix of one image
 * (C*R*S x P*Q floats) stays in the core's L2 while the GEMM consumes it.
 */
final class Conv {
    private Conv() {}

    /** col[(c*R + r)*S + s][p*Q + q] = x[c][p*stride - pad + r][q*stride - pad + s], 0 outside. */
    static void im2col(ConvShape g, float[] x, int xo, float[] col) {
        int h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad(), p = g.p(), q = g.q();
        int pq = p * q;
        for (int c = 0; c < g.c(); c++) {
            int xc = xo + c * h * w;
            for (int kr = 0; kr < r; kr++) {
                for (int ks = 0; ks < s; ks++) {
                    int row = ((c * r + kr) * s + ks) * pq;
                    for (int op = 0; op < p; op++) {
                        int ih = op * st - pad + kr;
                        int dst = row + op * q;
                        if (ih < 0 || ih >= h) {
                            Arrays.fill(col, dst, dst + q, 0f);
                            continue;
                        }
                        int xrow = xc + ih * w;
                        if (st == 1) {
                            // Valid q range: 0 <= oq - pad + ks < w.
                            int lo = Math.max(0, pad - ks), hi = Math.min(q, w + pad - ks);
                            if (lo > 0) Arrays.fill(col, dst, dst + Math.min(lo, q), 0f);
                            if (hi > lo) System.arraycopy(x, xrow + lo - pad + ks, col, dst + lo, hi - lo);
                            if (hi < q) Arrays.fill(col, dst + Math.max(hi, 0), dst + q, 0f);
                        } else {
                            for (int oq = 0; oq < q; oq++) {
                                int iw = oq * st - pad + ks;
                                col[dst + oq] = iw >= 0 && iw < w ? x[xrow + iw] : 0f;
                            }
                        }
                    }
                }
            }
        }
    }

    /** dx (one image, pre-zeroed) += scatter of col back to image positions. */
    static void col2im(ConvShape g, float[] col, float[] dx, int dxo) {
        int h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad(), p = g.p(), q = g.q();
        int pq = p * q;
        for (int c = 0; c < g.c(); c++) {
            int xc = dxo + c * h * w;
            for (int kr = 0; kr < r; kr++) {
                for (int ks = 0; ks < s; ks++) {
                    int row = ((c * r + kr) * s + ks) * pq;
                    for (int op = 0; op < p; op++) {
                        int ih = op * st - pad + kr;
                        if (ih < 0 || ih >= h) continue;
                        int xrow = xc + ih * w, src = row + op * q;
                        for (int oq = 0; oq < q; oq++) {
                            int iw = oq * st - pad + ks;
                            if (iw >= 0 && iw < w) dx[xrow + iw] += col[src + oq];
                        }
                    }
                }
            }
        }
    }

    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            float[] col = be.scratch(chunk, crs * pq);
            for (int i = lo; i < hi; i++) {
                im2col(g, x, xo + i * chw, col);
                int yi = yo + i * k * pq;
                Gemm.sgemm(false, false, k, pq, crs, 1f, w, wo, crs, col, 0, pq, 0f, y, yi, pq);
                if (bias != null)
                    for (int ch = 0; ch < k; ch++) {
                        float b = bias[bo + ch];
                        int base = yi + ch * pq;
                        for (int j = 0; j < pq; j++) y[base + j] += b;
                    }
            }
        });
    }

    static void backwardData(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            float[] col = be.scratch(chunk, crs * pq);
            for (int i = lo; i < hi; i++) {
                Gemm.sgemm(true, false, crs, pq, k, 1f, w, wo, crs, dy, go + i * k * pq, pq, 0f, col, 0, pq);
                Arrays.fill(dx, dxo + i * chw, dxo + (i + 1) * chw, 0f);
                col2im(g, col, dx, dxo + i * chw);
            }
        });
    }

    static void backwardFilter(CpuBackend be, ConvShape g, float[] x, int xo, float[] dy, int go, float[] dw, int dwo) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        int kcrs = k * crs;
        int threads = be.threads();
        int used = Math.min(threads, g.n());
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            float[] col = be.scratch(chunk, crs * pq);
            float[] acc = be.partial(chunk, kcrs);
            Arrays.fill(acc, 0, kcrs, 0f);
            for (int i = lo; i < hi; i++) {
                im2col(g, x, xo + i * chw, col);
                Gemm.sgemm(false, true, k, crs, pq, 1f, dy, go + i * k * pq, pq, col, 0, pq, 1f, acc, 0, crs);
            }
        });
        // Sum the per-chunk partials in chunk order: the same order every run.
        System.arraycopy(be.partial(0, kcrs), 0, dw, dwo, kcrs);
        for (int c = 1; c < used; c++) {
            float[] acc = be.partial(c, kcrs);
            for (int j = 0; j < kcrs; j++) dw[dwo + j] += acc[j];
        }
    }
}
