package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;
import static org.attnface.engine.backend.cpu.TestFloats.gamma;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.backend.ConvShape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * SmallMapConv (valid taps only, maps of at most 2x2 outputs) against a float64 direct convolution
 * and against im2col + GEMM, forward and backward data, 1 and 2 threads, random Gaussian inputs.
 *
 * <p>Tolerance: each output is a float32 sum of at most C * taps products (FMAs, in KC blocks added
 * to the accumulated tile) plus the bias, so |error| <= gamma_{C*R*S + C/KC + 2} * sum |products|
 * (Higham ch. 3); against im2col the two bounds add.
 */
class SmallMapConvTest {
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

    /** n, c, h, w, k, r, s, pad (stride 1). */
    private static final int[][] SHAPES = {
            {3, 16, 2, 2, 16, 3, 3, 1},    // ResNet-18's last stage at 64x64, few channels
            {7, 17, 2, 2, 33, 3, 3, 1},    // K not a multiple of the register tile's 6 rows, odd C
            {2, 300, 2, 2, 20, 3, 3, 1},   // C > KC = 256: two channel blocks per tap
            {1, 16, 1, 3, 18, 3, 3, 1},    // batch 1, a 1x3 map
            {2, 16, 3, 3, 16, 3, 3, 0},    // one output pixel, all 9 taps inside
            {40, 16, 2, 2, 17, 3, 3, 1},   // more images than one register tile's 32 (or 16) columns
            {4, 20, 2, 2, 24, 1, 1, 0},    // 1x1
    };

    @Test void forwardMatchesDirectConvolutionAndIm2col() {
        Random rnd = new Random(21);
        for (int[] s : SHAPES) {
            ConvShape g = new ConvShape(s[0], s[1], s[2], s[3], s[4], s[5], s[6], 1, s[7]);
            assertTrue(SmallMapConv.applies(g), g.toString());
            float[] x = random(rnd, 3 + g.n() * g.c() * g.h() * g.w()), w = random(rnd, 1 + g.k() * g.c() * g.r() * g.s());
            float[] bias = random(rnd, 2 + g.k());
            int ysize = g.n() * g.k() * g.p() * g.q();
            float[] y = random(rnd, 5 + ysize), y1 = random(rnd, 5 + ysize), gemm = new float[5 + ysize];
            SmallMapConv.forward(two, g, x, 3, w, 1, bias, 2, y, 5);
            SmallMapConv.forward(one, g, x, 3, w, 1, bias, 2, y1, 5);
            Conv.forwardGemm(two, g, x, 3, w, 1, bias, 2, gemm, 5);
            check("forward " + g, g, x, 3, w, 1, false, bias, 2, y, 5, gemm);
            assertArrayEquals(Arrays.copyOfRange(y, 5, y.length), Arrays.copyOfRange(y1, 5, y.length), "forward " + g + ": 1 and 2 threads differ");
        }
    }

    @Test void backwardDataMatchesDirectConvolutionAndIm2col() {
        Random rnd = new Random(22);
        for (int[] s : SHAPES) {
            ConvShape g = new ConvShape(s[0], s[1], s[2], s[3], s[4], s[5], s[6], 1, s[7]);
            if (!SmallMapConv.appliesBackwardData(g)) continue; // the 1x3 and 1-pixel maps come from larger inputs
            ConvShape f = SmallMapConv.flipped(g);
            float[] dy = random(rnd, 4 + g.n() * g.k() * g.p() * g.q()), w = random(rnd, 2 + g.k() * g.c() * g.r() * g.s());
            int xsize = g.n() * g.c() * g.h() * g.w();
            float[] dx = random(rnd, 1 + xsize), dx1 = random(rnd, 1 + xsize), gemm = new float[1 + xsize];
            SmallMapConv.backwardData(two, g, dy, 4, w, 2, dx, 1);
            SmallMapConv.backwardData(one, g, dy, 4, w, 2, dx1, 1);
            Conv.backwardDataGemm(two, g, dy, 4, w, 2, gemm, 1);
            check("backwardData " + g, f, dy, 4, w, 2, true, null, 0, dx, 1, gemm);
            assertArrayEquals(Arrays.copyOfRange(dx, 1, dx.length), Arrays.copyOfRange(dx1, 1, dx.length), "backwardData " + g + ": 1 and 2 threads differ");
        }
    }

    /** The dispatch: ResNet-18's 2x2 layers (forward and backward data) come here, a 4x4 map does not. */
    @Test void resnetLastStageTakesSmallMapConv() {
        ConvShape l4 = new ConvShape(64, 512, 2, 2, 512, 3, 3, 1, 1);
        assertTrue(SmallMapConv.applies(l4) && SmallMapConv.appliesBackwardData(l4) && !Winograd.applies(l4));
        assertTrue(!SmallMapConv.applies(new ConvShape(64, 256, 4, 4, 256, 3, 3, 1, 1)));
    }

    private static void check(String what, ConvShape g, float[] in, int io, float[] w, int wo, boolean flip,
                              float[] bias, int bo, float[] got, int go, float[] gemm) {
        int taps = g.r() * g.s();
        double gs = gamma(g.c() * taps + (g.c() + Gemm.KC - 1) / Gemm.KC + 2), gd = gamma(g.c() * taps + 4);
        for (int i = 0; i < g.n(); i++) for (int k = 0; k < g.k(); k++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++) {
            double sum = bias == null ? 0 : bias[bo + k], mag = Math.abs(sum);
            for (int c = 0; c < g.c(); c++) for (int r = 0; r < g.r(); r++) for (int s = 0; s < g.s(); s++) {
                int ih = p - g.pad() + r, iw = q - g.pad() + s;
                if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                double f = flip ? w[wo + ((c * g.k() + k) * g.r() + g.r() - 1 - r) * g.s() + g.s() - 1 - s]
                        : w[wo + ((k * g.c() + c) * g.r() + r) * g.s() + s];
                double prod = in[io + ((i * g.c() + c) * g.h() + ih) * g.w() + iw] * f;
                sum += prod;
                mag += Math.abs(prod);
            }
            int at = go + ((i * g.k() + k) * g.p() + p) * g.q() + q;
            if (!(Math.abs(got[at] - sum) <= gs * mag + 1e-30))
                fail(String.format("%s: y[%d][%d][%d][%d] = %s, float64 direct %s, tolerance %.3g", what, i, k, p, q, got[at], sum, gs * mag));
            if (!(Math.abs(got[at] - gemm[at]) <= (gs + gd) * mag + 1e-30))
                fail(String.format("%s: y[%d][%d][%d][%d] = %s, im2col %s", what, i, k, p, q, got[at], gemm[at]));
        }
    }
}
