package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.backend.AugmentSpec;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.ImageStore;
import org.attnface.engine.backend.PoolShape;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every Backend method on the GPU against the CPU reference, on random inputs with fixed seeds
 * and odd shapes (batch 1, non-square images, 3/5/13 channels).
 *
 * <p>Error measure: ||gpu - cpu||_2 / ||cpu||_2 over the whole output. FP32 tolerance 1e-4: both
 * sides round each operation to 24 bits (6e-8) but sum in different orders (tree vs sequential,
 * cuDNN's algorithms vs im2col), which over the <= 1200-term sums here costs well under 1e-5.
 * TF32 tolerance 1e-3: inputs are rounded to 10-bit mantissas (unit roundoff 4.9e-4), and the
 * relative error of a sum of products with independent rounding errors stays near that size.
 * Dropout masks, augmentation crops/flips and optimiser updates (same float operations in the
 * same order, no FMA contraction on the GPU side) must match bit for bit.
 */
class CudaVsCpuTest {
    static final double FP32 = 1e-4, TF32 = 1e-3;
    static Backend cpu, gpu;

    static String unavailable;

    @BeforeAll
    static void openBothBackends() {
        try {
            cpu = Backends.raw(Device.CPU);
            gpu = Backends.raw(Device.CUDA);
            ((CudaBackend) gpu).setTf32(false);
        } catch (RuntimeException | LinkageError e) {
            unavailable = "skipped: the CUDA backend is not available here: " + e.getMessage();
            System.err.println("CudaVsCpuTest " + unavailable);
        }
    }

    @BeforeEach
    void needGpu() {
        Assumptions.assumeTrue(unavailable == null, unavailable);
    }

    @AfterEach
    void fp32Again() {
        if (unavailable == null) ((CudaBackend) gpu).setTf32(false);
    }

    // ---- helpers -------------------------------------------------------------------------

    static float[] random(long seed, int n) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = r.nextFloat() * 2f - 1f;
        return a;
    }

    static int numel(int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** The same random values on both devices. */
    record Pair(Tensor c, Tensor g) {
        static Pair of(float[] values, int... shape) {
            return new Pair(Tensor.of(Device.CPU, values, shape), Tensor.of(Device.CUDA, values, shape));
        }

        static Pair random(long seed, int... shape) { return of(CudaVsCpuTest.random(seed, numel(shape)), shape); }

        /** Same garbage-free start on both sides, so "fully overwritten" claims are tested too. */
        static Pair empty(int... shape) { return of(CudaVsCpuTest.random(-1, numel(shape)), shape); }

        static Pair labels(long seed, int n, int classes) {
            Random r = new Random(seed);
            float[] l = new float[n];
            for (int i = 0; i < n; i++) l[i] = r.nextInt(classes);
            return of(l, n);
        }
    }

    static void close(String what, Pair p, double tol) {
        float[] want = p.c.toArray(), got = p.g.toArray();
        assertEquals(want.length, got.length, what);
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            assertTrue(Float.isFinite(got[i]) || !Float.isFinite(want[i]), what + ": non-finite GPU value at " + i);
            double d = (double) got[i] - want[i];
            num += d * d;
            den += (double) want[i] * want[i];
        }
        double rel = Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
        assertTrue(rel < tol, String.format("%s: relative error %.3g >= %.0e", what, rel, tol));
    }

    static void same(String what, Pair p) {
        assertArrayEquals(p.c.toArray(), p.g.toArray(), 0f, what + " must be bit-identical");
    }

    // ---- memory ----------------------------------------------------------------------------

    @Test
    void uploadDownloadCopyFill() {
        float[] v = random(1, 1001);
        Tensor g = Tensor.of(Device.CUDA, v, 7, 11, 13);
        assertArrayEquals(v, g.toArray(), 0f);
        Tensor d = Tensor.empty(Device.CUDA, 1001);
        gpu.copy(g, d);
        assertArrayEquals(v, d.toArray(), 0f);
        gpu.fill(d, -2.5f);
        for (float x : d.toArray()) assertEquals(-2.5f, x);
        // views: offset into a storage
        Tensor slice = g.slice(3, 5);
        float[] part = slice.toArray();
        for (int i = 0; i < part.length; i++) assertEquals(v[3 * 143 + i], part[i]);
    }

    @Test
    void steadyLoopAllocatesNoDeviceMemory() {
        CudaBackend b = (CudaBackend) gpu;
        Tensor x = Tensor.of(Device.CUDA, random(2, 4096), 64, 64);
        long before = 0;
        for (int step = 0; step < 5; step++) {
            try (var scope = TensorScope.open()) {
                Tensor y = Tensor.empty(Device.CUDA, 64, 64), z = Tensor.empty(Device.CUDA, 64, 64), s = Tensor.empty(Device.CUDA, 1);
                gpu.relu(x, y);
                gpu.gemm(false, true, 64, 64, 64, 1f, y, x, 0f, z);
                gpu.sumAll(z, s);
            }
            if (step == 0) before = b.deviceAllocations();
        }
        assertEquals(before, b.deviceAllocations(), "cuMemAlloc calls after the first step");
    }

    // ---- elementwise and reductions -----------------------------------------------------

    @Test
    void binaryWithBroadcasting() {
        int[][][] cases = {
                {{5, 13}, {5, 13}, {5, 13}},
                {{5, 13}, {13}, {5, 13}},
                {{2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}},
                {{1}, {3, 7}, {3, 7}},
                {{4, 1}, {1, 6}, {4, 6}},
                {{1, 3, 1, 1}, {2, 3, 5, 5}, {2, 3, 5, 5}},
        };
        long seed = 10;
        for (int[][] c : cases) {
            for (BinaryOp op : BinaryOp.values()) {
                Pair a = Pair.random(seed++, c[0]), b = Pair.random(seed++, c[1]), out = Pair.empty(c[2]);
                cpu.binary(op, a.c, b.c, out.c);
                gpu.binary(op, a.g, b.g, out.g);
                // DIV by values near 0 amplifies nothing here: both sides divide the same floats exactly (IEEE).
                close(op + " " + java.util.Arrays.deepToString(c), out, FP32);
            }
        }
    }

    @Test
    void sumToReducesBroadcastDims() {
        int[][][] cases = {{{5, 13}, {13}}, {{5, 13}, {1, 13}}, {{5, 13}, {5, 1}}, {{2, 3, 4, 5}, {1, 3, 1, 1}},
                {{2, 3, 4, 5}, {3, 1, 1}}, {{7}, {1}}, {{300, 7}, {7}}, {{3, 4}, {3, 4}}, {{2, 1, 700}, {1}}};
        long seed = 40;
        for (int[][] c : cases) {
            Pair x = Pair.random(seed++, c[0]), out = Pair.empty(c[1]);
            cpu.sumTo(x.c, out.c);
            gpu.sumTo(x.g, out.g);
            close("sumTo " + java.util.Arrays.deepToString(c), out, FP32);
        }
    }

    @Test
    void unaryAndScalarOps() {
        Pair x = Pair.random(50, 3, 5, 7), y = Pair.random(51, 3, 5, 7), out = Pair.empty(3, 5, 7);
        cpu.axpy(0.75f, x.c, y.c);
        gpu.axpy(0.75f, x.g, y.g);
        close("axpy", y, FP32);
        cpu.scale(x.c, -1.5f, out.c);
        gpu.scale(x.g, -1.5f, out.g);
        close("scale", out, FP32);
        Pair s = Pair.of(new float[] {0.37f}, 1);
        cpu.scaleByScalar(x.c, s.c, 2f, out.c);
        gpu.scaleByScalar(x.g, s.g, 2f, out.g);
        close("scaleByScalar", out, FP32);
        cpu.relu(x.c, out.c);
        gpu.relu(x.g, out.g);
        same("relu", out);
        Pair dy = Pair.random(52, 3, 5, 7), dx = Pair.empty(3, 5, 7);
        cpu.reluBackward(out.c, dy.c, dx.c);
        gpu.reluBackward(out.g, dy.g, dx.g);
        same("reluBackward", dx);
        Pair big = Pair.random(53, 100_003), sum = Pair.empty(1);
        cpu.sumAll(big.c, sum.c);
        gpu.sumAll(big.g, sum.g);
        close("sumAll", sum, FP32);
    }

    @Test
    void countNonFinite() {
        float[] v = random(60, 5000);
        v[0] = Float.NaN;
        v[17] = Float.POSITIVE_INFINITY;
        v[4999] = Float.NEGATIVE_INFINITY;
        Pair x = Pair.of(v, 5000), out = Pair.empty(1);
        cpu.countNonFinite(x.c, out.c);
        gpu.countNonFinite(x.g, out.g);
        same("countNonFinite", out);
        assertEquals(3f, out.g.item());
    }

    /** The two-stage grid reductions over the gradient buffer's size (11 M floats), with NaN/Inf planted throughout. */
    @Test
    void gridReductionsOverElevenMillionFloats() {
        int n = 11_000_000;
        float[] v = random(61, n);
        Pair x = Pair.of(v, n), sum = Pair.empty(1);
        cpu.sumAll(x.c, sum.c);
        gpu.sumAll(x.g, sum.g);
        close("sumAll of 11 M", sum, 1e-6);
        for (int i = 5; i < n; i += 999_983) v[i] = i % 2 == 0 ? Float.NaN : Float.POSITIVE_INFINITY;
        Pair bad = Pair.of(v, n), count = Pair.empty(1);
        cpu.countNonFinite(bad.c, count.c);
        gpu.countNonFinite(bad.g, count.g);
        same("countNonFinite of 11 M", count);
    }

    /** Clipping on the device matches the host's norm and scale; below the maximum nothing changes. */
    @Test
    void clipToNormOnTheDevice() {
        float[] v = random(62, 1_000_003);
        double sq = 0;
        for (float f : v) sq += (double) f * f;
        float maxNorm = (float) (Math.sqrt(sq) / 4);
        Tensor g = Tensor.of(Device.CUDA, v, v.length);
        ((CudaBackend) gpu).clipToNorm(g, maxNorm);
        float[] got = g.toArray();
        double gotSq = 0;
        for (float f : got) gotSq += (double) f * f;
        assertEquals(maxNorm, Math.sqrt(gotSq), 1e-5 * maxNorm);
        for (int i = 0; i < v.length; i += 1009) assertEquals(v[i] / 4, got[i], 1e-5f * Math.abs(v[i]) + 1e-9f);
        ((CudaBackend) gpu).clipToNorm(g, maxNorm * 2);
        assertArrayEquals(got, g.toArray(), 0f, "below the maximum: untouched");
    }

    /** cuDNN's backward filter with beta = 1 adds into the gradient already there (the flat buffer's slice). */
    @Test
    void convolutionFilterGradientAccumulates() {
        ConvShape g = new ConvShape(4, 8, 12, 12, 16, 3, 3, 1, 1);
        Pair x = Pair.random(81, 4, 8, 12, 12), dy = Pair.random(82, 4, 16, 12, 12), dw = Pair.empty(16, 8, 3, 3);
        float[] before = random(83, 16 * 8 * 9);
        cpu.conv2dBackwardFilter(g, x.c, dy.c, dw.c);
        float[] want = dw.c.toArray();
        for (int i = 0; i < want.length; i++) want[i] += before[i];
        Tensor acc = Tensor.of(Device.CUDA, before, 16, 8, 3, 3);
        assertTrue(gpu.conv2dBackwardFilterAccumulate(g, x.g, dy.g, acc));
        close("conv2dBackwardFilterAccumulate", new Pair(Tensor.of(Device.CPU, want, 16, 8, 3, 3), acc), FP32);
    }

    @Test
    void copy2dBlocks() {
        Pair src = Pair.random(70, 6, 9), dst = Pair.random(71, 6, 13);
        cpu.copy2d(src.c, 9, 2, dst.c, 13, 5, 6, 7);
        gpu.copy2d(src.g, 9, 2, dst.g, 13, 5, 6, 7);
        same("copy2d", dst);
    }

    // ---- matrix products -----------------------------------------------------------------

    @Test
    void gemmAllTranspositionsFp32AndTf32() {
        int[][] sizes = {{13, 7, 5}, {1, 1, 1}, {64, 33, 129}, {2, 130, 17}};
        long seed = 80;
        for (boolean tf32 : new boolean[] {false, true}) {
            ((CudaBackend) gpu).setTf32(tf32);
            for (int[] s : sizes) {
                int m = s[0], n = s[1], k = s[2];
                // A TF32 sum of a handful of products can cancel to near zero, where any relative
                // measure explodes; TF32 is checked on the sums of >= 17 terms only.
                if (tf32 && k < 17) continue;
                for (int t = 0; t < 4; t++) {
                    boolean ta = (t & 1) != 0, tb = (t & 2) != 0;
                    Pair a = Pair.random(seed++, ta ? k : m, ta ? m : k), b = Pair.random(seed++, tb ? n : k, tb ? k : n);
                    Pair c = Pair.random(seed++, m, n);
                    cpu.gemm(ta, tb, m, n, k, 0.8f, a.c, b.c, 0.5f, c.c);
                    gpu.gemm(ta, tb, m, n, k, 0.8f, a.g, b.g, 0.5f, c.g);
                    close((tf32 ? "tf32 " : "fp32 ") + "gemm " + m + "x" + n + "x" + k + " transA=" + ta + " transB=" + tb, c, tf32 ? TF32 : FP32);
                }
            }
        }
    }

    @Test
    void stridedBatchedGemmMatchesPerBatchGemm() {
        int batch = 3, m = 5, n = 7, k = 13;
        Pair a = Pair.random(90, batch, m, k), b = Pair.random(91, batch, k, n), c = Pair.empty(batch, m, n);
        for (int i = 0; i < batch; i++)
            cpu.gemm(false, false, m, n, k, 1f, a.c.slice(i, i + 1), b.c.slice(i, i + 1), 0f, c.c.slice(i, i + 1));
        ((CudaBackend) gpu).gemmStridedBatched(false, false, m, n, k, 1f, a.g, m * k, b.g, k * n, 0f, c.g, m * n, batch);
        close("gemmStridedBatched", c, FP32);
    }

    // ---- convolution ---------------------------------------------------------------------

    static final ConvShape[] CONVS = {
            new ConvShape(1, 3, 7, 5, 13, 3, 3, 1, 1),
            new ConvShape(2, 5, 9, 11, 4, 3, 3, 2, 1),
            new ConvShape(3, 13, 8, 8, 6, 1, 1, 1, 0),
            new ConvShape(2, 3, 16, 12, 8, 7, 7, 2, 3),
            new ConvShape(2, 16, 6, 6, 16, 3, 3, 1, 1),
    };

    @Test
    void convolutionForwardBackwardFp32AndTf32() {
        long seed = 100;
        for (boolean tf32 : new boolean[] {false, true}) {
            ((CudaBackend) gpu).setTf32(tf32);
            double tol = tf32 ? TF32 : FP32;
            for (ConvShape g : CONVS) {
                String at = (tf32 ? "tf32 " : "fp32 ") + g;
                Pair x = Pair.random(seed++, g.n(), g.c(), g.h(), g.w()), w = Pair.random(seed++, g.k(), g.c(), g.r(), g.s());
                Pair bias = Pair.random(seed++, g.k()), y = Pair.empty(g.n(), g.k(), g.p(), g.q());
                cpu.conv2dForward(g, x.c, w.c, bias.c, y.c);
                gpu.conv2dForward(g, x.g, w.g, bias.g, y.g);
                close("conv2dForward+bias " + at, y, tol);
                cpu.conv2dForward(g, x.c, w.c, null, y.c);
                gpu.conv2dForward(g, x.g, w.g, null, y.g);
                close("conv2dForward " + at, y, tol);
                Pair dy = Pair.random(seed++, g.n(), g.k(), g.p(), g.q()), dx = Pair.empty(g.n(), g.c(), g.h(), g.w());
                Pair dw = Pair.empty(g.k(), g.c(), g.r(), g.s()), db = Pair.empty(g.k());
                cpu.conv2dBackwardData(g, dy.c, w.c, dx.c);
                gpu.conv2dBackwardData(g, dy.g, w.g, dx.g);
                close("conv2dBackwardData " + at, dx, tol);
                cpu.conv2dBackwardFilter(g, x.c, dy.c, dw.c);
                gpu.conv2dBackwardFilter(g, x.g, dy.g, dw.g);
                close("conv2dBackwardFilter " + at, dw, tol);
                cpu.conv2dBackwardBias(g, dy.c, db.c);
                gpu.conv2dBackwardBias(g, dy.g, db.g);
                close("conv2dBackwardBias " + at, db, FP32);
            }
        }
    }

    // ---- normalisation -------------------------------------------------------------------

    @Test
    void batchNormTrainInferBackward() {
        int[][] shapes = {{3, 5, 4, 6}, {1, 13, 7, 3}, {6, 5}, {2, 3, 1, 1}};
        long seed = 200;
        for (int[] s : shapes) {
            int c = s[1];
            String at = java.util.Arrays.toString(s);
            Pair x = Pair.random(seed++, s), gamma = Pair.random(seed++, c), beta = Pair.random(seed++, c);
            Pair rm = Pair.random(seed++, c), rv = Pair.of(new float[c], c), y = Pair.empty(s);
            cpu.fill(rv.c, 1f);
            gpu.fill(rv.g, 1f);
            Pair mean = Pair.empty(c), inv = Pair.empty(c);
            cpu.batchNormTrain(x.c, gamma.c, beta.c, rm.c, rv.c, 0.1f, 1e-5f, y.c, mean.c, inv.c);
            gpu.batchNormTrain(x.g, gamma.g, beta.g, rm.g, rv.g, 0.1f, 1e-5f, y.g, mean.g, inv.g);
            close("batchNormTrain y " + at, y, FP32);
            close("batchNormTrain saveMean " + at, mean, FP32);
            close("batchNormTrain saveInvStd " + at, inv, FP32);
            close("batchNormTrain runningMean " + at, rm, FP32);
            close("batchNormTrain runningVar " + at, rv, FP32);
            Pair dy = Pair.random(seed++, s), dx = Pair.empty(s), dg = Pair.empty(c), dbeta = Pair.empty(c);
            cpu.batchNormBackward(x.c, dy.c, gamma.c, mean.c, inv.c, dx.c, dg.c, dbeta.c);
            gpu.batchNormBackward(x.g, dy.g, gamma.g, mean.g, inv.g, dx.g, dg.g, dbeta.g);
            close("batchNormBackward dx " + at, dx, FP32);
            close("batchNormBackward dgamma " + at, dg, FP32);
            close("batchNormBackward dbeta " + at, dbeta, FP32);
            cpu.batchNormInfer(x.c, gamma.c, beta.c, rm.c, rv.c, 1e-5f, y.c);
            gpu.batchNormInfer(x.g, gamma.g, beta.g, rm.g, rv.g, 1e-5f, y.g);
            close("batchNormInfer " + at, y, FP32);
        }
    }

    // ---- pooling -------------------------------------------------------------------------

    @Test
    void poolingForwardBackward() {
        PoolShape[] maxes = {new PoolShape(2, 5, 9, 7, 3, 3, 2, 1), new PoolShape(1, 3, 8, 6, 2, 2, 2, 0), new PoolShape(2, 13, 5, 5, 3, 3, 1, 1)};
        PoolShape[] avgs = {new PoolShape(2, 5, 8, 6, 2, 2, 2, 0), new PoolShape(2, 13, 5, 5, 3, 3, 1, 1),
                new PoolShape(3, 5, 7, 5, 7, 5, 1, 0), new PoolShape(1, 3, 9, 7, 3, 3, 2, 1)};
        long seed = 300;
        for (PoolShape g : maxes) {
            Pair x = Pair.random(seed++, g.n(), g.c(), g.h(), g.w()), y = Pair.empty(g.n(), g.c(), g.p(), g.q());
            cpu.maxPool2d(g, x.c, y.c);
            gpu.maxPool2d(g, x.g, y.g);
            same("maxPool2d " + g, y);
            Pair dy = Pair.random(seed++, g.n(), g.c(), g.p(), g.q()), dx = Pair.empty(g.n(), g.c(), g.h(), g.w());
            cpu.maxPool2dBackward(g, x.c, y.c, dy.c, dx.c);
            gpu.maxPool2dBackward(g, x.g, y.g, dy.g, dx.g);
            close("maxPool2dBackward " + g, dx, FP32);
        }
        for (PoolShape g : avgs) {
            Pair x = Pair.random(seed++, g.n(), g.c(), g.h(), g.w()), y = Pair.empty(g.n(), g.c(), g.p(), g.q());
            cpu.avgPool2d(g, x.c, y.c);
            gpu.avgPool2d(g, x.g, y.g);
            close("avgPool2d " + g, y, FP32);
            Pair dy = Pair.random(seed++, g.n(), g.c(), g.p(), g.q()), dx = Pair.empty(g.n(), g.c(), g.h(), g.w());
            cpu.avgPool2dBackward(g, dy.c, dx.c);
            gpu.avgPool2dBackward(g, dy.g, dx.g);
            close("avgPool2dBackward " + g, dx, FP32);
        }
    }

    // ---- softmax and losses ----------------------------------------------------------------

    @Test
    void softmaxFamilyAndLosses() {
        int[][] shapes = {{7, 8}, {1, 2}, {5, 13}, {256, 8}};
        long seed = 400;
        for (int[] s : shapes) {
            String at = java.util.Arrays.toString(s);
            Pair x = Pair.of(scaled(random(seed++, numel(s)), 4f), s), y = Pair.empty(s), dy = Pair.random(seed++, s), dx = Pair.empty(s);
            cpu.softmax(x.c, y.c);
            gpu.softmax(x.g, y.g);
            close("softmax " + at, y, FP32);
            cpu.softmaxBackward(y.c, dy.c, dx.c);
            gpu.softmaxBackward(y.g, dy.g, dx.g);
            close("softmaxBackward " + at, dx, FP32);
            cpu.logSoftmax(x.c, y.c);
            gpu.logSoftmax(x.g, y.g);
            close("logSoftmax " + at, y, FP32);
            cpu.logSoftmaxBackward(y.c, dy.c, dx.c);
            gpu.logSoftmaxBackward(y.g, dy.g, dx.g);
            close("logSoftmaxBackward " + at, dx, FP32);

            Pair labels = Pair.labels(seed++, s[0], s[1]), probs = Pair.empty(s), loss = Pair.empty(1);
            Pair dloss = Pair.of(new float[] {0.7f}, 1);
            cpu.softmaxCrossEntropy(x.c, labels.c, probs.c, loss.c);
            gpu.softmaxCrossEntropy(x.g, labels.g, probs.g, loss.g);
            close("softmaxCrossEntropy probs " + at, probs, FP32);
            close("softmaxCrossEntropy loss " + at, loss, FP32);
            cpu.softmaxCrossEntropyBackward(probs.c, labels.c, dloss.c, dx.c);
            gpu.softmaxCrossEntropyBackward(probs.g, labels.g, dloss.g, dx.g);
            close("softmaxCrossEntropyBackward " + at, dx, FP32);
            cpu.expectedDistance(x.c, labels.c, probs.c, loss.c);
            gpu.expectedDistance(x.g, labels.g, probs.g, loss.g);
            close("expectedDistance probs " + at, probs, FP32);
            close("expectedDistance loss " + at, loss, FP32);
            cpu.expectedDistanceBackward(probs.c, labels.c, dloss.c, dx.c);
            gpu.expectedDistanceBackward(probs.g, labels.g, dloss.g, dx.g);
            close("expectedDistanceBackward " + at, dx, FP32);
        }
    }

    @Test
    void badLabelMakesTheLossNaN() {
        Pair x = Pair.random(450, 3, 4), labels = Pair.of(new float[] {0, 4, 1}, 3), probs = Pair.empty(3, 4), loss = Pair.empty(1);
        gpu.softmaxCrossEntropy(x.g, labels.g, probs.g, loss.g);
        assertTrue(Float.isNaN(loss.g.item()), "label 4 of 4 classes must poison the loss");
    }

    static float[] scaled(float[] a, float k) {
        for (int i = 0; i < a.length; i++) a[i] *= k;
        return a;
    }

    // ---- spatial transformer -------------------------------------------------------------

    @Test
    void affineGridAndBilinearSampling() {
        int n = 2, c = 3, h = 9, w = 7, p = 5, q = 6;
        float[] theta = new float[n * 6];
        Random r = new Random(500);
        for (int i = 0; i < n; i++) {
            // near identity, with a zoom out so that some samples fall outside (zero padding)
            float[] t = {1.3f, 0.1f, 0.05f, -0.1f, 1.2f, -0.1f};
            for (int j = 0; j < 6; j++) theta[i * 6 + j] = t[j] + (r.nextFloat() - 0.5f) * 0.2f;
        }
        Pair th = Pair.of(theta, n, 2, 3), grid = Pair.empty(n, p, q, 2);
        cpu.affineGrid(th.c, grid.c);
        gpu.affineGrid(th.g, grid.g);
        close("affineGrid", grid, FP32);
        Pair dgridIn = Pair.random(501, n, p, q, 2), dtheta = Pair.empty(n, 2, 3);
        cpu.affineGridBackward(dgridIn.c, dtheta.c);
        gpu.affineGridBackward(dgridIn.g, dtheta.g);
        close("affineGridBackward", dtheta, FP32);

        for (int[] s : new int[][] {{n, c, h, w}, {1, 13, 4, 4}}) {
            Pair x = Pair.random(502, s), gridS = Pair.empty(s[0], p, q, 2), y = Pair.empty(s[0], s[1], p, q);
            Pair thS = Pair.of(java.util.Arrays.copyOf(theta, s[0] * 6), s[0], 2, 3);
            cpu.affineGrid(thS.c, gridS.c);
            gpu.affineGrid(thS.g, gridS.g);
            cpu.gridSample(x.c, gridS.c, y.c);
            gpu.gridSample(x.g, gridS.g, y.g);
            close("gridSample " + java.util.Arrays.toString(s), y, FP32);
            Pair dy = Pair.random(503, s[0], s[1], p, q), dx = Pair.empty(s), dgrid = Pair.empty(s[0], p, q, 2);
            cpu.gridSampleBackward(x.c, gridS.c, dy.c, dx.c, dgrid.c);
            gpu.gridSampleBackward(x.g, gridS.g, dy.g, dx.g, dgrid.g);
            close("gridSampleBackward dx " + java.util.Arrays.toString(s), dx, FP32);
            close("gridSampleBackward dgrid " + java.util.Arrays.toString(s), dgrid, FP32);
            Pair dgrid2 = Pair.empty(s[0], p, q, 2);
            cpu.gridSampleBackward(x.c, gridS.c, dy.c, null, dgrid2.c);
            gpu.gridSampleBackward(x.g, gridS.g, dy.g, null, dgrid2.g);
            close("gridSampleBackward (dx null) dgrid", dgrid2, FP32);
        }
    }

    /** Upsampling by 3: every input pixel receives from many outputs, the atomicAdd scatter must sum them all. */
    @Test
    void samplerScatterWithManyWritersPerPixel() {
        int n = 1, c = 5, h = 4, w = 3, p = 12, q = 9;
        Pair th = Pair.of(new float[] {1, 0, 0, 0, 1, 0}, n, 2, 3), grid = Pair.empty(n, p, q, 2);
        cpu.affineGrid(th.c, grid.c);
        gpu.affineGrid(th.g, grid.g);
        Pair x = Pair.random(510, n, c, h, w), dy = Pair.random(511, n, c, p, q), dx = Pair.empty(n, c, h, w), dgrid = Pair.empty(n, p, q, 2);
        cpu.gridSampleBackward(x.c, grid.c, dy.c, dx.c, dgrid.c);
        gpu.gridSampleBackward(x.g, grid.g, dy.g, dx.g, dgrid.g);
        close("gridSampleBackward upsampling dx", dx, FP32);
        // Many sample points sit exactly on pixel centres here, where the bilinear gradient jumps;
        // the GPU computes grid and coordinates with the CPU's rounding, so it takes the same side.
        same("affineGrid (identity, upsampling)", grid);
        close("gridSampleBackward upsampling dgrid", dgrid, FP32);
    }

    // ---- dropout -------------------------------------------------------------------------

    @Test
    void dropoutMasksAreBitIdentical() {
        Pair x = Pair.random(600, 7, 143), y = Pair.empty(7, 143), dx = Pair.empty(7, 143);
        for (float p : new float[] {0.3f, 0.5f}) {
            long seed = 0x1234_5678_9ABCL + (long) (p * 10);
            cpu.dropout(x.c, p, seed, y.c);
            gpu.dropout(x.g, p, seed, y.g);
            same("dropout p=" + p, y);
            cpu.dropoutBackward(x.c, p, seed, dx.c);
            gpu.dropoutBackward(x.g, p, seed, dx.g);
            same("dropoutBackward p=" + p, dx);
        }
    }

    // ---- optimisers --------------------------------------------------------------------------

    @Test
    void sgdAndAdamWUpdates() {
        int n = 10_007;
        Pair p = Pair.random(700, n), g = Pair.random(701, n), buf = Pair.of(new float[n], n);
        for (int step = 0; step < 3; step++) {
            cpu.sgdStep(p.c, g.c, buf.c, 0.05f, 0.9f, 5e-4f);
            gpu.sgdStep(p.g, g.g, buf.g, 0.05f, 0.9f, 5e-4f);
        }
        same("sgdStep param", p);
        same("sgdStep momentum", buf);
        Pair q = Pair.random(702, n), m = Pair.of(new float[n], n), v = Pair.of(new float[n], n);
        for (int step = 1; step <= 3; step++) {
            cpu.adamwStep(q.c, g.c, m.c, v.c, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
            gpu.adamwStep(q.g, g.g, m.g, v.g, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
        }
        close("adamwStep param", q, 1e-6);
        close("adamwStep m", m, 1e-6);
        close("adamwStep v", v, 1e-6);
    }

    // ---- data preparation ----------------------------------------------------------------

    @Test
    void augmentationIsBitIdentical() {
        int count = 5, h = 12, w = 10;
        byte[] hwc = new byte[count * h * w * 3];
        new Random(800).nextBytes(hwc);
        int[] index = {4, 0, 2, 2, 1, 3, 0};
        try (ImageStore ci = cpu.uploadImages(hwc, count, h, w); ImageStore gi = gpu.uploadImages(hwc, count, h, w)) {
            for (boolean train : new boolean[] {true, false}) {
                AugmentSpec spec = AugmentSpec.of(8, train);
                AugmentSpec nonSquare = new AugmentSpec(7, 9, train, train ? 0.1f : 0f, spec.mean(), spec.std());
                for (AugmentSpec s : new AugmentSpec[] {spec, nonSquare}) {
                    Pair out = Pair.empty(index.length, 3, s.outHeight(), s.outWidth());
                    cpu.augmentImages(ci, index, s, 12345L, out.c);
                    gpu.augmentImages(gi, index, s, 12345L, out.g);
                    same("augmentImages train=" + train + " " + s.outHeight() + "x" + s.outWidth(), out);
                }
            }
        }
    }

    // ---- CUDA graphs -----------------------------------------------------------------------

    @Test
    void capturedGraphReplaysTheSameWork() {
        CudaBackend b = (CudaBackend) gpu;
        Tensor x = Tensor.of(Device.CUDA, random(900, 32 * 16), 32, 16), w = Tensor.of(Device.CUDA, random(901, 16 * 8), 16, 8);
        Tensor h = Tensor.empty(Device.CUDA, 32, 8), y = Tensor.empty(Device.CUDA, 32, 8), s = Tensor.empty(Device.CUDA, 1);
        Runnable work = () -> {
            gpu.gemm(false, false, 32, 8, 16, 1f, x, w, 0f, h);
            gpu.relu(h, y);
            gpu.sumAll(y, s);
        };
        work.run();  // warm-up outside capture (cuBLAS may allocate its workspace on first use)
        float direct = s.item();
        gpu.fill(s, 0f);
        CudaBackend.Graph graph = b.capture(work);
        graph.replay();
        assertEquals(direct, s.item(), 0f, "graph replay of gemm + relu + sumAll");
    }

    @Test
    void uploadInsideCaptureIsRefusedAndCaptureEnds() {
        CudaBackend b = (CudaBackend) gpu;
        Tensor t = Tensor.empty(Device.CUDA, 4);
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> b.capture(() -> gpu.upload(new float[] {1, 2, 3, 4}, 0, t)));
        assertTrue(e.getMessage().startsWith("upload to "), e.getMessage());
        gpu.upload(new float[] {1, 2, 3, 4}, 0, t);  // the stream left capture mode
        assertArrayEquals(new float[] {1, 2, 3, 4}, t.toArray(), 0f);
    }
}
