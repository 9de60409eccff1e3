package org.attnface.engine.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM register tile: MR x NR of C held in 2*MR vector accumulators (12 for MR = 6),
 * plus two B vectors and one broadcast A value: 15 registers, within AVX2's 16 and AVX-512's 32.
 * Accumulators stay in locals (never arrays or fields, which would box them) and the method
 * stays small so C2 compiles it as one hot loop; see PERFORMANCE.md "Java Vector API".
 * Written out by hand (not generated at run time): one line per accumulator.
 */
final class GemmKernel {
    private GemmKernel() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int V = F.length();
    static final int MR = 6;
    static final int NR = 2 * V;

    /**
     * c[co + i*ldc + j] (+)= sum_p a[ao + p*MR + i] * b[bo + p*NR + j] for the full MR x NR
     * tile; overwrite stores instead of accumulating (C is not read then). No alpha here: the
     * caller scales A while packing it, because a broadcast alpha is one register more than
     * AVX2 has, and C2 hoists it above the loop: accumulators spill and the kernel runs at half
     * speed (41 vs 86-94 GFLOP/s per Zen 3 core, kc = 256, operands in L1).
     */
    static void kernel(int kc, boolean overwrite, float[] a, int ao, float[] b, int bo,
                       float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        // Pointer-style induction (bp, ap advance; the loop ends on bp), not bo + p * NR: with
        // the p-indexed form C2 stays at 41-43 GFLOP/s per Zen 3 core even without alpha.
        for (int bp = bo, ap = ao, bEnd = bo + kc * NR; bp < bEnd; bp += NR, ap += MR) {
            FloatVector b0 = FloatVector.fromArray(F, b, bp);
            FloatVector b1 = FloatVector.fromArray(F, b, bp + V);
            FloatVector ai;
            ai = FloatVector.broadcast(F, a[ap + 0]);
            c00 = ai.fma(b0, c00);
            c01 = ai.fma(b1, c01);
            ai = FloatVector.broadcast(F, a[ap + 1]);
            c10 = ai.fma(b0, c10);
            c11 = ai.fma(b1, c11);
            ai = FloatVector.broadcast(F, a[ap + 2]);
            c20 = ai.fma(b0, c20);
            c21 = ai.fma(b1, c21);
            ai = FloatVector.broadcast(F, a[ap + 3]);
            c30 = ai.fma(b0, c30);
            c31 = ai.fma(b1, c31);
            ai = FloatVector.broadcast(F, a[ap + 4]);
            c40 = ai.fma(b0, c40);
            c41 = ai.fma(b1, c41);
            ai = FloatVector.broadcast(F, a[ap + 5]);
            c50 = ai.fma(b0, c50);
            c51 = ai.fma(b1, c51);
        }
        if (overwrite) {
            c00.intoArray(c, co + 0 * ldc);
            c01.intoArray(c, co + 0 * ldc + V);
            c10.intoArray(c, co + 1 * ldc);
            c11.intoArray(c, co + 1 * ldc + V);
            c20.intoArray(c, co + 2 * ldc);
            c21.intoArray(c, co + 2 * ldc + V);
            c30.intoArray(c, co + 3 * ldc);
            c31.intoArray(c, co + 3 * ldc + V);
            c40.intoArray(c, co + 4 * ldc);
            c41.intoArray(c, co + 4 * ldc + V);
            c50.intoArray(c, co + 5 * ldc);
            c51.intoArray(c, co + 5 * ldc + V);
        } else {
            c00.add(FloatVector.fromArray(F, c, co + 0 * ldc)).intoArray(c, co + 0 * ldc);
            c01.add(FloatVector.fromArray(F, c, co + 0 * ldc + V)).intoArray(c, co + 0 * ldc + V);
            c10.add(FloatVector.fromArray(F, c, co + 1 * ldc)).intoArray(c, co + 1 * ldc);
            c11.add(FloatVector.fromArray(F, c, co + 1 * ldc + V)).intoArray(c, co + 1 * ldc + V);
            c20.add(FloatVector.fromArray(F, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.add(FloatVector.fromArray(F, c, co + 2 * ldc + V)).intoArray(c, co + 2 * ldc + V);
            c30.add(FloatVector.fromArray(F, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.add(FloatVector.fromArray(F, c, co + 3 * ldc + V)).intoArray(c, co + 3 * ldc + V);
            c40.add(FloatVector.fromArray(F, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c41.add(FloatVector.fromArray(F, c, co + 4 * ldc + V)).intoArray(c, co + 4 * ldc + V);
            c50.add(FloatVector.fromArray(F, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c51.add(FloatVector.fromArray(F, c, co + 5 * ldc + V)).intoArray(c, co + 5 * ldc + V);
        }
    }
}
