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
     * c[co + i*ldc + j] (+)= alpha * sum_p a[ao + p*MR + i] * b[bo + p*NR + j] for the full
     * MR x NR tile; overwrite stores instead of accumulating (C is not read then).
     */
    static void kernel(int kc, float alpha, boolean overwrite, float[] a, int ao, float[] b, int bo,
                       float[] c, int co, int ldc) {
        FloatVector c00 = FloatVector.zero(F), c01 = FloatVector.zero(F);
        FloatVector c10 = FloatVector.zero(F), c11 = FloatVector.zero(F);
        FloatVector c20 = FloatVector.zero(F), c21 = FloatVector.zero(F);
        FloatVector c30 = FloatVector.zero(F), c31 = FloatVector.zero(F);
        FloatVector c40 = FloatVector.zero(F), c41 = FloatVector.zero(F);
        FloatVector c50 = FloatVector.zero(F), c51 = FloatVector.zero(F);
        for (int p = 0; p < kc; p++) {
            int bp = bo + p * NR, ap = ao + p * MR;
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
        FloatVector va = FloatVector.broadcast(F, alpha);
        if (overwrite) {
            c00.mul(va).intoArray(c, co + 0 * ldc);
            c01.mul(va).intoArray(c, co + 0 * ldc + V);
            c10.mul(va).intoArray(c, co + 1 * ldc);
            c11.mul(va).intoArray(c, co + 1 * ldc + V);
            c20.mul(va).intoArray(c, co + 2 * ldc);
            c21.mul(va).intoArray(c, co + 2 * ldc + V);
            c30.mul(va).intoArray(c, co + 3 * ldc);
            c31.mul(va).intoArray(c, co + 3 * ldc + V);
            c40.mul(va).intoArray(c, co + 4 * ldc);
            c41.mul(va).intoArray(c, co + 4 * ldc + V);
            c50.mul(va).intoArray(c, co + 5 * ldc);
            c51.mul(va).intoArray(c, co + 5 * ldc + V);
        } else {
            c00.fma(va, FloatVector.fromArray(F, c, co + 0 * ldc)).intoArray(c, co + 0 * ldc);
            c01.fma(va, FloatVector.fromArray(F, c, co + 0 * ldc + V)).intoArray(c, co + 0 * ldc + V);
            c10.fma(va, FloatVector.fromArray(F, c, co + 1 * ldc)).intoArray(c, co + 1 * ldc);
            c11.fma(va, FloatVector.fromArray(F, c, co + 1 * ldc + V)).intoArray(c, co + 1 * ldc + V);
            c20.fma(va, FloatVector.fromArray(F, c, co + 2 * ldc)).intoArray(c, co + 2 * ldc);
            c21.fma(va, FloatVector.fromArray(F, c, co + 2 * ldc + V)).intoArray(c, co + 2 * ldc + V);
            c30.fma(va, FloatVector.fromArray(F, c, co + 3 * ldc)).intoArray(c, co + 3 * ldc);
            c31.fma(va, FloatVector.fromArray(F, c, co + 3 * ldc + V)).intoArray(c, co + 3 * ldc + V);
            c40.fma(va, FloatVector.fromArray(F, c, co + 4 * ldc)).intoArray(c, co + 4 * ldc);
            c41.fma(va, FloatVector.fromArray(F, c, co + 4 * ldc + V)).intoArray(c, co + 4 * ldc + V);
            c50.fma(va, FloatVector.fromArray(F, c, co + 5 * ldc)).intoArray(c, co + 5 * ldc);
            c51.fma(va, FloatVector.fromArray(F, c, co + 5 * ldc + V)).intoArray(c, co + 5 * ldc + V);
        }
    }
}
