package org.attnface.engine.profile;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.ToDoubleFunction;

import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.PoolShape;
import org.attnface.engine.backend.View;
import org.attnface.engine.profile.ProfileReport.StepTrace;
import org.attnface.engine.profile.ProfileReport.TraceEvent;

/**
 * Times every primitive call of a backend, PyTorch-profiler style: per op and shape, the
 * calls, total and mean time, share of the step, and achieved GFLOP/s (GEMM and convolution)
 * and GB/s; plus a Chrome trace of one step ({@link ProfileReport} writes both).
 *
 * <pre>
 * Profiler profiler = Profiler.install(Device.CPU);    // wraps the device's backend in a timing proxy
 * profiler.beginStep(); ...one training step...; profiler.endStep();
 * System.out.print(profiler.writeReport(runDir));    // table; writes profile.txt + trace.json
 * profiler.uninstall();
 * </pre>
 *
 * The wrapper is a {@link Proxy} over the {@link Backend} interface, so every primitive is timed
 * without a line here: its name is the method's (plus the op of an enum first argument, "binary
 * ADD"), its shape column the first geometry record (ConvShape, PoolShape) or else the first
 * View argument, its bytes the size of its View arguments (each read or written once). Only the
 * primitives for which that is not right have an entry in {@link #RULES}.
 *
 * <p>Steps are either marked with {@link #beginStep}/{@link #endStep}, or, when beginStep is
 * never called, end at each optimiser update (sgdStep/adamwStep is the last primitive of a
 * training step); the first such automatic step (JIT and buffer-cache warm-up) is not counted,
 * and recording stops after {@link #AUTOMATIC_STEPS} counted steps, so that a long training
 * run pays nothing further and its evaluation passes do not land in a step.
 *
 * <p>Cost per call: two clock reads, a reflective call and one small record (bench's
 * ProfilerOverhead prints it); names, shapes and costs are worked out only when a step ends,
 * outside the timed region. Memory management (allocate, release) and queries pass through
 * untimed. Time between primitives (autograd bookkeeping, allocation, Java code of the ops)
 * shows as "unattributed" in the report.
 */
public final class Profiler {
    private final Device device;
    private final Backend inner;
    private final Backend proxy;
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
        this.proxy = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, new Timing());
        this.stepStartMark = clock.mark();
        this.recording = true;
    }

    /** Installs a host-clock profiler around the device's backend; ops on that device go through it until {@link #uninstall}. */
    public static Profiler install(Device device) {
        return install(device, OpClock.host());
    }

    public static Profiler install(Device device, OpClock clock) {
        Profiler[] made = new Profiler[1];
        Backends.wrap(device, raw -> (made[0] = new Profiler(device, raw, clock)).backend());
        INSTALLED.put(device, made[0]);
        return made[0];
    }

    /** Removes the profiler (all wrappers) from its device. */
    public void uninstall() {
        Backends.wrap(device, null);
        INSTALLED.remove(device, this);
    }

    // ---- communication (engine.dist): not backend primitives, timed by the caller ------------------

    private static final Map<Device, Profiler> INSTALLED = new java.util.concurrent.ConcurrentHashMap<>();

    /** The trace lane of communication regions: its own row in chrome://tracing, beside the compute threads. */
    static final long COMMUNICATION_LANE = -1;

    private static final AutoCloseable NOTHING = () -> {};

    /**
     * A timed communication region ("mpi.iallreduce", "mpi.wait", ...) on the profiler installed
     * on {@code device}, if any: a row of the table and a span on the "communication" lane of the
     * trace. Costs a map lookup when no profiler is installed.
     */
    public static AutoCloseable communication(Device device, String op, double bytes, String detail) {
        Profiler p = INSTALLED.get(device);
        if (p == null || !p.recording) return NOTHING;
        long start = p.clock.mark();
        return () -> {
            if (!p.recording) return;
            Event e = new Event(op, new Object[] {bytes, detail}, start, p.clock.mark(), COMMUNICATION_LANE);
            synchronized (p.events) { p.events.add(e); }
        };
    }

    /** The timing backend: the wrapped one's primitives, each recorded. */
    public Backend backend() { return proxy; }

    /** The wrapped backend. */
    public Backend inner() { return inner; }

    // ---- the primitives whose cost or label is not the default ---------------------------------

    /**
     * flops, bytes and detail (what the shape column shows) of a call from its arguments; null
     * means the default. endsStep: the optimiser updates, which end an automatic step.
     */
    record Rule(ToDoubleFunction<Object[]> flops, ToDoubleFunction<Object[]> bytes, Function<Object[], Object[]> detail, boolean endsStep) {}

    private static Rule flops(ToDoubleFunction<Object[]> f) { return new Rule(f, null, null, false); }

    private static Rule bytes(ToDoubleFunction<Object[]> b) { return new Rule(null, b, null, false); }

    private static Rule detail(Function<Object[], Object[]> d) { return new Rule(null, null, d, false); }

    private static double conv(Object[] a) { return ((ConvShape) a[0]).flops(); }

    static final Map<String, Rule> RULES = Map.ofEntries(
            Map.entry("binary", detail(a -> new Object[] {a[1], a[2]})),
            Map.entry("sumTo", detail(a -> new Object[] {a[0], "->", a[1]})),
            Map.entry("axpy", bytes(a -> bytes(a[1], a[2], a[2]))),  // y is read and written
            Map.entry("copy2d", new Rule(null, a -> 8.0 * (int) a[6] * (int) a[7], a -> new Object[] {a[6] + "x" + a[7]}, false)),
            // C is read as well as written when beta != 0.
            Map.entry("gemm", new Rule(a -> 2.0 * (int) a[2] * (int) a[3] * (int) a[4],
                    a -> 4.0 * ((long) (int) a[2] * (int) a[4] + (long) (int) a[4] * (int) a[3] + (long) (int) a[2] * (int) a[3] * ((float) a[8] == 0 ? 1 : 2)),
                    a -> new Object[] {((boolean) a[0] ? "T" : "N") + ((boolean) a[1] ? "T" : "N"), "m=" + a[2], "n=" + a[3], "k=" + a[4]}, false)),
            Map.entry("conv2dForward", flops(Profiler::conv)),
            Map.entry("conv2dBackwardData", flops(Profiler::conv)),
            Map.entry("conv2dBackwardFilter", flops(Profiler::conv)),
            Map.entry("affineGrid", detail(a -> new Object[] {a[1]})),
            Map.entry("gridSample", detail(a -> new Object[] {a[0], a[1]})),
            Map.entry("gridSampleBackward", detail(a -> new Object[] {a[0], a[1], a[3] == null ? "no-dx" : "dx"})),
            // reads param, grad and the state; writes param and the state
            Map.entry("sgdStep", new Rule(null, a -> bytes(a[0], a[1], a[2], a[0], a[2]), null, true)),
            Map.entry("adamwStep", new Rule(null, a -> bytes(a[0], a[1], a[2], a[3], a[0], a[2], a[3]), null, true)),
            Map.entry("uploadImages", new Rule(null, a -> (double) (int) a[1] * (int) a[2] * (int) a[3] * 3,
                    a -> new Object[] {a[1] + "x" + a[2] + "x" + a[3] + "x3 uint8"}, false)),
            // one uint8 read and one float written per output value
            Map.entry("augmentImages", bytes(a -> 5.0 * ((View) a[4]).numel())));

    /** Methods that pass through untimed: memory management and queries. */
    /** A communication region's arguments: {bytes, detail}. */
    private static final Rule COMMUNICATION = new Rule(null, a -> (Double) a[0], a -> new Object[] {a[1]}, false);

    private static final Set<String> UNTIMED = Set.of("allocate", "release", "synchronize", "describe");

    private final class Timing implements InvocationHandler {
        @Override public Object invoke(Object self, Method m, Object[] args) throws Throwable {
            if (m.getDeclaringClass() == Object.class) {
                return switch (m.getName()) {
                    case "equals" -> self == args[0];
                    case "hashCode" -> System.identityHashCode(self);
                    default -> "Profiler(" + inner + ")";
                };
            }
            String name = m.getName();
            if (name.equals("describe")) return inner.describe() + " [profiled]";
            if (!recording || UNTIMED.contains(name)) return call(m, args);
            if (syncEachOp) inner.synchronize();
            long start = clock.mark();
            Object result = call(m, args);
            if (syncEachOp) inner.synchronize();
            long stop = clock.mark();
            Event e = new Event(name, args, start, stop, Thread.currentThread().threadId());
            synchronized (events) { events.add(e); }
            Rule rule = RULES.get(name);
            if (rule != null && rule.endsStep()) endAutomaticStep();
            return result;
        }

        private Object call(Method m, Object[] args) throws Throwable {
            try {
                return m.invoke(inner, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();  // the backend's own exception, as if called directly
            }
        }
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
                Rule rule = e.thread == COMMUNICATION_LANE ? COMMUNICATION : RULES.get(e.method);
                Object[] a = e.args;
                String op = a != null && a.length > 0 && a[0] instanceof Enum<?> kind ? e.method + " " + kind.name() : e.method;
                double flops = rule != null && rule.flops() != null ? rule.flops().applyAsDouble(a) : 0;
                double bytes = rule != null && rule.bytes() != null ? rule.bytes().applyAsDouble(a) : bytes(a);
                String shape = formatDetail(rule != null && rule.detail() != null ? rule.detail().apply(a) : defaultDetail(a));
                byShape.computeIfAbsent(op + '\u0000' + shape, k -> new OpStats(op, shape)).add(duration, flops, bytes);
                sum += duration;
                trace.add(new TraceEvent(op, shape, clock.nanosBetween(stepStartMark, e.start), duration, e.thread, flops, bytes));
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
        return lastStep == null ? new long[] {0, 0} : new long[] {lastStep.wallNanos(), lastStep.opNanos()};
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

    /** What has been measured so far, ready to print or write. */
    public ProfileReport report() {
        return new ProfileReport(inner.describe(), device, steps, stepNanos, opNanos, byShape(), byOp(), lastStep);
    }

    /** The per-shape table (top {@code maxRows} rows) and the per-op-type summary, as text. */
    public String table(int maxRows) { return report().table(maxRows); }

    /** The last counted step as Chrome trace JSON. */
    public String chromeTrace() { return report().chromeTrace(); }

    /** Writes the last counted step as Chrome trace JSON. */
    public void writeChromeTrace(Path file) throws IOException { report().writeChromeTrace(file); }

    /**
     * Writes the table to {@code dir}/profile.txt and the last step to {@code dir}/trace.json;
     * returns the table and where the trace went, for the caller to print.
     */
    public String writeReport(Path dir) throws IOException { return report().write(dir); }

    // ---- recording -------------------------------------------------------------------------

    /** One timed call: the primitive and its arguments, whose shapes and costs are worked out when the step ends. */
    private record Event(String method, Object[] args, long start, long stop, long thread) {}

    /** Bytes of the float views among {@code args}, each read or written once; null (an optional bias) counts 0. */
    private static double bytes(Object... args) {
        long n = 0;
        if (args != null) for (Object o : args) if (o instanceof View v) n += v.numel();
        return 4.0 * n;
    }

    /** The geometry record of the call when it has one, else its first view. */
    private static Object[] defaultDetail(Object[] args) {
        if (args == null) return new Object[0];
        for (Object o : args) if (o instanceof ConvShape || o instanceof PoolShape) return new Object[] {o};
        for (Object o : args) if (o instanceof View) return new Object[] {o};
        return new Object[0];
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
}
