package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.backend.ConvShape;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * 3x3 stride-1 convolution by Winograd's minimal filtering (Lavin and Gray 2015), F(m x m, 3x3)
 * with m = 4 (6x6 input tiles, 36 products for 16 outputs where a direct convolution needs 144)
 * or m = 2 (4x4 tiles, 16 for 4), whichever covers the map with fewer products (F(4x4) for all of
 * ResNet-18's layers it takes, from 4x4 maps up; its 2x2 maps go to {@link SmallMapConv}).
 *
 * <p>Per output channel k, input channel c and tile: Y = A^T [sum_c (G g G^T) .* (B^T d B)] A.
 * The sum over c at each of the alpha^2 tile positions is a GEMM, K x C times C x tiles, on the
 * {@link GemmKernel} tile: the transformed filter U (alpha^2 x K x C) is packed once per call in
 * the kernel's A layout and shared by the threads; each thread takes whole images and, per group
 * of {@link #TILES} tiles, writes the transformed input V straight into the kernel's packed B
 * layout, runs the alpha^2 products into M and transforms M back into the output. The input and
 * output transforms run on vectors across tiles (tile t in lane t), gathering from zero-bordered
 * copies of the channel planes and scattering into the output.
 *
 * <p>Error: the transforms' coefficients (1/4, 1/6, 1/24, 2, 4, 8 for F(4x4)) make the result
 * differ from a direct convolution by more than its rounding: WinogradTest bounds it by
 * gamma_{C+ceil(C/256)+27} times the same computation on absolute values and reports the measured
 * size (F(4x4) on ResNet-18's layers: at worst ~4e-6 of sum |x w|, 20-100x im2col's; bench/RESULTS.md).
 * The order of every sum is fixed by the shape alone (not by threads, batch or grouping): results
 * are bit-identical for any thread count.
 *
 * <p>Backward data is the same convolution of dy with the filter flipped and its channels swapped,
 * padding 2 - pad.
 */
final class Winograd {
    private Winograd() {}

    static final VectorSpecies<Float> F = Gemm.F;
    static final int V = F.length();
    static final int MR = Gemm.MR, NR = Gemm.NR, KC = Gemm.KC;
    /**
     * Tiles per group: the columns of one group's alpha^2 products. 32 against 64 and 128, one JVM
     * interleaved (Zen 5, loaded): 64 channels at 16x16 8.8 / 10.1 / 13.2 ms, at 32x32 even; the
     * group's transformed input and products (alpha^2 x (C + K) x 32 floats) then fit a 1 MiB L2 up to 64 channels.
     */
    static final int TILES = 32;

    /** One transform: G (alpha x 3), B^T (alpha x alpha) and A^T (m x alpha), row-major (the kernels below are these matrices written out). */
    record Transform(int m, int alpha, double[][] g, double[][] bt, double[][] at) {}

    /** F(2x2, 3x3), interpolation points 0, 1, -1 (and infinity). */
    static final Transform F2 = new Transform(2, 4,
            new double[][] {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}},
            new double[][] {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}},
            new double[][] {{1, 1, 1, 0}, {0, 1, -1, -1}});

    /** F(4x4, 3x3), points 0, 1, -1, 2, -2 (and infinity). */
    static final Transform F4 = new Transform(4, 6,
            new double[][] {{1 / 4.0, 0, 0}, {-1 / 6.0, -1 / 6.0, -1 / 6.0}, {-1 / 6.0, 1 / 6.0, -1 / 6.0},
                    {1 / 24.0, 1 / 12.0, 1 / 6.0}, {1 / 24.0, -1 / 12.0, 1 / 6.0}, {0, 0, 1}},
            new double[][] {{4, 0, -5, 0, 1, 0}, {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                    {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}},
            new double[][] {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}});

    /** The transform covering a p x q output with fewer tile products; F(2x2) on a tie (smaller error). */
    static Transform transform(int p, int q) {
        long cost2 = (long) ceilDiv(p, 2) * ceilDiv(q, 2) * 16, cost4 = (long) ceilDiv(p, 4) * ceilDiv(q, 4) * 36;
        return cost4 < cost2 ? F4 : F2;
    }

    /**
     * The shapes taken here: 3x3, stride 1, padding 0-2, at least {@link #MIN_CHANNELS} channels in
     * and out, where im2col's products (9 per output pixel, taps in the padding included) are at
     * least twice Winograd's, the filter's transform counted as {@link #FILTER_COST} more tiles.
     * At batch 64 that is every such ResNet-18 layer from 4x4 maps up (1.1-4x im2col per layer in
     * ConvTiming, bench/RESULTS.md); not the 2x2 maps (F(2x2) gained 0.86-1.34x there: the
     * transformed filter, 16 floats per channel pair written per call, eats the saved products;
     * {@link SmallMapConv} takes them), and a batch of one only from 32x32 maps.
     */
    static boolean applies(ConvShape g) {
        if (g.r() != 3 || g.s() != 3 || g.stride() != 1 || g.pad() > 2 || g.c() < MIN_CHANNELS || g.k() < MIN_CHANNELS) return false;
        Transform t = transform(g.p(), g.q());
        long tiles = (long) g.n() * ceilDiv(g.p(), t.m()) * ceilDiv(g.q(), t.m());
        long alpha2 = (long) t.alpha() * t.alpha();
        return 2 * alpha2 * (tiles + FILTER_COST) <= 9L * g.n() * g.p() * g.q();
    }

    /**
     * The transforms cost per tile in proportion to C + K, the products to C * K: at 32 channels on
     * 32x32 maps Winograd ran 0.65-0.95x im2col, at 64 channels 1.1-1.6x.
     */
    static final int MIN_CHANNELS = 64;

    /** The filter transform's cost per U entry in GEMM columns (tiles): a scattered store (~0.5 ns) against ~75 multiply-adds per ns. */
    static final int FILTER_COST = 32;

    /** Winograd's backward data applies where its forward on the flipped problem does. */
    static boolean appliesBackwardData(ConvShape g) {
        // flipped(g) is a stride-1 3x3 shape whatever g is: a strided or 1x1 layer must not get here
        return g.r() == 3 && g.s() == 3 && g.stride() == 1 && g.pad() <= 2 && applies(flipped(g));
    }

    /** The convolution that computes dx: dy [n][k][p][q] with the flipped, channel-swapped filter, padding 2 - pad. */
    static ConvShape flipped(ConvShape g) {
        return new ConvShape(g.n(), g.k(), g.p(), g.q(), g.c(), 3, 3, 1, 2 - g.pad());
    }

    private static final ThreadLocal<float[]> FILTER = ThreadLocal.withInitial(() -> new float[0]);

    /** y = conv(x, w) + bias. */
    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        run(be, g, x, xo, w, wo, false, bias, bo, y, yo);
    }

    /** dx = the gradient of conv(x, w) with respect to x, given dy. */
    static void backwardData(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        run(be, flipped(g), dy, go, w, wo, true, null, 0, dx, dxo);
    }

    /**
     * out = conv(in, filter) + bias for the stride-1 3x3 shape g, where filter[k][c][r][s] =
     * w[k][c][r][s], or w[c][k][2-r][2-s] when flip (the backward-data filter of the swapped shape).
     */
    static void run(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, boolean flip,
                    float[] bias, int bo, float[] y, int yo) {
        Transform t = transform(g.p(), g.q());
        int c = g.c(), k = g.k(), m = t.m(), alpha = t.alpha(), a2 = alpha * alpha, h = g.h(), wd = g.w(), hw = h * wd;
        int p = g.p(), q = g.q(), pq = p * q, mPad = (k + MR - 1) / MR * MR, pad = g.pad();
        float[] u = FILTER.get();
        if (u.length < a2 * mPad * c) {
            u = new float[a2 * mPad * c];
            FILTER.set(u);
        }
        float[] uf = u;
        be.team().range(mPad, MR, (lo, hi, chunk) -> transformFilter(m, g, w, wo, flip, uf, mPad, lo, hi));
        int tilesH = ceilDiv(p, m), tilesW = ceilDiv(q, m), tpi = tilesH * tilesW;
        // Each image's channel plane is copied into a zero border: rows and columns -pad .. tiles*m + 2 - pad.
        int hp = tilesH * m + 2, wp = tilesW * m + 2, plane = hp * wp;
        boolean exact = p % m == 0 && q % m == 0;
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            int group = Math.min(TILES, (hi - lo) * tpi), gPad = Gemm.paddedColumns(group), lanes = gPad / V;
            int images = (group + tpi - 1) / tpi + 1;
            int to = 0, oo = to + a2 * V, po = oo + m * m * V, vo = po + images * plane, mo = vo + a2 * c * gPad;
            float[] buf = be.scratch(chunk, mo + a2 * mPad * gPad);
            int[] inIdx = new int[gPad], outIdx = new int[gPad];
            for (int t0 = lo * tpi, end = hi * tpi; t0 < end; t0 += group) {
                int tg = Math.min(group, end - t0), img0 = t0 / tpi, img1 = (t0 + tg - 1) / tpi;
                for (int tt = 0; tt < gPad; tt++) {
                    int tile = t0 + Math.min(tt, tg - 1), img = tile / tpi, local = tile % tpi;
                    int oh0 = local / tilesW * m, ow0 = local % tilesW * m;
                    inIdx[tt] = (img - img0) * plane + oh0 * wp + ow0;
                    outIdx[tt] = img * k * pq + oh0 * q + ow0;
                }
                Arrays.fill(buf, po, po + (img1 - img0 + 1) * plane, 0f);
                for (int ch = 0; ch < c; ch++) {
                    for (int img = img0; img <= img1; img++) {
                        int src = xo + (img * c + ch) * hw, dst = po + (img - img0) * plane + pad * wp + pad;
                        for (int r = 0; r < h; r++)
                            for (int cc = 0; cc < wd; cc++) buf[dst + r * wp + cc] = x[src + r * wd + cc];
                    }
                    int row = vo + Gemm.prepackedRowBase(gPad, ch), sl = Gemm.prepackedSliverStride(c, ch);
                    for (int l = 0; l < lanes; l++) {
                        int vd = row + l * V / NR * sl + l * V % NR;
                        if (m == 4) input4(buf, po, wp, inIdx, l * V, buf, to, buf, vd, c * gPad);
                        else input2(buf, po, wp, inIdx, l * V, buf, to, buf, vd, c * gPad);
                    }
                }
                for (int xi = 0; xi < a2; xi++) products(c, mPad, gPad, uf, xi * mPad * c, buf, vo + xi * c * gPad, buf, mo + xi * mPad * gPad);
                for (int kk = 0; kk < k; kk++) {
                    float b = bias == null ? 0f : bias[bo + kk];
                    for (int l = 0; l < lanes; l++) {
                        boolean direct = exact && (l + 1) * V <= tg;
                        if (m == 4) output4(buf, mo + kk * gPad + l * V, mPad * gPad, buf, to, b, direct, y, yo + kk * pq, q, outIdx, l * V, buf, oo);
                        else output2(buf, mo + kk * gPad + l * V, mPad * gPad, buf, to, b, direct, y, yo + kk * pq, q, outIdx, l * V, buf, oo);
                        if (!direct) copyOut(m, buf, oo, Math.min(V, tg - l * V), t0 + l * V, tpi, tilesW, p, q, y, yo + kk * pq, k * pq);
                    }
                }
            }
        });
    }

    /** y (channel plane at yk of image 0) = the m x m outputs o[(a*m + b)*V + lane] of tiles t..t+n, inside the map. */
    static void copyOut(int m, float[] o, int oo, int n, int t, int tpi, int tilesW, int p, int q, float[] y, int yk, int kpq) {
        for (int lane = 0; lane < n; lane++) {
            int tile = t + lane, img = tile / tpi, local = tile % tpi, oh0 = local / tilesW * m, ow0 = local % tilesW * m;
            for (int a = 0; a < m && oh0 + a < p; a++)
                for (int b = 0; b < m && ow0 + b < q; b++)
                    y[yk + img * kpq + (oh0 + a) * q + ow0 + b] = o[oo + (a * m + b) * V + lane];
        }
    }

    /**
     * U[xi][kk][ch] = (G f G^T)[xi] for output channels [lo, hi), packed as {@link Gemm#packA} packs
     * a mPad x C matrix: KC-column blocks, MR-row slivers; rows past K are zero. V channels at a time
     * on vectors (a gather of each tap, a scatter of each of the alpha^2 results), the rest one by one.
     */
    static void transformFilter(int m, ConvShape g, float[] w, int wo, boolean flip, float[] u, int mPad, int lo, int hi) {
        int c = g.c(), k = g.k(), a2 = (m + 2) * (m + 2), xs = mPad * c;
        float[] f = new float[9], h = new float[18], tmp = new float[18 * V];
        int[] tapStride = new int[V], slot = new int[V];
        for (int i = 0; i < V; i++) {
            tapStride[i] = i * 9 * (flip ? k : 1);
            slot[i] = i * MR;
        }
        for (int kk = lo; kk < hi; kk++)
            for (int ch = 0; ch < c; ) {
                int pb = ch / KC * KC, kcb = Math.min(KC, c - pb);
                int at = pb * mPad + kk / MR * MR * kcb + (ch - pb) * MR + kk % MR;
                if (kk >= k) {
                    for (int xi = 0; xi < a2; xi++) u[at + xi * xs] = 0f;
                    ch++;
                    continue;
                }
                int f0 = flip ? wo + (ch * k + kk) * 9 : wo + (kk * c + ch) * 9;
                if (ch % V == 0 && ch + V <= c) {
                    if (m == 4) filter4(w, f0, flip, tapStride, tmp, u, at, xs, slot);
                    else filter2(w, f0, flip, tapStride, tmp, u, at, xs, slot);
                    ch += V;
                    continue;
                }
                for (int rs = 0; rs < 9; rs++) f[rs] = w[f0 + (flip ? 8 - rs : rs)];
                if (m == 4) filter4(f, h, u, at, xs);
                else filter2(f, h, u, at, xs);
                ch++;
            }
    }

    private static final float SIXTH = 1 / 6f, TWELFTH = 1 / 12f, TWENTYFOURTH = 1 / 24f;

    /** u[at + (a*6 + b)*xs] = (G f G^T)[a][b] for F(4x4): G's rows along r into h (6 x 3), then along s. */
    static void filter4(float[] f, float[] h, float[] u, int at, int xs) {
        for (int s = 0; s < 3; s++) {
            float f0 = f[s], f1 = f[3 + s], f2 = f[6 + s];
            float e = f0 + f2, o = f0 * TWENTYFOURTH + f2 * SIXTH, c = f1 * TWELFTH;
            h[s] = f0 * 0.25f;
            h[3 + s] = -((e + f1) * SIXTH);
            h[6 + s] = -((e - f1) * SIXTH);
            h[9 + s] = o + c;
            h[12 + s] = o - c;
            h[15 + s] = f2;
        }
        for (int a = 0; a < 6; a++) {
            float f0 = h[a * 3], f1 = h[a * 3 + 1], f2 = h[a * 3 + 2];
            float e = f0 + f2, o = f0 * TWENTYFOURTH + f2 * SIXTH, c = f1 * TWELFTH;
            int d = at + a * 6 * xs;
            u[d] = f0 * 0.25f;
            u[d + xs] = -((e + f1) * SIXTH);
            u[d + 2 * xs] = -((e - f1) * SIXTH);
            u[d + 3 * xs] = o + c;
            u[d + 4 * xs] = o - c;
            u[d + 5 * xs] = f2;
        }
    }

    /** {@link #filter4} for V consecutive channels, lanes = channels: w's taps gathered, U's entries scattered (slot: MR apart). */
    static void filter4(float[] w, int f0, boolean flip, int[] tapStride, float[] tmp, float[] u, int at, int xs, int[] slot) {
        for (int s = 0; s < 3; s++) {
            FloatVector g0 = tapOf(w, f0, flip, s, tapStride), g1 = tapOf(w, f0, flip, 3 + s, tapStride), g2 = tapOf(w, f0, flip, 6 + s, tapStride);
            FloatVector e = g0.add(g2), o = g0.mul(TWENTYFOURTH).add(g2.mul(SIXTH)), c = g1.mul(TWELFTH);
            g0.mul(0.25f).intoArray(tmp, s * V);
            e.add(g1).mul(SIXTH).neg().intoArray(tmp, (3 + s) * V);
            e.sub(g1).mul(SIXTH).neg().intoArray(tmp, (6 + s) * V);
            o.add(c).intoArray(tmp, (9 + s) * V);
            o.sub(c).intoArray(tmp, (12 + s) * V);
            g2.intoArray(tmp, (15 + s) * V);
        }
        for (int a = 0; a < 6; a++) {
            FloatVector g0 = FloatVector.fromArray(F, tmp, a * 3 * V), g1 = FloatVector.fromArray(F, tmp, (a * 3 + 1) * V);
            FloatVector g2 = FloatVector.fromArray(F, tmp, (a * 3 + 2) * V);
            FloatVector e = g0.add(g2), o = g0.mul(TWENTYFOURTH).add(g2.mul(SIXTH)), c = g1.mul(TWELFTH);
            int d = at + a * 6 * xs;
            g0.mul(0.25f).intoArray(u, d, slot, 0);
            e.add(g1).mul(SIXTH).neg().intoArray(u, d + xs, slot, 0);
            e.sub(g1).mul(SIXTH).neg().intoArray(u, d + 2 * xs, slot, 0);
            o.add(c).intoArray(u, d + 3 * xs, slot, 0);
            o.sub(c).intoArray(u, d + 4 * xs, slot, 0);
            g2.intoArray(u, d + 5 * xs, slot, 0);
        }
    }

    /** Tap rs (flipped when flip) of V consecutive channels' filters, the first at f0. */
    private static FloatVector tapOf(float[] w, int f0, boolean flip, int rs, int[] tapStride) {
        return FloatVector.fromArray(F, w, f0 + (flip ? 8 - rs : rs), tapStride, 0);
    }

    /** u[at + (a*4 + b)*xs] = (G f G^T)[a][b] for F(2x2). */
    static void filter2(float[] f, float[] h, float[] u, int at, int xs) {
        for (int s = 0; s < 3; s++) {
            float f0 = f[s], f1 = f[3 + s], f2 = f[6 + s], e = f0 + f2;
            h[s] = f0;
            h[3 + s] = (e + f1) * 0.5f;
            h[6 + s] = (e - f1) * 0.5f;
            h[9 + s] = f2;
        }
        for (int a = 0; a < 4; a++) {
            float f0 = h[a * 3], f1 = h[a * 3 + 1], f2 = h[a * 3 + 2], e = f0 + f2;
            int d = at + a * 4 * xs;
            u[d] = f0;
            u[d + xs] = (e + f1) * 0.5f;
            u[d + 2 * xs] = (e - f1) * 0.5f;
            u[d + 3 * xs] = f2;
        }
    }

    /** {@link #filter2} for V consecutive channels. */
    static void filter2(float[] w, int f0, boolean flip, int[] tapStride, float[] tmp, float[] u, int at, int xs, int[] slot) {
        for (int s = 0; s < 3; s++) {
            FloatVector g0 = tapOf(w, f0, flip, s, tapStride), g1 = tapOf(w, f0, flip, 3 + s, tapStride), g2 = tapOf(w, f0, flip, 6 + s, tapStride);
            FloatVector e = g0.add(g2);
            g0.intoArray(tmp, s * V);
            e.add(g1).mul(0.5f).intoArray(tmp, (3 + s) * V);
            e.sub(g1).mul(0.5f).intoArray(tmp, (6 + s) * V);
            g2.intoArray(tmp, (9 + s) * V);
        }
        for (int a = 0; a < 4; a++) {
            FloatVector g0 = FloatVector.fromArray(F, tmp, a * 3 * V), g1 = FloatVector.fromArray(F, tmp, (a * 3 + 1) * V);
            FloatVector g2 = FloatVector.fromArray(F, tmp, (a * 3 + 2) * V), e = g0.add(g2);
            int d = at + a * 4 * xs;
            g0.intoArray(u, d, slot, 0);
            e.add(g1).mul(0.5f).intoArray(u, d + xs, slot, 0);
            e.sub(g1).mul(0.5f).intoArray(u, d + 2 * xs, slot, 0);
            g2.intoArray(u, d + 3 * xs, slot, 0);
        }
    }

    /** Input (a, b) of V tiles: pl[po + a*wp + b + idx[lo + lane]], from the zero-bordered planes. */
    private static FloatVector tap(float[] pl, int at, int[] idx, int lo) {
        return FloatVector.fromArray(F, pl, at, idx, lo);
    }

    /**
     * One channel, V tiles (lanes lo..lo+V of idx): gathers each tile's 6x6 input from the
     * zero-bordered planes (row length wp), d -> B^T d B along columns into tmp (36 vectors), then
     * along rows into v[vd + xi*xs] for xi = a*6 + b. B^T's rows, factored: 4d0 + (d4 - 5d2);
     * (d3 + d4) - 4(d1 + d2); 4(d1 - d2) + (d4 - d3); 2(d3 - d1) + (d4 - d2); 2(d1 - d3) + (d4 - d2);
     * 4d1 + (d5 - 5d3) (no input passes through more roundings than its row has terms: the test's bound).
     */
    static void input4(float[] pl, int po, int wp, int[] idx, int lo, float[] tmp, int to, float[] v, int vd, int xs) {
        for (int b = 0; b < 6; b++) {
            int at = po + b;
            FloatVector d0 = tap(pl, at, idx, lo), d1 = tap(pl, at + wp, idx, lo), d2 = tap(pl, at + 2 * wp, idx, lo);
            FloatVector d3 = tap(pl, at + 3 * wp, idx, lo), d4 = tap(pl, at + 4 * wp, idx, lo), d5 = tap(pl, at + 5 * wp, idx, lo);
            FloatVector s42 = d4.sub(d2);
            d0.mul(4f).add(d4.sub(d2.mul(5f))).intoArray(tmp, to + b * V);
            d3.add(d4).sub(d1.add(d2).mul(4f)).intoArray(tmp, to + (6 + b) * V);
            d1.sub(d2).mul(4f).add(d4.sub(d3)).intoArray(tmp, to + (12 + b) * V);
            d3.sub(d1).mul(2f).add(s42).intoArray(tmp, to + (18 + b) * V);
            d1.sub(d3).mul(2f).add(s42).intoArray(tmp, to + (24 + b) * V);
            d1.mul(4f).add(d5.sub(d3.mul(5f))).intoArray(tmp, to + (30 + b) * V);
        }
        for (int a = 0; a < 6; a++) {
            int r = to + a * 6 * V, d = vd + a * 6 * xs;
            FloatVector d0 = FloatVector.fromArray(F, tmp, r), d1 = FloatVector.fromArray(F, tmp, r + V);
            FloatVector d2 = FloatVector.fromArray(F, tmp, r + 2 * V), d3 = FloatVector.fromArray(F, tmp, r + 3 * V);
            FloatVector d4 = FloatVector.fromArray(F, tmp, r + 4 * V), d5 = FloatVector.fromArray(F, tmp, r + 5 * V);
            FloatVector s42 = d4.sub(d2);
            d0.mul(4f).add(d4.sub(d2.mul(5f))).intoArray(v, d);
            d3.add(d4).sub(d1.add(d2).mul(4f)).intoArray(v, d + xs);
            d1.sub(d2).mul(4f).add(d4.sub(d3)).intoArray(v, d + 2 * xs);
            d3.sub(d1).mul(2f).add(s42).intoArray(v, d + 3 * xs);
            d1.sub(d3).mul(2f).add(s42).intoArray(v, d + 4 * xs);
            d1.mul(4f).add(d5.sub(d3.mul(5f))).intoArray(v, d + 5 * xs);
        }
    }

    /** {@link #input4} for F(2x2): 4x4 tiles, B^T's rows d0 - d2; d1 + d2; d2 - d1; d1 - d3. */
    static void input2(float[] pl, int po, int wp, int[] idx, int lo, float[] tmp, int to, float[] v, int vd, int xs) {
        for (int b = 0; b < 4; b++) {
            int at = po + b;
            FloatVector d0 = tap(pl, at, idx, lo), d1 = tap(pl, at + wp, idx, lo);
            FloatVector d2 = tap(pl, at + 2 * wp, idx, lo), d3 = tap(pl, at + 3 * wp, idx, lo);
            d0.sub(d2).intoArray(tmp, to + b * V);
            d1.add(d2).intoArray(tmp, to + (4 + b) * V);
            d2.sub(d1).intoArray(tmp, to + (8 + b) * V);
            d1.sub(d3).intoArray(tmp, to + (12 + b) * V);
        }
        for (int a = 0; a < 4; a++) {
            int r = to + a * 4 * V, d = vd + a * 4 * xs;
            FloatVector d0 = FloatVector.fromArray(F, tmp, r), d1 = FloatVector.fromArray(F, tmp, r + V);
            FloatVector d2 = FloatVector.fromArray(F, tmp, r + 2 * V), d3 = FloatVector.fromArray(F, tmp, r + 3 * V);
            d0.sub(d2).intoArray(v, d);
            d1.add(d2).intoArray(v, d + xs);
            d2.sub(d1).intoArray(v, d + 2 * xs);
            d1.sub(d3).intoArray(v, d + 3 * xs);
        }
    }

    /** Output (a, b) of V tiles: scattered into y (direct: every lane's tile inside the map) or stored to o row ab. */
    private static void put(FloatVector r, boolean direct, float[] y, int at, int[] idx, int lo, float[] o, int oo, int ab) {
        if (direct) r.intoArray(y, at, idx, lo);
        else r.intoArray(o, oo + ab * V);
    }

    /**
     * One output channel, V tiles: M (36 rows xs apart from mk) -> A^T M A + bias, scattered to the
     * tiles' 4x4 outputs (y[yk + a*q + b + idx[lane]]) or, unless direct, stored to o for
     * {@link #copyOut}. A^T's rows, factored with e = m1 + m2, o = m1 - m2, E = m3 + m4, O = m3 - m4:
     * m0 + e + E; 2O + o; 4E + e; (8O + o) + m5.
     */
    static void output4(float[] mm, int mk, int xs, float[] tmp, int to, float bias, boolean direct, float[] y, int yk, int q,
                        int[] idx, int lo, float[] out, int oo) {
        for (int b = 0; b < 6; b++) {
            int r = mk + b * xs;
            FloatVector m0 = FloatVector.fromArray(F, mm, r), m1 = FloatVector.fromArray(F, mm, r + 6 * xs);
            FloatVector m2 = FloatVector.fromArray(F, mm, r + 12 * xs), m3 = FloatVector.fromArray(F, mm, r + 18 * xs);
            FloatVector m4 = FloatVector.fromArray(F, mm, r + 24 * xs), m5 = FloatVector.fromArray(F, mm, r + 30 * xs);
            FloatVector e = m1.add(m2), o = m1.sub(m2), ee = m3.add(m4), oo2 = m3.sub(m4);
            m0.add(e).add(ee).intoArray(tmp, to + b * V);
            oo2.mul(2f).add(o).intoArray(tmp, to + (6 + b) * V);
            ee.mul(4f).add(e).intoArray(tmp, to + (12 + b) * V);
            oo2.mul(8f).add(o).add(m5).intoArray(tmp, to + (18 + b) * V);
        }
        for (int a = 0; a < 4; a++) {
            int r = to + a * 6 * V, at = yk + a * q;
            FloatVector m0 = FloatVector.fromArray(F, tmp, r), m1 = FloatVector.fromArray(F, tmp, r + V);
            FloatVector m2 = FloatVector.fromArray(F, tmp, r + 2 * V), m3 = FloatVector.fromArray(F, tmp, r + 3 * V);
            FloatVector m4 = FloatVector.fromArray(F, tmp, r + 4 * V), m5 = FloatVector.fromArray(F, tmp, r + 5 * V);
            FloatVector e = m1.add(m2), o = m1.sub(m2), ee = m3.add(m4), oo2 = m3.sub(m4);
            put(m0.add(e).add(ee).add(bias), direct, y, at, idx, lo, out, oo, a * 4);
            put(oo2.mul(2f).add(o).add(bias), direct, y, at + 1, idx, lo, out, oo, a * 4 + 1);
            put(ee.mul(4f).add(e).add(bias), direct, y, at + 2, idx, lo, out, oo, a * 4 + 2);
            put(oo2.mul(8f).add(o).add(m5).add(bias), direct, y, at + 3, idx, lo, out, oo, a * 4 + 3);
        }
    }

    /** {@link #output4} for F(2x2): A^T's rows m0 + m1 + m2; m1 - m2 - m3. */
    static void output2(float[] mm, int mk, int xs, float[] tmp, int to, float bias, boolean direct, float[] y, int yk, int q,
                        int[] idx, int lo, float[] out, int oo) {
        for (int b = 0; b < 4; b++) {
            int r = mk + b * xs;
            FloatVector m0 = FloatVector.fromArray(F, mm, r), m1 = FloatVector.fromArray(F, mm, r + 4 * xs);
            FloatVector m2 = FloatVector.fromArray(F, mm, r + 8 * xs), m3 = FloatVector.fromArray(F, mm, r + 12 * xs);
            m0.add(m1).add(m2).intoArray(tmp, to + b * V);
            m1.sub(m2).sub(m3).intoArray(tmp, to + (4 + b) * V);
        }
        for (int a = 0; a < 2; a++) {
            int r = to + a * 4 * V, at = yk + a * q;
            FloatVector m0 = FloatVector.fromArray(F, tmp, r), m1 = FloatVector.fromArray(F, tmp, r + V);
            FloatVector m2 = FloatVector.fromArray(F, tmp, r + 2 * V), m3 = FloatVector.fromArray(F, tmp, r + 3 * V);
            put(m0.add(m1).add(m2).add(bias), direct, y, at, idx, lo, out, oo, a * 2);
            put(m1.sub(m2).sub(m3).add(bias), direct, y, at + 1, idx, lo, out, oo, a * 2 + 1);
        }
    }

    /**
     * M (mPad x gPad, row-major) = U (mPad x C, packed at uo) * V (C x gPad, pre-packed at vo), by
     * whole register tiles; the sum over C runs in KC blocks in order (fixed by C alone).
     */
    static void products(int c, int mPad, int gPad, float[] u, int uo, float[] v, int vo, float[] m, int mo) {
        for (int pc = 0; pc < c; pc += KC) {
            int kc = Math.min(KC, c - pc);
            boolean first = pc == 0;
            for (int jr = 0; jr < gPad; jr += NR) {
                int bo = vo + pc * gPad + jr * kc;
                for (int ir = 0; ir < mPad; ir += MR)
                    GemmKernel.kernel(kc, first, u, uo + pc * mPad + ir * kc, v, bo, m, mo + ir * gPad + jr, gPad);
            }
        }
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }
}
