package org.attnface.bench;

import java.util.Arrays;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.cpu.CpuBackend;
import org.attnface.engine.backend.cpu.Gemm;

/**
 * Best-of-N timing of SGEMM and the conv2d passes, for a machine shared with other jobs: JMH's
 * mean counts the time other processes held the cores, the fastest of many repetitions is
 * the closest estimate of the unloaded speed. Same shapes as {@link SgemmBenchmark} and
 * {@link Conv2dBenchmark}; report both numbers and say which is which.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar
 * org.attnface.bench.KernelBestOf [threads, 0 = all] [repetitions] [conv layers, e.g. attn16,stem128: only those]}.
 */
public final class KernelBestOf {
    private KernelBestOf() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 0;
        if (threads <= 0) threads = Runtime.getRuntime().availableProcessors();
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 40;
        CpuBackend backend = new CpuBackend(threads);
        String[] layers = args.length > 2 ? args[2].split(",") : Conv2dBenchmark.LAYERS;
        System.out.printf("threads=%d repetitions=%d (best of; first repetitions warm the JIT)%n", threads, reps);
        for (int n : args.length > 2 ? new int[0] : new int[]{256, 512, 1024, 2048}) {
            Tensor a = Tensor.of(filled(n * n, 0.5f), n, n), b = Tensor.of(filled(n * n, 0.25f), n, n);
            Tensor c = Tensor.of(new float[n * n], n, n);
            // Enough products per timing that one timing lasts >= ~20 ms at 200 GFLOP/s.
            int inner = Math.max(1, (int) (4e9 / Gemm.flops(n, n, n)));
            long best = Long.MAX_VALUE;
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < inner; i++) backend.gemm(false, false, n, n, n, 1f, a, b, 0f, c);
                best = Math.min(best, (System.nanoTime() - t0) / inner);
            }
            System.out.printf("sgemm %4d: %6.1f GFLOP/s%n", n, Gemm.flops(n, n, n) / best);
        }
        for (String layer : layers) {
            ConvShape g = Conv2dBenchmark.shape(layer, 64);
            Tensor x = Tensor.of(filled(g.n() * g.c() * g.h() * g.w(), 0.5f), g.n(), g.c(), g.h(), g.w());
            Tensor w = Tensor.of(filled(g.k() * g.c() * g.r() * g.s(), 0.25f), g.k(), g.c(), g.r(), g.s());
            Tensor y = Tensor.of(filled(g.n() * g.k() * g.p() * g.q(), 0.1f), g.n(), g.k(), g.p(), g.q());
            Tensor dx = Tensor.of(new float[g.n() * g.c() * g.h() * g.w()], g.n(), g.c(), g.h(), g.w());
            Tensor dw = Tensor.of(new float[g.k() * g.c() * g.r() * g.s()], g.k(), g.c(), g.r(), g.s());
            long fwd = Long.MAX_VALUE, data = Long.MAX_VALUE, filter = Long.MAX_VALUE;
            for (int r = 0; r < reps; r++) {
                long t0 = System.nanoTime();
                backend.conv2dForward(g, x, w, null, y);
                long t1 = System.nanoTime();
                backend.conv2dBackwardData(g, y, w, dx);
                long t2 = System.nanoTime();
                backend.conv2dBackwardFilter(g, x, y, dw);
                long t3 = System.nanoTime();
                fwd = Math.min(fwd, t1 - t0);
                data = Math.min(data, t2 - t1);
                filter = Math.min(filter, t3 - t2);
            }
            System.out.printf("conv %-4s %-60s forward %6.1f, backwardData %6.1f, backwardFilter %6.1f GFLOP/s%n",
                    layer, g.toString().replace("ConvShape", ""), g.flops() / fwd, g.flops() / data, g.flops() / filter);
        }
        backend.shutdown();
    }

    private static float[] filled(int size, float value) {
        float[] v = new float[size];
        Arrays.fill(v, value);
        return v;
    }
}
