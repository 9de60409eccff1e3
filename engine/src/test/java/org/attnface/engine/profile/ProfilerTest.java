package org.attnface.engine.profile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.io.Json;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.Sgd;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The profiler accounts for the step's time, counts FLOPs right and writes a loadable trace. */
class ProfilerTest {
    static final int BATCH = 32, SIZE = 32, CLASSES = 4;

    @AfterEach
    void uninstall() {
        Backends.wrap(Device.CPU, null);
    }

    /** conv-bn-relu-pool x2 + linear: the op mix of the real networks, a step of some ms on 2 cores. */
    static Sequential smallNet() {
        Device cpu = Device.CPU;
        Sequential net = new Sequential(
                new Conv2d(cpu, 3, 16, 3, 1, 1, true), new BatchNorm2d(cpu, 16), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Conv2d(cpu, 16, 32, 3, 1, 1, false), new BatchNorm2d(cpu, 32), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Layers.Flatten(), new Linear(cpu, 32 * 8 * 8, CLASSES));
        net.initialize(11);
        return net;
    }

    static void step(Sequential net, Sgd opt, float[] x, float[] y) {
        try (TensorScope scope = TensorScope.open()) {
            Tensor loss = Ops.crossEntropy(net.forward(Tensor.of(x, BATCH, 3, SIZE, SIZE)), Tensor.of(y, BATCH));
            opt.zeroGrad();
            loss.backward();
            opt.step();
            loss.item();
        }
    }

    static float[][] batch(long seed) {
        Random r = new Random(seed);
        float[] x = new float[BATCH * 3 * SIZE * SIZE];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] y = new float[BATCH];
        for (int i = 0; i < BATCH; i++) y[i] = r.nextInt(CLASSES);
        return new float[][] {x, y};
    }

    @Test
    void perOpTimesNeverExceedTheStepTime() {
        Sequential net = smallNet();
        Sgd opt = new Sgd(net.parameters(), 0.01f, 0.9f, 0f);
        float[][] b = batch(1);
        int steps = 9;
        // The same steps without the profiler, for its overhead (printed, not asserted: a shared machine is noisy).
        for (int i = 0; i < 30; i++) step(net, opt, b[0], b[1]);
        double[] plain = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            step(net, opt, b[0], b[1]);
            plain[i] = (System.nanoTime() - t0) / 1e6;
        }
        Profiler profiler = Profiler.install(Device.CPU);
        // Warm-up outside profiled steps: JIT compilation of the wrapper.
        for (int i = 0; i < 10; i++) step(net, opt, b[0], b[1]);
        double[] profiled = new double[steps];
        double[] ratio = new double[steps];
        for (int i = 0; i < steps; i++) {
            long t0 = System.nanoTime();
            profiler.beginStep();
            step(net, opt, b[0], b[1]);
            profiler.endStep();
            long wall = System.nanoTime() - t0;
            long ops = profiler.lastStepNanos()[1];
            ratio[i] = ops / (double) wall;
            profiled[i] = wall / 1e6;
            System.out.printf("step %d: wall %.3f ms (measured around the step), sum of per-op times %.3f ms, ratio %.3f%n",
                    i, wall / 1e6, ops / 1e6, ratio[i]);
        }
        System.out.print(profiler.table(12));
        double[] sorted = ratio.clone();
        Arrays.sort(sorted);
        double median = sorted[steps / 2];
        Arrays.sort(plain);
        Arrays.sort(profiled);
        System.out.printf("median step: %.3f ms without the profiler, %.3f ms with it; median sum of op times / wall %.3f%n",
                plain[steps / 2], profiled[steps / 2], median);
        // Op times are measured inside the step, so they can never exceed it: a ratio above 1
        // means the profiler counts some time twice. How close the sum comes to the wall time
        // (issue #5: within 10%) is a speed figure, not a unit-test property: it depends on what
        // else runs on the machine, so it is printed here and by `attnface bench --profile`
        // ("(unattributed)" row) and recorded in bench/RESULTS.md.
        for (int i = 0; i < steps; i++) assertTrue(ratio[i] > 0 && ratio[i] <= 1.0, "step " + i + ": sum of op times / wall = " + ratio[i]);
        assertEquals(steps, profiler.steps());
    }

    @Test
    void countsFlopsOfConvolutionAndGemmPerCall() {
        Sequential net = smallNet();
        Sgd opt = new Sgd(net.parameters(), 0.01f, 0.9f, 0f);
        float[][] b = batch(2);
        Profiler profiler = Profiler.install(Device.CPU);
        profiler.beginStep();
        step(net, opt, b[0], b[1]);
        profiler.endStep();
        // first conv: 2 * n * k * p * q * c * r * s
        double conv1 = 2.0 * BATCH * 16 * SIZE * SIZE * 3 * 3 * 3;
        OpStats fwd = find(profiler.byShape(), "conv2dForward", "x[32,3,32,32] w[16,3,3,3] s1 p1");
        assertEquals(1, fwd.calls());
        assertEquals(conv1, fwd.flops(), 0.5);
        double gemmFlops = 0;
        for (OpStats s : profiler.byShape()) if (s.op().equals("gemm")) gemmFlops += s.flops();
        // the linear layer: forward, grad of input, grad of weight, each 2 * 32 * 2048 * 4
        assertEquals(3 * 2.0 * BATCH * 2048 * CLASSES, gemmFlops, 0.5);
        long totalCalls = 0;
        for (OpStats s : profiler.byOp()) totalCalls += s.calls();
        long shapeCalls = 0;
        for (OpStats s : profiler.byShape()) shapeCalls += s.calls();
        assertEquals(shapeCalls, totalCalls);
        String table = profiler.table(40);
        assertTrue(table.contains("conv2dBackwardFilter") && table.contains("sgdStep") && table.contains("(unattributed)"), table);
    }

    @Test
    @SuppressWarnings("unchecked")
    void writesAChromeTraceOfOneStep(@TempDir Path dir) throws Exception {
        Sequential net = smallNet();
        Sgd opt = new Sgd(net.parameters(), 0.01f, 0.9f, 0f);
        float[][] b = batch(3);
        Profiler profiler = Profiler.install(Device.CPU);
        profiler.beginStep();
        step(net, opt, b[0], b[1]);
        profiler.endStep();
        System.out.print(profiler.writeReport(dir));
        Map<String, Object> trace = (Map<String, Object>) Json.parse(Files.readString(dir.resolve("trace.json")));
        List<Object> events = (List<Object>) trace.get("traceEvents");
        Set<String> names = new HashSet<>();
        double stepDur = 0, lastEnd = 0;
        int complete = 0;
        for (Object o : events) {
            Map<String, Object> e = (Map<String, Object>) o;
            if (!"X".equals(e.get("ph"))) continue;
            complete++;
            double ts = ((Number) e.get("ts")).doubleValue(), dur = ((Number) e.get("dur")).doubleValue();
            assertTrue(ts >= 0 && dur >= 0, "event " + e);
            if ("step".equals(e.get("cat"))) stepDur = dur;
            else {
                names.add((String) e.get("name"));
                assertInstanceOf(String.class, ((Map<String, Object>) e.get("args")).get("shapes"));
                lastEnd = Math.max(lastEnd, ts + dur);
            }
        }
        assertTrue(complete > 20, "only " + complete + " complete events");
        assertTrue(names.containsAll(Set.of("conv2dForward", "conv2dBackwardData", "gemm", "batchNormTrain", "sgdStep")), names.toString());
        assertTrue(lastEnd <= stepDur + 1e-3, "ops end at " + lastEnd + " us after a step of " + stepDur + " us");
        assertTrue(Files.readString(dir.resolve("profile.txt")).contains("by op type"));
    }

    @Test
    void withoutExplicitStepsEachOptimiserUpdateEndsAStep() {
        Sequential net = smallNet();
        Sgd opt = new Sgd(net.parameters(), 0.01f, 0.9f, 0f);
        float[][] b = batch(4);
        Profiler profiler = Profiler.install(Device.CPU);
        for (int i = 0; i < 4; i++) step(net, opt, b[0], b[1]);
        // the first automatic step holds the warm-up and is not counted
        assertEquals(3, profiler.steps());
        assertEquals(3, find(profiler.byShape(), "sgdStep", null).calls());
        assertTrue(profiler.opMillis() <= profiler.stepMillis());
        for (int i = 0; i < Profiler.AUTOMATIC_STEPS + 2; i++) step(net, opt, b[0], b[1]);
        assertEquals(Profiler.AUTOMATIC_STEPS, profiler.steps(), "recording stops after the automatic steps");
    }

    @Test
    void timesAPrimitiveWithoutARuleAndPassesItsErrorsThrough() {
        Profiler profiler = Profiler.install(Device.CPU);
        Backend b = Backends.of(Device.CPU);
        assertTrue(b.describe().endsWith("[profiled]"), b.describe());
        Tensor x = Tensor.of(new float[] {-1, 2, -3, 4}, 2, 2), y = Tensor.of(new float[4], 2, 2), bad = Tensor.of(new float[3], 3);
        profiler.beginStep();
        b.relu(x, y);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.relu(x, bad));
        profiler.endStep();
        assertTrue(e.getMessage().startsWith("relu: "), "the backend's own exception, not a reflection wrapper: " + e);
        assertArrayEquals(new float[] {0, 2, 0, 4}, y.toArray());
        OpStats relu = find(profiler.byShape(), "relu", "[2,2]");
        assertEquals(1, relu.calls(), "the failed call is not counted");
        assertEquals(4.0 * (4 + 4), relu.bytes(), "default bytes: x and y once each");
        assertEquals(0, relu.flops());
    }

    static OpStats find(List<OpStats> stats, String op, String shape) {
        for (OpStats s : stats) if (s.op().equals(op) && (shape == null || s.shape().equals(shape))) return s;
        throw new AssertionError("no " + op + " " + shape + " in " + stats.stream().map(s -> s.op() + " " + s.shape()).toList());
    }
}
