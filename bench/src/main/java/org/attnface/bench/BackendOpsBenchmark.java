package org.attnface.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.PoolShape;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * The kernels the two networks spend their time in, through the Backend interface, so the same
 * benchmark measures the CPU backend and the CUDA backend (each call is followed by
 * {@code synchronize()}, so a GPU number includes the kernel, not just its launch). Shapes are
 * the models' at batch 64, 64x64. Secondary results: {@code :gflops} for convolutions and GEMM
 * (2 FLOP per multiply-add), {@code :gbytes} for memory-bound ops (the least traffic: inputs read
 * once, outputs written once); JMH prints either per second with unit "ops/s".
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar BackendOps}
 * (CPU, all cores); on a GPU machine add {@code -p device=cpu,cuda}; one kernel: {@code -p op=conv-l1-fwd}.
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx4g"})
@State(Scope.Benchmark)
public class BackendOpsBenchmark {
    @Param({"cpu"})
    public String device;

    @Param({"gemm-1024", "conv-stem-fwd", "conv-l1-fwd", "conv-l1-bwd-data", "conv-l1-bwd-filter", "conv-l3-fwd",
            "conv-l3-bwd-filter", "conv-attn-fwd", "grid-sample-fwd", "grid-sample-bwd", "max-pool-fwd", "max-pool-bwd",
            "batch-norm-train", "batch-norm-bwd", "relu", "sgd-step-11m"})
    public String op;

    private Backend b;
    private Device dev;
    private Runnable call;
    private double gflop, gbyte;

    /** Tensors live outside any TensorScope: the fork's JVM ends with the trial. */
    @Setup(Level.Trial)
    public void setUp() {
        dev = Device.parse(device);
        b = Backends.of(dev);
        Random r = new Random(1);
        ConvShape stem = new ConvShape(64, 3, 64, 64, 64, 7, 7, 2, 3), l1 = new ConvShape(64, 64, 16, 16, 64, 3, 3, 1, 1),
                l3 = new ConvShape(64, 256, 4, 4, 256, 3, 3, 1, 1), attn = new ConvShape(64, 10, 62, 62, 10, 3, 3, 1, 0);
        switch (op) {
            case "gemm-1024" -> {
                Tensor a = rand(r, 1024, 1024), x = rand(r, 1024, 1024), c = rand(r, 1024, 1024);
                call = () -> b.gemm(false, false, 1024, 1024, 1024, 1f, a, x, 0f, c);
                gflop = 2.0 * 1024 * 1024 * 1024 / 1e9;
            }
            case "conv-stem-fwd" -> convForward(r, stem);
            case "conv-l1-fwd" -> convForward(r, l1);
            case "conv-l3-fwd" -> convForward(r, l3);
            case "conv-attn-fwd" -> convForward(r, attn);
            case "conv-l1-bwd-data" -> {
                Tensor dy = rand(r, l1.n(), l1.k(), l1.p(), l1.q()), w = rand(r, l1.k(), l1.c(), l1.r(), l1.s()),
                        dx = rand(r, l1.n(), l1.c(), l1.h(), l1.w());
                call = () -> b.conv2dBackwardData(l1, dy, w, dx);
                gflop = l1.flops() / 1e9;
            }
            case "conv-l1-bwd-filter" -> convBackwardFilter(r, l1);
            case "conv-l3-bwd-filter" -> convBackwardFilter(r, l3);
            case "grid-sample-fwd", "grid-sample-bwd" -> {
                Tensor x = rand(r, 64, 3, 64, 64), theta = Tensor.of(dev, identities(64), 64, 2, 3),
                        grid = Tensor.empty(dev, 64, 64, 64, 2), y = Tensor.empty(dev, 64, 3, 64, 64);
                b.affineGrid(theta, grid);
                if (op.equals("grid-sample-fwd")) {
                    call = () -> b.gridSample(x, grid, y);
                    gbyte = 4.0 * (x.numel() + grid.numel() + y.numel()) / 1e9;
                } else {
                    Tensor dx = Tensor.empty(dev, 64, 3, 64, 64), dgrid = Tensor.empty(dev, 64, 64, 64, 2);
                    call = () -> b.gridSampleBackward(x, grid, y, dx, dgrid);
                    gbyte = 4.0 * (x.numel() + 2 * grid.numel() + 2 * y.numel()) / 1e9;
                }
            }
            case "max-pool-fwd", "max-pool-bwd" -> {
                PoolShape g = new PoolShape(64, 64, 32, 32, 3, 3, 2, 1);
                Tensor x = rand(r, 64, 64, 32, 32), y = Tensor.empty(dev, 64, 64, 16, 16);
                b.maxPool2d(g, x, y);
                if (op.equals("max-pool-fwd")) {
                    call = () -> b.maxPool2d(g, x, y);
                    gbyte = 4.0 * (x.numel() + y.numel()) / 1e9;
                } else {
                    Tensor dx = Tensor.empty(dev, 64, 64, 32, 32);
                    call = () -> b.maxPool2dBackward(g, x, y, y, dx);
                    gbyte = 4.0 * (2 * x.numel() + 2 * y.numel()) / 1e9;
                }
            }
            case "batch-norm-train", "batch-norm-bwd" -> {
                Tensor x = rand(r, 64, 64, 32, 32), y = Tensor.empty(dev, 64, 64, 32, 32), gamma = rand(r, 64), beta = rand(r, 64),
                        mean = Tensor.zeros(dev, 64), var = Tensor.full(dev, 1f, 64),
                        saveMean = Tensor.empty(dev, 64), saveInvStd = Tensor.empty(dev, 64);
                b.batchNormTrain(x, gamma, beta, mean, var, 0.1f, 1e-5f, y, saveMean, saveInvStd);
                if (op.equals("batch-norm-train")) {
                    call = () -> b.batchNormTrain(x, gamma, beta, mean, var, 0.1f, 1e-5f, y, saveMean, saveInvStd);
                    gbyte = 4.0 * 2 * x.numel() / 1e9;
                } else {
                    Tensor dx = Tensor.empty(dev, 64, 64, 32, 32), dgamma = Tensor.empty(dev, 64), dbeta = Tensor.empty(dev, 64);
                    call = () -> b.batchNormBackward(x, y, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
                    gbyte = 4.0 * 3 * x.numel() / 1e9;
                }
            }
            case "relu" -> {
                Tensor x = rand(r, 64, 64, 32, 32), y = Tensor.empty(dev, 64, 64, 32, 32);
                call = () -> b.relu(x, y);
                gbyte = 4.0 * 2 * x.numel() / 1e9;
            }
            case "sgd-step-11m" -> {
                int n = 11_181_658;   // ResNet-18 multi-task parameters
                Tensor p = rand(r, n), g = rand(r, n), m = Tensor.zeros(dev, n);
                call = () -> b.sgdStep(p, g, m, 1e-6f, 0.9f, 5e-4f);
                gbyte = 4.0 * 5 * n / 1e9;   // read p, g, m; write p, m
            }
            default -> throw new IllegalArgumentException("unknown op '" + op + "'");
        }
        call.run();
        b.synchronize();
    }

    private void convForward(Random r, ConvShape g) {
        Tensor x = rand(r, g.n(), g.c(), g.h(), g.w()), w = rand(r, g.k(), g.c(), g.r(), g.s()), y = Tensor.empty(dev, g.n(), g.k(), g.p(), g.q());
        call = () -> b.conv2dForward(g, x, w, null, y);
        gflop = g.flops() / 1e9;
    }

    private void convBackwardFilter(Random r, ConvShape g) {
        Tensor x = rand(r, g.n(), g.c(), g.h(), g.w()), dy = rand(r, g.n(), g.k(), g.p(), g.q()), dw = Tensor.empty(dev, g.k(), g.c(), g.r(), g.s());
        call = () -> b.conv2dBackwardFilter(g, x, dy, dw);
        gflop = g.flops() / 1e9;
    }

    private Tensor rand(Random r, int... shape) {
        long n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(dev, v, shape);
    }

    /** Slightly zoomed identity transforms, so the sampler interpolates between pixels. */
    private static float[] identities(int n) {
        float[] t = new float[n * 6];
        for (int i = 0; i < n; i++) {
            t[i * 6] = 0.9f;
            t[i * 6 + 4] = 0.9f;
        }
        return t;
    }

    /** Work counters: divided by the iteration's time, JMH reports them per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Work {
        public double gflops, gbytes;

        @Setup(Level.Iteration)
        public void reset() { gflops = gbytes = 0; }
    }

    @Benchmark
    public void run(Work work) {
        call.run();
        b.synchronize();
        work.gflops += gflop;
        work.gbytes += gbyte;
    }
}
