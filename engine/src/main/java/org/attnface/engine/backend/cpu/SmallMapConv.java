package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.backend.ConvShape;

/**
 * Stride-1 convolution of maps of at most {@link #MAX_PIXELS} output pixels (ResNet-18's last stage
 * at 64x64 input: 512 channels at 2x2), computing only the taps that fall inside the map: with
 * padding 1 each output pixel of a 2x2 map sees 4 of its 9 taps, so im2col + GEMM spends 5/9 of its
 * products on zeros. Here, per output pixel, y (K x N images) = sum over its valid taps of
 * W_tap (K x C) * X_pixel (C x N): the GEMM microkernel ({@link GemmKernel}) accumulates the taps'
 * products into one register tile. X is packed once per call (C x N per input pixel, shared by
 * the threads); the threads split the output channels, each packing its rows of the filter for
 * all taps (MR x C x taps: stays in L2 across the pixels). Exact products in a fixed order (taps,
 * then channels in KC blocks): bit-identical for any thread count. 512 channels at 2x2, batch 64:
 * 1.3-2.6x im2col forward, 1.3-2.0x backward data (ConvTiming medians, bench/RESULTS.md).
 *
 * <p>Backward data is the same computation on dy with the filter flipped and its channels
 * swapped, padding R - 1 - pad.
 */
final class SmallMapConv {
    private SmallMapConv() {}

    static final int MR = Gemm.MR, NR = Gemm.NR, KC = Gemm.KC;
    /** Largest map (output pixels per image) taken: 2x2. At 4x4 Winograd does fewer products. */
    static final int MAX_PIXELS = 4;

    static boolean applies(ConvShape g) {
        return g.stride() == 1 && g.p() * g.q() <= MAX_PIXELS && g.c() >= 16 && g.k() >= 16;
    }

    static boolean appliesBackwardData(ConvShape g) {
        return g.stride() == 1 && g.pad() <= g.r() - 1 && g.pad() <= g.s() - 1 && applies(flipped(g));
    }

    /** The convolution that computes dx from dy: channels swapped, the filter flipped, padding R - 1 - pad. */
    static ConvShape flipped(ConvShape g) {
        return new ConvShape(g.n(), g.k(), g.p(), g.q(), g.c(), g.r(), g.s(), 1, g.r() - 1 - g.pad());
    }

    private static final ThreadLocal<float[]> PACKED_INPUT = ThreadLocal.withInitial(() -> new float[0]);

    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        run(be, g, x, xo, w, wo, false, bias, bo, y, yo);
    }

    static void backwardData(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        run(be, flipped(g), dy, go, w, wo, true, null, 0, dx, dxo);
    }

    /**
     * out = conv(in, filter) + bias for the stride-1 shape g, where filter[k][c][r][s] = w[k][c][r][s],
     * or w[c][k][R-1-r][S-1-s] when flip (the backward-data filter of the swapped shape).
     */
    static void run(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, boolean flip,
                    float[] bias, int bo, float[] y, int yo) {
        int n = g.n(), c = g.c(), k = g.k(), hw = g.h() * g.w(), pq = g.p() * g.q(), taps = g.r() * g.s();
        int nPad = Gemm.paddedColumns(n), mPad = (k + MR - 1) / MR * MR;
        // pix[o*taps + t] = the input pixel tap t of output pixel o reads, -1 in the padding.
        int[] pix = new int[pq * taps];
        for (int op = 0; op < g.p(); op++)
            for (int oq = 0; oq < g.q(); oq++)
                for (int t = 0; t < taps; t++) {
                    int ih = op - g.pad() + t / g.s(), iw = oq - g.pad() + t % g.s();
                    pix[(op * g.q() + oq) * taps + t] = ih >= 0 && ih < g.h() && iw >= 0 && iw < g.w() ? ih * g.w() + iw : -1;
                }
        float[] b = PACKED_INPUT.get();
        if (b.length < hw * c * nPad) {
            b = new float[hw * c * nPad];
            PACKED_INPUT.set(b);
        }
        float[] xp = b;
        // X_pixel (C x N) in the GEMM's pre-packed B layout, one after another; padded columns 0.
        be.team().range(c, 1, (lo, hi, chunk) -> {
            for (int ch = lo; ch < hi; ch++) {
                int sl = Gemm.prepackedSliverStride(c, ch);
                for (int px = 0; px < hw; px++) {
                    int row = px * c * nPad + Gemm.prepackedRowBase(nPad, ch);
                    for (int img = 0; img < nPad; img++)
                        xp[row + img / NR * sl + img % NR] = img < n ? x[xo + (img * c + ch) * hw + px] : 0f;
                }
            }
        });
        be.team().range(mPad / MR, 1, (lo, hi, chunk) -> {
            int aSize = taps * c * MR;
            float[] buf = be.scratch(chunk, aSize + pq * MR * nPad);
            for (int sliver = lo; sliver < hi; sliver++) {
                int ir = sliver * MR;
                packFilter(g, w, wo, flip, ir, buf);
                for (int o = 0; o < pq; o++) {
                    int yb = aSize + o * MR * nPad;
                    boolean any = false;
                    for (int t = 0; t < taps; t++) {
                        int px = pix[o * taps + t];
                        if (px < 0) continue;
                        for (int pb = 0; pb < c; pb += KC) {
                            int kc = Math.min(KC, c - pb);
                            for (int jr = 0; jr < nPad; jr += NR)
                                GemmKernel.kernel(kc, !any, buf, t * c * MR + pb * MR, xp, px * c * nPad + pb * nPad + jr * kc, buf, yb + jr, nPad);
                            any = true;
                        }
                    }
                    if (!any) Arrays.fill(buf, yb, yb + MR * nPad, 0f);
                }
                for (int i = 0; i < MR && ir + i < k; i++) {
                    int kk = ir + i;
                    float bk = bias == null ? 0f : bias[bo + kk];
                    for (int img = 0; img < n; img++) {
                        int dst = yo + (img * k + kk) * pq;
                        for (int o = 0; o < pq; o++) y[dst + o] = buf[aSize + (o * MR + i) * nPad + img] + bk;
                    }
                }
            }
        });
    }

    /**
     * a[(t*C + ch)*MR + i] = filter[ir + i][ch][tap t] (0 past K): per tap, the MR x C sliver in
     * the microkernel's A layout, its KC blocks one after another.
     */
    static void packFilter(ConvShape g, float[] w, int wo, boolean flip, int ir, float[] a) {
        int c = g.c(), k = g.k(), taps = g.r() * g.s();
        for (int i = 0; i < MR; i++) {
            int kk = ir + i;
            for (int ch = 0; ch < c; ch++) {
                int base = ch * MR + i;
                if (kk >= k) {
                    for (int t = 0; t < taps; t++) a[t * c * MR + base] = 0f;
                    continue;
                }
                int f = flip ? wo + (ch * k + kk) * taps + taps - 1 : wo + (kk * c + ch) * taps;
                if (flip) for (int t = 0; t < taps; t++) a[t * c * MR + base] = w[f - t];
                else for (int t = 0; t < taps; t++) a[t * c * MR + base] = w[f + t];
            }
        }
    }
}
