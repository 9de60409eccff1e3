package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

import org.attnface.engine.backend.ConvShape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Convolution forward, backward-data and backward-filter (im2col + packed GEMM, grouped images,
 * split across 2 threads; and DirectConv's 3x3 kernels) against a float64 direct convolution.
 *
 * <p>Tolerance: every output is a float32 sum of K products (K = C*R*S forward, K*R*S/stride^2 at
 * most for backward data, N*P*Q for backward filter) plus the per-chunk partial sums, so the
 * error is bounded by gamma_{K+4} * sum |products| (Higham ch. 3, u = 2^-24); the test computes
 * sum |products| per element and checks against that bound.
 */
class ConvTest {
    private static CpuBackend be;
    private static CpuBackend one;

    @BeforeAll static void start() {
        be = new CpuBackend(2);
        one = new CpuBackend(1);
    }

    @AfterAll static void stop() {
        be.shutdown();
        one.shutdown();
    }

    /** n, c, h, w, k, r, s, stride, pad. */
    private static final int[][] SHAPES = {
            {3, 3, 9, 11, 5, 3, 3, 1, 0},     // Attn-CNN style: unpadded 3x3, non-square
            {2, 8, 10, 10, 10, 3, 3, 1, 0},
            {4, 3, 20, 20, 8, 7, 7, 2, 3},    // stem style 7x7/2
            {2, 3, 40, 38, 4, 7, 7, 2, 3},    // stride 2 with 19 output columns: vector gather + scalar tail
            {5, 6, 8, 8, 12, 3, 3, 1, 1},     // ResNet 3x3 padded
            {3, 6, 9, 7, 11, 3, 3, 2, 1},     // strided 3x3, odd sizes
            {4, 16, 8, 8, 32, 1, 1, 2, 0},    // 1x1/2 projection
            {7, 17, 2, 2, 33, 3, 3, 1, 1},    // 2x2 late layer: position map, many images per GEMM group
            {5, 9, 4, 4, 20, 3, 3, 1, 1},     // 4x4: position map at its largest (P*Q = 16)
            {1, 5, 12, 12, 7, 3, 3, 1, 1},    // batch 1: GEMM split across threads
            {2, 4, 5, 5, 3, 5, 5, 1, 0},      // kernel as large as the input
            {3, 2, 6, 6, 4, 2, 2, 3, 2},      // stride larger than kernel, pad > 1
            {2, 3, 7, 6, 4, 5, 5, 1, 2},      // 5x5 "same" padding: flat im2col path with 2 padded columns
            {2, 5, 3, 4, 6, 1, 1, 1, 0},      // 1x1 stride 1
            {2, 3, 6, 7, 4, 3, 1, 1, 0},      // 3x1 kernel: q == w without padding
            // DirectConv (3x3, stride 1, no padding, q >= 2 vectors): channel remainders of both tile sizes,
            // row lengths with a shifted last strip and a masked filter-gradient tail, one image per thread
            {2, 3, 20, 21, 10, 3, 3, 1, 0},
            {3, 10, 7, 34, 3, 3, 3, 1, 0},
            {4, 8, 9, 18, 8, 3, 3, 1, 0},
            {2, 1, 5, 40, 13, 3, 3, 1, 0},
            {5, 13, 4, 19, 1, 3, 3, 1, 0},
    };

    @Test void forwardMatchesDirectConvolution() {
        Random rnd = new Random(1);
        for (int[] s : SHAPES) {
            ConvShape g = shape(s);
            float[] x = random(rnd, 4 + g.n() * g.c() * g.h() * g.w()), w = random(rnd, 2 + g.k() * g.c() * g.r() * g.s());
            float[] bias = random(rnd, 1 + g.k());
            int pq = g.p() * g.q();
            float[] y = random(rnd, 3 + g.n() * g.k() * pq); // garbage the forward must overwrite
            Conv.forward(be, g, x, 4, w, 2, bias, 1, y, 3);
            for (int i = 0; i < g.n(); i++) for (int k = 0; k < g.k(); k++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++) {
                double sum = bias[1 + k], mag = Math.abs(bias[1 + k]);
                int terms = 1;
                for (int c = 0; c < g.c(); c++) for (int r = 0; r < g.r(); r++) for (int t = 0; t < g.s(); t++) {
                    int ih = p * g.stride() - g.pad() + r, iw = q * g.stride() - g.pad() + t;
                    if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                    double prod = (double) x[4 + ((i * g.c() + c) * g.h() + ih) * g.w() + iw] * w[2 + ((k * g.c() + c) * g.r() + r) * g.s() + t];
                    sum += prod;
                    mag += Math.abs(prod);
                }
                terms += g.c() * g.r() * g.s();
                expect("forward " + g, "y", new int[]{i, k, p, q}, y[3 + ((i * g.k() + k) * g.p() + p) * g.q() + q], sum, mag, terms);
            }
        }
    }

    @Test void backwardDataMatchesDirectConvolution() {
        Random rnd = new Random(2);
        for (int[] s : SHAPES) {
            ConvShape g = shape(s);
            int pq = g.p() * g.q();
            float[] dy = random(rnd, 4 + g.n() * g.k() * pq), w = random(rnd, 2 + g.k() * g.c() * g.r() * g.s());
            float[] dx = random(rnd, 5 + g.n() * g.c() * g.h() * g.w());
            Conv.backwardData(be, g, dy, 4, w, 2, dx, 5);
            double[] ref = new double[g.n() * g.c() * g.h() * g.w()], mag = new double[ref.length];
            for (int i = 0; i < g.n(); i++) for (int k = 0; k < g.k(); k++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++)
                for (int c = 0; c < g.c(); c++) for (int r = 0; r < g.r(); r++) for (int t = 0; t < g.s(); t++) {
                    int ih = p * g.stride() - g.pad() + r, iw = q * g.stride() - g.pad() + t;
                    if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                    double prod = (double) dy[4 + ((i * g.k() + k) * g.p() + p) * g.q() + q] * w[2 + ((k * g.c() + c) * g.r() + r) * g.s() + t];
                    int at = ((i * g.c() + c) * g.h() + ih) * g.w() + iw;
                    ref[at] += prod;
                    mag[at] += Math.abs(prod);
                }
            for (int at = 0; at < ref.length; at++)
                expect("backwardData " + g, "dx", new int[]{at}, dx[5 + at], ref[at], mag[at], g.k() * g.r() * g.s());
        }
    }

    @Test void backwardFilterMatchesDirectConvolution() {
        Random rnd = new Random(3);
        for (int[] s : SHAPES) {
            ConvShape g = shape(s);
            int pq = g.p() * g.q();
            float[] x = random(rnd, 4 + g.n() * g.c() * g.h() * g.w()), dy = random(rnd, 1 + g.n() * g.k() * pq);
            float[] dw = random(rnd, 6 + g.k() * g.c() * g.r() * g.s());
            Conv.backwardFilter(be, g, x, 4, dy, 1, dw, 6);
            for (int k = 0; k < g.k(); k++) for (int c = 0; c < g.c(); c++) for (int r = 0; r < g.r(); r++) for (int t = 0; t < g.s(); t++) {
                double sum = 0, mag = 0;
                for (int i = 0; i < g.n(); i++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++) {
                    int ih = p * g.stride() - g.pad() + r, iw = q * g.stride() - g.pad() + t;
                    if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                    double prod = (double) x[4 + ((i * g.c() + c) * g.h() + ih) * g.w() + iw] * dy[1 + ((i * g.k() + k) * g.p() + p) * g.q() + q];
                    sum += prod;
                    mag += Math.abs(prod);
                }
                expect("backwardFilter " + g, "dw", new int[]{k, c, r, t}, dw[6 + ((k * g.c() + c) * g.r() + r) * g.s() + t], sum, mag, g.n() * pq);
            }
        }
    }

    @Test void repeatedRunsAreBitIdentical() {
        Random rnd = new Random(4);
        ConvShape g = new ConvShape(9, 8, 6, 6, 16, 3, 3, 1, 1);
        float[] x = random(rnd, g.n() * g.c() * g.h() * g.w()), dy = random(rnd, g.n() * g.k() * g.p() * g.q());
        float[] dw1 = new float[g.k() * g.c() * 9], dw2 = new float[dw1.length];
        Conv.backwardFilter(be, g, x, 0, dy, 0, dw1, 0);
        Conv.backwardFilter(one, g, x, 0, dy, 0, new float[dw1.length], 0); // interleave another backend's use
        Conv.backwardFilter(be, g, x, 0, dy, 0, dw2, 0);
        assertArrayEquals(dw1, dw2);
    }

    private static ConvShape shape(int[] s) { return new ConvShape(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]); }

    private static void expect(String what, String tensor, int[] index, float got, double ref, double mag, int terms) {
        double u = Math.ulp(1f) / 2, gamma = (terms + 4) * u / (1 - (terms + 4) * u);
        double tol = gamma * mag + 1e-30;
        if (!(Math.abs(got - ref) <= tol))
            fail(String.format("%s: %s%s = %s, reference %s, tolerance %.3g", what, tensor, java.util.Arrays.toString(index), got, ref, tol));
    }
}
