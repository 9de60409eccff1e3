package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.PoolShape;

/**
 * Max and average pooling; (image, channel) planes split across the team in static chunks.
 *
 * <p>Max pooling is bandwidth-bound: the forward reads x once and writes a quarter of it (2x2
 * stride 2), the backward reads x, y, dy and writes dx (about 2.5 x-sized passes). The Attn-CNN
 * pools 2x2/2 four times per step, so that shape has a vector path (two rows of 2L inputs give
 * L outputs through a two-vector permute); every other shape goes through a separable forward
 * (vector max over the window's rows, then a scalar max along the row) and the reference scan
 * for the backward. The gradient goes to the first maximum of each window in row-major order,
 * the same on every path, so the paths agree bit for bit.
 */
final class Pool {
    private Pool() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Lane indices into the pair (a, b) of vectors: the even and odd columns of 2L inputs. */
    private static final float[] EVEN = new float[L], ODD = new float[L];
    /** Each output lane twice: lanes 0..L/2-1 of y spread over L lanes, and lanes L/2..L-1. */
    private static final float[] DUP_LO = new float[L], DUP_HI = new float[L];
    private static final boolean[] EVEN_LANE = new boolean[L];
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);

    static {
        for (int i = 0; i < L; i++) {
            EVEN[i] = 2 * i;
            ODD[i] = 2 * i + 1;
            DUP_LO[i] = i / 2;
            DUP_HI[i] = L / 2 + i / 2;
            EVEN_LANE[i] = (i & 1) == 0;
        }
    }

    /** The 2x2 stride-2 unpadded window of the Attn-CNN. */
    static boolean isTwoByTwo(PoolShape g) {
        return g.kh() == 2 && g.kw() == 2 && g.stride() == 2 && g.pad() == 0;
    }

    private static int grain(PoolShape g) {
        return Math.max(1, 4096 / (g.h() * g.w()));
    }

    static void max(CpuBackend be, PoolShape g, Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        boolean twoByTwo = isTwoByTwo(g);
        be.team().range(g.n() * g.c(), grain(g), (lo, hi, chunk) -> {
            float[] row = twoByTwo ? null : be.work(chunk, paddedRow(g));
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q;
                if (twoByTwo) maxTwoByTwo(xa, xb, w, ya, yb, p, q);
                else maxSeparable(g, xa, xb, ya, yb, row);
            }
        });
    }

    /** One plane, 2x2 stride 2: per output row, two input rows of 2L columns give L outputs. */
    static void maxTwoByTwo(float[] x, int xb, int w, float[] y, int yb, int p, int q) {
        FloatVector even = FloatVector.fromArray(F, EVEN, 0), odd = FloatVector.fromArray(F, ODD, 0);
        for (int op = 0; op < p; op++) {
            int r0 = xb + 2 * op * w, r1 = r0 + w, out = yb + op * q;
            int j = 0;
            for (; j + L <= q; j += L) {
                FloatVector a = FloatVector.fromArray(F, x, r0 + 2 * j).max(FloatVector.fromArray(F, x, r1 + 2 * j));
                FloatVector b = FloatVector.fromArray(F, x, r0 + 2 * j + L).max(FloatVector.fromArray(F, x, r1 + 2 * j + L));
                even.selectFrom(a, b).max(odd.selectFrom(a, b)).intoArray(y, out + j);
            }
            if (j < q) {
                // The last q - j outputs: the same loop under a mask (q = 13 at 26x26 is all tail with 16 lanes).
                VectorMask<Float> outs = F.indexInRange(j, q), ins0 = F.indexInRange(2 * j, 2 * q), ins1 = F.indexInRange(2 * j + L, 2 * q);
                FloatVector a = FloatVector.fromArray(F, x, r0 + 2 * j, ins0).max(FloatVector.fromArray(F, x, r1 + 2 * j, ins0));
                FloatVector b = FloatVector.fromArray(F, x, r0 + 2 * j + L, ins1).max(FloatVector.fromArray(F, x, r1 + 2 * j + L, ins1));
                even.selectFrom(a, b).max(odd.selectFrom(a, b)).intoArray(y, out + j, outs);
            }
        }
    }

    /** Length of the padded row {@link #maxSeparable} works in: a full vector of outputs may read past q. */
    static int paddedRow(PoolShape g) {
        return g.stride() * (g.q() + L) + g.kw();
    }

    /**
     * One plane, any window: the max over the window's rows into {@code row} (contiguous, so
     * vectorised), which holds -inf where the padding is, then the max over the window's columns
     * of that row: vectorised for strides 1 and 2 (stride 2 through a two-vector permute), scalar
     * otherwise. Math.max is associative and commutative on floats (NaN wins, +0 beats -0) and
     * -inf is its identity, so the order does not change the result.
     */
    static void maxSeparable(PoolShape g, float[] x, int xb, float[] y, int yb, float[] row) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), s = g.stride(), pad = g.pad(), kw = g.kw();
        int len = paddedRow(g);
        Arrays.fill(row, 0, pad, Float.NEGATIVE_INFINITY);
        Arrays.fill(row, pad + w, len, Float.NEGATIVE_INFINITY);
        FloatVector even = FloatVector.fromArray(F, EVEN, 0);
        for (int op = 0; op < p; op++) {
            int h0 = op * s - pad, hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
            System.arraycopy(x, xb + hs * w, row, pad, w);
            for (int ih = hs + 1; ih < he; ih++) {
                int r = xb + ih * w, j = 0;
                for (int upper = F.loopBound(w); j < upper; j += L)
                    FloatVector.fromArray(F, row, pad + j).max(FloatVector.fromArray(F, x, r + j)).intoArray(row, pad + j);
                for (; j < w; j++) row[pad + j] = Math.max(row[pad + j], x[r + j]);
            }
            int out = yb + op * q;
            if (s == 1 || s == 2) {
                for (int j = 0; j < q; j += L) {
                    FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
                    for (int t = 0; t < kw; t++) {
                        if (s == 1) m = m.max(FloatVector.fromArray(F, row, j + t));
                        else m = m.max(even.selectFrom(FloatVector.fromArray(F, row, 2 * j + t), FloatVector.fromArray(F, row, 2 * j + t + L)));
                    }
                    if (j + L <= q) m.intoArray(y, out + j);
                    else m.intoArray(y, out + j, F.indexInRange(j, q));
                }
            } else {
                for (int oq = 0; oq < q; oq++) {
                    float m = row[oq * s];
                    for (int t = 1; t < kw; t++) m = Math.max(m, row[oq * s + t]);
                    y[out + oq] = m;
                }
            }
        }
    }

    static void maxBackward(CpuBackend be, PoolShape g, Tensor x, Tensor y, Tensor dy, Tensor dx) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y), ga = CpuBackend.a(dy), da = CpuBackend.a(dx);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), go = CpuBackend.o(dy), dxo = CpuBackend.o(dx);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        boolean twoByTwo = isTwoByTwo(g);
        be.team().range(g.n() * g.c(), grain(g), (lo, hi, chunk) -> {
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q, gb = go + plane * p * q, db = dxo + plane * h * w;
                if (twoByTwo) maxBackwardTwoByTwo(xa, xb, h, w, ya, yb, ga, gb, da, db, p, q);
                else maxBackwardScan(g, xa, xb, ya, yb, ga, gb, da, db);
            }
        });
    }

    /**
     * One plane, 2x2 stride 2: the windows do not overlap, so every dx element is written once
     * (no zero fill, no scatter). A window's gradient goes to its first input equal to y in the
     * order (0,0), (0,1), (1,0), (1,1); the pair partner of a lane is found by swapping lanes.
     */
    static void maxBackwardTwoByTwo(float[] x, int xb, int h, int w, float[] y, int yb, float[] dy, int gb,
                                    float[] dx, int db, int p, int q) {
        FloatVector dupLo = FloatVector.fromArray(F, DUP_LO, 0), dupHi = FloatVector.fromArray(F, DUP_HI, 0);
        VectorMask<Float> evenLane = VectorMask.fromArray(F, EVEN_LANE, 0);
        for (int op = 0; op < p; op++) {
            int r0 = 2 * op * w, r1 = r0 + w, out = op * q;
            int j = 0;
            for (; j + L <= q; j += L) {
                FloatVector yv = FloatVector.fromArray(F, y, yb + out + j), gv = FloatVector.fromArray(F, dy, gb + out + j);
                int c = 2 * j;
                windowPairs(x, xb + r0 + c, xb + r1 + c, dupLo.selectFrom(yv), dupLo.selectFrom(gv), evenLane, dx, db + r0 + c, db + r1 + c);
                windowPairs(x, xb + r0 + c + L, xb + r1 + c + L, dupHi.selectFrom(yv), dupHi.selectFrom(gv), evenLane, dx, db + r0 + c + L, db + r1 + c + L);
            }
            if (j < q) {
                // The last q - j windows under masks (all of them when q < L).
                VectorMask<Float> outs = F.indexInRange(j, q), ins0 = F.indexInRange(2 * j, 2 * q), ins1 = F.indexInRange(2 * j + L, 2 * q);
                FloatVector yv = FloatVector.fromArray(F, y, yb + out + j, outs), gv = FloatVector.fromArray(F, dy, gb + out + j, outs);
                int c = 2 * j;
                windowPairsMasked(x, xb + r0 + c, xb + r1 + c, dupLo.selectFrom(yv), dupLo.selectFrom(gv), evenLane, dx, db + r0 + c, db + r1 + c, ins0);
                windowPairsMasked(x, xb + r0 + c + L, xb + r1 + c + L, dupHi.selectFrom(yv), dupHi.selectFrom(gv), evenLane, dx, db + r0 + c + L, db + r1 + c + L, ins1);
            }
            // An odd width leaves the last column outside every window.
            for (int col = 2 * q; col < w; col++) {
                dx[db + r0 + col] = 0f;
                dx[db + r1 + col] = 0f;
            }
        }
        // An odd height leaves the last row outside every window.
        Arrays.fill(dx, db + 2 * p * w, db + h * w, 0f);
    }

    /** L/2 windows: lanes of the two input rows in (left, right) pairs, y and dy duplicated into both lanes of a pair. */
    private static void windowPairs(float[] x, int top, int bottom, FloatVector yv, FloatVector gv, VectorMask<Float> evenLane,
                                    float[] dx, int dTop, int dBottom) {
        FloatVector a0 = FloatVector.fromArray(F, x, top), a1 = FloatVector.fromArray(F, x, bottom);
        VectorMask<Float> hit0 = a0.compare(VectorOperators.EQ, yv);
        VectorMask<Float> partner0 = a0.rearrange(SWAP_PAIRS).compare(VectorOperators.EQ, yv);
        VectorMask<Float> hit1 = a1.compare(VectorOperators.EQ, yv);
        VectorMask<Float> partner1 = a1.rearrange(SWAP_PAIRS).compare(VectorOperators.EQ, yv);
        // Left lane takes a hit; right lane only if its left partner missed; bottom row only if the top row missed.
        VectorMask<Float> take0 = hit0.and(evenLane.or(partner0.not()));
        VectorMask<Float> take1 = hit1.and(evenLane.or(partner1.not())).andNot(hit0.or(partner0));
        FloatVector zero = FloatVector.zero(F);
        zero.blend(gv, take0).intoArray(dx, dTop);
        zero.blend(gv, take1).intoArray(dx, dBottom);
    }

    /** {@link #windowPairs} for the lanes in {@code in} only. */
    private static void windowPairsMasked(float[] x, int top, int bottom, FloatVector yv, FloatVector gv, VectorMask<Float> evenLane,
                                          float[] dx, int dTop, int dBottom, VectorMask<Float> in) {
        FloatVector a0 = FloatVector.fromArray(F, x, top, in), a1 = FloatVector.fromArray(F, x, bottom, in);
        VectorMask<Float> hit0 = a0.compare(VectorOperators.EQ, yv);
        VectorMask<Float> partner0 = a0.rearrange(SWAP_PAIRS).compare(VectorOperators.EQ, yv);
        VectorMask<Float> hit1 = a1.compare(VectorOperators.EQ, yv);
        VectorMask<Float> partner1 = a1.rearrange(SWAP_PAIRS).compare(VectorOperators.EQ, yv);
        VectorMask<Float> take0 = hit0.and(evenLane.or(partner0.not()));
        VectorMask<Float> take1 = hit1.and(evenLane.or(partner1.not())).andNot(hit0.or(partner0));
        FloatVector zero = FloatVector.zero(F);
        zero.blend(gv, take0).intoArray(dx, dTop, in);
        zero.blend(gv, take1).intoArray(dx, dBottom, in);
    }

    /** One plane, any window: zero dx, then add each output's gradient at its window's first maximum. */
    static void maxBackwardScan(PoolShape g, float[] x, int xb, float[] y, int yb, float[] dy, int gb, float[] dx, int db) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), s = g.stride(), pad = g.pad();
        Arrays.fill(dx, db, db + h * w, 0f);
        for (int op = 0; op < p; op++) {
            int h0 = op * s - pad, hs = Math.max(h0, 0), he = Math.min(h0 + g.kh(), h);
            for (int oq = 0; oq < q; oq++) {
                int w0 = oq * s - pad, ws = Math.max(w0, 0), we = Math.min(w0 + g.kw(), w);
                float m = y[yb + op * q + oq];
                found:
                for (int ih = hs; ih < he; ih++) {
                    int r = xb + ih * w;
                    for (int iw = ws; iw < we; iw++)
                        if (x[r + iw] == m) {
                            dx[db + ih * w + iw] += dy[gb + op * q + oq];
                            break found;
                        }
                }
            }
        }
    }

    static void avg(CpuBackend be, PoolShape g, Tensor x, Tensor y) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y);
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        float inv = 1f / (g.kh() * g.kw());
        be.team().range(g.n() * g.c(), grain(g), (lo, hi, chunk) -> {
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
        be.team().range(g.n() * g.c(), grain(g), (lo, hi, chunk) -> {
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
