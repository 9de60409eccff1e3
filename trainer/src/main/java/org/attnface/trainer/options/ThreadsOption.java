package org.attnface.trainer.options;

import picocli.CommandLine.Option;

/** {@code --threads}: the CPU backend's thread count. */
public final class ThreadsOption {
    @Option(names = "--threads", description = "CPU threads (default: ATTNFACE_THREADS, else all cores); results repeat bit for bit only with the same count")
    Integer threads;

    /** The count given, or null for the default. */
    public Integer value() { return threads; }

    /**
     * The count given, or 0 for the default ({@link DeviceOption#open}); under mpirun with N ranks
     * on this machine, its cores / N: the ranks share the cores rather than each taking all.
     */
    public int orDefault() {
        if (threads != null) return threads;
        int local = org.attnface.engine.dist.World.get().localSize();
        return local > 1 ? Math.max(1, Runtime.getRuntime().availableProcessors() / local) : 0;
    }
}
