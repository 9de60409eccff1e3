package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;
import static org.attnface.engine.backend.cpu.TestFloats.gamma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.backend.ConvShape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * NarrowConv (the forward pass of at most 16 output pixels in all, as dot products) against a
 * float64 direct convolution and against im2col + GEMM, 1 and 2 threads, random Gaussian inputs.
 *
 * <p>Tolerance: each output is a float32 sum of C*R*S products plus the bias, in some order, so
 * |error| <= gamma_{C*R*S + 1} * sum |products| (Higham ch. 3); against im2col the two bounds add.
 */
class NarrowConvTest {
    private static CpuBackend two;
    private static CpuBackend one;

    @BeforeAll static void start() {
        two = new CpuBackend(2);
        one = new CpuBackend(1);
    }

    @AfterAll static void stop() {
        two.shutdown();
        one.shutdown();
    }

    /** n, c, h, w, k, r, s, stride, pad. */
    private static final int[][] SHAPES = {
            {1, 64, 4, 4, 64, 3, 3, 1, 1},    // ResNet-18's third stage at batch 1 (fewer channels): 16 columns
            {1, 64, 8, 8, 96, 3, 3, 2, 1},    // its strided entry: 8x8 -> 4x4
            {1, 48, 4, 4, 40, 1, 1, 2, 0},    // the 1x1 stride-2 projection: 4x4 -> 2x2
            {1, 17, 2, 2, 33, 3, 3, 1, 1},    // odd K (a last single filter row), C*R*S = 153: a scalar tail
            {3, 16, 2, 2, 16, 3, 3, 1, 1},    // 3 images x 4 pixels
            {1, 16, 3, 3, 7, 3, 3, 1, 1},     // 9 columns: a tail after two groups of 4
            {2, 20, 3, 5, 5, 2, 2, 1, 0},     // 2x2 filter, 2x4 map, two images: 16 columns
            {1, 300, 1, 1, 10, 1, 1, 1, 0},   // one pixel: a matrix-vector product
    };

    @Test void forwardMatchesDirectConvolutionAndIm2col() {
        Random rnd = new Random(31);
        for (int[] s : SHAPES) {
            ConvShape g = new ConvShape(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7], s[8]);
            assertTrue(NarrowConv.applies(g), g.toString());
            float[] x = random(rnd, 3 + g.n() * g.c() * g.h() * g.w()), w = random(rnd, 1 + g.k() * g.c() * g.r() * g.s());
            float[] bias = random(rnd, 2 + g.k());
            int ysize = g.n() * g.k() * g.p() * g.q();
            float[] y = random(rnd, 5 + ysize), y1 = random(rnd, 5 + ysize), gemm = new float[5 + ysize];
            NarrowConv.forward(two, g, x, 3, w, 1, bias, 2, y, 5);
            NarrowConv.forward(one, g, x, 3, w, 1, bias, 2, y1, 5);
            Conv.forwardGemm(two, g, x, 3, w, 1, bias, 2, gemm, 5);
            check(g, x, 3, w, 1, bias, 2, y, 5, gemm);
            assertArrayEquals(Arrays.copyOfRange(y, 5, y.length), Arrays.copyOfRange(y1, 5, y.length), g + ": 1 and 2 threads differ");
        }
    }

    /** ResNet-18 at 64x64: one face's 4x4 and 2x2 stages come here, and no layer of a batch of 64 does. */
    @Test void onlyOneFaceAtATimeTakesNarrowConv() {
        assertTrue(NarrowConv.applies(new ConvShape(1, 256, 4, 4, 256, 3, 3, 1, 1)));
        assertTrue(NarrowConv.applies(new ConvShape(1, 256, 4, 4, 512, 3, 3, 2, 1)));
        assertTrue(NarrowConv.applies(new ConvShape(1, 512, 2, 2, 512, 3, 3, 1, 1)));
        assertFalse(NarrowConv.applies(new ConvShape(1, 128, 8, 8, 128, 3, 3, 1, 1)));
        assertFalse(NarrowConv.applies(new ConvShape(64, 512, 2, 2, 512, 3, 3, 1, 1)));
    }

    private static void check(ConvShape g, float[] in, int io, float[] w, int wo, float[] bias, int bo, float[] got, int go, float[] gemm) {
        double gn = gamma(g.c() * g.r() * g.s() + 1), gd = gamma(g.c() * g.r() * g.s() + 4);
        for (int i = 0; i < g.n(); i++) for (int k = 0; k < g.k(); k++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++) {
            double sum = bias[bo + k], mag = Math.abs(sum);
            for (int c = 0; c < g.c(); c++) for (int r = 0; r < g.r(); r++) for (int s = 0; s < g.s(); s++) {
                int ih = p * g.stride() - g.pad() + r, iw = q * g.stride() - g.pad() + s;
                if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                double prod = (double) in[io + ((i * g.c() + c) * g.h() + ih) * g.w() + iw] * w[wo + ((k * g.c() + c) * g.r() + r) * g.s() + s];
                sum += prod;
                mag += Math.abs(prod);
            }
            int at = go + ((i * g.k() + k) * g.p() + p) * g.q() + q;
            if (!(Math.abs(got[at] - sum) <= gn * mag + 1e-30))
                fail(String.format("%s: y[%d][%d][%d][%d] = %s, float64 direct %s, tolerance %.3g", g, i, k, p, q, got[at], sum, gn * mag));
            if (!(Math.abs(got[at] - gemm[at]) <= (gn + gd) * mag + 1e-30))
                fail(String.format("%s: y[%d][%d][%d][%d] = %s, im2col %s", g, i, k, p, q, got[at], gemm[at]));
        }
    }
}
