package org.attnface.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.cpu.CpuBackend;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * conv2d forward, backward-data and backward-filter on the CPU backend at the layer shapes of
 * ResNet-18 on 64x64 faces (batch 64) and of the Attn-CNN trunk. The secondary result
 * {@code :gflops} is the achieved GFLOP/s by {@link ConvShape#flops()} (2 * N*K*P*Q*C*R*S,
 * the same count for each of the three passes; JMH prints its unit as "ops/s").
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar Conv2d}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@State(Scope.Benchmark)
public class Conv2dBenchmark {
    /**
     * Layer name: stem = 3->64 7x7/2 pad 3 on 64x64; l1..l4 = 3x3/1 pad 1 at 64 ch 16x16,
     * 128 ch 8x8, 256 ch 4x4, 512 ch 2x2; l1x128..l4x128 = the same stages at 128x128 input (32x32 to
     * 4x4 maps); proj = 64->128 1x1/2 on 16x16; attn = Attn-CNN 10->10 3x3 unpadded on 60x60.
     * The stride-1 3x3 layers run Winograd (l1-l3, l1x128-l4x128) or SmallMapConv (l4).
     */
    @Param({"stem", "l1", "l2", "l3", "l4", "l1x128", "l2x128", "l3x128", "l4x128", "proj", "attn"})
    public String layer;

    @Param({"64"})
    public int batch;

    /** Worker threads; 0 = Runtime.availableProcessors(). */
    @Param({"0"})
    public int threads;

    private CpuBackend backend;
    private ConvShape g;
    private Tensor x, w, y, dx, dw;

    /** Every layer {@link #shape} knows. */
    static final String[] LAYERS = {"stem", "l1", "l2", "l3", "l4", "l1x128", "l2x128", "l3x128", "l4x128", "proj", "attn", "attn16", "attn16in", "stem128"};

    static ConvShape shape(String layer, int n) {
        return switch (layer) {
            case "stem" -> new ConvShape(n, 3, 64, 64, 64, 7, 7, 2, 3);
            case "l1" -> new ConvShape(n, 64, 16, 16, 64, 3, 3, 1, 1);
            case "l2" -> new ConvShape(n, 128, 8, 8, 128, 3, 3, 1, 1);
            case "l3" -> new ConvShape(n, 256, 4, 4, 256, 3, 3, 1, 1);
            case "l4" -> new ConvShape(n, 512, 2, 2, 512, 3, 3, 1, 1);
            case "l1x128" -> new ConvShape(n, 64, 32, 32, 64, 3, 3, 1, 1);
            case "l2x128" -> new ConvShape(n, 128, 16, 16, 128, 3, 3, 1, 1);
            case "l3x128" -> new ConvShape(n, 256, 8, 8, 256, 3, 3, 1, 1);
            case "l4x128" -> new ConvShape(n, 512, 4, 4, 512, 3, 3, 1, 1);
            case "proj" -> new ConvShape(n, 64, 16, 16, 128, 1, 1, 2, 0);
            case "attn" -> new ConvShape(n, 10, 60, 60, 10, 3, 3, 1, 0);
            // The sixth and seventh ensemble runs at 128x128: the attn trunk at width 16, its first layer, the half-width ResNet's stem.
            case "attn16" -> new ConvShape(n, 16, 126, 126, 16, 3, 3, 1, 0);
            case "attn16in" -> new ConvShape(n, 3, 128, 128, 16, 3, 3, 1, 0);
            case "stem128" -> new ConvShape(n, 3, 128, 128, 32, 7, 7, 2, 3);
            default -> throw new IllegalArgumentException("unknown layer " + layer + " (" + String.join(", ", LAYERS) + ")");
        };
    }

    @Setup(Level.Trial)
    public void setUp() {
        backend = new CpuBackend(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        g = shape(layer, batch);
        Random rnd = new Random(1);
        x = Tensor.of(random(rnd, g.n() * g.c() * g.h() * g.w()), g.n(), g.c(), g.h(), g.w());
        w = Tensor.of(random(rnd, g.k() * g.c() * g.r() * g.s()), g.k(), g.c(), g.r(), g.s());
        y = Tensor.of(random(rnd, g.n() * g.k() * g.p() * g.q()), g.n(), g.k(), g.p(), g.q());
        dx = Tensor.of(new float[g.n() * g.c() * g.h() * g.w()], g.n(), g.c(), g.h(), g.w());
        dw = Tensor.of(new float[g.k() * g.c() * g.r() * g.s()], g.k(), g.c(), g.r(), g.s());
    }

    private static float[] random(Random rnd, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = rnd.nextFloat() - 0.5f;
        return v;
    }

    @TearDown(Level.Trial)
    public void tearDown() { backend.shutdown(); }

    /** GFLOP counter: divided by the iteration's time JMH reports it as GFLOP/s. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Flops {
        public double gflops;

        @Setup(Level.Iteration)
        public void reset() { gflops = 0; }
    }

    @Benchmark
    public Tensor forward(Flops flops) {
        backend.conv2dForward(g, x, w, null, y);
        flops.gflops += g.flops() * 1e-9;
        return y;
    }

    @Benchmark
    public Tensor backwardData(Flops flops) {
        backend.conv2dBackwardData(g, y, w, dx);
        flops.gflops += g.flops() * 1e-9;
        return dx;
    }

    @Benchmark
    public Tensor backwardFilter(Flops flops) {
        backend.conv2dBackwardFilter(g, x, y, dw);
        flops.gflops += g.flops() * 1e-9;
        return dw;
    }
}
