package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.Broadcast;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.OutOfDeviceMemoryException;
import org.junit.jupiter.api.Test;

/** What happens without a GPU (and, on a GPU machine, that the same call succeeds). Runs everywhere. */
class CudaAvailabilityTest {

    @Test
    void createFailsPlainlyWithoutGpuAndSucceedsWithOne() {
        if (Backends.cudaAvailable()) {
            Backend b = CudaBackend.create();
            assertTrue(b.describe().startsWith("cuda ("), b.describe());
            return;
        }
        CudaException e = assertThrows(CudaException.class, CudaBackend::create);
        String m = e.getMessage();
        // One of the plain reasons, whichever part is missing or too old on this machine.
        assertTrue(m.startsWith("CUDA is not available: no NVIDIA driver (libcuda.so.1) or GPU was found")
                || m.startsWith("CUDA kernels cannot run: ") || m.startsWith("cuDNN at ")
                || m.startsWith("could not find cu"), m);
    }

    /** Issue #6: a request larger than the GPU fails naming asked, free and total bytes, and the allocator still works after it. */
    @Test
    void anAllocationLargerThanTheGpuNamesTheMemoryAndSuggestsABatch() {
        org.junit.jupiter.api.Assumptions.assumeTrue(Backends.cudaAvailable(), "skipped: no GPU or CUDA driver here");
        Backend b = Backends.raw(org.attnface.engine.Device.CUDA);
        long floats = 1L << 38;   // 1 TiB: more than any GPU has
        OutOfDeviceMemoryException e = assertThrows(OutOfDeviceMemoryException.class, () -> b.allocate(floats));
        assertTrue(e.getMessage().startsWith("out of GPU memory: asked for 1048576.0 MiB"), e.getMessage());
        assertTrue(e.total > 0 && e.free <= e.total, e.getMessage());
        assertTrue(e.suggestBatch(256) < 256);
        var s = b.allocate(1 << 20);   // 4 MiB still works
        b.release(s);
    }

    @Test
    void missingLibraryListsEveryFolderSearched() {
        CudaException e = assertThrows(CudaException.class,
                () -> NativeLibs.open("a test library", List.of("libattnface-does-not-exist.so.1"), List.of()));
        String m = e.getMessage();
        assertTrue(m.contains("could not find a test library (libattnface-does-not-exist.so.1)"), m);
        assertTrue(m.contains("Search order: ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH"), m);
        assertTrue(m.contains("Folders searched (" + NativeLibs.searchPath().size() + ")"), m);
        for (var dir : NativeLibs.searchPath()) assertTrue(m.contains(dir.toString()), dir + " missing from " + m);
    }

    @Test
    void sizeClassesWasteAtMostOneSixteenthAboveOneMiB() {
        assertEquals(512, DeviceMemory.sizeClass(1));
        assertEquals(512, DeviceMemory.sizeClass(512));
        assertEquals(1024, DeviceMemory.sizeClass(513));
        assertEquals(1 << 20, DeviceMemory.sizeClass((1 << 20) - 3));
        for (long bytes = (1 << 20) + 1; bytes < (1L << 31); bytes = bytes * 3 / 2 + 7) {
            long c = DeviceMemory.sizeClass(bytes);
            assertTrue(c >= bytes && c - bytes <= bytes / 16, bytes + " -> " + c);
            assertEquals(c, DeviceMemory.sizeClass(c), "a class is its own class");
        }
    }

    /**
     * The row-major to column-major mapping that Cublas hands to cublasSgemm, run through a Java
     * column-major sgemm written from the BLAS definition: every transposition and odd sizes must
     * give the row-major product, with leading dimensions BLAS accepts. No GPU needed.
     */
    @Test
    void rowMajorGemmMapsOntoColumnMajorSgemm() {
        Random r = new Random(11);
        int[][] sizes = {{13, 7, 5}, {1, 1, 1}, {2, 9, 1}, {6, 1, 4}, {1, 5, 3}};
        for (int[] s : sizes) {
            int m = s[0], n = s[1], k = s[2];
            for (int t = 0; t < 4; t++) {
                boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                float[] a = randoms(r, m * k), b = randoms(r, k * n), c = randoms(r, m * n);
                float alpha = 0.8f, beta = 0.5f;
                float[] want = new float[m * n];
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double sum = 0;
                        for (int p = 0; p < k; p++)
                            sum += (double) (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
                        want[i * n + j] = (float) (alpha * sum + beta * c[i * n + j]);
                    }
                Cublas.ColumnMajorCall g = Cublas.ColumnMajorCall.of(ta, tb, m, n, k);
                String at = m + "x" + n + "x" + k + " transA=" + ta + " transB=" + tb + ": " + g;
                // BLAS argument checks: first operand op(X) is [m', k'], second [k', n'], C [m', n'].
                assertTrue(g.lda() >= Math.max(1, g.transa() == Cublas.OP_N ? g.m() : g.k()), at);
                assertTrue(g.ldb() >= Math.max(1, g.transb() == Cublas.OP_N ? g.k() : g.n()), at);
                assertTrue(g.ldc() >= Math.max(1, g.m()), at);
                float[] got = c.clone();
                columnMajorSgemm(g.transa(), g.transb(), g.m(), g.n(), g.k(), alpha, b, g.lda(), a, g.ldb(), beta, got, g.ldc());
                assertArrayEquals(want, got, 1e-5f, at);
            }
        }
    }

    private static float[] randoms(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    /** Reference column-major SGEMM: C = alpha op(X) op(Y) + beta C, element (i, j) of C at c[i + j * ldc]. */
    private static void columnMajorSgemm(int transx, int transy, int m, int n, int k, float alpha, float[] x, int ldx,
                                         float[] y, int ldy, float beta, float[] c, int ldc) {
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                double sum = 0;
                for (int p = 0; p < k; p++) {
                    float xv = transx == Cublas.OP_N ? x[i + p * ldx] : x[p + i * ldx];
                    float yv = transy == Cublas.OP_N ? y[p + j * ldy] : y[j + p * ldy];
                    sum += (double) xv * yv;
                }
                c[i + j * ldc] = (float) (alpha * sum + beta * c[i + j * ldc]);
            }
    }

    @Test
    void broadcastStridesFollowNumpy() {
        assertArrayEquals(new int[] {13, 1}, Broadcast.strides(new int[] {5, 13}, new int[] {5, 13}, "t"));
        assertArrayEquals(new int[] {0, 1}, Broadcast.strides(new int[] {13}, new int[] {5, 13}, "t"));
        assertArrayEquals(new int[] {0, 5, 0, 1}, Broadcast.strides(new int[] {3, 1, 5}, new int[] {2, 3, 4, 5}, "t"));
        assertArrayEquals(new int[] {1, 0}, Broadcast.strides(new int[] {4, 1}, new int[] {4, 6}, "t"));
        assertArrayEquals(new int[] {0, 0}, Broadcast.strides(new int[] {}, new int[] {3, 7}, "t"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Broadcast.strides(new int[] {3}, new int[] {5, 4}, "add"));
        assertTrue(e.getMessage().startsWith("add: [3] does not broadcast to [5, 4]"), e.getMessage());
    }
}
