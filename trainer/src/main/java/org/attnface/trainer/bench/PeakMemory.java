package org.attnface.trainer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** How much memory this process has needed: what a machine must have free to run it. */
public final class PeakMemory {
    private PeakMemory() {}

    /**
     * Peak resident set size in MiB (VmHWM of /proc/self/status: Java heap actually touched,
     * metaspace, code cache, thread stacks and native buffers), or -1 where there is none (not Linux).
     */
    public static long residentMiB() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024;
        } catch (IOException | RuntimeException e) {
            // not Linux: no /proc
        }
        return -1;
    }

    /** Collections so far and the seconds they took, summed over the JVM's collectors: where the heap is too small, GC thrashes. */
    public static String gcSummary() {
        long count = 0, ms = 0;
        for (var gc : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
            count += Math.max(0, gc.getCollectionCount());
            ms += Math.max(0, gc.getCollectionTime());
        }
        return count + " collections, " + String.format(java.util.Locale.ROOT, "%.1f", ms / 1000.0) + " s";
    }

    /** The heap limit (-Xmx, or the JVM's default: a quarter of the machine's memory) in MiB. */
    public static long maxHeapMiB() { return Runtime.getRuntime().maxMemory() >> 20; }
}
