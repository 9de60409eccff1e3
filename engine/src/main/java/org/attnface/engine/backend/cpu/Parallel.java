package org.attnface.engine.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed team of threads that splits a range into one contiguous chunk per thread.
 * Static chunks, not work stealing: a reduction then adds its partial sums in the same
 * order every run, so results are bit-identical for a given thread count.
 *
 * <p>Workers spin briefly before parking: a training step issues thousands of small
 * parallel loops, and a park/unpark round trip (~20 us) would cost more than many of them.
 */
public final class Parallel {
    /** A body over the half-open range [lo, hi), told which chunk (0..threads-1) it runs. */
    @FunctionalInterface
    public interface Body {
        void run(int lo, int hi, int chunk);
    }

    private final int threads;
    private final Worker[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Body body;
    private volatile int total;
    private volatile int chunks;
    private volatile Throwable failure;   // a worker's, rethrown as it was in the caller (an OutOfMemoryError stays one)
    private volatile boolean shutdown;

    public Parallel(int threads) {
        this.threads = threads;
        this.workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].start();
        }
    }

    public int threads() { return threads; }

    /**
     * Runs body over [0, n) in min(threads, ceil(n / grain)) chunks; the calling thread takes chunk 0.
     * Chunks get equal shares, so chunk boundaries depend only on n, grain and the thread count.
     */
    public synchronized void range(int n, int grain, Body b) {
        if (n <= 0) return;
        if (Thread.currentThread() instanceof Worker || body != null)
            throw new IllegalStateException("Parallel.range called from inside a parallel body: split the outer loop only");
        int c = Math.min(threads, Math.max(1, (n + grain - 1) / Math.max(1, grain)));
        if (c == 1) {
            b.run(0, n, 0);
            return;
        }
        failure = null;
        body = b;
        total = n;
        chunks = c;
        pending.set(c - 1);
        for (int i = 1; i < c; i++) workers[i - 1].wake();
        try {
            b.run(0, chunkStart(n, c, 1), 0);
        } finally {
            int spins = 0;
            while (pending.get() != 0) {
                if (++spins < 100_000) Thread.onSpinWait();
                else LockSupport.parkNanos(20_000);
            }
            body = null;
        }
        Throwable f = failure;
        if (f instanceof RuntimeException r) throw r;
        if (f instanceof Error e) throw e;
    }

    /** Start of chunk i when n items are split into c chunks (the first n % c chunks get one more). */
    static int chunkStart(int n, int c, int i) {
        int base = n / c, extra = n % c;
        return i * base + Math.min(i, extra);
    }

    public void shutdown() {
        shutdown = true;
        for (Worker w : workers) w.wake();
    }

    private final class Worker extends Thread {
        private final int index;
        private volatile boolean signalled;

        Worker(int index) {
            super("attnface-cpu-" + index);
            this.index = index;
            setDaemon(true);
        }

        void wake() {
            signalled = true;
            LockSupport.unpark(this);
        }

        @Override public void run() {
            while (true) {
                int spins = 0;
                while (!signalled) {
                    if (shutdown) return;
                    if (++spins < 20_000) Thread.onSpinWait();
                    else LockSupport.park(this);
                }
                signalled = false;
                if (shutdown) return;
                Body b = body;
                int n = total, c = chunks;
                try {
                    if (b != null && index < c) b.run(chunkStart(n, c, index), chunkStart(n, c, index + 1), index);
                } catch (RuntimeException | Error e) {
                    failure = e;
                } finally {
                    pending.decrementAndGet();
                }
            }
        }
    }
}
