package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix product on one thread, row-major:
 * C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C.
 *
 * <p>GotoBLAS/BLIS structure: for each KC x NC block of op(B), packed into NR-wide slivers,
 * and each MC x KC block of op(A), packed into MR-tall slivers, a register-blocked
 * microkernel ({@link GemmKernel}) computes MR x NR tiles of C with the whole tile in
 * vector registers. The B block stays in L2/L3, one B sliver (KC x NR) in L1, one A sliver
 * streams. Packing pads the edges with zeros, so the kernel always computes full tiles;
 * edge tiles are written through a small staging tile. Packing buffers live per thread and
 * are reused: no garbage in steady state.
 *
 * <p>Summation order over k for C[i][j] does not depend on i, j or the split of m and n, so
 * results are the same whichever way a caller splits C across threads.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Rows of the register tile. */
    static final int MR = GemmKernel.MR;
    /** Columns of the register tile: two vectors. */
    static final int NR = GemmKernel.NR;
    /** Depth of one packed block: one B sliver of KC x NR floats (256 x 32 x 4 B = 32 KiB) fits L1. */
    static final int KC = 256;
    /** Rows of one packed A block: MC x KC floats (144 x 256 x 4 B = 144 KiB) stays in L2. */
    static final int MC = 144;
    /** Columns of one packed B block: KC x NC floats (256 x 2048 x 4 B = 2 MiB) in L2/L3. */
    static final int NC = 2048;

    /** Per-thread packing buffers, kept for the life of the thread. */
    private static final class Workspace {
        final float[] aPack = new float[MC * KC];
        final float[] bPack = new float[KC * NC];
        final float[] tile = new float[MR * NR];
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);

    /** Multiply-adds times two of one call. */
    public static double flops(int m, int n, int k) { return 2.0 * m * n * k; }

    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0f) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        // beta == 0 must overwrite C without reading it (C may hold NaN garbage); other
        // betas other than 1 are applied once up front, then every block accumulates.
        boolean overwrite = beta == 0f;
        if (!overwrite && beta != 1f) scale(m, n, beta, c, cOff, ldc);
        Workspace ws = WORKSPACE.get();
        float[] aPack = ws.aPack, bPack = ws.bPack, tile = ws.tile;
        for (int jc = 0; jc < n; jc += NC) {
            int nc = Math.min(NC, n - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kc = Math.min(KC, k - pc);
                boolean first = overwrite && pc == 0;
                packB(transB, kc, nc, b, bOff, ldb, pc, jc, bPack);
                for (int ic = 0; ic < m; ic += MC) {
                    int mc = Math.min(MC, m - ic);
                    packA(transA, mc, kc, alpha, a, aOff, lda, ic, pc, aPack);
                    macroKernel(mc, nc, kc, first, aPack, bPack, 0, tile, c, cOff + ic * ldc + jc, ldc);
                }
            }
        }
    }

    /** Below this many flops a product runs on the calling thread: waking the team costs more. */
    static final double PARALLEL_MIN_FLOPS = 1 << 20;

    /**
     * {@link #sgemm} split across the team in static chunks of whole register tiles: rows of C
     * when m is the larger side (each thread packs all of op(B), once per block), columns
     * otherwise. The k summation order is the same in every split, so the result does not
     * depend on the thread count.
     */
    public static void parallel(Parallel team, boolean transA, boolean transB, int m, int n, int k, float alpha,
                                float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                float beta, float[] c, int cOff, int ldc) {
        int t = team.threads();
        int mBlocks = (m + MR - 1) / MR, nBlocks = (n + NR - 1) / NR;
        if (t == 1 || flops(m, n, k) < PARALLEL_MIN_FLOPS || (mBlocks < 2 && nBlocks < 2)) {
            sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        } else if (mBlocks >= t && (m >= n || nBlocks < t) || nBlocks < 2) {
            team.range(mBlocks, 1, (lo, hi, ch) -> {
                int r0 = lo * MR, r1 = Math.min(m, hi * MR);
                sgemm(transA, transB, r1 - r0, n, k, alpha, a, aOff + (transA ? r0 : r0 * lda), lda,
                        b, bOff, ldb, beta, c, cOff + r0 * ldc, ldc);
            });
        } else {
            team.range(nBlocks, 1, (lo, hi, ch) -> {
                int c0 = lo * NR, c1 = Math.min(n, hi * NR);
                sgemm(transA, transB, m, c1 - c0, k, alpha, a, aOff, lda,
                        b, bOff + (transB ? c0 * ldb : c0), ldb, beta, c, cOff + c0, ldc);
            });
        }
    }

    /** n rounded up to whole NR-wide slivers: the row length of a pre-packed op(B). */
    static int paddedColumns(int n) { return (n + NR - 1) / NR * NR; }

    /**
     * The pre-packed layout {@link #sgemmPrepackedB} reads, as {@link #packB} writes it: KC-row
     * blocks one after another (the block starting at row pb begins at pb * nPad), inside a
     * block NR-wide slivers of kcb x NR floats. Element (p, j) of op(B) lives at
     * {@code prepackedRowBase(nPad, p) + (j / NR) * prepackedSliverStride(k, p) + j % NR}.
     */
    static int prepackedRowBase(int nPad, int p) {
        int pb = p / KC * KC;
        return pb * nPad + (p - pb) * NR;
    }

    /** Distance between consecutive NR-wide slivers in the KC-row block holding row p of a k-row op(B). */
    static int prepackedSliverStride(int k, int p) {
        int pb = p / KC * KC;
        return Math.min(KC, k - pb) * NR;
    }

    /**
     * {@link #sgemm} with op(B) (k x n) already packed, for example by an im2col that writes the
     * packed layout directly and so saves a pass over the column matrix. B pack size: k * paddedColumns(n);
     * padded columns must hold zeros (or anything finite: their results are discarded).
     */
    public static void sgemmPrepackedB(boolean transA, int m, int n, int k, float alpha,
                                       float[] a, int aOff, int lda, float[] bPacked, int bPackedOff,
                                       float beta, float[] c, int cOff, int ldc) {
        if (m <= 0 || n <= 0) return;
        if (k <= 0 || alpha == 0f) {
            scale(m, n, beta, c, cOff, ldc);
            return;
        }
        boolean overwrite = beta == 0f;
        if (!overwrite && beta != 1f) scale(m, n, beta, c, cOff, ldc);
        Workspace ws = WORKSPACE.get();
        int nPad = paddedColumns(n);
        for (int pc = 0; pc < k; pc += KC) {
            int kc = Math.min(KC, k - pc);
            boolean first = overwrite && pc == 0;
            for (int ic = 0; ic < m; ic += MC) {
                int mc = Math.min(MC, m - ic);
                packA(transA, mc, kc, alpha, a, aOff, lda, ic, pc, ws.aPack);
                macroKernel(mc, n, kc, first, ws.aPack, bPacked, bPackedOff + pc * nPad, ws.tile, c, cOff + ic * ldc, ldc);
            }
        }
    }

    /** C = beta * C (beta == 0 writes zeros, beta == 1 leaves C alone). */
    private static void scale(int m, int n, float beta, float[] c, int cOff, int ldc) {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * ldc;
            if (beta == 0f) Arrays.fill(c, ci, ci + n, 0f);
            else for (int j = 0; j < n; j++) c[ci + j] *= beta;
        }
    }

    private static void macroKernel(int mc, int nc, int kc, boolean overwrite,
                                    float[] aPack, float[] bPack, int bPackOff, float[] tile, float[] c, int cOff, int ldc) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int bo = bPackOff + jr * kc;
            for (int ir = 0; ir < mc; ir += MR) {
                int mr = Math.min(MR, mc - ir);
                int ao = ir * kc;
                int co = cOff + ir * ldc + jr;
                if (mr == MR && nr == NR) {
                    GemmKernel.kernel(kc, overwrite, aPack, ao, bPack, bo, c, co, ldc);
                } else {
                    // Edge tile: compute the full padded tile into the staging tile, copy the valid part.
                    GemmKernel.kernel(kc, true, aPack, ao, bPack, bo, tile, 0, NR);
                    for (int i = 0; i < mr; i++) {
                        int ci = co + i * ldc, ti = i * NR;
                        if (overwrite) System.arraycopy(tile, ti, c, ci, nr);
                        else for (int j = 0; j < nr; j++) c[ci + j] += tile[ti + j];
                    }
                }
            }
        }
    }

    /**
     * Packs alpha * op(A)[ic..ic+mc, pc..pc+kc] into MR-tall slivers: sliver s holds
     * pack[s*MR*kc + p*MR + i] = alpha * op(A)[ic + s*MR + i][pc + p], rows past mc zero.
     * (alpha is applied here, once per element of A, rather than in the microkernel.)
     */
    static void packA(boolean transA, int mc, int kc, float alpha, float[] a, int aOff, int lda, int ic, int pc, float[] pack) {
        for (int ir = 0; ir < mc; ir += MR) {
            int mr = Math.min(MR, mc - ir);
            int dst = ir * kc;
            if (transA) {
                // op(A)[i][p] = a[p*lda + i]: MR consecutive floats per p.
                int src = aOff + pc * lda + ic + ir;
                if (mr == MR && alpha == 1f) {
                    for (int p = 0; p < kc; p++, src += lda, dst += MR)
                        System.arraycopy(a, src, pack, dst, MR);
                } else {
                    for (int p = 0; p < kc; p++, src += lda, dst += MR) {
                        for (int i = 0; i < mr; i++) pack[dst + i] = alpha * a[src + i];
                        for (int i = mr; i < MR; i++) pack[dst + i] = 0f;
                    }
                }
            } else {
                // op(A)[i][p] = a[i*lda + p]: read each row contiguously, write with stride MR.
                for (int i = 0; i < mr; i++) {
                    int src = aOff + (ic + ir + i) * lda + pc;
                    if (alpha == 1f) for (int p = 0; p < kc; p++) pack[dst + p * MR + i] = a[src + p];
                    else for (int p = 0; p < kc; p++) pack[dst + p * MR + i] = alpha * a[src + p];
                }
                for (int i = mr; i < MR; i++)
                    for (int p = 0; p < kc; p++) pack[dst + p * MR + i] = 0f;
            }
        }
    }

    /**
     * Packs op(B)[pc..pc+kc, jc..jc+nc] into NR-wide slivers: sliver s holds
     * pack[s*NR*kc + p*NR + j] = op(B)[pc + p][jc + s*NR + j], columns past nc zero.
     */
    static void packB(boolean transB, int kc, int nc, float[] b, int bOff, int ldb, int pc, int jc, float[] pack) {
        for (int jr = 0; jr < nc; jr += NR) {
            int nr = Math.min(NR, nc - jr);
            int dst = jr * kc;
            if (!transB) {
                // op(B)[p][j] = b[p*ldb + j]: NR consecutive floats per p.
                int src = bOff + pc * ldb + jc + jr;
                if (nr == NR) {
                    for (int p = 0; p < kc; p++, src += ldb, dst += NR)
                        System.arraycopy(b, src, pack, dst, NR);
                } else {
                    for (int p = 0; p < kc; p++, src += ldb, dst += NR) {
                        System.arraycopy(b, src, pack, dst, nr);
                        Arrays.fill(pack, dst + nr, dst + NR, 0f);
                    }
                }
            } else {
                // op(B)[p][j] = b[j*ldb + p]: read each stored row contiguously, write with stride NR.
                for (int j = 0; j < nr; j++) {
                    int src = bOff + (jc + jr + j) * ldb + pc;
                    for (int p = 0; p < kc; p++) pack[dst + p * NR + j] = b[src + p];
                }
                for (int j = nr; j < NR; j++)
                    for (int p = 0; p < kc; p++) pack[dst + p * NR + j] = 0f;
            }
        }
    }
}
