package org.attnface.bench;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.profile.Profiler;

/**
 * What the profiler's proxy costs per primitive call, on ops small enough that the cost shows:
 * ns per call through the raw CPU backend, through the profiler while it records a step (two
 * clock reads, the reflective call, one event), and through it when it does not record (after
 * endStep: the reflective call only). Best of N repetitions of {@code calls} calls each, for a
 * shared machine; the first repetitions warm the JIT.
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -cp bench/target/benchmarks.jar
 * org.attnface.bench.ProfilerOverhead [threads, default 1] [repetitions, default 30] [calls, default 20000]}.
 */
public final class ProfilerOverhead {
    private ProfilerOverhead() {}

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        int reps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        int calls = args.length > 2 ? Integer.parseInt(args[2]) : 20_000;
        Backends.setCpuThreads(threads);
        Backend raw = Backends.raw(Device.CPU);
        Tensor x = Tensor.of(filled(256, -0.5f), 256), y = Tensor.of(filled(256, 0.25f), 256), out = Tensor.of(new float[256], 256);
        Tensor a = Tensor.of(filled(64, 0.5f), 8, 8), b = Tensor.of(filled(64, 0.25f), 8, 8), c = Tensor.of(new float[64], 8, 8);
        Map<String, Consumer<Backend>> ops = new LinkedHashMap<>();
        ops.put("relu 256", be -> be.relu(x, out));
        ops.put("binary ADD 256", be -> be.binary(BinaryOp.ADD, x, y, out));
        ops.put("scale 256", be -> be.scale(x, 2f, out));
        ops.put("gemm 8x8x8", be -> be.gemm(false, false, 8, 8, 8, 1f, a, b, 0f, c));
        System.out.printf("%s, %d repetitions of %d calls, best of: ns per call%n", raw.describe(), reps, calls);
        System.out.printf("%-16s %10s %22s %22s%n", "op", "raw", "profiled, recording", "profiled, idle");
        // Round 0 warms every path up (the first op measured would otherwise carry the JIT's work); round 1 prints.
        for (int round = 0; round < 2; round++)
        for (Map.Entry<String, Consumer<Backend>> op : ops.entrySet()) {
            Consumer<Backend> f = op.getValue();
            double plain = best(reps, calls, () -> f.accept(raw), null);
            Profiler profiler = Profiler.install(Device.CPU);
            Backend profiled = profiler.backend();
            double recording = best(reps, calls, () -> f.accept(profiled), profiler);
            double idle = best(reps, calls, () -> f.accept(profiled), null);  // after endStep nothing records
            profiler.uninstall();
            if (round == 1)
                System.out.printf("%-16s %10.1f %12.1f (+%6.1f) %12.1f (+%6.1f)%n", op.getKey(), plain, recording, recording - plain, idle, idle - plain);
        }
    }

    /** Fastest ns per call over reps repetitions; with a profiler, each repetition is one profiled step (its resolve untimed). */
    private static double best(int reps, int calls, Runnable call, Profiler steps) {
        long best = Long.MAX_VALUE;
        for (int r = 0; r < reps; r++) {
            if (steps != null) steps.beginStep();
            long t0 = System.nanoTime();
            for (int i = 0; i < calls; i++) call.run();
            long t = System.nanoTime() - t0;
            if (steps != null) steps.endStep();
            best = Math.min(best, t);
        }
        return best / (double) calls;
    }

    private static float[] filled(int n, float v) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = v * (i % 7 - 3);
        return a;
    }
}
