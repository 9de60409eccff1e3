package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.PoolShape;

/** Max and average pooling; one (image, channel) plane per task. */
final class Pool {
    private Pool() {}

    static void max(CpuBackend be, PoolShape g, Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        be.team().range(g.n() * g.c(), Math.max(1, 1024 / (p * q)), (lo, hi, chunk) -> {
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q;
                for (int op = 0; op < p; op++) {
                    int h0 = op * g.stride() - g.pad(), hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
                    for (int oq = 0; oq < q; oq++) {
                        int w0 = oq * g.stride() - g.pad(), ws = Math.max(w0, 0), we = Math.min(w0 + g.kw(), w);
                        float m = Float.NEGATIVE_INFINITY;
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++) m = Math.max(m, xa[xb + ih * w + iw]);
                        ya[yb + op * q + oq] = m;
                    }
                }
            }
        });
    }

    static void maxBackward(CpuBackend be, PoolShape g, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y), ga = CpuBackend.a(dy), da = CpuBackend.a(dx);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), go = CpuBackend.o(dy), dxo = CpuBackend.o(dx);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        be.team().range(g.n() * g.c(), Math.max(1, 1024 / (p * q)), (lo, hi, chunk) -> {
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q, gb = go + plane * p * q, db = dxo + plane * h * w;
                Arrays.fill(da, db, db + h * w, 0f);
                for (int op = 0; op < p; op++) {
                    int h0 = op * g.stride() - g.pad(), hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
                    for (int oq = 0; oq < q; oq++) {
                        int w0 = oq * g.stride() - g.pad(), ws = Math.max(w0, 0), we = Math.min(w0 + g.kw(), w);
                        float m = ya[yb + op * q + oq];
                        found:
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++)
                                if (xa[xb + ih * w + iw] == m) {
                                    da[db + ih * w + iw] += ga[gb + op * q + oq];
                                    break found;
                                }
                    }
                }
            }
        });
    }

    static void avg(CpuBackend be, PoolShape g, Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        float inv = 1f / (g.kh() * g.kw());
        be.team().range(g.n() * g.c(), Math.max(1, 1024 / (h * w)), (lo, hi, chunk) -> {
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q;
                for (int op = 0; op < p; op++) {
                    int h0 = op * g.stride() - g.pad(), hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
                    for (int oq = 0; oq < q; oq++) {
                        int w0 = oq * g.stride() - g.pad(), ws = Math.max(w0, 0), we = Math.min(w0 + g.kw(), w);
                        float s = 0f;
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++) s += xa[xb + ih * w + iw];
                        ya[yb + op * q + oq] = s * inv;
                    }
                }
            }
        });
    }

    static void avgBackward(CpuBackend be, PoolShape g, Tensor dy, Tensor dx) {
        float[] ga = CpuBackend.a(dy), da = CpuBackend.a(dx);
        int go = CpuBackend.o(dy), dxo = CpuBackend.o(dx);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        float inv = 1f / (g.kh() * g.kw());
        be.team().range(g.n() * g.c(), Math.max(1, 1024 / (h * w)), (lo, hi, chunk) -> {
            for (int plane = lo; plane < hi; plane++) {
                int gb = go + plane * p * q, db = dxo + plane * h * w;
                Arrays.fill(da, db, db + h * w, 0f);
                for (int op = 0; op < p; op++) {
                    int h0 = op * g.stride() - g.pad(), hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
                    for (int oq = 0; oq < q; oq++) {
                        int w0 = oq * g.stride() - g.pad(), ws = Math.max(w0, 0), we = Math.min(w0 + g.kw(), w);
                        float v = ga[gb + op * q + oq] * inv;
                        for (int ih = hs; ih < he; ih++)
                            for (int iw = ws; iw < we; iw++) da[db + ih * w + iw] += v;
                    }
                }
            }
        });
    }
}
