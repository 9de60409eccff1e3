package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import org.attnface.engine.backend.PoolShape;

/**
 * Max and average pooling; (image, channel) planes split across the team in static chunks.
 *
 * <p>Max pooling is bandwidth-bound: the forward reads x once and writes a quarter of it (2x2
 * stride 2), the backward reads x, y, dy and writes dx (about 2.5 x-sized passes). Paths:
 * <ul>
 * <li>2x2 stride 2 unpadded (the Attn-CNN, four times per step): two rows of 2L inputs give L
 *     outputs through a two-vector permute; its backward writes each dx element once.
 * <li>any other window, forward: separable, a vector max over the window's rows, then the max
 *     along the row (vectorised for strides 1 and 2, scalar otherwise).
 * <li>any other window with stride 2 (the ResNet stem's 3x3 pad 1), backward: vector search of
 *     each window's first maximum, scalar scatter of the gradients.
 * <li>everything else, backward: the reference scan.
 * </ul>
 * The gradient goes to the first maximum of each window in row-major order on every path, and
 * Math.max's result does not depend on the order, so the paths agree bit for bit.
 */
final class Pool {
    private Pool() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    /** Lane indices into the pair (a, b) of vectors: the even and odd columns of 2L inputs. */
    private static final float[] EVEN = new float[L], ODD = new float[L];
    /** Lanes 0..L/2-1 each spread over two lanes. */
    private static final float[] DUP_LO = new float[L];
    private static final boolean[] EVEN_LANE = new boolean[L];
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, i -> i ^ 1);

    static {
        for (int i = 0; i < L; i++) {
            EVEN[i] = 2 * i;
            ODD[i] = 2 * i + 1;
            DUP_LO[i] = i / 2;
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

    static void max(CpuBackend be, PoolShape g, float[] xa, int xo, float[] ya, int yo) {
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

    static void maxBackward(CpuBackend be, PoolShape g, float[] xa, int xo, float[] ya, int yo, float[] ga, int go, float[] da, int dxo) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q();
        boolean twoByTwo = isTwoByTwo(g), strideTwo = g.stride() == 2;
        be.team().range(g.n() * g.c(), grain(g), (lo, hi, chunk) -> {
            float[] rows = twoByTwo || !strideTwo ? null : be.work(chunk, g.kh() * paddedRow(g) + L);
            for (int plane = lo; plane < hi; plane++) {
                int xb = xo + plane * h * w, yb = yo + plane * p * q, gb = go + plane * p * q, db = dxo + plane * h * w;
                if (twoByTwo) maxBackwardTwoByTwo(xa, xb, h, w, ya, yb, ga, gb, da, db, p, q);
                else if (strideTwo) maxBackwardStrideTwo(g, xa, xb, ya, yb, ga, gb, da, db, rows);
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
        for (int op = 0; op < p; op++) {
            int r0 = 2 * op * w, r1 = r0 + w, out = op * q;
            for (int j = 0; j < q; j += L / 2) {
                int c = 2 * j;
                windowPairs(x, xb + r0 + c, xb + r1 + c, y, yb + out + j, dy, gb + out + j, dx, db + r0 + c, db + r1 + c,
                        Math.min(L / 2, q - j));
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

    /**
     * {@code windows} (at most L/2) adjacent 2x2 windows: the two input rows as L lanes of (left,
     * right) pairs, y and dy spread so both lanes of a pair hold their window's value. Takes no
     * vector arguments and merges no vectors across branches (the full and the masked case are
     * separate methods), so it stays allocation-free even where the JIT does not inline it.
     */
    private static void windowPairs(float[] x, int top, int bottom, float[] y, int yo, float[] dy, int go,
                                    float[] dx, int dTop, int dBottom, int windows) {
        if (windows < L / 2 || yo + L > y.length || go + L > dy.length) {
            windowPairsMasked(x, top, bottom, y, yo, dy, go, dx, dTop, dBottom, windows);
            return;
        }
        FloatVector dup = FloatVector.fromArray(F, DUP_LO, 0);
        FloatVector yv = dup.selectFrom(FloatVector.fromArray(F, y, yo)), gv = dup.selectFrom(FloatVector.fromArray(F, dy, go));
        FloatVector a0 = FloatVector.fromArray(F, x, top), a1 = FloatVector.fromArray(F, x, bottom);
        VectorMask<Float> evenLane = VectorMask.fromArray(F, EVEN_LANE, 0);
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

    /** {@link #windowPairs} under masks: fewer than L/2 windows, or y or dy ending within a vector. */
    private static void windowPairsMasked(float[] x, int top, int bottom, float[] y, int yo, float[] dy, int go,
                                          float[] dx, int dTop, int dBottom, int windows) {
        VectorMask<Float> outs = F.indexInRange(0, windows), in = F.indexInRange(0, 2 * windows);
        FloatVector dup = FloatVector.fromArray(F, DUP_LO, 0);
        FloatVector yv = dup.selectFrom(FloatVector.fromArray(F, y, yo, outs)), gv = dup.selectFrom(FloatVector.fromArray(F, dy, go, outs));
        FloatVector a0 = FloatVector.fromArray(F, x, top, in), a1 = FloatVector.fromArray(F, x, bottom, in);
        VectorMask<Float> evenLane = VectorMask.fromArray(F, EVEN_LANE, 0);
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

    /**
     * One plane, stride 2, any window (the ResNet stem's 3x3 pad 1): the window's rows are copied
     * into NaN-padded rows (NaN equals nothing, so padding never takes the gradient), then for L
     * outputs at a time the taps are visited in row-major order and each lane keeps the number of
     * its first tap equal to y. The gradients are then added one output at a time, since
     * overlapping windows may send two of them to the same input.
     */
    static void maxBackwardStrideTwo(PoolShape g, float[] x, int xb, float[] y, int yb, float[] dy, int gb, float[] dx, int db, float[] rows) {
        int h = g.h(), w = g.w(), p = g.p(), q = g.q(), pad = g.pad(), kh = g.kh(), kw = g.kw();
        int len = paddedRow(g), taps = kh * len;
        Arrays.fill(dx, db, db + h * w, 0f);
        FloatVector even = FloatVector.fromArray(F, EVEN, 0);
        for (int op = 0; op < p; op++) {
            int h0 = op * 2 - pad;
            for (int r = 0; r < kh; r++) {
                int ih = h0 + r;
                if (ih < 0 || ih >= h) continue;
                Arrays.fill(rows, r * len, r * len + pad, Float.NaN);
                System.arraycopy(x, xb + ih * w, rows, r * len + pad, w);
                Arrays.fill(rows, r * len + pad + w, (r + 1) * len, Float.NaN);
            }
            int out = yb + op * q;
            for (int j = 0; j < q; j += L) {
                FloatVector yv = j + L <= q ? FloatVector.fromArray(F, y, out + j) : FloatVector.fromArray(F, y, out + j, F.indexInRange(j, q));
                FloatVector tap = FloatVector.broadcast(F, -1f);
                for (int r = 0; r < kh; r++) {
                    int ih = h0 + r;
                    if (ih < 0 || ih >= h) continue;
                    for (int t = 0; t < kw; t++) {
                        int at = r * len + 2 * j + t;
                        FloatVector v = even.selectFrom(FloatVector.fromArray(F, rows, at), FloatVector.fromArray(F, rows, at + L));
                        tap = tap.blend(r * kw + t, v.compare(VectorOperators.EQ, yv).and(tap.compare(VectorOperators.LT, 0f)));
                    }
                }
                tap.intoArray(rows, taps);
                for (int k = 0, lanes = Math.min(L, q - j); k < lanes; k++) {
                    int t = (int) rows[taps + k];
                    if (t < 0) continue;
                    int ih = h0 + t / kw, iw = (j + k) * 2 - pad + t % kw;
                    dx[db + ih * w + iw] += dy[gb + op * q + j + k];
                }
            }
        }
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

    static void avg(CpuBackend be, PoolShape g, float[] xa, int xo, float[] ya, int yo) {
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

    static void avgBackward(CpuBackend be, PoolShape g, float[] ga, int go, float[] da, int dxo) {
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
