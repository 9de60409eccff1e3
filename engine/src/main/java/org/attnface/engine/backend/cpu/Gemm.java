package org.attnface.engine.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Single-precision matrix product on one thread, row-major:
 * C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C.
 *
 * <p>Baseline version: row-times-panel loops with the Vector API over n. Correct for every
 * transpose and leading dimension; the blocked, packed microkernel version replaces it.
 */
public final class Gemm {
    private Gemm() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            int ci = cOff + i * ldc;
            if (beta == 0f) java.util.Arrays.fill(c, ci, ci + n, 0f);
            else if (beta != 1f) for (int j = 0; j < n; j++) c[ci + j] *= beta;
        }
        if (k == 0 || alpha == 0f) return;
        if (!transB) {
            for (int i = 0; i < m; i++) {
                int ci = cOff + i * ldc;
                for (int p = 0; p < k; p++) {
                    float av = alpha * (transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p]);
                    if (av == 0f) continue;
                    axpyRow(av, b, bOff + p * ldb, c, ci, n);
                }
            }
        } else {
            for (int i = 0; i < m; i++) {
                int ci = cOff + i * ldc;
                for (int j = 0; j < n; j++) {
                    float s = 0f;
                    int bj = bOff + j * ldb;
                    if (!transA) s = dot(a, aOff + i * lda, b, bj, k);
                    else for (int p = 0; p < k; p++) s += a[aOff + p * lda + i] * b[bj + p];
                    c[ci + j] += alpha * s;
                }
            }
        }
    }

    private static void axpyRow(float av, float[] b, int bo, float[] c, int co, int n) {
        int j = 0;
        FloatVector va = FloatVector.broadcast(F, av);
        for (int upper = F.loopBound(n); j < upper; j += F.length()) {
            FloatVector.fromArray(F, b, bo + j).fma(va, FloatVector.fromArray(F, c, co + j)).intoArray(c, co + j);
        }
        for (; j < n; j++) c[co + j] += av * b[bo + j];
    }

    private static float dot(float[] a, int ao, float[] b, int bo, int k) {
        FloatVector acc = FloatVector.zero(F);
        int p = 0;
        for (int upper = F.loopBound(k); p < upper; p += F.length())
            acc = FloatVector.fromArray(F, a, ao + p).fma(FloatVector.fromArray(F, b, bo + p), acc);
        float s = acc.reduceLanes(VectorOperators.ADD);
        for (; p < k; p++) s += a[ao + p] * b[bo + p];
        return s;
    }
}
