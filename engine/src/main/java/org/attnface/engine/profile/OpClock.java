package org.attnface.engine.profile;

/**
 * Where the profiler's timestamps come from. On the CPU every primitive has finished when
 * its call returns, so the host clock ({@link #host()}) times it exactly. A GPU backend
 * queues work; a host clock then times it only if the profiler synchronises around every
 * op (it does when {@link #isHostClock()} is true, which serialises the stream: honest
 * per-op times, a slower step). A CUDA backend can instead supply a clock whose marks are
 * events recorded on its compute stream (cuEventRecord) and read back with
 * cuEventElapsedTime once the step has been synchronised; no host waits inside the step.
 */
public interface OpClock {

    /** Marks the current point of the device's queue of work; returns a handle for {@link #nanosBetween}. */
    long mark();

    /**
     * Nanoseconds from mark {@code from} to mark {@code to}. Called only after the step's
     * work has been synchronised, so device marks have completed.
     */
    long nanosBetween(long from, long to);

    /** True when marks are taken on the host, so queued device work must be synchronised around each op. */
    boolean isHostClock();

    /** Marks of the finished step may be recycled (an event pool); called after the step is resolved. */
    default void reset() {}

    /** The host's monotonic clock in nanoseconds. */
    static OpClock host() {
        return HostClock.INSTANCE;
    }

    /** System.nanoTime: about 20-25 ns a read on Linux x86, small against the microseconds an op takes. */
    final class HostClock implements OpClock {
        static final HostClock INSTANCE = new HostClock();

        private HostClock() {}

        @Override public long mark() { return System.nanoTime(); }

        @Override public long nanosBetween(long from, long to) { return to - from; }

        @Override public boolean isHostClock() { return true; }
    }
}
