package org.attnface.engine.backend.cpu;

import static org.attnface.engine.backend.cpu.TestFloats.random;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.backend.ConvShape;

/**
 * Old against new, in one JVM, alternating: each ResNet-18 stride-1 3x3 layer (batch 64) through
 * im2col + GEMM ({@link Conv#forwardGemm}, {@link Conv#backwardDataGemm}) and through
 * {@link Conv#forward} / {@link Conv#backwardData} (which take Winograd there), forward and backward
 * data. Per round each path runs CALLS calls and keeps its fastest; the table gives the median over
 * rounds of each path's GFLOP/s (2 N K P Q C R S per call, the direct count) and the median of the
 * per-round ratios new / old, so a load spike hits both sides of a ratio alike, and the ratio of the
 * two paths' fastest rounds. Not a test; run:
 *
 * <pre>
 * ./mvnw -q -o test-compile -pl engine -am
 * java --add-modules jdk.incubator.vector -cp engine/target/test-classes:engine/target/classes \
 *   org.attnface.engine.backend.cpu.ConvTiming THREADS ROUNDS [layer, e.g. 64@16, or all] [batch]
 * </pre>
 */
public final class ConvTiming {
    private ConvTiming() {}

    static final int CALLS = 3;
    /** Untimed rounds per layer and pass before the timed ones (the first layer timed otherwise includes C2's compiles). */
    static final int WARMUP = 6;

    /** 3x3 stride-1 layers as {channels, map size}. */

    /** channels @ map size: ResNet-18 at 64x64 input, then at 128x128 (width 64), then width 32 at 128x128. */
    static final int[][] LAYERS = {{64, 16}, {128, 8}, {256, 4}, {512, 2}, {64, 32}, {128, 16}, {256, 8}, {512, 4}, {32, 32}};

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int rounds = args.length > 1 ? Integer.parseInt(args[1]) : 7;
        String filter = args.length > 2 ? args[2] : null;
        int batch = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        CpuBackend be = new CpuBackend(threads);
        Random rnd = new Random(1);
        System.out.printf("threads=%d rounds=%d, best of %d calls per round; GFLOP/s = direct convolution FLOPs / time%n", threads, rounds, CALLS);
        System.out.printf("%-9s %-8s %14s %14s %14s %14s%n", "layer", "pass", "im2col median", "new median", "median ratio", "best-of ratio");
        for (int[] l : LAYERS) {
            String name = l[0] + "@" + l[1];
            if (filter != null && !filter.equals("all") && !name.equals(filter)) continue;
            ConvShape g = new ConvShape(batch, l[0], l[1], l[1], l[0], 3, 3, 1, 1);
            float[] x = random(rnd, g.n() * g.c() * g.h() * g.w()), w = random(rnd, g.k() * g.c() * 9);
            float[] y = new float[g.n() * g.k() * g.p() * g.q()], dx = new float[x.length];
            for (int pass = 0; pass < 2; pass++) {
                boolean fwd = pass == 0;
                Runnable old = fwd ? () -> Conv.forwardGemm(be, g, x, 0, w, 0, null, 0, y, 0) : () -> Conv.backwardDataGemm(be, g, y, 0, w, 0, dx, 0);
                Runnable now = fwd ? () -> Conv.forward(be, g, x, 0, w, 0, null, 0, y, 0) : () -> Conv.backwardData(be, g, y, 0, w, 0, dx, 0);
                double[] a = new double[rounds], b = new double[rounds], ratio = new double[rounds];
                for (int r = -WARMUP; r < rounds; r++) { // warm-up rounds first: C2 compiles the kernels
                    double ta = best(old), tb = best(now);
                    if (r < 0) continue;
                    a[r] = g.flops() / ta;
                    b[r] = g.flops() / tb;
                    ratio[r] = ta / tb;
                }
                System.out.printf("%-9s %-8s %14.1f %14.1f %14.2f %14.2f%n", name, fwd ? "forward" : "bwdData", median(a), median(b), median(ratio),
                        Arrays.stream(b).max().getAsDouble() / Arrays.stream(a).max().getAsDouble());
            }
        }
        be.shutdown();
    }

    private static double best(Runnable r) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < CALLS; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, System.nanoTime() - t0);
        }
        return best;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
