package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The packed GEMM against a float64 reference over every transpose combination, edge sizes
 * around the register tile (MR x NR) and the cache blocks (MC, KC, NC), leading dimensions
 * larger than the row length, non-zero offsets, and alpha/beta variants.
 *
 * <p>Tolerance: each C element is a float32 sum of k products plus the alpha and beta steps.
 * The standard bound for recursive summation is |error| <= gamma_{k+3} * (|alpha| * sum_p
 * |a_ip b_pj| + |beta c_ij|) with gamma_j = j*u/(1 - j*u), u = 2^-24 (Higham, ch. 3). The test
 * checks each element against that bound for its own row and column, so it holds for any k.
 */
class GemmTest {
    private static Parallel team;

    @BeforeAll static void start() { team = new Parallel(2); }

    @AfterAll static void stop() { team.shutdown(); }

    private static final int[] EDGE = {1, 7, 17, 33, 100};

    @Test void allTransposesAndEdgeSizes() {
        Random rnd = new Random(42);
        float[][] alphaBeta = {{1f, 0f}, {0.5f, -1.5f}, {-2f, 1f}};
        int cases = 0;
        for (int m : EDGE) for (int n : EDGE) for (int k : EDGE) {
            boolean transA = rnd.nextBoolean(), transB = rnd.nextBoolean();
            float[] ab = alphaBeta[rnd.nextInt(alphaBeta.length)];
            check(rnd, transA, transB, m, n, k, ab[0], ab[1], rnd.nextInt(3), false);
            cases++;
        }
        // And every transpose combination on one odd shape with every alpha/beta.
        for (boolean ta : new boolean[]{false, true}) for (boolean tb : new boolean[]{false, true})
            for (float[] ab : alphaBeta) check(rnd, ta, tb, 37, 45, 29, ab[0], ab[1], 5, false);
        assertEquals(125, cases);
    }

    @Test void shapesTheModelsUse() {
        Random rnd = new Random(7);
        int[][] shapes = {{64, 2, 50}, {1, 6, 32}, {64, 3844, 27}, {2, 64, 512}, {10, 8, 3844}};
        for (int[] s : shapes)
            for (boolean ta : new boolean[]{false, true}) for (boolean tb : new boolean[]{false, true})
                check(rnd, ta, tb, s[0], s[1], s[2], 1f, 0f, 0, false);
    }

    @Test void largerThanEveryCacheBlock() {
        // m > MC, k > KC, n > NC: every block loop runs more than once with a remainder.
        Random rnd = new Random(3);
        int m = Gemm.MC + 13, n = Gemm.NC + 41, k = Gemm.KC + 19;
        check(rnd, false, false, m, n, k, 1f, 1f, 3, false);
        check(rnd, true, true, m, n, k, 0.75f, -0.5f, 0, true);
    }

    @Test void betaZeroIgnoresNanInC() {
        int m = 9, n = 40, k = 5;
        float[] a = new float[m * k], b = new float[k * n], c = new float[m * n];
        java.util.Arrays.fill(a, 1f);
        java.util.Arrays.fill(b, 2f);
        java.util.Arrays.fill(c, Float.NaN);
        Gemm.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
        for (float v : c) assertEquals(10f, v);
    }

    @Test void parallelSplitIsBitIdenticalToOneThread() {
        Random rnd = new Random(11);
        for (int[] s : new int[][]{{300, 90, 70}, {20, 700, 300}, {129, 129, 129}}) {
            for (boolean ta : new boolean[]{false, true}) for (boolean tb : new boolean[]{false, true}) {
                int m = s[0], n = s[1], k = s[2];
                float[] a = random(rnd, m * k), b = random(rnd, k * n), c0 = random(rnd, m * n), c1 = c0.clone();
                int lda = ta ? m : k, ldb = tb ? k : n;
                Gemm.sgemm(ta, tb, m, n, k, 1.25f, a, 0, lda, b, 0, ldb, 0.5f, c0, 0, n);
                Gemm.parallel(team, ta, tb, m, n, k, 1.25f, a, 0, lda, b, 0, ldb, 0.5f, c1, 0, n);
                assertArrayEquals(c0, c1, "gemm " + m + "x" + n + "x" + k + " transA=" + ta + " transB=" + tb);
            }
        }
    }

    /**
     * Runs one product with leading dimensions padded by {@code extra} and offsets, compares
     * with the float64 reference, and checks that C outside the m x n window is untouched.
     */
    private static void check(Random rnd, boolean transA, boolean transB, int m, int n, int k,
                              float alpha, float beta, int extra, boolean parallel) {
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + extra, ldb = bCols + extra, ldc = n + extra;
        int aOff = 3, bOff = 5, cOff = 7;
        float[] a = random(rnd, aOff + aRows * lda), b = random(rnd, bOff + bRows * ldb), c = random(rnd, cOff + m * ldc);
        float[] before = c.clone();
        if (parallel) Gemm.parallel(team, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        else Gemm.sgemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
        double u = Math.ulp(1f) / 2, gamma = (k + 3) * u / (1 - (k + 3) * u);
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0, mag = 0;
                for (int p = 0; p < k; p++) {
                    double av = transA ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
                    double bv = transB ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
                    s += av * bv;
                    mag += Math.abs(av * bv);
                }
                double c0 = before[cOff + i * ldc + j];
                double ref = alpha * s + (beta == 0f ? 0 : beta * c0);
                double tol = gamma * (Math.abs(alpha) * mag + Math.abs(beta * c0)) + 1e-30;
                double got = c[cOff + i * ldc + j];
                if (!(Math.abs(got - ref) <= tol))
                    fail(String.format("gemm %dx%dx%d transA=%b transB=%b alpha=%s beta=%s: C[%d][%d] = %s, reference %s, tolerance %.3g",
                            m, n, k, transA, transB, alpha, beta, i, j, got, ref, tol));
            }
            for (int j = n; j < ldc && cOff + i * ldc + j < c.length; j++)
                assertEquals(before[cOff + i * ldc + j], c[cOff + i * ldc + j], "padding of C row " + i + " was written");
        }
        for (int i = 0; i < cOff; i++) assertEquals(before[i], c[i], "C before its offset was written");
    }
}
