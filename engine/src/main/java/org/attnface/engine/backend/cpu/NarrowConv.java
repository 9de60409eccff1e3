package org.attnface.engine.backend.cpu;

import org.attnface.engine.backend.ConvShape;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The forward convolution when all images together have at most {@link #MAX_COLUMNS} output
 * pixels: one face predicted at a time (batch 1), where ResNet-18's last two stages at 64x64 input
 * give 4x4 and 2x2 maps. The GEMM's register tile is {@link Gemm#NR} = 32 columns wide at AVX-512
 * ({@link SmallMapConv}'s is 32 images wide), so 4 columns compute 8x (32x) the products needed;
 * here each output is a dot product of a filter row (read once, in place, no packing) with a
 * column of the transposed im2col matrix (N x C*R*S, in L1/L2), 2 filter rows x 4 columns at a time.
 * At these sizes the filter dominates: 9.4 MB per 512-channel layer, read once per call.
 */
final class NarrowConv {
    private NarrowConv() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Output pixels of all images together, at most: the GEMM wastes at least half its tile below 16. */
    static final int MAX_COLUMNS = 16;

    static boolean applies(ConvShape g) {
        return (long) g.n() * g.p() * g.q() <= MAX_COLUMNS;
    }

    /**
     * 4 filter rows at a time where there are 32 vector registers (AVX-512): 16 accumulators, 8 loads
     * per 16 FMAs. With 16 registers (AVX2) the 16 accumulators would spill: 2 rows, 8 accumulators.
     */
    static final boolean QUADS = F.vectorBitSize() >= 512;

    private static final ThreadLocal<float[]> COLUMNS = ThreadLocal.withInitial(() -> new float[0]);

    /** y = conv(x, w) + bias. */
    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        int taps = g.r() * g.s(), crs = g.c() * taps, pq = g.p() * g.q(), n = g.n() * pq, k = g.k(), hw = g.h() * g.w();
        float[] col = COLUMNS.get();
        if (col.length < n * crs) {
            col = new float[n * crs];
            COLUMNS.set(col);
        }
        // colT[(img*pq + o)*crs + ch*taps + t] = the input pixel tap t of output pixel o reads (0 in the padding).
        int[] map = Conv.positionMap(g);
        for (int img = 0; img < g.n(); img++)
            for (int o = 0; o < pq; o++) {
                int row = (img * pq + o) * crs, xi = xo + img * g.c() * hw;
                for (int ch = 0; ch < g.c(); ch++)
                    for (int t = 0; t < taps; t++) {
                        int i = map[t * pq + o];
                        col[row + ch * taps + t] = i >= 0 ? x[xi + ch * hw + i] : 0f;
                    }
            }
        float[] colT = col;
        int pairs = (k + 1) / 2;
        // At least ~2^18 multiply-adds per chunk: below that waking the second thread costs more.
        int grain = Math.max(2, (1 << 18) / (2 * crs * n)) & ~1;
        be.team().range(pairs, grain, (lo, hi, chunk) -> {
            for (int pr = lo; pr < hi; pr++) {
                int k0 = 2 * pr;
                if (QUADS && pr + 1 < hi && k0 + 3 < k) {
                    int j = 0;
                    for (; j + 4 <= n; j += 4) tile4x4(g, crs, w, wo + k0 * crs, colT, j, bias, bo, k0, y, yo);
                    for (; j < n; j++)
                        for (int kk = k0; kk < k0 + 4; kk++) put(g, y, yo, kk, j, dot(crs, w, wo + kk * crs, colT, j * crs), bias, bo);
                    pr++;
                } else if (k0 + 1 < k) {
                    int j = 0;
                    for (; j + 4 <= n; j += 4) tile2x4(g, crs, w, wo + k0 * crs, colT, j, bias, bo, k0, y, yo);
                    for (; j < n; j++) {
                        put(g, y, yo, k0, j, dot(crs, w, wo + k0 * crs, colT, j * crs), bias, bo);
                        put(g, y, yo, k0 + 1, j, dot(crs, w, wo + (k0 + 1) * crs, colT, j * crs), bias, bo);
                    }
                } else {
                    for (int j = 0; j < n; j++) put(g, y, yo, k0, j, dot(crs, w, wo + k0 * crs, colT, j * crs), bias, bo);
                }
            }
        });
    }

    /** y[img][kk][o] for column j = img*pq + o. */
    private static void put(ConvShape g, float[] y, int yo, int kk, int j, float v, float[] bias, int bo) {
        int pq = g.p() * g.q(), img = j / pq, o = j % pq;
        y[yo + (img * g.k() + kk) * pq + o] = bias == null ? v : v + bias[bo + kk];
    }

    /** Filter rows k0, k0 + 1 (at a, a + crs) against columns j..j+3 of colT: 8 accumulators, 6 loads per 8 FMAs. */
    private static void tile2x4(ConvShape g, int crs, float[] w, int a, float[] col, int j, float[] bias, int bo, int k0, float[] y, int yo) {
        FloatVector s00 = FloatVector.zero(F), s01 = FloatVector.zero(F), s02 = FloatVector.zero(F), s03 = FloatVector.zero(F);
        FloatVector s10 = FloatVector.zero(F), s11 = FloatVector.zero(F), s12 = FloatVector.zero(F), s13 = FloatVector.zero(F);
        int b0 = j * crs, b1 = b0 + crs, b2 = b1 + crs, b3 = b2 + crs, a1 = a + crs;
        int p = 0;
        for (int upper = F.loopBound(crs); p < upper; p += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, w, a + p), w1 = FloatVector.fromArray(F, w, a1 + p);
            FloatVector c0 = FloatVector.fromArray(F, col, b0 + p);
            s00 = w0.fma(c0, s00);
            s10 = w1.fma(c0, s10);
            FloatVector c1 = FloatVector.fromArray(F, col, b1 + p);
            s01 = w0.fma(c1, s01);
            s11 = w1.fma(c1, s11);
            FloatVector c2 = FloatVector.fromArray(F, col, b2 + p);
            s02 = w0.fma(c2, s02);
            s12 = w1.fma(c2, s12);
            FloatVector c3 = FloatVector.fromArray(F, col, b3 + p);
            s03 = w0.fma(c3, s03);
            s13 = w1.fma(c3, s13);
        }
        float r00 = s00.reduceLanes(VectorOperators.ADD), r01 = s01.reduceLanes(VectorOperators.ADD);
        float r02 = s02.reduceLanes(VectorOperators.ADD), r03 = s03.reduceLanes(VectorOperators.ADD);
        float r10 = s10.reduceLanes(VectorOperators.ADD), r11 = s11.reduceLanes(VectorOperators.ADD);
        float r12 = s12.reduceLanes(VectorOperators.ADD), r13 = s13.reduceLanes(VectorOperators.ADD);
        for (; p < crs; p++) {
            float v0 = w[a + p], v1 = w[a1 + p];
            r00 += v0 * col[b0 + p];
            r01 += v0 * col[b1 + p];
            r02 += v0 * col[b2 + p];
            r03 += v0 * col[b3 + p];
            r10 += v1 * col[b0 + p];
            r11 += v1 * col[b1 + p];
            r12 += v1 * col[b2 + p];
            r13 += v1 * col[b3 + p];
        }
        put(g, y, yo, k0, j, r00, bias, bo);
        put(g, y, yo, k0, j + 1, r01, bias, bo);
        put(g, y, yo, k0, j + 2, r02, bias, bo);
        put(g, y, yo, k0, j + 3, r03, bias, bo);
        put(g, y, yo, k0 + 1, j, r10, bias, bo);
        put(g, y, yo, k0 + 1, j + 1, r11, bias, bo);
        put(g, y, yo, k0 + 1, j + 2, r12, bias, bo);
        put(g, y, yo, k0 + 1, j + 3, r13, bias, bo);
    }

    /** Filter rows k0..k0+3 against columns j..j+3 of colT: 16 accumulators, 8 loads per 16 FMAs. */
    private static void tile4x4(ConvShape g, int crs, float[] w, int a, float[] col, int j, float[] bias, int bo, int k0, float[] y, int yo) {
        FloatVector s00 = FloatVector.zero(F), s01 = FloatVector.zero(F), s02 = FloatVector.zero(F), s03 = FloatVector.zero(F);
        FloatVector s10 = FloatVector.zero(F), s11 = FloatVector.zero(F), s12 = FloatVector.zero(F), s13 = FloatVector.zero(F);
        FloatVector s20 = FloatVector.zero(F), s21 = FloatVector.zero(F), s22 = FloatVector.zero(F), s23 = FloatVector.zero(F);
        FloatVector s30 = FloatVector.zero(F), s31 = FloatVector.zero(F), s32 = FloatVector.zero(F), s33 = FloatVector.zero(F);
        int b0 = j * crs, b1 = b0 + crs, b2 = b1 + crs, b3 = b2 + crs, a1 = a + crs, a2 = a1 + crs, a3 = a2 + crs;
        int p = 0;
        for (int upper = F.loopBound(crs); p < upper; p += F.length()) {
            FloatVector w0 = FloatVector.fromArray(F, w, a + p), w1 = FloatVector.fromArray(F, w, a1 + p);
            FloatVector w2 = FloatVector.fromArray(F, w, a2 + p), w3 = FloatVector.fromArray(F, w, a3 + p);
            FloatVector c = FloatVector.fromArray(F, col, b0 + p);
            s00 = w0.fma(c, s00);
            s10 = w1.fma(c, s10);
            s20 = w2.fma(c, s20);
            s30 = w3.fma(c, s30);
            c = FloatVector.fromArray(F, col, b1 + p);
            s01 = w0.fma(c, s01);
            s11 = w1.fma(c, s11);
            s21 = w2.fma(c, s21);
            s31 = w3.fma(c, s31);
            c = FloatVector.fromArray(F, col, b2 + p);
            s02 = w0.fma(c, s02);
            s12 = w1.fma(c, s12);
            s22 = w2.fma(c, s22);
            s32 = w3.fma(c, s32);
            c = FloatVector.fromArray(F, col, b3 + p);
            s03 = w0.fma(c, s03);
            s13 = w1.fma(c, s13);
            s23 = w2.fma(c, s23);
            s33 = w3.fma(c, s33);
        }
        // One call per accumulator, not an array of them: an array boxes the vectors and C2 gives up
        // on the whole loop (measured 4x slower than 2x4).
        finish(g, s00, p, crs, w, a, col, b0, bias, bo, k0, j, y, yo);
        finish(g, s01, p, crs, w, a, col, b1, bias, bo, k0, j + 1, y, yo);
        finish(g, s02, p, crs, w, a, col, b2, bias, bo, k0, j + 2, y, yo);
        finish(g, s03, p, crs, w, a, col, b3, bias, bo, k0, j + 3, y, yo);
        finish(g, s10, p, crs, w, a1, col, b0, bias, bo, k0 + 1, j, y, yo);
        finish(g, s11, p, crs, w, a1, col, b1, bias, bo, k0 + 1, j + 1, y, yo);
        finish(g, s12, p, crs, w, a1, col, b2, bias, bo, k0 + 1, j + 2, y, yo);
        finish(g, s13, p, crs, w, a1, col, b3, bias, bo, k0 + 1, j + 3, y, yo);
        finish(g, s20, p, crs, w, a2, col, b0, bias, bo, k0 + 2, j, y, yo);
        finish(g, s21, p, crs, w, a2, col, b1, bias, bo, k0 + 2, j + 1, y, yo);
        finish(g, s22, p, crs, w, a2, col, b2, bias, bo, k0 + 2, j + 2, y, yo);
        finish(g, s23, p, crs, w, a2, col, b3, bias, bo, k0 + 2, j + 3, y, yo);
        finish(g, s30, p, crs, w, a3, col, b0, bias, bo, k0 + 3, j, y, yo);
        finish(g, s31, p, crs, w, a3, col, b1, bias, bo, k0 + 3, j + 1, y, yo);
        finish(g, s32, p, crs, w, a3, col, b2, bias, bo, k0 + 3, j + 2, y, yo);
        finish(g, s33, p, crs, w, a3, col, b3, bias, bo, k0 + 3, j + 3, y, yo);
    }

    /** y[.., kk, column j] = the lanes of s added, plus the scalar tail p..crs of filter row a against column b, plus the bias. */
    private static void finish(ConvShape g, FloatVector s, int p, int crs, float[] w, int a, float[] col, int b,
                               float[] bias, int bo, int kk, int j, float[] y, int yo) {
        float r = s.reduceLanes(VectorOperators.ADD);
        for (; p < crs; p++) r += w[a + p] * col[b + p];
        put(g, y, yo, kk, j, r, bias, bo);
    }

    private static float dot(int len, float[] a, int ao, float[] b, int bo) {
        FloatVector s = FloatVector.zero(F);
        int p = 0;
        for (int upper = F.loopBound(len); p < upper; p += F.length())
            s = FloatVector.fromArray(F, a, ao + p).fma(FloatVector.fromArray(F, b, bo + p), s);
        float r = s.reduceLanes(VectorOperators.ADD);
        for (; p < len; p++) r += a[ao + p] * b[bo + p];
        return r;
    }
}
