package org.attnface.bench;

import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.backend.cpu.Gemm;
import org.attnface.engine.backend.cpu.Parallel;
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
 * Square SGEMM C = A * B (row-major, no transposes, beta = 0) through the CPU backend's
 * packed GEMM split across a thread team. The secondary result {@code :gflops} is the
 * achieved GFLOP/s (JMH prints its unit as "ops/s": each "op" is 10^9 floating-point operations).
 *
 * <p>Run: {@code java --add-modules jdk.incubator.vector -jar bench/target/benchmarks.jar Sgemm}
 * ({@code -p threads=1} for one core; threads=0 means all available processors).
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx4g"})
@State(Scope.Benchmark)
public class SgemmBenchmark {
    @Param({"256", "512", "1024", "2048"})
    public int size;

    /** Worker threads; 0 = Runtime.availableProcessors(). */
    @Param({"0"})
    public int threads;

    private Parallel team;
    private float[] a, b, c;

    @Setup(Level.Trial)
    public void setUp() {
        team = new Parallel(threads > 0 ? threads : Runtime.getRuntime().availableProcessors());
        Random rnd = new Random(1);
        a = new float[size * size];
        b = new float[size * size];
        c = new float[size * size];
        for (int i = 0; i < a.length; i++) {
            a[i] = rnd.nextFloat() - 0.5f;
            b[i] = rnd.nextFloat() - 0.5f;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() { team.shutdown(); }

    /** GFLOP counter: divided by the iteration's time JMH reports it as GFLOP/s. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Flops {
        public double gflops;

        @Setup(Level.Iteration)
        public void reset() { gflops = 0; }
    }

    @Benchmark
    public float[] sgemm(Flops flops) {
        Gemm.parallel(team, false, false, size, size, size, 1f, a, 0, size, b, 0, size, 0f, c, 0, size);
        flops.gflops += Gemm.flops(size, size, size) * 1e-9;
        return c;
    }
}
