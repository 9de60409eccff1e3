package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import org.attnface.engine.backend.ConvShape;

import jdk.incubator.vector.FloatVector;

/**
 * Convolution as im2col + the packed GEMM ({@link Gemm}). The forward pass writes its column
 * matrix straight in the GEMM's packed layout ({@link #im2colPacked}, one pass instead of
 * im2col + pack: measured 2-20% faster per layer); the backward passes use the plain column
 * matrix (a transposed packed im2col for the filter gradient measured slower than im2col +
 * the GEMM's blocked transposing pack, whose working set stays in cache).
 *
 * <p>The batch is split across the thread team in static chunks. Inside a chunk, images are
 * taken in groups whose column matrices sit side by side (C*R*S x G*P*Q, G images), so that
 * small late layers (ResNet-18 at 64x64 input ends at 2x2 = 4 output pixels per image) still
 * give the GEMM a wide enough N: at least {@link #TARGET_COLUMNS} columns where the chunk has
 * enough images. Large layers (P*Q >= TARGET_COLUMNS) use one image per group and write the
 * GEMM result straight into the output. With fewer images than threads (batch 1 at predict or
 * explain time) the images run one by one with the GEMM itself split across the team.
 *
 * <p>Unpadded 3x3 convolutions with few channels (the Attn-CNN's) go to {@link DirectConv} instead,
 * stride-1 3x3 layers with enough channels and tiles to {@link Winograd} (forward and backward
 * data), stride-1 layers on maps of at most 2x2 pixels to {@link SmallMapConv}, and forward passes with
 * at most 16 output pixels in all (one face at a time) to {@link NarrowConv}.
 *
 * <p>Determinism: the backward filter pass keeps one partial sum per chunk and adds them in
 * chunk order, so results are bit-identical for a given thread count.
 */
final class Conv {
    private Conv() {}

    /** Minimum GEMM N (columns) a group of images should give: 8 register tiles of 32 columns. */
    static final int TARGET_COLUMNS = 256;

    /**
     * Up to this many output pixels per image (ResNet-18's 4x4 and 2x2 stages at 64x64 input)
     * im2col and col2im go through a position map: per-row copies of 2-4 floats cost more in
     * call overhead than the copy (measured: 4x4 and 2x2 faster by 1.3x and 1.8x, 8x8 slower).
     */
    static final int MAP_MAX_PQ = 16;

    private static final ThreadLocal<int[]> MAP = ThreadLocal.withInitial(() -> new int[0]);

    /**
     * map[(kr*S + ks)*P*Q + op*Q + oq] = ih*W + iw, the input pixel that kernel tap (kr, ks)
     * reads for output pixel (op, oq), or -1 in the padding. Kept per thread, rebuilt per image
     * (R*S*P*Q ints, P*Q <= MAP_MAX_PQ).
     */
    static int[] positionMap(ConvShape g) {
        int p = g.p(), q = g.q(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad();
        int size = r * s * p * q;
        int[] map = MAP.get();
        if (map.length < size) {
            map = new int[size];
            MAP.set(map);
        }
        int at = 0;
        for (int kr = 0; kr < r; kr++)
            for (int ks = 0; ks < s; ks++)
                for (int op = 0; op < p; op++)
                    for (int oq = 0; oq < q; oq++) {
                        int ih = op * st - pad + kr, iw = oq * st - pad + ks;
                        map[at++] = ih >= 0 && ih < g.h() && iw >= 0 && iw < g.w() ? ih * g.w() + iw : -1;
                    }
        return map;
    }

    /** Images per group for a chunk of {@code images} images with pq output pixels each. */
    static int groupSize(int pq, int images) {
        return Math.max(1, Math.min(images, (TARGET_COLUMNS + pq - 1) / pq));
    }

    /**
     * col[row*ld + colOff + p*Q + q] = x[c][p*stride - pad + r][q*stride - pad + s] for
     * row = (c*R + r)*S + s, 0 outside the image.
     */
    static void im2col(ConvShape g, float[] x, int xo, float[] col, int colOff, int ld) {
        int h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad(), p = g.p(), q = g.q();
        int pq = p * q;
        if (pq <= MAP_MAX_PQ) {
            int[] map = positionMap(g);
            int taps = r * s;
            for (int c = 0; c < g.c(); c++) {
                int xc = xo + c * h * w;
                for (int t = 0; t < taps; t++) {
                    int row = (c * taps + t) * ld + colOff, mo = t * pq;
                    for (int pos = 0; pos < pq; pos++) {
                        int i = map[mo + pos];
                        col[row + pos] = i >= 0 ? x[xc + i] : 0f;
                    }
                }
            }
            return;
        }
        boolean flat = st == 1 && q == w;
        float[] de = st == 2 ? deinterleave(g, x, xo) : null; // as in im2colPacked
        int half = (w + 1) / 2;
        for (int c = 0; c < g.c(); c++) {
            int xc = xo + c * h * w;
            for (int kr = 0; kr < r; kr++) {
                for (int ks = 0; ks < s; ks++) {
                    int row = ((c * r + kr) * s + ks) * ld + colOff;
                    // Valid output columns: 0 <= oq*st - pad + ks < w.
                    int lo = Math.min(q, ceilDiv(Math.max(0, pad - ks), st));
                    int hi = Math.max(lo, Math.min(q, ceilDiv(w + pad - ks, st)));
                    if (de != null) {
                        int par = (ks - pad) & 1, shift = (ks - pad - par) / 2;
                        for (int op = 0; op < p; op++) {
                            int ih = op * 2 - pad + kr, dst = row + op * q;
                            if (ih < 0 || ih >= h) {
                                Arrays.fill(col, dst, dst + q, 0f);
                                continue;
                            }
                            Arrays.fill(col, dst, dst + lo, 0f);
                            System.arraycopy(de, ((c * h + ih) * 2 + par) * half + lo + shift, col, dst + lo, hi - lo);
                            Arrays.fill(col, dst + hi, dst + q, 0f);
                        }
                        continue;
                    }
                    if (flat) {
                        im2colFlat(x, xc, h, w, col, row, p, q, pad, kr, ks, lo, hi);
                        continue;
                    }
                    for (int op = 0; op < p; op++) {
                        int ih = op * st - pad + kr;
                        int dst = row + op * q;
                        if (ih < 0 || ih >= h) {
                            Arrays.fill(col, dst, dst + q, 0f);
                            continue;
                        }
                        int xrow = xc + ih * w - pad + ks;
                        if (lo > 0) Arrays.fill(col, dst, dst + lo, 0f);
                        if (st == 1) {
                            System.arraycopy(x, xrow + lo, col, dst + lo, hi - lo);
                        } else {
                            for (int oq = lo; oq < hi; oq++) col[dst + oq] = x[xrow + oq * st];
                        }
                        if (hi < q) Arrays.fill(col, dst + hi, dst + q, 0f);
                    }
                }
            }
        }
    }

    /**
     * {@link #im2col} written straight into the pre-packed GEMM layout of a C*R*S x nPad column
     * matrix (see {@link Gemm#prepackedRowBase}), this image's columns starting at colOff.
     * Saves the GEMM's own pass packing the column matrix.
     */
    static void im2colPacked(ConvShape g, float[] x, int xo, float[] bp, int colOff, int nPad) {
        int h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad(), p = g.p(), q = g.q();
        int pq = p * q, taps = r * s, crs = g.c() * taps;
        int[] map = pq <= MAP_MAX_PQ ? positionMap(g) : null;
        boolean flat = st == 1 && q == w;
        // Stride 2: each input row split into its even and odd columns first, so that every tap's
        // run of output columns is a contiguous copy instead of a gather (the stem's 147 rows).
        float[] de = st == 2 && map == null ? deinterleave(g, x, xo) : null;
        int half = (w + 1) / 2;
        for (int c = 0; c < g.c(); c++) {
            int xc = xo + c * h * w;
            for (int t = 0; t < taps; t++) {
                int kr = t / s, ks = t % s, row = c * taps + t;
                int base = Gemm.prepackedRowBase(nPad, row), sl = Gemm.prepackedSliverStride(crs, row);
                if (de != null) {
                    int lo = Math.min(q, ceilDiv(Math.max(0, pad - ks), 2));
                    int hi = Math.max(lo, Math.min(q, ceilDiv(w + pad - ks, 2)));
                    int par = (ks - pad) & 1, shift = (ks - pad - par) / 2;
                    for (int op = 0; op < p; op++) {
                        int ih = op * 2 - pad + kr, j = colOff + op * q;
                        if (ih < 0 || ih >= h) {
                            zeros(bp, base, sl, j, q);
                            continue;
                        }
                        zeros(bp, base, sl, j, lo);
                        run(bp, base, sl, j + lo, hi - lo, de, ((c * h + ih) * 2 + par) * half + lo + shift, 1);
                        zeros(bp, base, sl, j + hi, q - hi);
                    }
                    continue;
                }
                if (map != null) {
                    int mo = t * pq, lane = colOff % Gemm.NR;
                    if (lane + pq <= Gemm.NR) {
                        // The image's pq columns sit inside one sliver (pq = 4 or 16 with groups of images).
                        int d = base + (colOff / Gemm.NR) * sl + lane;
                        for (int pos = 0; pos < pq; pos++) {
                            int i = map[mo + pos];
                            bp[d + pos] = i >= 0 ? x[xc + i] : 0f;
                        }
                    } else {
                        for (int pos = 0; pos < pq; pos++) {
                            int i = map[mo + pos];
                            put(bp, base, sl, colOff + pos, i >= 0 ? x[xc + i] : 0f);
                        }
                    }
                    continue;
                }
                int lo = Math.min(q, ceilDiv(Math.max(0, pad - ks), st));
                int hi = Math.max(lo, Math.min(q, ceilDiv(w + pad - ks, st)));
                if (flat) {
                    // As im2colFlat: one run over the valid output rows, then zero the padded columns.
                    int opLo = Math.min(p, Math.max(0, pad - kr)), opHi = Math.max(opLo, Math.min(p, h + pad - kr));
                    zeros(bp, base, sl, colOff, opLo * q);
                    zeros(bp, base, sl, colOff + opHi * q, (p - opHi) * q);
                    if (opHi == opLo) continue;
                    int src = xc + (opLo - pad + kr) * w - pad + ks;
                    int len = (opHi - opLo) * q - lo - (q - hi);
                    if (len > 0) run(bp, base, sl, colOff + opLo * q + lo, len, x, src + lo, 1);
                    for (int op = opLo; op < opHi; op++) {
                        int j = colOff + op * q;
                        for (int oq = 0; oq < lo; oq++) put(bp, base, sl, j + oq, 0f);
                        for (int oq = hi; oq < q; oq++) put(bp, base, sl, j + oq, 0f);
                    }
                    continue;
                }
                for (int op = 0; op < p; op++) {
                    int ih = op * st - pad + kr, j = colOff + op * q;
                    if (ih < 0 || ih >= h) {
                        zeros(bp, base, sl, j, q);
                        continue;
                    }
                    int xrow = xc + ih * w - pad + ks;
                    zeros(bp, base, sl, j, lo);
                    run(bp, base, sl, j + lo, hi - lo, x, xrow + lo * st, st);
                    zeros(bp, base, sl, j + hi, q - hi);
                }
            }
        }
    }

    private static final ThreadLocal<float[]> DEINTERLEAVED = ThreadLocal.withInitial(() -> new float[0]);

    /** de[((c*h + ih)*2 + parity)*half + i] = x[c][ih][2i + parity] (half = ceil(w/2)), for one image; per thread. */
    static float[] deinterleave(ConvShape g, float[] x, int xo) {
        int h = g.h(), w = g.w(), half = (w + 1) / 2, rows = g.c() * h;
        float[] de = DEINTERLEAVED.get();
        if (de.length < rows * 2 * half) {
            de = new float[rows * 2 * half];
            DEINTERLEAVED.set(de);
        }
        for (int rw = 0; rw < rows; rw++) {
            int src = xo + rw * w, even = rw * 2 * half, odd = even + half;
            for (int i = 0; 2 * i < w; i++) de[even + i] = x[src + 2 * i];
            for (int i = 0; 2 * i + 1 < w; i++) de[odd + i] = x[src + 2 * i + 1];
        }
        return de;
    }

    /** Pre-packed element (row at base, column j) = v; sl is the sliver stride. */
    private static void put(float[] bp, int base, int sl, int j, float v) {
        bp[base + (j / Gemm.NR) * sl + j % Gemm.NR] = v;
    }

    /** Pre-packed columns [j, j + len) of one row = 0. */
    static void zeros(float[] bp, int base, int sl, int j, int len) {
        while (len > 0) {
            int lane = j % Gemm.NR, n = Math.min(len, Gemm.NR - lane), d = base + (j / Gemm.NR) * sl + lane;
            Arrays.fill(bp, d, d + n, 0f);
            j += n;
            len -= n;
        }
    }

    /** Pre-packed columns [j, j + len) of one row = x[src], x[src + st], ...; split at sliver edges. */
    private static void run(float[] bp, int base, int sl, int j, int len, float[] x, int src, int st) {
        while (len > 0) {
            int lane = j % Gemm.NR, n = Math.min(len, Gemm.NR - lane), d = base + (j / Gemm.NR) * sl + lane;
            if (st == 1) {
                System.arraycopy(x, src, bp, d, n);
            } else {
                for (int i = 0; i < n; i++) bp[d + i] = x[src + i * st];
            }
            j += n;
            src += n * st;
            len -= n;
        }
    }

    /** dx (one image) += scatter of col[row*ld + colOff + ...] back to image positions. */
    static void col2im(ConvShape g, float[] col, int colOff, int ld, float[] dx, int dxo) {
        int h = g.h(), w = g.w(), r = g.r(), s = g.s(), st = g.stride(), pad = g.pad(), p = g.p(), q = g.q();
        int pq = p * q;
        if (pq <= MAP_MAX_PQ) {
            int[] map = positionMap(g);
            int taps = r * s;
            for (int c = 0; c < g.c(); c++) {
                int xc = dxo + c * h * w;
                for (int t = 0; t < taps; t++) {
                    int row = (c * taps + t) * ld + colOff, mo = t * pq;
                    for (int pos = 0; pos < pq; pos++) {
                        int i = map[mo + pos];
                        if (i >= 0) dx[xc + i] += col[row + pos];
                    }
                }
            }
            return;
        }
        boolean flat = st == 1 && q == w;
        for (int c = 0; c < g.c(); c++) {
            int xc = dxo + c * h * w;
            for (int kr = 0; kr < r; kr++) {
                for (int ks = 0; ks < s; ks++) {
                    int row = ((c * r + kr) * s + ks) * ld + colOff;
                    int lo = Math.min(q, ceilDiv(Math.max(0, pad - ks), st));
                    int hi = Math.max(lo, Math.min(q, ceilDiv(w + pad - ks, st)));
                    if (flat) {
                        col2imFlat(col, row, p, q, dx, xc, h, w, pad, kr, ks, lo, hi);
                        continue;
                    }
                    for (int op = 0; op < p; op++) {
                        int ih = op * st - pad + kr;
                        if (ih < 0 || ih >= h) continue;
                        int xrow = xc + ih * w - pad + ks, src = row + op * q;
                        if (st == 1) {
                            addTo(dx, xrow + lo, col, src + lo, hi - lo);
                        } else {
                            for (int oq = lo; oq < hi; oq++) dx[xrow + oq * st] += col[src + oq];
                        }
                    }
                }
            }
        }
    }

    /**
     * Stride 1 with q == w ("same" padding): for one (c, kr, ks) row the valid output rows
     * [opLo, opHi) read one contiguous run of x with the same row length as col, so the row
     * is one copy plus zeros at the padded columns (oq < lo or oq >= hi), instead of one
     * short copy per output row (2-16 floats at ResNet's late layers).
     */
    private static void im2colFlat(float[] x, int xc, int h, int w, float[] col, int row, int p, int q,
                                   int pad, int kr, int ks, int lo, int hi) {
        int opLo = Math.min(p, Math.max(0, pad - kr)), opHi = Math.max(opLo, Math.min(p, h + pad - kr));
        Arrays.fill(col, row, row + opLo * q, 0f);
        Arrays.fill(col, row + opHi * q, row + p * q, 0f);
        if (opHi == opLo) return;
        // Flat run: col[row + op*q + oq] = x[xc + (op - pad + kr)*w + oq - pad + ks]; copy from the
        // first valid column of the first row to the last valid column of the last row.
        int dst = row + opLo * q, src = xc + (opLo - pad + kr) * w - pad + ks;
        int len = (opHi - opLo) * q - lo - (q - hi);
        if (len > 0) System.arraycopy(x, src + lo, col, dst + lo, len);
        // The copy wrapped the neighbouring rows' edge pixels into the padded columns: zero them.
        for (int op = opLo; op < opHi; op++) {
            int d = row + op * q;
            for (int oq = 0; oq < lo; oq++) col[d + oq] = 0f;
            for (int oq = hi; oq < q; oq++) col[d + oq] = 0f;
        }
    }

    /** The scatter-add twin of {@link #im2colFlat}; zeroes the padded columns of col (scratch) first. */
    private static void col2imFlat(float[] col, int row, int p, int q, float[] dx, int xc, int h, int w,
                                   int pad, int kr, int ks, int lo, int hi) {
        int opLo = Math.min(p, Math.max(0, pad - kr)), opHi = Math.max(opLo, Math.min(p, h + pad - kr));
        if (opHi == opLo) return;
        // Padded columns land on the neighbouring rows' edge pixels in the flat run: adding 0 there is exact.
        for (int op = opLo; op < opHi; op++) {
            int d = row + op * q;
            for (int oq = 0; oq < lo; oq++) col[d + oq] = 0f;
            for (int oq = hi; oq < q; oq++) col[d + oq] = 0f;
        }
        int src = row + opLo * q + lo, dst = xc + (opLo - pad + kr) * w - pad + ks + lo;
        int len = (opHi - opLo) * q - lo - (q - hi);
        if (len > 0) addTo(dx, dst, col, src, len);
    }

    /** dst[d + i] += src[s + i] for i in [0, len). */
    private static void addTo(float[] dst, int d, float[] src, int s, int len) {
        int i = 0;
        for (int upper = Gemm.F.loopBound(len); i < upper; i += Gemm.F.length())
            FloatVector.fromArray(Gemm.F, dst, d + i).add(FloatVector.fromArray(Gemm.F, src, s + i)).intoArray(dst, d + i);
        for (; i < len; i++) dst[d + i] += src[s + i];
    }

    private static int ceilDiv(int a, int b) { return Math.floorDiv(a + b - 1, b); }

    static void forward(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        if (DirectConv.applies(g, be.threads())) {
            DirectConv.forward(be, g, x, xo, w, wo, bias, bo, y, yo);
            return;
        }
        if (NarrowConv.applies(g)) {
            NarrowConv.forward(be, g, x, xo, w, wo, bias, bo, y, yo);
            return;
        }
        if (Winograd.applies(g)) {
            Winograd.forward(be, g, x, xo, w, wo, bias, bo, y, yo);
            return;
        }
        if (SmallMapConv.applies(g)) {
            SmallMapConv.forward(be, g, x, xo, w, wo, bias, bo, y, yo);
            return;
        }
        forwardGemm(be, g, x, xo, w, wo, bias, bo, y, yo);
    }

    /** The forward pass as im2col + GEMM, whatever the shape. */
    static void forwardGemm(CpuBackend be, ConvShape g, float[] x, int xo, float[] w, int wo, float[] bias, int bo, float[] y, int yo) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        if (g.n() < be.threads()) {
            float[] col = be.scratch(0, crs * pq);
            for (int i = 0; i < g.n(); i++) {
                im2col(g, x, xo + i * chw, col, 0, pq);
                Gemm.parallel(be.team(), false, false, k, pq, crs, 1f, w, wo, crs, col, 0, pq, 0f, y, yo + i * k * pq, pq);
                if (bias != null) addBias(k, pq, bias, bo, y, yo + i * k * pq);
            }
            return;
        }
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            int group = groupSize(pq, hi - lo), cols = group * pq;
            // Column matrix in the GEMM's packed layout (im2colPacked), then room for the [k][cols] result.
            int tmp = crs * Gemm.paddedColumns(cols);
            float[] buf = be.scratch(chunk, tmp + k * cols);
            for (int i0 = lo; i0 < hi; i0 += group) {
                int gi = Math.min(group, hi - i0), gc = gi * pq, nPad = Gemm.paddedColumns(gc);
                for (int j = 0; j < gi; j++) im2colPacked(g, x, xo + (i0 + j) * chw, buf, j * pq, nPad);
                if (nPad > gc)
                    for (int row = 0; row < crs; row++)
                        zeros(buf, Gemm.prepackedRowBase(nPad, row), Gemm.prepackedSliverStride(crs, row), gc, nPad - gc);
                if (gi == 1) {
                    Gemm.sgemmPrepackedB(false, k, pq, crs, 1f, w, wo, crs, buf, 0, 0f, y, yo + i0 * k * pq, pq);
                    if (bias != null) addBias(k, pq, bias, bo, y, yo + i0 * k * pq);
                    continue;
                }
                Gemm.sgemmPrepackedB(false, k, gc, crs, 1f, w, wo, crs, buf, 0, 0f, buf, tmp, gc);
                // Scatter the [k][gi*pq] result to gi images of [k][pq].
                for (int j = 0; j < gi; j++) {
                    int yi = yo + (i0 + j) * k * pq;
                    for (int ch = 0; ch < k; ch++)
                        System.arraycopy(buf, tmp + ch * gc + j * pq, y, yi + ch * pq, pq);
                    if (bias != null) addBias(k, pq, bias, bo, y, yi);
                }
            }
        });
    }

    private static void addBias(int k, int pq, float[] bias, int bo, float[] y, int yo) {
        for (int ch = 0; ch < k; ch++) {
            float b = bias[bo + ch];
            int base = yo + ch * pq;
            for (int j = 0; j < pq; j++) y[base + j] += b;
        }
    }

    /** Copies gi images of dy ([k][pq] each, from image i0) side by side into buf[tmp + ch*gi*pq + j*pq]. */
    private static void gather(int k, int pq, int gi, float[] dy, int go, int i0, float[] buf, int tmp) {
        int gc = gi * pq;
        for (int j = 0; j < gi; j++) {
            int src = go + (i0 + j) * k * pq;
            for (int ch = 0; ch < k; ch++) System.arraycopy(dy, src + ch * pq, buf, tmp + ch * gc + j * pq, pq);
        }
    }

    static void backwardData(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        if (DirectConv.applies(g, be.threads())) {
            DirectConv.backwardData(be, g, dy, go, w, wo, dx, dxo);
            return;
        }
        if (Winograd.appliesBackwardData(g)) {
            Winograd.backwardData(be, g, dy, go, w, wo, dx, dxo);
            return;
        }
        if (SmallMapConv.appliesBackwardData(g)) {
            SmallMapConv.backwardData(be, g, dy, go, w, wo, dx, dxo);
            return;
        }
        backwardDataGemm(be, g, dy, go, w, wo, dx, dxo);
    }

    /** The backward-data pass as GEMM + col2im, whatever the shape. */
    static void backwardDataGemm(CpuBackend be, ConvShape g, float[] dy, int go, float[] w, int wo, float[] dx, int dxo) {
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        if (g.n() < be.threads()) {
            float[] col = be.scratch(0, crs * pq);
            for (int i = 0; i < g.n(); i++) {
                Gemm.parallel(be.team(), true, false, crs, pq, k, 1f, w, wo, crs, dy, go + i * k * pq, pq, 0f, col, 0, pq);
                Arrays.fill(dx, dxo + i * chw, dxo + (i + 1) * chw, 0f);
                col2im(g, col, 0, pq, dx, dxo + i * chw);
            }
            return;
        }
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            int group = groupSize(pq, hi - lo), cols = group * pq;
            float[] buf = be.scratch(chunk, (crs + k) * cols);
            int tmp = crs * cols;
            for (int i0 = lo; i0 < hi; i0 += group) {
                int gi = Math.min(group, hi - i0), gc = gi * pq;
                if (gi == 1) {
                    Gemm.sgemm(true, false, crs, pq, k, 1f, w, wo, crs, dy, go + i0 * k * pq, pq, 0f, buf, 0, pq);
                } else {
                    gather(k, pq, gi, dy, go, i0, buf, tmp);
                    Gemm.sgemm(true, false, crs, gc, k, 1f, w, wo, crs, buf, tmp, gc, 0f, buf, 0, gc);
                }
                for (int j = 0; j < gi; j++) {
                    int xi = dxo + (i0 + j) * chw;
                    Arrays.fill(dx, xi, xi + chw, 0f);
                    col2im(g, buf, j * pq, gc, dx, xi);
                }
            }
        });
    }

    static void backwardFilter(CpuBackend be, ConvShape g, float[] x, int xo, float[] dy, int go, float[] dw, int dwo) {
        if (DirectConv.applies(g, be.threads())) {
            DirectConv.backwardFilter(be, g, x, xo, dy, go, dw, dwo);
            return;
        }
        int crs = g.c() * g.r() * g.s(), pq = g.p() * g.q(), k = g.k(), chw = g.c() * g.h() * g.w();
        int kcrs = k * crs;
        if (g.n() < be.threads()) {
            float[] col = be.scratch(0, crs * pq);
            for (int i = 0; i < g.n(); i++) {
                im2col(g, x, xo + i * chw, col, 0, pq);
                Gemm.parallel(be.team(), false, true, k, crs, pq, 1f, dy, go + i * k * pq, pq, col, 0, pq,
                        i == 0 ? 0f : 1f, dw, dwo, crs);
            }
            return;
        }
        int used = Math.min(be.threads(), g.n());
        boolean colIsA = pq >= COL_AS_A_MIN_PQ;
        be.team().range(g.n(), 1, (lo, hi, chunk) -> {
            int group = groupSize(pq, hi - lo), cols = group * pq;
            float[] buf = be.scratch(chunk, (crs + k) * cols);
            int tmp = crs * cols;
            float[] acc = be.partial(chunk, kcrs);
            for (int i0 = lo; i0 < hi; i0 += group) {
                int gi = Math.min(group, hi - i0), gc = gi * pq;
                for (int j = 0; j < gi; j++) im2col(g, x, xo + (i0 + j) * chw, buf, j * pq, gc);
                float beta = i0 == lo ? 0f : 1f;
                float[] d = dy;
                int dOff = go + i0 * k * pq;
                if (gi > 1) {
                    gather(k, pq, gi, dy, go, i0, buf, tmp);
                    d = buf;
                    dOff = tmp;
                }
                if (colIsA) Gemm.sgemm(false, true, crs, k, gc, 1f, buf, 0, gc, d, dOff, gc, beta, acc, 0, k);
                else Gemm.sgemm(false, true, k, crs, gc, 1f, d, dOff, gc, buf, 0, gc, beta, acc, 0, crs);
            }
        });
        if (colIsA) sumPartialsTransposed(be, used, crs, k, dw, dwo);
        else sumPartials(be, used, kcrs, dw, dwo);
    }

    /**
     * From this many output pixels per image on, the filter gradient is computed transposed,
     * dw^T (CRS x K) = col * dy^T, so that the GEMM's transposing B-pack gathers the small dy
     * (K rows) instead of the column matrix (CRS = 9C or 147 rows). Same products, same order:
     * bit-identical dw. Measured in the seventh recipe's training step (2 Zen 3 vCPUs,
     * 2026-12-02): 32 -> 32 channels at 32x32 41 -> 51 GFLOP/s, 64 at 16x16 54 -> 68, 128 at 8x8
     * 49 -> 59, the 7x7/2 stem 26 -> 30. At 4x4 it was even, at 2x2 (ResNet-18 at 64x64 input)
     * 2x slower, so small late layers keep dw = dy * col^T.
     */
    static final int COL_AS_A_MIN_PQ = 64;

    /** dw[kk][j] = the first {@code used} chunks' partials[j][kk] (each rows x cols), added in chunk order. */
    static void sumPartialsTransposed(CpuBackend be, int used, int rows, int cols, float[] dw, int dwo) {
        for (int c = 0; c < used; c++) {
            float[] acc = be.partial(c, rows * cols);
            for (int j = 0; j < rows; j++)
                for (int kk = 0; kk < cols; kk++) {
                    int at = dwo + kk * rows + j;
                    dw[at] = c == 0 ? acc[j * cols + kk] : dw[at] + acc[j * cols + kk];
                }
        }
    }

    /** dw = the first {@code used} chunks' partial sums (size each), added in chunk order: the same order every run. */
    static void sumPartials(CpuBackend be, int used, int size, float[] dw, int dwo) {
        System.arraycopy(be.partial(0, size), 0, dw, dwo, size);
        for (int c = 1; c < used; c++) {
            float[] acc = be.partial(c, size);
            for (int j = 0; j < size; j++) dw[dwo + j] += acc[j];
        }
    }
}
