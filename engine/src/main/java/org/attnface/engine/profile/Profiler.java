package org.attnface.engine.profile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.backend.AugmentSpec;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.Backends;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.ImageStore;
import org.attnface.engine.backend.PoolShape;
import org.attnface.engine.backend.Storage;
import org.attnface.engine.backend.View;
import org.attnface.engine.io.AtomicFile;

/**
 * A backend wrapper that times every primitive call, PyTorch-profiler style: per op and
 * shape, the calls, total and mean time, share of the step, and achieved GFLOP/s (GEMM and
 * convolution) and GB/s; plus a Chrome trace (chrome://tracing, ui.perfetto.dev) of one step.
 *
 * <pre>
 * Profiler profiler = Profiler.install(Device.CPU);    // Backends.wrap(device, raw -> new Profiler(device, raw))
 * profiler.beginStep(); ...one training step...; profiler.endStep();
 * System.out.print(profiler.writeReport(runDir));    // table; writes profile.txt + trace.json
 * profiler.uninstall();
 * </pre>
 *
 * Steps are either marked with {@link #beginStep}/{@link #endStep}, or, when beginStep is
 * never called, end at each optimiser update (sgdStep/adamwStep is the last primitive of a
 * training step); the first such automatic step (JIT and buffer-cache warm-up) is not counted,
 * and recording stops after {@link #AUTOMATIC_STEPS} counted steps, so that a long training
 * run pays nothing further and its evaluation passes do not land in a step.
 *
 * <p>Cost per call: two clock reads and one small record (~0.1 us); names and shapes are
 * formatted only when a step ends, outside the timed region. Memory management (allocate,
 * release) and queries pass through untimed. Time between primitives (autograd bookkeeping,
 * allocation, Java code of the ops) shows as "unattributed" in the report.
 */
public final class Profiler implements Backend {
    private final Device device;
    private final Backend inner;
    private final OpClock clock;
    /** A host clock times queued GPU work only if the queue is drained around each op. */
    private final boolean syncEachOp;

    /** Steps counted in automatic mode before recording stops. */
    public static final int AUTOMATIC_STEPS = 20;

    private final ArrayList<Event> events = new ArrayList<>(4096);
    private volatile boolean recording;
    private boolean explicitSteps;
    private int automaticSteps;
    private long stepStartMark;

    private final Map<String, OpStats> byShape = new HashMap<>();
    private int steps;
    private long stepNanos, opNanos;
    private StepTrace lastStep;

    /** Wraps {@code inner}, timing with the host clock (synchronising around each op on a GPU). */
    public Profiler(Device device, Backend inner) {
        this(device, inner, OpClock.host());
    }

    /** Wraps {@code inner}, timing with {@code clock} (for example CUDA events on the compute stream). */
    public Profiler(Device device, Backend inner, OpClock clock) {
        this.device = device;
        this.inner = inner;
        this.clock = clock;
        this.syncEachOp = clock.isHostClock() && device != Device.CPU;
        this.stepStartMark = clock.mark();
        this.recording = true;
    }

    /** Installs a host-clock profiler around the device's backend; ops on that device go through it until {@link #uninstall}. */
    public static Profiler install(Device device) {
        return install(device, OpClock.host());
    }

    public static Profiler install(Device device, OpClock clock) {
        Profiler[] made = new Profiler[1];
        Backends.wrap(device, raw -> made[0] = new Profiler(device, raw, clock));
        return made[0];
    }

    /** Removes the profiler (all wrappers) from its device. */
    public void uninstall() {
        Backends.wrap(device, null);
    }

    // ---- steps ---------------------------------------------------------------------------

    /**
     * Starts a profiled step; from now on steps are marked explicitly and ops outside steps
     * are not recorded. The first call drops the statistics of earlier automatic steps.
     */
    public void beginStep() {
        if (!explicitSteps) reset();
        explicitSteps = true;
        synchronized (events) { events.clear(); }
        inner.synchronize();
        stepStartMark = clock.mark();
        recording = true;
    }

    /** Ends the step begun by {@link #beginStep}: waits for the device, then adds the step to the statistics. */
    public void endStep() {
        if (!explicitSteps || !recording) throw new IllegalStateException("Profiler.endStep() without beginStep()");
        inner.synchronize();
        long stop = clock.mark();
        recording = false;
        resolve(stop, true);
    }

    private void endAutomaticStep() {
        if (explicitSteps || !recording) return;
        inner.synchronize();
        long stop = clock.mark();
        resolve(stop, automaticSteps++ > 0);
        if (steps >= AUTOMATIC_STEPS) recording = false;
        stepStartMark = clock.mark();
    }

    private void resolve(long stopMark, boolean count) {
        List<Event> step;
        synchronized (events) {
            step = new ArrayList<>(events);
            events.clear();
        }
        long wall = clock.nanosBetween(stepStartMark, stopMark);
        if (count) {
            List<TraceEvent> trace = new ArrayList<>(step.size());
            long sum = 0;
            for (Event e : step) {
                long duration = clock.nanosBetween(e.start, e.stop);
                String shape = formatDetail(e.detail);
                byShape.computeIfAbsent(e.op + '\u0000' + shape, k -> new OpStats(e.op, shape)).add(duration, e.flops, e.bytes);
                sum += duration;
                trace.add(new TraceEvent(e.op, shape, clock.nanosBetween(stepStartMark, e.start), duration, e.thread, e.flops, e.bytes));
            }
            steps++;
            stepNanos += wall;
            opNanos += sum;
            lastStep = new StepTrace(steps, wall, sum, trace);
        }
        clock.reset();
    }

    /** Forgets every counted step. */
    public void reset() {
        byShape.clear();
        steps = 0;
        stepNanos = opNanos = 0;
        lastStep = null;
    }

    // ---- results ---------------------------------------------------------------------------

    /** Steps counted so far. */
    public int steps() { return steps; }

    /** Mean wall time of a counted step, in milliseconds. */
    public double stepMillis() { return steps == 0 ? 0 : stepNanos / 1e6 / steps; }

    /** Mean per step of the summed primitive times, in milliseconds. */
    public double opMillis() { return steps == 0 ? 0 : opNanos / 1e6 / steps; }

    /** Wall time and summed op time of the last counted step, in nanoseconds: {wall, ops}. */
    public long[] lastStepNanos() {
        return lastStep == null ? new long[] {0, 0} : new long[] {lastStep.wallNanos, lastStep.opNanos};
    }

    /** Statistics per op and shape, largest total time first. */
    public List<OpStats> byShape() {
        List<OpStats> list = new ArrayList<>(byShape.values());
        list.sort(Comparator.comparingLong(OpStats::totalNanos).reversed().thenComparing(OpStats::op).thenComparing(OpStats::shape));
        return list;
    }

    /** Statistics per op type (summed over shapes), largest total time first. */
    public List<OpStats> byOp() {
        Map<String, OpStats> m = new LinkedHashMap<>();
        for (OpStats s : byShape()) m.computeIfAbsent(s.op(), k -> new OpStats(k, "")).add(s);
        List<OpStats> list = new ArrayList<>(m.values());
        list.sort(Comparator.comparingLong(OpStats::totalNanos).reversed().thenComparing(OpStats::op));
        return list;
    }

    /** The per-shape table (top {@code maxRows} rows) and the per-op-type summary, as text. */
    public String table(int maxRows) {
        StringBuilder b = new StringBuilder();
        double wallMs = stepNanos / 1e6, opsMs = opNanos / 1e6;
        b.append(String.format(Locale.ROOT, "profile of %d step(s) on %s: step %.2f ms (wall), primitives %.2f ms = %.1f%% of the step%n",
                steps, inner.describe(), stepMillis(), opMillis(), wallMs == 0 ? 0 : 100 * opsMs / wallMs));
        String header = String.format(Locale.ROOT, "%-26s %7s %10s %10s %6s %8s %8s  %s%n",
                "op", "calls", "total ms", "mean us", "%step", "GFLOP/s", "GB/s", "shapes");
        b.append(header);
        List<OpStats> rows = byShape();
        for (int i = 0; i < Math.min(maxRows, rows.size()); i++) row(b, rows.get(i), wallMs);
        if (rows.size() > maxRows) {
            OpStats rest = new OpStats("(" + (rows.size() - maxRows) + " more shapes)", "");
            for (int i = maxRows; i < rows.size(); i++) rest.add(rows.get(i));
            row(b, rest, wallMs);
        }
        b.append(String.format(Locale.ROOT, "%-26s %7s %10.3f %10s %6.1f%n", "(unattributed)", "", wallMs - opsMs, "",
                wallMs == 0 ? 0 : 100 * (wallMs - opsMs) / wallMs));
        b.append(String.format(Locale.ROOT, "%nby op type:%n"));
        b.append(header);
        for (OpStats s : byOp()) row(b, s, wallMs);
        return b.toString();
    }

    private static void row(StringBuilder b, OpStats s, double wallMs) {
        b.append(String.format(Locale.ROOT, "%-26s %7d %10.3f %10.1f %6.1f %8s %8s  %s%n",
                s.op(), s.calls(), s.totalMillis(), s.meanMicros(), wallMs == 0 ? 0 : 100 * s.totalMillis() / wallMs,
                number(s.gflopsPerSecond()), number(s.gbPerSecond()), s.shape()));
    }

    private static String number(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.1f", v);
    }

    /**
     * Writes the last counted step as Chrome trace JSON: "traceEvents" of phase "X" with ts and
     * dur in microseconds from the step's start, shapes, GFLOP/s and GB/s in args.
     */
    public void writeChromeTrace(Path file) throws IOException {
        if (lastStep == null) throw new IllegalStateException("no profiled step to write to " + file);
        AtomicFile.writeString(file, chromeTrace());
    }

    /** The last counted step as Chrome trace JSON. */
    public String chromeTrace() {
        StepTrace s = lastStep;
        if (s == null) throw new IllegalStateException("no profiled step");
        Map<Long, Integer> tids = new LinkedHashMap<>();
        StringBuilder b = new StringBuilder(256 + 200 * s.events.size());
        b.append("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"backend\":").append(quote(inner.describe()))
                .append(",\"step\":").append(s.index).append("},\"traceEvents\":[\n");
        b.append("{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":")
                .append(quote("attnface " + device.name().toLowerCase(Locale.ROOT))).append("}},\n");
        b.append("{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"step\"}},\n");
        b.append(String.format(Locale.ROOT,
                "{\"name\":\"step %d\",\"cat\":\"step\",\"ph\":\"X\",\"pid\":1,\"tid\":0,\"ts\":0.000,\"dur\":%.3f,\"args\":{\"primitives_ms\":%.3f}}",
                s.index, s.wallNanos / 1e3, s.opNanos / 1e6));
        for (TraceEvent e : s.events) {
            int tid = tids.computeIfAbsent(e.thread, t -> tids.size() + 1);
            b.append(",\n{\"name\":").append(quote(e.op)).append(",\"cat\":\"op\",\"ph\":\"X\",\"pid\":1,\"tid\":").append(tid)
                    .append(String.format(Locale.ROOT, ",\"ts\":%.3f,\"dur\":%.3f", e.atNanos / 1e3, e.nanos / 1e3))
                    .append(",\"args\":{\"shapes\":").append(quote(e.shape));
            if (e.flops > 0 && e.nanos > 0) b.append(String.format(Locale.ROOT, ",\"gflops\":%.3f,\"GFLOP/s\":%.2f", e.flops / 1e9, e.flops / e.nanos));
            if (e.bytes > 0 && e.nanos > 0) b.append(String.format(Locale.ROOT, ",\"MB\":%.4f,\"GB/s\":%.2f", e.bytes / 1e6, e.bytes / e.nanos));
            b.append("}}");
        }
        for (Map.Entry<Long, Integer> t : tids.entrySet()) {
            b.append(",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":").append(t.getValue())
                    .append(",\"args\":{\"name\":\"thread ").append(t.getKey()).append("\"}}");
        }
        b.append("\n]}\n");
        return b.toString();
    }

    /**
     * Writes the table to {@code dir}/profile.txt and the last step to {@code dir}/trace.json;
     * returns the table and where the trace went, for the caller to print.
     */
    public String writeReport(Path dir) throws IOException {
        String table = table(40);
        Files.createDirectories(dir);
        AtomicFile.writeString(dir.resolve("profile.txt"), table);
        if (lastStep == null) return table;
        writeChromeTrace(dir.resolve("trace.json"));
        return table + "trace of step " + lastStep.index + " written to " + dir.resolve("trace.json")
                + " (open in chrome://tracing or ui.perfetto.dev)" + System.lineSeparator();
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2).append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.append('"').toString();
    }

    // ---- recording -------------------------------------------------------------------------

    /** One timed call; detail holds the tensors and shapes, formatted when the step ends. */
    private record Event(String op, Object[] detail, double flops, double bytes, long start, long stop, long thread) {}

    private record TraceEvent(String op, String shape, long atNanos, long nanos, long thread, double flops, double bytes) {}

    private record StepTrace(int index, long wallNanos, long opNanos, List<TraceEvent> events) {}

    private long start() {
        if (!recording) return 0;
        if (syncEachOp) inner.synchronize();
        return clock.mark();
    }

    private void stop(long start, String op, double flops, double bytes, Object... detail) {
        if (!recording) return;
        if (syncEachOp) inner.synchronize();
        long stop = clock.mark();
        Event e = new Event(op, detail, flops, bytes, start, stop, Thread.currentThread().threadId());
        synchronized (events) { events.add(e); }
    }

    /** Bytes of float tensors read or written once each; null entries (optional bias) count 0. */
    private static double bytes(View... ts) {
        long n = 0;
        for (View t : ts) if (t != null) n += t.numel();
        return 4.0 * n;
    }

    private static String formatDetail(Object[] detail) {
        StringBuilder b = new StringBuilder();
        for (Object o : detail) {
            if (!b.isEmpty()) b.append(' ');
            switch (o) {
                case null -> b.append('-');
                case View t -> shape(b, t.shape());
                case ConvShape g -> {
                    b.append("x[").append(g.n()).append(',').append(g.c()).append(',').append(g.h()).append(',').append(g.w())
                            .append("] w[").append(g.k()).append(',').append(g.c()).append(',').append(g.r()).append(',').append(g.s())
                            .append("] s").append(g.stride()).append(" p").append(g.pad());
                }
                case PoolShape g -> {
                    b.append("x[").append(g.n()).append(',').append(g.c()).append(',').append(g.h()).append(',').append(g.w())
                            .append("] k").append(g.kh()).append('x').append(g.kw()).append(" s").append(g.stride()).append(" p").append(g.pad());
                }
                default -> b.append(o);
            }
        }
        return b.toString();
    }

    private static void shape(StringBuilder b, int[] shape) {
        b.append('[');
        for (int i = 0; i < shape.length; i++) b.append(i == 0 ? "" : ",").append(shape[i]);
        b.append(']');
    }

    // ---- Backend: pass-through of memory management ----------------------------------------

    /** The wrapped backend. */
    public Backend inner() { return inner; }

    @Override public String describe() { return inner.describe() + " [profiled]"; }

    @Override public Storage allocate(long numel) { return inner.allocate(numel); }

    @Override public void release(Storage storage) { inner.release(storage); }

    @Override public void synchronize() { inner.synchronize(); }

    // ---- Backend: timed primitives ---------------------------------------------------------

    @Override public void upload(float[] src, int srcOffset, View dst) {
        long t = start();
        inner.upload(src, srcOffset, dst);
        stop(t, "upload", 0, bytes(dst), dst);
    }

    @Override public void download(View src, float[] dst, int dstOffset) {
        long t = start();
        inner.download(src, dst, dstOffset);
        stop(t, "download", 0, bytes(src), src);
    }

    @Override public void copy(View src, View dst) {
        long t = start();
        inner.copy(src, dst);
        stop(t, "copy", 0, bytes(src, dst), src);
    }

    @Override public void fill(View x, float value) {
        long t = start();
        inner.fill(x, value);
        stop(t, "fill", 0, bytes(x), x);
    }

    @Override public void binary(BinaryOp op, View a, View b, View out) {
        long t = start();
        inner.binary(op, a, b, out);
        stop(t, binaryName(op), 0, bytes(a, b, out), a, b);
    }

    private static String binaryName(BinaryOp op) {
        return switch (op) {
            case ADD -> "binary ADD";
            case SUB -> "binary SUB";
            case MUL -> "binary MUL";
            case DIV -> "binary DIV";
        };
    }

    @Override public void sumTo(View x, View out) {
        long t = start();
        inner.sumTo(x, out);
        stop(t, "sumTo", 0, bytes(x, out), x, "->", out);
    }

    @Override public void axpy(float alpha, View x, View y) {
        long t = start();
        inner.axpy(alpha, x, y);
        stop(t, "axpy", 0, bytes(x, y, y), x);
    }

    @Override public void scale(View x, float alpha, View out) {
        long t = start();
        inner.scale(x, alpha, out);
        stop(t, "scale", 0, bytes(x, out), x);
    }

    @Override public void scaleByScalar(View x, View s, float alpha, View out) {
        long t = start();
        inner.scaleByScalar(x, s, alpha, out);
        stop(t, "scaleByScalar", 0, bytes(x, s, out), x);
    }

    @Override public void relu(View x, View y) {
        long t = start();
        inner.relu(x, y);
        stop(t, "relu", 0, bytes(x, y), x);
    }

    @Override public void reluBackward(View y, View dy, View dx) {
        long t = start();
        inner.reluBackward(y, dy, dx);
        stop(t, "reluBackward", 0, bytes(y, dy, dx), y);
    }

    @Override public void sumAll(View x, View out) {
        long t = start();
        inner.sumAll(x, out);
        stop(t, "sumAll", 0, bytes(x, out), x);
    }

    @Override public void countNonFinite(View x, View out) {
        long t = start();
        inner.countNonFinite(x, out);
        stop(t, "countNonFinite", 0, bytes(x, out), x);
    }

    @Override public void copy2d(View src, int srcStride, int srcCol, View dst, int dstStride, int dstCol, int rows, int cols) {
        long t = start();
        inner.copy2d(src, srcStride, srcCol, dst, dstStride, dstCol, rows, cols);
        stop(t, "copy2d", 0, 8.0 * rows * cols, rows + "x" + cols);
    }

    @Override public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, View a, View b, float beta, View c) {
        long t = start();
        inner.gemm(transA, transB, m, n, k, alpha, a, b, beta, c);
        // C is read as well as written when beta != 0.
        stop(t, "gemm", 2.0 * m * n * k, 4.0 * ((long) m * k + (long) k * n + (long) m * n * (beta == 0 ? 1 : 2)),
                (transA ? "T" : "N") + (transB ? "T" : "N"), "m=" + m, "n=" + n, "k=" + k);
    }

    @Override public void conv2dForward(ConvShape g, View x, View w, View bias, View y) {
        long t = start();
        inner.conv2dForward(g, x, w, bias, y);
        stop(t, "conv2dForward", g.flops(), bytes(x, w, bias, y), g);
    }

    @Override public void conv2dBackwardData(ConvShape g, View dy, View w, View dx) {
        long t = start();
        inner.conv2dBackwardData(g, dy, w, dx);
        stop(t, "conv2dBackwardData", g.flops(), bytes(dy, w, dx), g);
    }

    @Override public void conv2dBackwardFilter(ConvShape g, View x, View dy, View dw) {
        long t = start();
        inner.conv2dBackwardFilter(g, x, dy, dw);
        stop(t, "conv2dBackwardFilter", g.flops(), bytes(x, dy, dw), g);
    }

    @Override public void conv2dBackwardBias(ConvShape g, View dy, View db) {
        long t = start();
        inner.conv2dBackwardBias(g, dy, db);
        stop(t, "conv2dBackwardBias", 0, bytes(dy, db), dy);
    }

    @Override public void batchNormTrain(View x, View gamma, View beta, View runningMean, View runningVar,
                                         float momentum, float eps, View y, View saveMean, View saveInvStd) {
        long t = start();
        inner.batchNormTrain(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        stop(t, "batchNormTrain", 0, bytes(x, y), x);
    }

    @Override public void batchNormInfer(View x, View gamma, View beta, View runningMean, View runningVar, float eps, View y) {
        long t = start();
        inner.batchNormInfer(x, gamma, beta, runningMean, runningVar, eps, y);
        stop(t, "batchNormInfer", 0, bytes(x, y), x);
    }

    @Override public void batchNormBackward(View x, View dy, View gamma, View saveMean, View saveInvStd,
                                            View dx, View dgamma, View dbeta) {
        long t = start();
        inner.batchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
        stop(t, "batchNormBackward", 0, bytes(x, dy, dx), x);
    }

    @Override public void maxPool2d(PoolShape g, View x, View y) {
        long t = start();
        inner.maxPool2d(g, x, y);
        stop(t, "maxPool2d", 0, bytes(x, y), g);
    }

    @Override public void maxPool2dBackward(PoolShape g, View x, View y, View dy, View dx) {
        long t = start();
        inner.maxPool2dBackward(g, x, y, dy, dx);
        stop(t, "maxPool2dBackward", 0, bytes(x, y, dy, dx), g);
    }

    @Override public void avgPool2d(PoolShape g, View x, View y) {
        long t = start();
        inner.avgPool2d(g, x, y);
        stop(t, "avgPool2d", 0, bytes(x, y), g);
    }

    @Override public void avgPool2dBackward(PoolShape g, View dy, View dx) {
        long t = start();
        inner.avgPool2dBackward(g, dy, dx);
        stop(t, "avgPool2dBackward", 0, bytes(dy, dx), g);
    }

    @Override public void softmax(View x, View y) {
        long t = start();
        inner.softmax(x, y);
        stop(t, "softmax", 0, bytes(x, y), x);
    }

    @Override public void softmaxBackward(View y, View dy, View dx) {
        long t = start();
        inner.softmaxBackward(y, dy, dx);
        stop(t, "softmaxBackward", 0, bytes(y, dy, dx), y);
    }

    @Override public void logSoftmax(View x, View y) {
        long t = start();
        inner.logSoftmax(x, y);
        stop(t, "logSoftmax", 0, bytes(x, y), x);
    }

    @Override public void logSoftmaxBackward(View y, View dy, View dx) {
        long t = start();
        inner.logSoftmaxBackward(y, dy, dx);
        stop(t, "logSoftmaxBackward", 0, bytes(y, dy, dx), y);
    }

    @Override public void softmaxCrossEntropy(View logits, View labels, View probs, View loss) {
        long t = start();
        inner.softmaxCrossEntropy(logits, labels, probs, loss);
        stop(t, "softmaxCrossEntropy", 0, bytes(logits, labels, probs, loss), logits);
    }

    @Override public void softmaxCrossEntropyBackward(View probs, View labels, View dloss, View dlogits) {
        long t = start();
        inner.softmaxCrossEntropyBackward(probs, labels, dloss, dlogits);
        stop(t, "softmaxCrossEntropyBackward", 0, bytes(probs, labels, dloss, dlogits), probs);
    }

    @Override public void expectedDistance(View logits, View labels, View probs, View loss) {
        long t = start();
        inner.expectedDistance(logits, labels, probs, loss);
        stop(t, "expectedDistance", 0, bytes(logits, labels, probs, loss), logits);
    }

    @Override public void expectedDistanceBackward(View probs, View labels, View dloss, View dlogits) {
        long t = start();
        inner.expectedDistanceBackward(probs, labels, dloss, dlogits);
        stop(t, "expectedDistanceBackward", 0, bytes(probs, labels, dloss, dlogits), probs);
    }

    @Override public void affineGrid(View theta, View grid) {
        long t = start();
        inner.affineGrid(theta, grid);
        stop(t, "affineGrid", 0, bytes(theta, grid), grid);
    }

    @Override public void affineGridBackward(View dgrid, View dtheta) {
        long t = start();
        inner.affineGridBackward(dgrid, dtheta);
        stop(t, "affineGridBackward", 0, bytes(dgrid, dtheta), dgrid);
    }

    @Override public void gridSample(View x, View grid, View y) {
        long t = start();
        inner.gridSample(x, grid, y);
        stop(t, "gridSample", 0, bytes(x, grid, y), x, grid);
    }

    @Override public void gridSampleBackward(View x, View grid, View dy, View dx, View dgrid) {
        long t = start();
        inner.gridSampleBackward(x, grid, dy, dx, dgrid);
        stop(t, "gridSampleBackward", 0, bytes(x, grid, dy, dx, dgrid), x, grid, dx == null ? "no-dx" : "dx");
    }

    @Override public void dropout(View x, float p, long seed, View y) {
        long t = start();
        inner.dropout(x, p, seed, y);
        stop(t, "dropout", 0, bytes(x, y), x);
    }

    @Override public void dropoutBackward(View dy, float p, long seed, View dx) {
        long t = start();
        inner.dropoutBackward(dy, p, seed, dx);
        stop(t, "dropoutBackward", 0, bytes(dy, dx), dy);
    }

    @Override public void sgdStep(View param, View grad, View momentumBuf, float lr, float momentum, float weightDecay) {
        long t = start();
        inner.sgdStep(param, grad, momentumBuf, lr, momentum, weightDecay);
        // reads param, grad, buf; writes param, buf
        stop(t, "sgdStep", 0, bytes(param, grad, momentumBuf, param, momentumBuf), param);
        endAutomaticStep();
    }

    @Override public void adamwStep(View param, View grad, View m, View v, float lr, float beta1, float beta2,
                                    float eps, float weightDecay, int step) {
        long t = start();
        inner.adamwStep(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, step);
        stop(t, "adamwStep", 0, bytes(param, grad, m, v, param, m, v), param);
        endAutomaticStep();
    }

    @Override public ImageStore uploadImages(byte[] hwc, int count, int height, int width) {
        long t = start();
        ImageStore s = inner.uploadImages(hwc, count, height, width);
        stop(t, "uploadImages", 0, (double) count * height * width * 3, count + "x" + height + "x" + width + "x3 uint8");
        return s;
    }

    @Override public void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, View out) {
        long t = start();
        inner.augmentImages(images, index, spec, seed, out);
        // one uint8 read and one float written per output value
        stop(t, "augmentImages", 0, 5.0 * out.numel(), out);
    }
}
