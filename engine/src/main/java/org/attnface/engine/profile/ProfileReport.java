package org.attnface.engine.profile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.io.AtomicFile;

/**
 * What a {@link Profiler} measured, as text and as a Chrome trace (chrome://tracing,
 * ui.perfetto.dev): the per-shape table, the per-op-type summary and the last counted step.
 */
public final class ProfileReport {
    private final String backend;
    private final Device device;
    private final int steps;
    private final long stepNanos, opNanos;
    private final List<OpStats> byShape, byOp;
    private final StepTrace lastStep;

    /** One op of a step: start from the step's start and duration in nanoseconds. */
    record TraceEvent(String op, String shape, long atNanos, long nanos, long thread, double flops, double bytes) {}

    /** A counted step: its index, wall time, summed op time and ops. */
    record StepTrace(int index, long wallNanos, long opNanos, List<TraceEvent> events) {}

    ProfileReport(String backend, Device device, int steps, long stepNanos, long opNanos, List<OpStats> byShape,
                  List<OpStats> byOp, StepTrace lastStep) {
        this.backend = backend;
        this.device = device;
        this.steps = steps;
        this.stepNanos = stepNanos;
        this.opNanos = opNanos;
        this.byShape = byShape;
        this.byOp = byOp;
        this.lastStep = lastStep;
    }

    /** The per-shape table (top {@code maxRows} rows) and the per-op-type summary, as text. */
    public String table(int maxRows) {
        StringBuilder b = new StringBuilder();
        double wallMs = stepNanos / 1e6, opsMs = opNanos / 1e6;
        b.append(String.format(Locale.ROOT, "profile of %d step(s) on %s: step %.2f ms (wall), primitives %.2f ms = %.1f%% of the step%n",
                steps, backend, steps == 0 ? 0 : wallMs / steps, steps == 0 ? 0 : opsMs / steps, wallMs == 0 ? 0 : 100 * opsMs / wallMs));
        String header = String.format(Locale.ROOT, "%-26s %7s %10s %10s %6s %8s %8s  %s%n",
                "op", "calls", "total ms", "mean us", "%step", "GFLOP/s", "GB/s", "shapes");
        b.append(header);
        List<OpStats> rows = byShape;
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
        for (OpStats s : byOp) row(b, s, wallMs);
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
        b.append("{\"displayTimeUnit\":\"ms\",\"otherData\":{\"backend\":").append(quote(backend))
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
                    .append(",\"args\":{\"name\":\"").append(t.getKey() == Profiler.COMMUNICATION_LANE ? "communication" : "thread " + t.getKey())
                    .append("\"}}");
        }
        b.append("\n]}\n");
        return b.toString();
    }

    /**
     * Writes the table to {@code dir}/profile.txt and the last step to {@code dir}/trace.json;
     * returns the table and where the trace went, for the caller to print.
     */
    public String write(Path dir) throws IOException {
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
}
