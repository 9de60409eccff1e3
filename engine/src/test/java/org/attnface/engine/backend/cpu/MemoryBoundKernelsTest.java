package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.PoolShape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The vectorised memory-bound kernels (max pooling, batch norm, conv bias gradient, optimiser
 * updates, non-finite count) against plain loops written here, on random inputs with a fixed seed
 * and shapes chosen to hit every vector path and tail: planes narrower than half a vector, odd
 * heights and widths, more than one vector per row.
 */
class MemoryBoundKernelsTest {
    private static CpuBackend two, one;

    @BeforeAll static void start() {
        two = new CpuBackend(2);
        one = new CpuBackend(1);
    }

    @AfterAll static void stop() {
        two.shutdown();
        one.shutdown();
    }

    /** Values from {-1, 0, 1, 2}: many ties, so the first-maximum rule of the backward is exercised. */
    private static float[] ties(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextInt(4) - 1;
        return a;
    }

    // ---- max pooling -----------------------------------------------------------------------

    /** n, c, h, w, k, stride, pad. */
    private static final int[][] POOLS = {
            {2, 3, 62, 62, 2, 2, 0},   // Attn-CNN: 31 outputs per row = one vector + masked tail (16 lanes)
            {2, 3, 29, 29, 2, 2, 0},   // odd height and width: last row and column outside every window
            {3, 2, 26, 26, 2, 2, 0},   // 13 outputs per row: masked only
            {1, 1, 5, 3, 2, 2, 0},     // 1 output per row
            {2, 2, 70, 67, 2, 2, 0},   // more than two vectors per row
            {2, 3, 32, 32, 3, 2, 1},   // ResNet stem window
            {1, 2, 33, 35, 3, 2, 1},   // stem window on odd sizes: right padding column in the window
            {2, 2, 12, 37, 3, 2, 0},   // stride 2, 3x3 unpadded: overlapping windows without padding
            {1, 2, 10, 45, 4, 2, 1},   // stride 2, even window with padding: more than one vector of outputs
            {2, 2, 9, 40, 3, 1, 1},    // stride 1, overlapping windows
            {1, 3, 11, 13, 3, 3, 0},   // stride 3: scalar column pass
            {2, 1, 8, 8, 2, 1, 0},     // 2x2 stride 1: not the non-overlapping path
    };

    private static float[] referenceMax(PoolShape g, float[] x) {
        int p = g.p(), q = g.q();
        float[] y = new float[g.n() * g.c() * p * q];
        for (int plane = 0; plane < g.n() * g.c(); plane++)
            for (int op = 0; op < p; op++)
                for (int oq = 0; oq < q; oq++) {
                    float m = Float.NEGATIVE_INFINITY;
                    for (int r = 0; r < g.kh(); r++)
                        for (int s = 0; s < g.kw(); s++) {
                            int ih = op * g.stride() - g.pad() + r, iw = oq * g.stride() - g.pad() + s;
                            if (ih >= 0 && ih < g.h() && iw >= 0 && iw < g.w()) m = Math.max(m, x[(plane * g.h() + ih) * g.w() + iw]);
                        }
                    y[(plane * p + op) * q + oq] = m;
                }
        return y;
    }

    /** The gradient goes to the first input equal to the window's maximum, row-major. */
    private static float[] referenceMaxBackward(PoolShape g, float[] x, float[] y, float[] dy) {
        int p = g.p(), q = g.q();
        float[] dx = new float[x.length];
        for (int plane = 0; plane < g.n() * g.c(); plane++)
            for (int op = 0; op < p; op++)
                for (int oq = 0; oq < q; oq++) {
                    int at = (plane * p + op) * q + oq;
                    search:
                    for (int r = 0; r < g.kh(); r++)
                        for (int s = 0; s < g.kw(); s++) {
                            int ih = op * g.stride() - g.pad() + r, iw = oq * g.stride() - g.pad() + s;
                            if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                            int xi = (plane * g.h() + ih) * g.w() + iw;
                            if (x[xi] == y[at]) {
                                dx[xi] += dy[at];
                                break search;
                            }
                        }
                }
        return dx;
    }

    @Test void maxPoolMatchesTheReferenceExactly() {
        Random rnd = new Random(11);
        boolean sawTwoByTwo = false;
        for (int[] s : POOLS) {
            PoolShape g = new PoolShape(s[0], s[1], s[2], s[3], s[4], s[4], s[5], s[6]);
            sawTwoByTwo |= Pool.isTwoByTwo(g);
            for (boolean tied : new boolean[] {false, true}) {
                float[] xv = tied ? ties(rnd, g.n() * g.c() * g.h() * g.w()) : random(rnd, g.n() * g.c() * g.h() * g.w());
                float[] dyv = random(rnd, g.n() * g.c() * g.p() * g.q());
                float[] want = referenceMax(g, xv), wantDx = referenceMaxBackward(g, xv, want, dyv);
                for (CpuBackend be : new CpuBackend[] {one, two}) {
                    String what = "maxPool " + g + (tied ? " with ties" : "") + ", " + be.threads() + " threads";
                    Tensor x = Tensor.of(xv, g.n(), g.c(), g.h(), g.w());
                    Tensor y = Tensor.of(random(rnd, want.length), g.n(), g.c(), g.p(), g.q()); // garbage to overwrite
                    be.maxPool2d(g, x, y);
                    assertArrayEquals(want, y.toArray(), what + ": forward");
                    Tensor dx = Tensor.of(random(rnd, xv.length), g.n(), g.c(), g.h(), g.w());
                    be.maxPool2dBackward(g, x, y, Tensor.of(dyv, g.n(), g.c(), g.p(), g.q()), dx);
                    assertArrayEquals(wantDx, dx.toArray(), what + ": backward");
                }
            }
        }
        assertTrue(sawTwoByTwo, "the 2x2 stride-2 path was not exercised");
    }

    @Test void maxPoolPropagatesNaN() {
        PoolShape g = new PoolShape(1, 1, 4, 36, 2, 2, 2, 0);
        float[] xv = new float[4 * 36];
        xv[37] = Float.NaN;        // window (0, 0)
        xv[2 * 36 + 35] = Float.NaN; // window (1, 17), the masked tail
        Tensor x = Tensor.of(xv, 1, 1, 4, 36), y = Tensor.zeros(org.attnface.engine.Device.CPU, 1, 1, 2, 18);
        two.maxPool2d(g, x, y);
        float[] got = y.toArray();
        assertTrue(Float.isNaN(got[0]) && Float.isNaN(got[18 + 17]), "NaN in a window must give NaN: " + Arrays.toString(got));
        assertEquals(0f, got[1]);
    }

    // ---- batch norm ------------------------------------------------------------------------

    /** n, c, h, w. */
    private static final int[][] NORMS = {{4, 3, 26, 26}, {5, 7, 2, 2}, {3, 17, 1, 1}, {2, 5, 7, 9}, {1, 3, 4, 5}};

    /**
     * Training forward and backward against float64 formulas. Each statistic is a float32 sum of
     * n*h*w terms of size ~|x| (3 sigma ~ 4 here), relative error below (n*h*w) * 2^-24 ~ 2e-4 at
     * worst for 2704 terms and in practice ~1e-6; outputs are O(1), so 2e-4 absolute bounds both.
     */
    @Test void batchNormMatchesFloat64AndIsTheSameOnOneAndTwoThreads() {
        Random rnd = new Random(12);
        for (int[] s : NORMS) {
            int n = s[0], c = s[1], hw = s[2] * s[3], m = n * hw;
            float[] xv = random(rnd, n * c * hw), dyv = random(rnd, n * c * hw), gv = random(rnd, c), bv = random(rnd, c);
            for (int i = 0; i < xv.length; i++) xv[i] = xv[i] * 2f + 3f; // mean 3, std 2: the mean must be taken out
            double[] mean = new double[c], var = new double[c];
            for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int j = 0; j < hw; j++) mean[ch] += xv[(i * c + ch) * hw + j];
            for (int ch = 0; ch < c; ch++) mean[ch] /= m;
            for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int j = 0; j < hw; j++) {
                double d = xv[(i * c + ch) * hw + j] - mean[ch];
                var[ch] += d * d;
            }
            for (int ch = 0; ch < c; ch++) var[ch] /= m;
            float eps = 1e-5f;
            double[] sdy = new double[c], sdyx = new double[c];
            for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int j = 0; j < hw; j++) {
                int at = (i * c + ch) * hw + j;
                sdy[ch] += dyv[at];
                sdyx[ch] += dyv[at] * (xv[at] - mean[ch]) / Math.sqrt(var[ch] + eps);
            }
            float[][] results = new float[2][];
            for (CpuBackend be : new CpuBackend[] {one, two}) {
                String what = "batch norm " + Arrays.toString(s) + ", " + be.threads() + " threads";
                int[] shape = {n, c, s[2], s[3]};
                Tensor x = Tensor.of(xv, shape), y = Tensor.of(new float[xv.length], shape);
                Tensor gamma = Tensor.of(gv, c), beta = Tensor.of(bv, c), rm = Tensor.of(new float[c], c), rv = Tensor.of(new float[c], c);
                Tensor sm = Tensor.of(new float[c], c), si = Tensor.of(new float[c], c);
                be.batchNormTrain(x, gamma, beta, rm, rv, 0.1f, eps, y, sm, si);
                float[] yv = y.toArray();
                for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int j = 0; j < hw; j++) {
                    int at = (i * c + ch) * hw + j;
                    double want = (xv[at] - mean[ch]) / Math.sqrt(var[ch] + eps) * gv[ch] + bv[ch];
                    assertEquals(want, yv[at], 2e-4 * (1 + Math.abs(gv[ch]) + Math.abs(bv[ch])), what + ": y" + at);
                }
                for (int ch = 0; ch < c; ch++) {
                    assertEquals(0.1 * mean[ch], rm.toArray()[ch], 2e-4, what + ": running mean " + ch);
                    assertEquals(0.1 * var[ch] * m / (m - 1), rv.toArray()[ch], 2e-4 * (1 + var[ch]), what + ": running var " + ch);
                }
                Tensor dx = Tensor.of(new float[xv.length], shape), dg = Tensor.of(new float[c], c), db = Tensor.of(new float[c], c);
                be.batchNormBackward(x, Tensor.of(dyv, shape), gamma, sm, si, dx, dg, db);
                float[] dxv = dx.toArray();
                for (int ch = 0; ch < c; ch++) {
                    assertEquals(sdy[ch], db.toArray()[ch], 2e-4 * Math.sqrt(m), what + ": dbeta " + ch);
                    assertEquals(sdyx[ch], dg.toArray()[ch], 2e-4 * Math.sqrt(m), what + ": dgamma " + ch);
                }
                for (int i = 0; i < n; i++) for (int ch = 0; ch < c; ch++) for (int j = 0; j < hw; j++) {
                    int at = (i * c + ch) * hw + j;
                    double inv = 1 / Math.sqrt(var[ch] + eps), xhat = (xv[at] - mean[ch]) * inv;
                    double want = gv[ch] * inv / m * (m * dyv[at] - sdy[ch] - xhat * sdyx[ch]);
                    assertEquals(want, dxv[at], 2e-4 * (1 + Math.abs(gv[ch] * inv)), what + ": dx" + at);
                }
                float[] all = new float[2 * xv.length];
                System.arraycopy(yv, 0, all, 0, xv.length);
                System.arraycopy(dxv, 0, all, xv.length, xv.length);
                results[be.threads() - 1] = all;
            }
            assertArrayEquals(results[0], results[1], "batch norm " + Arrays.toString(s) + ": 1 and 2 threads must agree bit for bit");
        }
    }

    // ---- conv bias gradient ----------------------------------------------------------------

    /** Per channel a sum of n*p*q values ~1: float32 error ~ sqrt(n p q) 2^-24 each plane sum, so 1e-5 relative to sum |dy|. */
    @Test void convBiasGradientIsTheSumOverImagesAndPositions() {
        Random rnd = new Random(13);
        for (int[] s : new int[][] {{3, 5, 9, 11}, {2, 4, 1, 1}, {4, 3, 62, 62}, {1, 7, 2, 3}}) {
            int n = s[0], k = s[1], pq = s[2] * s[3];
            ConvShape g = new ConvShape(n, 1, s[2], s[3], k, 1, 1, 1, 0);
            float[] dyv = random(rnd, n * k * pq);
            Tensor db = Tensor.of(new float[k], k);
            two.conv2dBackwardBias(g, Tensor.of(dyv, n, k, s[2], s[3]), db);
            for (int ch = 0; ch < k; ch++) {
                double want = 0, mag = 0;
                for (int i = 0; i < n; i++) for (int j = 0; j < pq; j++) {
                    want += dyv[(i * k + ch) * pq + j];
                    mag += Math.abs(dyv[(i * k + ch) * pq + j]);
                }
                assertEquals(want, db.toArray()[ch], 1e-5 * mag, "conv bias gradient " + Arrays.toString(s) + " channel " + ch);
            }
        }
    }

    // ---- optimisers and checks -----------------------------------------------------------------

    /** The vector updates do the scalar formula's float operations in the same order: equal bit for bit. */
    @Test void optimiserUpdatesMatchTheScalarFormulas() {
        Random rnd = new Random(14);
        int n = 1000 + 13; // vector body plus a scalar tail
        float[] p = random(rnd, n), g = random(rnd, n), m = random(rnd, n), v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Math.abs((float) rnd.nextGaussian());
        float lr = 0.01f, mom = 0.9f, wd = 5e-4f;
        float[] pw = p.clone(), mw = m.clone();
        for (int i = 0; i < n; i++) {
            float gi = g[i] + wd * pw[i];
            float mi = mom * mw[i] + gi;
            mw[i] = mi;
            pw[i] -= lr * mi;
        }
        Tensor pt = Tensor.of(p.clone(), n), mt = Tensor.of(m.clone(), n);
        two.sgdStep(pt, Tensor.of(g, n), mt, lr, mom, wd);
        assertArrayEquals(pw, pt.toArray(), "sgd parameters");
        assertArrayEquals(mw, mt.toArray(), "sgd momentum");

        float b1 = 0.9f, b2 = 0.999f, eps = 1e-8f;
        int step = 3;
        float bc1 = (float) (1 - Math.pow(b1, step)), bc2 = (float) (1 - Math.pow(b2, step)), decay = 1f - lr * wd;
        float[] pa = p.clone(), ma = m.clone(), va = v.clone();
        for (int i = 0; i < n; i++) {
            float gi = g[i];
            float mi = b1 * ma[i] + (1 - b1) * gi;
            float vi = b2 * va[i] + (1 - b2) * gi * gi;
            ma[i] = mi;
            va[i] = vi;
            pa[i] = pa[i] * decay - lr * (mi / bc1) / ((float) Math.sqrt(vi / bc2) + eps);
        }
        Tensor pt2 = Tensor.of(p.clone(), n), mt2 = Tensor.of(m.clone(), n), vt2 = Tensor.of(v.clone(), n);
        two.adamwStep(pt2, Tensor.of(g, n), mt2, vt2, lr, b1, b2, eps, wd, step);
        assertArrayEquals(pa, pt2.toArray(), "adamw parameters");
        assertArrayEquals(ma, mt2.toArray(), "adamw first moment");
        assertArrayEquals(va, vt2.toArray(), "adamw second moment");
    }

    /** The vector draws are Rng.uniform's: the same elements kept, scaled by the same float. */
    @Test void dropoutKeepsExactlyTheElementsRngKeeps() {
        Random rnd = new Random(15);
        int n = 3 * (1 << 14) + 7; // two chunks, a chunk boundary inside a vector, a scalar tail
        float[] x = random(rnd, n);
        float p = 0.3f, keepScale = 1f / (1f - p);
        long seed = 0x1234_5678_9ABCL;
        float[] want = new float[n];
        int kept = 0;
        for (int i = 0; i < n; i++) {
            boolean keep = org.attnface.engine.backend.Rng.uniform(seed, i) >= p;
            want[i] = keep ? x[i] * keepScale : 0f;
            if (keep) kept++;
        }
        for (CpuBackend be : new CpuBackend[] {one, two}) {
            Tensor y = Tensor.of(new float[n], n);
            be.dropout(Tensor.of(x, n), p, seed, y);
            assertArrayEquals(want, y.toArray(), "dropout, " + be.threads() + " threads");
        }
        assertEquals(0.7, kept / (double) n, 0.02, "share kept");
    }

    @Test void countNonFiniteFindsEveryInfinityAndNaN() {
        int n = 16 * 7 + 5;
        float[] x = new float[n];
        Arrays.fill(x, 1.5f);
        x[0] = Float.NaN;
        x[17] = Float.POSITIVE_INFINITY;
        x[40] = Float.NEGATIVE_INFINITY;
        x[n - 1] = Float.NaN; // scalar tail
        x[50] = Float.MAX_VALUE; // finite
        Tensor out = Tensor.of(new float[1], 1);
        two.countNonFinite(Tensor.of(x, n), out);
        assertEquals(4f, out.item());
    }
}
