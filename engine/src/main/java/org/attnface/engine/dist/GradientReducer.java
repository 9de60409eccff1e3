package org.attnface.engine.dist;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.cuda.CudaBackend;
import org.attnface.engine.profile.Profiler;

/**
 * Averages gradients over the ranks in buckets while backward runs: PyTorch DDP's reducer
 * (Li et al., "PyTorch Distributed", VLDB 2020) on MPI. The optimiser's packed gradient buffer
 * is cut into buckets of consecutive parameters taken from the last parameter back, the order in
 * which backward finishes them; a bucket's all-reduce (MPI_Iallreduce) starts as soon as its last
 * gradient is final ({@link Autograd#onGradientReady}) and its predecessors have started, so
 * every rank issues the same collectives in the same order, and the later layers' communication
 * overlaps the earlier layers' backward. Each gradient is scaled by this rank's share of the
 * global batch (n_r / B) before the sum, so the result is the gradient of the global batch's
 * mean loss whatever the split.
 *
 * <p>Why MPI_Iallreduce polled with MPI_Test on the training thread, and not a communication
 * thread: Open MPI's progress engine advances non-blocking collectives only inside MPI calls,
 * and its blocking calls busy-poll; a communication thread blocked in MPI_Allreduce would compete
 * for a core with the compute threads for the whole backward, and would need
 * MPI_THREAD_MULTIPLE or a hand-off queue. The gradient-ready hook runs once per parameter
 * tensor, and that is where MPI_Test is called: the collective moves on between layers, on the
 * training thread (the reduction's memory passes cost this rank's cores either way), and what is
 * left is waited for in {@link #finish}, polling with short parks rather than spinning.
 *
 * <p>GPU ranks (the gradients on CUDA) sum each bucket with NCCL in place on the compute stream
 * ({@link Nccl}): stream-ordered after the backward kernels that made it, nothing for the host to
 * wait for; not yet run on a GPU.
 *
 * <p>CPU ranks' buckets travel through native staging memory (a non-blocking call keeps using its buffer
 * after it returns, and Java arrays may move): the scale by n_r / B, two copies out and two back,
 * five passes over the gradient per step: about 10 ms for ResNet-18's 45 MB at 20 GB/s.
 */
public final class GradientReducer implements AutoCloseable {
    /** DDP's defaults: 25 MiB buckets, the first (the last layers, ready first) 1 MiB so communication starts early. */
    public static final long FIRST_BUCKET_BYTES = 1L << 20, BUCKET_BYTES = 25L << 20;

    private final World world;
    private final Tensor grads;
    private final boolean overlap;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Map<Tensor, Bucket> bucketOf = new IdentityHashMap<>();
    private final Arena arena = Arena.ofShared();
    /** GPU ranks: NCCL on the compute stream instead of MPI through host memory. */
    private final Nccl.Comm nccl;
    private final long stream;
    private float scale = 1f;
    private int nextToStart, nextToFinish;

    private long steps, bytesPerStep;
    private long commNanos, waitNanos;

    private final class Bucket {
        final int from, to;   // floats [from, to) of the flat gradient buffer
        final int params;
        int pending;
        final float[] host;
        final MemorySegment staging, request;
        final String label;

        Bucket(int from, int to, int params, int index) {
            this.label = "bucket " + index + " [" + (to - from) + "]";
            this.from = from;
            this.to = to;
            this.params = params;
            this.host = new float[to - from];
            this.staging = arena.allocate(JAVA_FLOAT, to - from);
            this.request = arena.allocate(ADDRESS);
        }
    }

    /**
     * {@code parameters} in the order they were packed into {@code flatGrads} (the optimiser's
     * {@code flatGrads()}); {@code overlap} false starts every bucket only at {@link #finish} (to
     * measure what overlapping gains).
     */
    public GradientReducer(World world, List<Tensor> parameters, Tensor flatGrads, long firstBucketBytes, long bucketBytes, boolean overlap) {
        this.world = world;
        this.grads = flatGrads;
        this.overlap = overlap;
        long base = flatGrads.offset();
        int expectEnd = flatGrads.size(), bucketEnd = expectEnd, count = 0;
        long cap = firstBucketBytes;
        List<Tensor> members = new ArrayList<>();
        for (int i = parameters.size() - 1; i >= 0; i--) {
            Tensor p = parameters.get(i);
            Tensor g = p.grad();
            if (g == null || g.storage() != flatGrads.storage())
                throw new IllegalArgumentException("GradientReducer: " + p.describe() + " has no gradient in the packed buffer (pack the parameters first)");
            int from = (int) (g.offset() - base);
            if (from + g.size() != expectEnd)
                throw new IllegalArgumentException("GradientReducer: " + p.describe() + " is not packed in parameter order");
            expectEnd = from;
            members.add(p);
            count++;
            if ((long) (bucketEnd - from) * 4 >= cap || i == 0) {
                Bucket b = new Bucket(from, bucketEnd, count, buckets.size());
                for (Tensor m : members) bucketOf.put(m, b);
                buckets.add(b);
                members.clear();
                bucketEnd = from;
                count = 0;
                cap = bucketBytes;
            }
        }
        if (expectEnd != 0)
            throw new IllegalArgumentException("GradientReducer: the parameters cover " + (flatGrads.size() - expectEnd) + " of the buffer's "
                    + flatGrads.size() + " floats");
        bytesPerStep = 4L * flatGrads.numel();
        if (flatGrads.device() == Device.CUDA && world.distributed()) {
            nccl = Nccl.load().communicator(world);
            stream = ((CudaBackend) Backends.raw(Device.CUDA)).computeStream();
        } else {
            nccl = null;
            stream = 0;
        }
    }

    public GradientReducer(World world, List<Tensor> parameters, Tensor flatGrads) {
        this(world, parameters, flatGrads, FIRST_BUCKET_BYTES, BUCKET_BYTES,
                !"0".equals(System.getenv("ATTNFACE_ALLREDUCE_OVERLAP")));
    }

    public int bucketCount() { return buckets.size(); }

    /** Bucket sizes in floats, in the order they are reduced. */
    public int[] bucketSizes() {
        int[] s = new int[buckets.size()];
        for (int i = 0; i < s.length; i++) s[i] = buckets.get(i).to - buckets.get(i).from;
        return s;
    }

    /**
     * Opens the backward pass of one step, in which this rank's loss is the mean over
     * {@code localImages} of the step's {@code globalImages}; the returned scope hooks autograd.
     * Call {@link #finish} after backward, inside or after the scope.
     */
    public Autograd.Scope beginBackward(int localImages, int globalImages) {
        if (nextToStart != nextToFinish || (nextToStart != 0 && nextToStart != buckets.size()))
            throw new IllegalStateException("GradientReducer: the previous step's all-reduce was not finished");
        scale = (float) localImages / globalImages;
        nextToStart = nextToFinish = 0;
        for (Bucket b : buckets) b.pending = b.params;
        return Autograd.onGradientReady(this::ready);
    }

    private void ready(Tensor leaf) {
        Bucket b = bucketOf.get(leaf);
        if (b == null || !overlap) return;
        long t0 = System.nanoTime();
        if (--b.pending == 0) {
            while (nextToStart < buckets.size() && buckets.get(nextToStart).pending <= 0) start(buckets.get(nextToStart++));
        }
        // One turn of MPI's progress engine for the oldest bucket in flight, between two layers' backward.
        while (nextToFinish < nextToStart && done(buckets.get(nextToFinish))) complete(buckets.get(nextToFinish++));
        commNanos += System.nanoTime() - t0;
    }

    private void start(Bucket b) {
        Tensor part = grads.slice(b.from, b.to);
        if (scale != 1f) part.backend().scale(part, scale, part);
        if (nccl != null) {
            // stream-ordered: the optimiser's kernels queue after it, nothing to wait for on the host
            try (AutoCloseable r = region("nccl.allreduce", b)) {
                nccl.sumInPlace(CudaBackend.deviceAddress(part), b.to - b.from, stream);
            } catch (Exception e) {
                throw rethrow(e);
            }
            return;
        }
        part.backend().download(part, b.host, 0);
        MemorySegment.copy(b.host, 0, b.staging, JAVA_FLOAT, 0, b.host.length);
        try (AutoCloseable r = region("mpi.iallreduce", b)) {
            world.startSum(b.staging, b.host.length, b.request);
        } catch (Exception e) {
            throw rethrow(e);
        }
    }

    private void complete(Bucket b) {
        if (nccl != null) return;
        MemorySegment.copy(b.staging, JAVA_FLOAT, 0, b.host, 0, b.host.length);
        Tensor part = grads.slice(b.from, b.to);
        part.backend().upload(b.host, 0, part);
    }

    /**
     * Starts the buckets that backward did not (parameters this step did not use, or all of them
     * without overlap), waits for every one, and leaves the averaged gradient in the buffer.
     */
    public void finish() {
        long t0 = System.nanoTime();
        while (nextToStart < buckets.size()) start(buckets.get(nextToStart++));
        long t1 = System.nanoTime();
        while (nextToFinish < buckets.size()) {
            Bucket b = buckets.get(nextToFinish);
            if (nccl == null) {
                try (AutoCloseable r = region("mpi.wait", b)) {
                    world.await(b.request, "the gradient all-reduce (bucket " + nextToFinish + " of " + buckets.size() + ", step " + steps + ")",
                            world.timeoutSeconds());
                } catch (Exception e) {
                    throw rethrow(e);
                }
            }
            complete(b);
            nextToFinish++;
        }
        long t2 = System.nanoTime();
        commNanos += t2 - t0;
        waitNanos += t2 - t1;
        steps++;
    }

    /** Steps reduced, bytes all-reduced per step, and the seconds spent: all communication, and waiting after backward. */
    public record Stats(long steps, long bytesPerStep, int buckets, double commSeconds, double waitSeconds) {
        public double commMsPerStep() { return steps == 0 ? 0 : 1e3 * commSeconds / steps; }

        public double waitMsPerStep() { return steps == 0 ? 0 : 1e3 * waitSeconds / steps; }
    }

    public Stats stats() { return new Stats(steps, bytesPerStep, buckets.size(), commNanos / 1e9, waitNanos / 1e9); }

    public void resetStats() {
        steps = 0;
        commNanos = waitNanos = 0;
    }

    private boolean done(Bucket b) {
        if (nccl != null) return true;
        try (AutoCloseable r = region("mpi.test", b)) {
            return world.test(b.request);
        } catch (Exception e) {
            throw rethrow(e);
        }
    }

    /** A row of the profiler's table and a span on its "communication" trace lane, when a profiler is installed. */
    private AutoCloseable region(String op, Bucket b) {
        return Profiler.communication(grads.device(), op, 4.0 * (b.to - b.from), b.label);
    }

    private static RuntimeException rethrow(Exception e) {
        return e instanceof RuntimeException r ? r : new IllegalStateException(e);
    }

    @Override public void close() {
        if (nccl != null) nccl.close();
        arena.close();
    }
}
