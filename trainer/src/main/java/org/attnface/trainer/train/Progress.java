package org.attnface.trainer.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * One progress line: a bar, images/s, the last loss and the ETA. On a terminal the line is
 * rewritten in place with a carriage return; into a file or pipe a line is printed every
 * {@code pipeEverySeconds} so logs stay short.
 */
public final class Progress {
    private final PrintStream out;
    private final boolean terminal;
    private final String label;
    private final long total;
    private final long startNanos = System.nanoTime();
    private long lastPrint;
    private boolean dirty;
    private static final double PIPE_EVERY_SECONDS = 10;

    public Progress(PrintStream out, String label, long total) {
        this.out = out;
        this.terminal = System.console() != null && System.console().isTerminal() && out == System.out;
        this.label = label;
        this.total = total;
    }

    /** done of total steps, images processed so far in this bar, last loss (NaN = not read). */
    public void update(long done, long images, float loss) {
        long now = System.nanoTime();
        boolean last = done == total;
        if (!last && now - lastPrint < (terminal ? 200_000_000L : (long) (PIPE_EVERY_SECONDS * 1e9))) return;
        lastPrint = now;
        double s = (now - startNanos) / 1e9;
        double rate = images / Math.max(1e-9, s);
        double eta = done == 0 ? Double.NaN : s * (total - done) / done;
        int width = 24, fill = (int) (width * done / Math.max(1, total));
        String bar = "[" + "=".repeat(fill) + (fill < width ? ">" + " ".repeat(width - fill - 1) : "") + "]";
        String line = String.format(Locale.ROOT, "%s %s %d/%d  %.1f img/s  loss %s  ETA %s", label, bar, done, total, rate,
                Float.isNaN(loss) ? "-" : String.format(Locale.ROOT, "%.4f", loss), time(eta));
        if (terminal) {
            out.print("\r" + line + "   ");
            dirty = true;
            if (last) finish();
        } else {
            out.println(line);
        }
        out.flush();
    }

    public void finish() {
        if (terminal && dirty) out.println();
        dirty = false;
    }

    public double seconds() { return (System.nanoTime() - startNanos) / 1e9; }

    static String time(double s) {
        if (Double.isNaN(s)) return "-";
        long t = Math.round(s);
        return t >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", t / 3600, t / 60 % 60) : String.format(Locale.ROOT, "%dm%02ds", t / 60, t % 60);
    }
}
