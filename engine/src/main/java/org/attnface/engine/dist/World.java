package org.attnface.engine.dist;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.concurrent.locks.LockSupport;

/**
 * The processes of one job: rank, world size and local rank, from Open MPI when the process was
 * started by {@code mpirun} (its OMPI_COMM_WORLD_SIZE is set), else a world of one process that
 * never loads MPI, so a plain run behaves exactly as it did before ranks existed.
 *
 * <p>Every collective here waits by polling MPI_Test, parked between polls, never inside a
 * blocking MPI call: Open MPI's blocking calls spin a core at 100% (a rank waiting for rank 0 to
 * write a checkpoint would steal that core from it), and a poll loop can give up after
 * {@link #timeoutSeconds} with a message instead of hanging in a collective whose peer is gone.
 * When a rank dies, mpirun itself stops the others within a second or two and names it
 * ("mpirun noticed that process rank 1 ... exited on signal 9"); the timeout covers a rank that
 * hangs without dying.
 */
public final class World implements AutoCloseable {
    private static World instance;

    private final Mpi mpi;
    private final MemorySegment comm;
    private final int rank, size, localRank, localSize;
    private final String host;
    private final double timeoutSeconds;

    private World(Mpi mpi, MemorySegment comm, int rank, int size, int localRank, int localSize, String host, double timeoutSeconds) {
        this.mpi = mpi;
        this.comm = comm;
        this.rank = rank;
        this.size = size;
        this.localRank = localRank;
        this.localSize = localSize;
        this.host = host;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** True when this process was started by Open MPI's mpirun (or another launcher that sets its variables). */
    public static boolean launchedByMpirun() {
        return System.getenv("OMPI_COMM_WORLD_SIZE") != null;
    }

    /**
     * This process's world, set up on first use: MPI_Init_thread(FUNNELED) under mpirun (the
     * calling thread becomes the only one that talks to MPI), a world of one otherwise.
     */
    public static synchronized World get() {
        if (instance != null) return instance;
        double timeout = timeoutFromEnvironment();
        if (!launchedByMpirun()) {
            instance = new World(null, null, 0, 1, 0, 1, hostName(), timeout);
            return instance;
        }
        Mpi mpi = Mpi.load();
        if (!mpi.initialized()) {
            int provided = mpi.initThread(Mpi.THREAD_FUNNELED);
            if (provided < Mpi.THREAD_FUNNELED)
                throw new DistException("Open MPI gave thread level " + provided + "; attnface needs MPI_THREAD_FUNNELED (1)");
        }
        MemorySegment world = mpi.commWorld;
        int rank = mpi.rank(world), size = mpi.size(world);
        MemorySegment local = mpi.splitShared(world, rank);
        int localRank = mpi.rank(local), localSize = mpi.size(local);
        mpi.free(local);
        instance = new World(mpi, world, rank, size, localRank, localSize, mpi.processorName(), timeout);
        Runtime.getRuntime().addShutdownHook(new Thread(instance::onShutdown, "attnface-rank-shutdown"));
        return instance;
    }

    /** "rank 1/4 on node-3 (local 1/2)" of this process once its world is set up, else null (for error messages). */
    public static synchronized String describeIfStarted() { return instance == null ? null : instance.describe(); }

    /** ATTNFACE_DIST_TIMEOUT_S: how long a collective waits for the other ranks before the job is stopped (default 60). */
    static double timeoutFromEnvironment() {
        String v = System.getenv("ATTNFACE_DIST_TIMEOUT_S");
        if (v == null || v.isBlank()) return 60;
        try {
            double s = Double.parseDouble(v.trim());
            if (s > 0) return s;
        } catch (NumberFormatException ignored) {
            // falls through to the message
        }
        throw new DistException("ATTNFACE_DIST_TIMEOUT_S must be a number of seconds > 0, got '" + v + "'");
    }

    private static String hostName() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "localhost";
        }
    }

    public int rank() { return rank; }

    public int size() { return size; }

    /** Rank among the processes on this machine (which GPU to take, who builds the shared cache). */
    public int localRank() { return localRank; }

    public int localSize() { return localSize; }

    public String host() { return host; }

    public boolean isRoot() { return rank == 0; }

    public boolean distributed() { return size > 1; }

    public double timeoutSeconds() { return timeoutSeconds; }

    /** "rank 1/4 on node-3 (local 1/2)" for messages. */
    public String describe() {
        return String.format(Locale.ROOT, "rank %d/%d on %s (local %d/%d)", rank, size, host, localRank, localSize);
    }

    // ---- collectives on host values (start-up, flags, losses, metrics) -----------------------

    /** Sums {@code values} over the ranks in place (MPI_SUM of doubles). */
    public void sum(double[] values, String what) {
        if (size == 1 || values.length == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(JAVA_DOUBLE, values.length);
            MemorySegment.copy(values, 0, buf, JAVA_DOUBLE, 0, values.length);
            iallreduce(buf, values.length, mpi.doubleType, mpi.opSum, what);
            MemorySegment.copy(buf, JAVA_DOUBLE, 0, values, 0, values.length);
        }
    }

    /** Sums {@code values} over the ranks in place (MPI_SUM of floats). */
    public void sum(float[] values, String what) {
        if (size == 1 || values.length == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(JAVA_FLOAT, values.length);
            MemorySegment.copy(values, 0, buf, JAVA_FLOAT, 0, values.length);
            iallreduce(buf, values.length, mpi.floatType, mpi.opSum, what);
            MemorySegment.copy(buf, JAVA_FLOAT, 0, values, 0, values.length);
        }
    }

    /** The largest of the ranks' values. */
    public double max(double value, String what) {
        if (size == 1) return value;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(JAVA_DOUBLE);
            buf.set(JAVA_DOUBLE, 0, value);
            iallreduce(buf, 1, mpi.doubleType, mpi.opMax, what);
            return buf.get(JAVA_DOUBLE, 0);
        }
    }

    /** Every rank's value, by rank. */
    public long[] allgather(long value, String what) {
        if (size == 1) return new long[] {value};
        try (Arena a = Arena.ofConfined()) {
            MemorySegment send = a.allocate(JAVA_LONG), recv = a.allocate(JAVA_LONG, size), req = a.allocate(ADDRESS);
            send.set(JAVA_LONG, 0, value);
            mpi.iallgather(send, 1, mpi.longType, recv, comm, req);
            await(req, what, timeoutSeconds);
            return recv.toArray(JAVA_LONG);
        }
    }

    /** Rank 0's bytes on every rank ({@code bytes} is ignored elsewhere). */
    public byte[] broadcast(byte[] bytes, String what) { return broadcast(bytes, what, timeoutSeconds); }

    /** {@link #broadcast(byte[], String)}, waiting up to {@code timeout} seconds (start-up, where ranks load data at their own pace). */
    public byte[] broadcast(byte[] bytes, String what, double timeout) {
        if (size == 1) return bytes;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment len = a.allocate(JAVA_INT), req = a.allocate(ADDRESS);
            len.set(JAVA_INT, 0, rank == 0 ? bytes.length : 0);
            mpi.ibcast(len, 1, mpi.intType, 0, comm, req);
            await(req, what, timeout);
            int n = len.get(JAVA_INT, 0);
            if (n == 0) return new byte[0];
            MemorySegment buf = a.allocate(n);
            if (rank == 0) MemorySegment.copy(bytes, 0, buf, JAVA_BYTE, 0, n);
            mpi.ibcast(buf, n, mpi.byteType, 0, comm, req);
            await(req, what, timeout);
            return buf.toArray(JAVA_BYTE);
        }
    }

    /** Overwrites {@code values} with rank 0's. */
    public void broadcast(float[] values, String what) {
        if (size == 1 || values.length == 0) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(JAVA_FLOAT, values.length), req = a.allocate(ADDRESS);
            if (rank == 0) MemorySegment.copy(values, 0, buf, JAVA_FLOAT, 0, values.length);
            mpi.ibcast(buf, values.length, mpi.floatType, 0, comm, req);
            await(req, what, timeoutSeconds);
            MemorySegment.copy(buf, JAVA_FLOAT, 0, values, 0, values.length);
        }
    }

    /** Waits for every rank; {@code timeoutSeconds} <= 0 waits as long as it takes (a cache being built). */
    public void barrier(String what, double timeoutSeconds) {
        if (size == 1) return;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = a.allocate(ADDRESS);
            mpi.ibarrier(comm, req);
            await(req, what, timeoutSeconds);
        }
    }

    public void barrier(String what) { barrier(what, timeoutSeconds); }

    // ---- non-blocking gradient all-reduce (GradientReducer) -----------------------------------

    /** The binding itself (null in a world of one), for the checks that compare blocking MPI calls with polling. */
    Mpi mpi() { return mpi; }

    /** Starts an in-place float sum of {@code count} floats at {@code buf}; its request goes into {@code request}. */
    void startSum(MemorySegment buf, int count, MemorySegment request) {
        mpi.iallreduceInPlace(buf, count, mpi.floatType, mpi.opSum, comm, request);
    }

    /** One step of MPI's progress engine for {@code request}; true once it is done. */
    boolean test(MemorySegment request) { return mpi.test(request); }

    private void iallreduce(MemorySegment buf, int count, MemorySegment type, MemorySegment op, String what) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment req = a.allocate(ADDRESS);
            mpi.iallreduceInPlace(buf, count, type, op, comm, req);
            await(req, what, timeoutSeconds);
        }
    }

    /**
     * Polls {@code request} to completion: a few thousand spins first (a shared-memory all-reduce
     * of a bucket finishes in microseconds once the peers are there), then parks 0.2 ms between
     * polls. Past the timeout, says which rank gave up on what, and stops the job (MPI_Abort):
     * the peers are stuck in the same collective and only mpirun can free them.
     */
    void await(MemorySegment request, String what, double timeout) {
        long start = System.nanoTime(), limit = timeout > 0 ? (long) (timeout * 1e9) : Long.MAX_VALUE;
        for (int polls = 0; !mpi.test(request); polls++) {
            if (polls < 2000) {
                Thread.onSpinWait();
                continue;
            }
            if (System.nanoTime() - start > limit) abortJob(String.format(Locale.ROOT, "%s waited %.0f s in %s for the other ranks "
                    + "(ATTNFACE_DIST_TIMEOUT_S); another rank has stopped or hangs. Stopping the job", describe(), timeout, what), 4);
            LockSupport.parkNanos(200_000);
        }
    }

    /** Prints {@code message} and stops every rank of the job (MPI_Abort); in a world of one, exits. */
    public void abortJob(String message, int code) {
        System.err.println("attnface: " + message);
        System.err.flush();
        if (mpi != null) mpi.abort(code);
        Runtime.getRuntime().halt(code);
    }

    private volatile boolean closed;

    /** MPI_Finalize (after a barrier, so that no rank tears down while another still sends). */
    @Override public synchronized void close() {
        if (mpi == null || closed) return;
        closed = true;
        mpi.finalizeMpi();
    }

    /**
     * On SIGTERM from mpirun (it stops the job when a rank dies or aborts): one line that says why
     * this rank stops; mpirun's own message above names the rank that failed.
     */
    private void onShutdown() {
        if (!closed) System.err.println("attnface " + describe() + ": stopped before the end of the job (mpirun stops every rank "
                + "when one fails: its message names the rank)");
    }
}
