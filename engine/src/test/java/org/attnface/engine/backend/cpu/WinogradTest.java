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
 * Winograd F(2x2, 3x3) and F(4x4, 3x3) against a float64 direct convolution and against the
 * im2col + GEMM path, forward and backward data, on random Gaussian inputs.
 *
 * <p>Tolerance: the float32 result is y = A^T [sum_c (G f G^T) .* (B^T d B)] A evaluated with
 * fixed-order sums. Each term of the fully expanded sum passes through at most L roundings: the
 * two (inexact) G coefficients, the filter's two passes (at most 3 terms each), the input's two
 * passes (at most 4), the GEMM's sum over C with FMAs (C roundings, plus one per KC block), the
 * output's two passes (at most 5) and the bias. So |y - y_exact| <= gamma_L * Y_abs (Higham ch. 3),
 * where Y_abs is the same computation on absolute values (|A|^T [sum_c (|G||f||G|^T) .* (|B|^T|d||B|)] |A|),
 * computed here in float64. Against im2col, the difference is within that bound plus im2col's own
 * gamma_{C*9+4} * sum |x w|.
 */
class WinogradTest {
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

    /** n, c, h, w, k, pad (3x3, stride 1). */
    private static final int[][] SHAPES = {
            {3, 16, 2, 2, 16, 1},    // F(2x2): one tile, its padding included (ResNet-18's last stage at 64x64)
            {2, 17, 4, 4, 23, 1},    // F(4x4): one tile; K not a multiple of the register tile's 6 rows
            {1, 16, 5, 7, 20, 1},    // batch 1, odd sizes: partial tiles on the right and bottom
            {2, 20, 9, 6, 16, 0},    // no padding (7x4 output)
            {2, 16, 6, 6, 18, 2},    // padding 2 (8x8 output)
            {5, 33, 3, 3, 17, 1},    // 3x3 output in one 4x4 tile
            {2, 300, 4, 4, 16, 1},   // C > KC = 256: the sum over channels in two blocks
            {20, 16, 12, 12, 19, 1}, // 9 tiles per image: several tile groups per thread, a group boundary inside an image
            {3, 24, 16, 16, 32, 1},  // ResNet layer 1 at 64x64, fewer channels
    };

    @Test void forwardMatchesDirectConvolutionAndIm2col() {
        Random rnd = new Random(11);
        for (int[] s : SHAPES) {
            ConvShape g = new ConvShape(s[0], s[1], s[2], s[3], s[4], 3, 3, 1, s[5]);
            float[] x = random(rnd, 3 + g.n() * g.c() * g.h() * g.w()), w = random(rnd, 1 + g.k() * g.c() * 9);
            float[] bias = random(rnd, 2 + g.k());
            int ysize = g.n() * g.k() * g.p() * g.q();
            float[] y = random(rnd, 5 + ysize), y1 = random(rnd, 5 + ysize), gemm = new float[5 + ysize];
            Winograd.forward(two, g, x, 3, w, 1, bias, 2, y, 5);
            Winograd.forward(one, g, x, 3, w, 1, bias, 2, y1, 5);
            Conv.forwardGemm(two, g, x, 3, w, 1, bias, 2, gemm, 5);
            check("forward " + g, g, x, 3, w, 1, false, bias, 2, y1, 5, gemm);
            check("forward " + g, g, x, 3, w, 1, false, bias, 2, y, 5, gemm);
            assertArrayEquals(Arrays.copyOfRange(y, 5, y.length), Arrays.copyOfRange(y1, 5, y.length), "forward " + g + ": 1 and 2 threads differ");
        }
    }

    @Test void backwardDataMatchesDirectConvolutionAndIm2col() {
        Random rnd = new Random(12);
        for (int[] s : SHAPES) {
            ConvShape g = new ConvShape(s[0], s[1], s[2], s[3], s[4], 3, 3, 1, s[5]);
            ConvShape f = Winograd.flipped(g);
            float[] dy = random(rnd, 4 + g.n() * g.k() * g.p() * g.q()), w = random(rnd, 2 + g.k() * g.c() * 9);
            int xsize = g.n() * g.c() * g.h() * g.w();
            float[] dx = random(rnd, 1 + xsize), dx1 = random(rnd, 1 + xsize), gemm = new float[1 + xsize];
            Winograd.backwardData(two, g, dy, 4, w, 2, dx, 1);
            Winograd.backwardData(one, g, dy, 4, w, 2, dx1, 1);
            Conv.backwardDataGemm(two, g, dy, 4, w, 2, gemm, 1);
            check("backwardData " + g, f, dy, 4, w, 2, true, null, 0, dx1, 1, gemm);
            check("backwardData " + g, f, dy, 4, w, 2, true, null, 0, dx, 1, gemm);
            assertArrayEquals(Arrays.copyOfRange(dx, 1, dx.length), Arrays.copyOfRange(dx1, 1, dx.length), "backwardData " + g + ": 1 and 2 threads differ");
        }
    }

    /**
     * The recipe's ResNet layers as training runs them: 64-256 channels, enough images for several
     * tile groups per thread, calls of different shapes one after another on the same threads (their
     * scratch reused), and a dx buffer full of stale values; each result against im2col.
     */
    @Test void backwardDataAtResnetShapesInSequence() {
        Random rnd = new Random(14);
        int[][] layers = {{64, 16}, {128, 8}, {256, 4}, {64, 32}, {128, 16}, {256, 8}, {64, 16}};
        for (int[] s : layers) {
            ConvShape g = new ConvShape(64, s[0], s[1], s[1], s[0], 3, 3, 1, 1);
            if (!Winograd.appliesBackwardData(g)) continue;
            int go = 7, wo = 1000, xo = 3;
            float[] dy = random(rnd, go + g.n() * g.k() * g.p() * g.q() + 50), w = random(rnd, wo + g.k() * g.c() * 9 + 9);
            int xsize = g.n() * g.c() * g.h() * g.w();
            float[] dx = random(rnd, xo + xsize + 20), gemm = new float[xo + xsize];
            Winograd.backwardData(two, g, dy, go, w, wo, dx, xo);
            Conv.backwardDataGemm(two, g, dy, go, w, wo, gemm, xo);
            double worst = 0, scale = 0;
            for (int i = xo; i < xo + xsize; i++) {
                worst = Math.max(worst, Math.abs(dx[i] - gemm[i]));
                scale = Math.max(scale, Math.abs(gemm[i]));
            }
            assertTrue(worst <= 1e-4 * scale, "backwardData " + g + ": max |Winograd - im2col| " + worst + " of max |im2col| " + scale);
        }
    }

    /**
     * Conv.backwardData's dispatch on every ResNet-18 layer kind at batch 64, the strided 3x3 and
     * the 1x1 projections of the stages with 64 channels and more included (Winograd computes only
     * stride-1 3x3 convolutions: given these it once returned a stride-1 3x3 result, and the
     * recipe's ResNet member trained to 67% gender after an epoch instead of 80%), against im2col.
     */
    @Test void backwardDataDispatchMatchesIm2colOnEveryResnetLayerKind() {
        Random rnd = new Random(15);
        ConvShape[] layers = {
                new ConvShape(64, 64, 16, 16, 128, 3, 3, 2, 1), new ConvShape(64, 64, 16, 16, 128, 1, 1, 2, 0),
                new ConvShape(64, 128, 8, 8, 256, 3, 3, 2, 1), new ConvShape(64, 128, 8, 8, 256, 1, 1, 2, 0),
                new ConvShape(64, 128, 8, 8, 128, 3, 3, 1, 1), new ConvShape(64, 256, 4, 4, 256, 3, 3, 1, 1)};
        for (ConvShape g : layers) {
            float[] dy = random(rnd, g.n() * g.k() * g.p() * g.q()), w = random(rnd, g.k() * g.c() * g.r() * g.s());
            int xsize = g.n() * g.c() * g.h() * g.w();
            float[] dx = random(rnd, xsize), gemm = new float[xsize];
            Conv.backwardData(two, g, dy, 0, w, 0, dx, 0);
            Conv.backwardDataGemm(two, g, dy, 0, w, 0, gemm, 0);
            double worst = 0, scale = 0;
            for (int i = 0; i < xsize; i++) {
                worst = Math.max(worst, Math.abs(dx[i] - gemm[i]));
                scale = Math.max(scale, Math.abs(gemm[i]));
            }
            assertTrue(worst <= 1e-4 * scale, "backwardData " + g + ": max |dispatched - im2col| " + worst + " of max |im2col| " + scale);
        }
    }

    /** The dispatch: ResNet-18's stride-1 layers at batch 64 from 4x4 maps up go here; not 2x2 maps, 32 channels, a batch of one at 16x16, strided or 3-channel layers. */
    @Test void resnetShapesAtBatch64TakeWinograd() {
        for (int[] s : new int[][] {{64, 16}, {128, 8}, {256, 4}, {64, 32}, {128, 16}, {256, 8}, {512, 4}})
            assertTrue(Winograd.applies(new ConvShape(64, s[0], s[1], s[1], s[0], 3, 3, 1, 1)), s[0] + " channels at " + s[1]);
        assertTrue(!Winograd.applies(new ConvShape(64, 512, 2, 2, 512, 3, 3, 1, 1)));
        assertTrue(!Winograd.applies(new ConvShape(1, 64, 16, 16, 64, 3, 3, 1, 1)));
        assertTrue(!Winograd.applies(new ConvShape(64, 32, 32, 32, 32, 3, 3, 1, 1)));
        assertTrue(!Winograd.applies(new ConvShape(64, 64, 16, 16, 128, 3, 3, 2, 1)));
        assertTrue(!Winograd.applies(new ConvShape(64, 3, 64, 64, 64, 3, 3, 1, 1)));
    }

    /**
     * Prints the measured error of each transform on ResNet-18 layer shapes (batch 2), as a fraction
     * of sum |x w| per output (the scale of a direct convolution's own rounding), next to im2col's.
     */
    @Test void measuredErrorOnResnetLayers() {
        Random rnd = new Random(13);
        for (int[] s : new int[][] {{64, 16}, {128, 8}, {256, 4}, {512, 2}}) {
            ConvShape g = new ConvShape(2, s[0], s[1], s[1], s[0], 3, 3, 1, 1);
            float[] x = random(rnd, g.n() * g.c() * g.h() * g.w()), w = random(rnd, g.k() * g.c() * 9);
            int ysize = g.n() * g.k() * g.p() * g.q();
            float[] y = new float[ysize], gemm = new float[ysize];
            Winograd.forward(two, g, x, 0, w, 0, null, 0, y, 0);
            Conv.forwardGemm(two, g, x, 0, w, 0, null, 0, gemm, 0);
            double[] ref = new double[ysize], mag = new double[ysize];
            direct(g, x, 0, w, 0, false, null, 0, ref, mag);
            double worstW = 0, worstG = 0, sumW = 0, sumG = 0;
            for (int i = 0; i < ysize; i++) {
                double ew = Math.abs(y[i] - ref[i]) / mag[i], eg = Math.abs(gemm[i] - ref[i]) / mag[i];
                worstW = Math.max(worstW, ew);
                worstG = Math.max(worstG, eg);
                sumW += ew;
                sumG += eg;
            }
            System.out.printf("Winograd F(%dx%d) on %s: |error| / sum|x w| max %.2e mean %.2e; im2col max %.2e mean %.2e%n",
                    Winograd.transform(g.p(), g.q()).m(), Winograd.transform(g.p(), g.q()).m(), g, worstW, sumW / ysize, worstG, sumG / ysize);
        }
    }

    /**
     * Checks got (the Winograd result of shape g on input in, with filter[k][c][r][s] = w[...] or its
     * flipped, channel-swapped version) against float64 with the bound above, and against im2col.
     */
    private static void check(String what, ConvShape g, float[] in, int io, float[] w, int wo, boolean flip,
                              float[] bias, int bo, float[] got, int go, float[] gemm) {
        Winograd.Transform t = Winograd.transform(g.p(), g.q());
        int ysize = g.n() * g.k() * g.p() * g.q();
        double[] ref = new double[ysize], mag = new double[ysize];
        direct(g, in, io, w, wo, flip, bias, bo, ref, mag);
        double[] abs = absWinograd(t, g, in, io, w, wo, flip, bias, bo);
        int roundings = 2 + 2 * terms(t.g()) + 2 * terms(t.bt()) + g.c() + (g.c() + Gemm.KC - 1) / Gemm.KC + 2 * terms(t.at()) + 1;
        double gw = gamma(roundings), gd = gamma(g.c() * 9 + 4);
        for (int i = 0; i < ysize; i++) {
            double tol = gw * abs[i] + 1e-30;
            if (!(Math.abs(got[go + i] - ref[i]) <= tol))
                fail(String.format("%s: output %d = %s, float64 direct %s, tolerance %.3g", what, i, got[go + i], ref[i], tol));
            if (!(Math.abs(got[go + i] - gemm[go + i]) <= tol + gd * mag[i] + 1e-30))
                fail(String.format("%s: output %d = %s, im2col %s, tolerance %.3g", what, i, got[go + i], gemm[go + i], tol + gd * mag[i]));
        }
    }

    /** The most nonzeros in a row of t: the most roundings a sum over that row adds to one of its terms, in any order. */
    private static int terms(double[][] t) {
        int most = 0;
        for (double[] row : t) {
            int n = 0;
            for (double v : row) if (v != 0) n++;
            most = Math.max(most, n);
        }
        return most;
    }

    private static double filter(ConvShape g, float[] w, int wo, boolean flip, int k, int c, int r, int s) {
        return flip ? w[wo + ((c * g.k() + k) * 3 + 2 - r) * 3 + 2 - s] : w[wo + ((k * g.c() + c) * 3 + r) * 3 + s];
    }

    /** ref = direct convolution in float64, mag = sum of |products| (+ |bias|). */
    private static void direct(ConvShape g, float[] x, int xo, float[] w, int wo, boolean flip, float[] bias, int bo,
                               double[] ref, double[] mag) {
        for (int i = 0; i < g.n(); i++) for (int k = 0; k < g.k(); k++) for (int p = 0; p < g.p(); p++) for (int q = 0; q < g.q(); q++) {
            double sum = bias == null ? 0 : bias[bo + k], m = Math.abs(sum);
            for (int c = 0; c < g.c(); c++) for (int r = 0; r < 3; r++) for (int s = 0; s < 3; s++) {
                int ih = p - g.pad() + r, iw = q - g.pad() + s;
                if (ih < 0 || ih >= g.h() || iw < 0 || iw >= g.w()) continue;
                double prod = x[xo + ((i * g.c() + c) * g.h() + ih) * g.w() + iw] * filter(g, w, wo, flip, k, c, r, s);
                sum += prod;
                m += Math.abs(prod);
            }
            int at = ((i * g.k() + k) * g.p() + p) * g.q() + q;
            ref[at] = sum;
            mag[at] = m + 1e-300;
        }
    }

    /** |A|^T [sum_c (|G||f||G|^T) .* (|B|^T|d||B|)] |A| + |bias| per output, in float64. */
    private static double[] absWinograd(Winograd.Transform t, ConvShape g, float[] x, int xo, float[] w, int wo, boolean flip,
                                        float[] bias, int bo) {
        int m = t.m(), al = t.alpha();
        double[][] gm = abs(t.g()), bt = abs(t.bt()), at = abs(t.at());
        double[][][][] u = new double[g.k()][g.c()][][];
        for (int k = 0; k < g.k(); k++) for (int c = 0; c < g.c(); c++) {
            double[][] f = new double[3][3];
            for (int r = 0; r < 3; r++) for (int s = 0; s < 3; s++) f[r][s] = Math.abs(filter(g, w, wo, flip, k, c, r, s));
            u[k][c] = mul(mul(gm, f), transpose(gm));
        }
        double[] out = new double[g.n() * g.k() * g.p() * g.q()];
        int th = (g.p() + m - 1) / m, tw = (g.q() + m - 1) / m;
        for (int i = 0; i < g.n(); i++) for (int ty = 0; ty < th; ty++) for (int tx = 0; tx < tw; tx++) {
            double[][][] v = new double[g.c()][][];
            for (int c = 0; c < g.c(); c++) {
                double[][] d = new double[al][al];
                for (int a = 0; a < al; a++) for (int b = 0; b < al; b++) {
                    int ih = ty * m - g.pad() + a, iw = tx * m - g.pad() + b;
                    if (ih >= 0 && ih < g.h() && iw >= 0 && iw < g.w()) d[a][b] = Math.abs(x[xo + ((i * g.c() + c) * g.h() + ih) * g.w() + iw]);
                }
                v[c] = mul(mul(bt, d), transpose(bt));
            }
            for (int k = 0; k < g.k(); k++) {
                double[][] sum = new double[al][al];
                for (int c = 0; c < g.c(); c++) for (int a = 0; a < al; a++) for (int b = 0; b < al; b++) sum[a][b] += u[k][c][a][b] * v[c][a][b];
                double[][] y = mul(mul(at, sum), transpose(at));
                for (int a = 0; a < m; a++) for (int b = 0; b < m; b++) {
                    int oh = ty * m + a, ow = tx * m + b;
                    if (oh < g.p() && ow < g.q())
                        out[((i * g.k() + k) * g.p() + oh) * g.q() + ow] = y[a][b] + (bias == null ? 0 : Math.abs(bias[bo + k]));
                }
            }
        }
        return out;
    }

    /** |t| with t's entries rounded to float, as the kernels use them. */
    private static double[][] abs(double[][] t) {
        double[][] a = new double[t.length][t[0].length];
        for (int i = 0; i < t.length; i++) for (int j = 0; j < t[0].length; j++) a[i][j] = Math.abs((float) t[i][j]);
        return a;
    }

    private static double[][] mul(double[][] a, double[][] b) {
        double[][] c = new double[a.length][b[0].length];
        for (int i = 0; i < a.length; i++) for (int k = 0; k < b.length; k++) for (int j = 0; j < b[0].length; j++) c[i][j] += a[i][k] * b[k][j];
        return c;
    }

    private static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) t[j][i] = a[i][j];
        return t;
    }
}
