package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.backend.ConvShape;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorSpecies;

/**
 * Direct 3x3 convolution (stride 1, no padding) for the Attn-CNN's layers: 3 to 10 channels
 * on 126x126 to 26x26 maps. There im2col + GEMM is memory-bound: a GEMM with K = 8-10 rows
 * does 2*K = 20 flops per column-matrix float that im2col wrote (5.5 MB for one 10-channel
 * 126x126 image, out of L2), and the transposing pack of the filter gradient costs as much as
 * its products. Here nothing is materialised: vectors run along the output row and the
 * register tiles reuse every load several times (see each kernel).
 *
 * <p>One Zen 3 core (AVX2), 10 -> 10 channels at 130x130, batch 8: forward 33-44 GFLOP/s,
 * backward data 31-36, backward filter 42-46 (kernel-only peak of this core: ~90, the GEMM
 * microkernel's); bench/RESULTS.md has what im2col + GEMM ran these layers at.
 *
 * <p>Backward data is the forward pass of the zero-padded output gradient with the filter
 * flipped and its in/out channels swapped. Backward filter keeps one partial sum per chunk and
 * adds them in chunk order, as {@link Conv} does: bit-identical for a given thread count.
 */
final class DirectConv {
    private DirectConv() {}

    static final VectorSpecies<Float> F = Gemm.F;
    static final int V = F.length();
    /** Output channels per forward register tile. */
    static final int KB = 4;
    /** Output channels per backward-filter register tile. */
    static final int FB = 3;
    /** V, read from a field that C2 cannot fold: see {@link #filterTile}. */
    static int rowStep = V;

    /**
     * The shapes taken here: 3x3, stride 1, no padding, rows of at least two vectors (the last
     * strip of a row is shifted left to end at the row's end), few enough channels that the
     * packed filter stays in L1, and at least one image per thread.
     */
    static boolean applies(ConvShape g, int threads) {
        return g.r() == 3 && g.s() == 3 && g.stride() == 1 && g.pad() == 0 && g.q() >= 2 * V
                && g.k() <= 32 && g.c() <= 32 && g.n() >= threads;
    }

    /** y = conv(x, w) + bias, over the batch split across the team. */
    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        int c = g.c(), k = g.k(), blocks = (k + KB - 1) / KB, crs = c * 9;
        float[] wp = new float[blocks * crs * KB];
        // wp[(b*crs + (ci*3 + r)*3 + s)*KB + j] = w[b*KB + j][ci][r][s], zero past k: one tile's 4 weights per tap side by side.
        for (int b = 0; b < blocks; b++)
            for (int j = 0; j < KB && b * KB + j < k; j++)
                for (int t = 0; t < crs; t++) wp[(b * crs + t) * KB + j] = w[wo + (b * KB + j) * crs + t];
        float[] bp = new float[blocks * KB];
        if (bias != null) System.arraycopy(bias, bo, bp, 0, k);
        int chw = c * g.h() * g.w(), kpq = k * g.p() * g.q();
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            int[] off = tapOffsets(c, g.h(), g.w());
            for (int i = lo; i < hi; i++) forwardImage(off, g.h(), g.w(), k, x, xo + i * chw, wp, bp, y, yo + i * kpq);
        });
    }

    /** off[(ci*3 + r)*3 + s] = where tap (ci, r, s) of output pixel (0, 0) reads in a [c][h][w] image. */
    static int[] tapOffsets(int c, int h, int w) {
        int[] off = new int[c * 9];
        for (int ci = 0, t = 0; ci < c; ci++) for (int r = 0; r < 3; r++) for (int s = 0; s < 3; s++) off[t++] = (ci * h + r) * w + s;
        return off;
    }

    /** One image: x [c][h][w] (off = tapOffsets(c, h, w)) -> y [k][h-2][w-2], with wp and bp packed as {@link #forward} does. */
    static void forwardImage(int[] off, int h, int w, int k, float[] x, int xo, float[] wp, float[] bp, float[] y, int yo) {
        int p = h - 2, q = w - 2, crs = off.length;
        for (int oh = 0; oh < p; oh++)
            for (int ow = 0; ; ow += 2 * V) {
                int at = Math.min(ow, q - 2 * V); // the last strip overlaps the one before: same values written twice
                for (int b = 0; b * KB < k; b++)
                    forwardTile(off, x, xo + oh * w + at, wp, b * crs * KB, bp, b * KB, Math.min(KB, k - b * KB),
                            y, yo + (b * KB * p + oh) * q + at, p * q);
                if (at + 2 * V >= q) break;
            }
    }

    /**
     * Four output channels x two vectors of one output row: 8 accumulators, two input vectors
     * and one broadcast weight = 11 of AVX2's 16 registers. Per tap: 2 loads + 4 broadcasts for
     * 8 FMAs. valid (1..4) of the four channels are stored. One flat loop over the C*9 taps
     * through an offset table: written as loops over (c, r, s), C2 unrolled the 3 taps of a row,
     * loaded all six input vectors first and spilled accumulators (25-30 against 33-44 GFLOP/s
     * on one Zen 3 core; 6 channels x 2 vectors, the GEMM tile, measured 32-34).
     */
    private static void forwardTile(int[] off, float[] x, int xo, float[] wp, int wpo, float[] bp, int k0, int valid,
                                    float[] y, int yo, int pq) {
        FloatVector a00 = FloatVector.broadcast(F, bp[k0]), a01 = a00;
        FloatVector a10 = FloatVector.broadcast(F, bp[k0 + 1]), a11 = a10;
        FloatVector a20 = FloatVector.broadcast(F, bp[k0 + 2]), a21 = a20;
        FloatVector a30 = FloatVector.broadcast(F, bp[k0 + 3]), a31 = a30;
        for (int t = 0, wt = wpo, taps = off.length; t < taps; t++, wt += KB) {
            int at = xo + off[t];
            FloatVector x0 = FloatVector.fromArray(F, x, at), x1 = FloatVector.fromArray(F, x, at + V);
            FloatVector wv;
            wv = FloatVector.broadcast(F, wp[wt]);
            a00 = wv.fma(x0, a00);
            a01 = wv.fma(x1, a01);
            wv = FloatVector.broadcast(F, wp[wt + 1]);
            a10 = wv.fma(x0, a10);
            a11 = wv.fma(x1, a11);
            wv = FloatVector.broadcast(F, wp[wt + 2]);
            a20 = wv.fma(x0, a20);
            a21 = wv.fma(x1, a21);
            wv = FloatVector.broadcast(F, wp[wt + 3]);
            a30 = wv.fma(x0, a30);
            a31 = wv.fma(x1, a31);
        }
        a00.intoArray(y, yo);
        a01.intoArray(y, yo + V);
        if (valid > 1) {
            a10.intoArray(y, yo + pq);
            a11.intoArray(y, yo + pq + V);
        }
        if (valid > 2) {
            a20.intoArray(y, yo + 2 * pq);
            a21.intoArray(y, yo + 2 * pq + V);
        }
        if (valid > 3) {
            a30.intoArray(y, yo + 3 * pq);
            a31.intoArray(y, yo + 3 * pq + V);
        }
    }

    /**
     * dx = the full correlation of dy with the flipped filter: per image, dy is copied into a
     * zero border of 2 (scratch), then the forward kernel runs with wf[c][k][r][s] = w[k][c][2-r][2-s].
     */
    static void backwardData(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        int c = g.c(), k = g.k(), p = g.p(), q = g.q(), h = g.h(), wd = g.w();
        int blocks = (c + KB - 1) / KB, krs = k * 9;
        float[] wp = new float[blocks * krs * KB];
        for (int ci = 0; ci < c; ci++)
            for (int kk = 0; kk < k; kk++)
                for (int r = 0; r < 3; r++)
                    for (int s = 0; s < 3; s++)
                        wp[((ci / KB) * krs + (kk * 3 + r) * 3 + s) * KB + ci % KB] = w[wo + ((kk * c + ci) * 3 + 2 - r) * 3 + 2 - s];
        float[] zero = new float[blocks * KB];
        int ph = p + 4, pw = q + 4; // = h + 2, w + 2
        int kpq = k * p * q, chw = c * h * wd;
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            float[] pad = be.scratch(chunk, k * ph * pw);
            int[] off = tapOffsets(k, ph, pw);
            Arrays.fill(pad, 0, k * ph * pw, 0f); // the border stays zero: only the interior is rewritten per image
            for (int i = lo; i < hi; i++) {
                int src = go + i * kpq;
                for (int kk = 0; kk < k; kk++)
                    for (int oh = 0; oh < p; oh++)
                        System.arraycopy(dy, src + (kk * p + oh) * q, pad, (kk * ph + oh + 2) * pw + 2, q);
                forwardImage(off, ph, pw, c, pad, 0, wp, zero, dx, dxo + i * chw);
            }
        });
    }

    /** dw[k][c][r][s] = sum over images and output pixels of dy[k][oh][ow] * x[c][oh+r][ow+s]. */
    static void backwardFilter(CpuBackend be, ConvShape g, float[] x, int xo, float[] dy, int go, float[] dw, int dwo) {
        int c = g.c(), k = g.k(), h = g.h(), w = g.w(), p = g.p(), q = g.q();
        int kcrs = k * c * 9, chw = c * h * w, kpq = k * p * q;
        int used = Math.min(be.threads(), g.n());
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            float[] acc = be.partial(chunk, kcrs), lanes = new float[V];
            Arrays.fill(acc, 0, kcrs, 0f);
            for (int i = lo; i < hi; i++)
                for (int k0 = 0; k0 < k; k0 += FB)
                    for (int ci = 0; ci < c; ci++)
                        for (int r = 0; r < 3; r++)
                            filterTile(p, q, w, x, xo + i * chw + (ci * h + r) * w, dy, go + i * kpq, k0, Math.min(FB, k - k0),
                                    acc, (k0 * c + ci) * 9 + r * 3, c * 9, lanes);
        });
        Conv.sumPartials(be, used, kcrs, dw, dwo);
    }

    /**
     * For three output channels k0.. and one (input channel, filter row): the three taps s =
     * 0, 1, 2 summed over the whole image, acc[ao + j*stride + s] += the sum for channel k0 + j.
     * 9 accumulators, 3 shifted input vectors and one gradient vector = 13 registers; per vector
     * of output pixels 6 loads for 9 FMAs. A missing channel (valid < 3) repeats the last one's
     * row and its sums are dropped. The row's last partial vector is masked. The loop steps by
     * {@link #rowStep}, not by the constant V: with a constant stride C2 unrolls it 4x, hoists
     * the 24 loads and spills the accumulators (32-34 GFLOP/s on one Zen 3 core; 42-46 without).
     */
    private static void filterTile(int p, int q, int w, float[] x, int xo, float[] dy, int go, int k0, int valid,
                                   float[] acc, int ao, int stride, float[] lanes) {
        int pq = p * q, step = rowStep;
        int d0 = go + k0 * pq, d1 = go + (k0 + Math.min(1, valid - 1)) * pq, d2 = go + (k0 + Math.min(2, valid - 1)) * pq;
        FloatVector s00 = FloatVector.zero(F), s01 = s00, s02 = s00;
        FloatVector s10 = s00, s11 = s00, s12 = s00;
        FloatVector s20 = s00, s21 = s00, s22 = s00;
        int full = q / V * V;
        VectorMask<Float> tail = F.indexInRange(0, q - full);
        for (int oh = 0; oh < p; oh++) {
            int xr = xo + oh * w, dr = oh * q;
            for (int ow = 0; ow < full; ow += step) {
                FloatVector x0 = FloatVector.fromArray(F, x, xr + ow);
                FloatVector x1 = FloatVector.fromArray(F, x, xr + ow + 1);
                FloatVector x2 = FloatVector.fromArray(F, x, xr + ow + 2);
                FloatVector g = FloatVector.fromArray(F, dy, d0 + dr + ow);
                s00 = g.fma(x0, s00);
                s01 = g.fma(x1, s01);
                s02 = g.fma(x2, s02);
                g = FloatVector.fromArray(F, dy, d1 + dr + ow);
                s10 = g.fma(x0, s10);
                s11 = g.fma(x1, s11);
                s12 = g.fma(x2, s12);
                g = FloatVector.fromArray(F, dy, d2 + dr + ow);
                s20 = g.fma(x0, s20);
                s21 = g.fma(x1, s21);
                s22 = g.fma(x2, s22);
            }
            if (full < q) {
                int ow = full;
                FloatVector x0 = FloatVector.fromArray(F, x, xr + ow, tail);
                FloatVector x1 = FloatVector.fromArray(F, x, xr + ow + 1, tail);
                FloatVector x2 = FloatVector.fromArray(F, x, xr + ow + 2, tail);
                FloatVector g = FloatVector.fromArray(F, dy, d0 + dr + ow, tail);
                s00 = g.fma(x0, s00);
                s01 = g.fma(x1, s01);
                s02 = g.fma(x2, s02);
                g = FloatVector.fromArray(F, dy, d1 + dr + ow, tail);
                s10 = g.fma(x0, s10);
                s11 = g.fma(x1, s11);
                s12 = g.fma(x2, s12);
                g = FloatVector.fromArray(F, dy, d2 + dr + ow, tail);
                s20 = g.fma(x0, s20);
                s21 = g.fma(x1, s21);
                s22 = g.fma(x2, s22);
            }
        }
        acc[ao] += sum(s00, lanes);
        acc[ao + 1] += sum(s01, lanes);
        acc[ao + 2] += sum(s02, lanes);
        if (valid > 1) {
            acc[ao + stride] += sum(s10, lanes);
            acc[ao + stride + 1] += sum(s11, lanes);
            acc[ao + stride + 2] += sum(s12, lanes);
        }
        if (valid > 2) {
            acc[ao + 2 * stride] += sum(s20, lanes);
            acc[ao + 2 * stride + 1] += sum(s21, lanes);
            acc[ao + 2 * stride + 2] += sum(s22, lanes);
        }
    }

    /**
     * The lanes of v added in lane order. Not reduceLanes(ADD): its order is unspecified and
     * differs between C2's intrinsic and the interpreter, so a resumed run (other JIT timing)
     * got other weights (ReliabilityTest caught it).
     */
    private static float sum(FloatVector v, float[] lanes) {
        v.intoArray(lanes, 0);
        float t = 0f;
        for (int i = 0; i < V; i++) t += lanes[i];
        return t;
    }
}
