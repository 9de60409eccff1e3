package org.attnface.engine.backend.cpu;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.attnface.engine.backend.AugmentSpec;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.Broadcast;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.ImageStore;
import org.attnface.engine.backend.NormShape;
import org.attnface.engine.backend.PoolShape;
import org.attnface.engine.backend.RowShape;
import org.attnface.engine.backend.SampleShape;
import org.attnface.engine.backend.Storage;
import org.attnface.engine.backend.View;

/**
 * The CPU backend: the readable reference every GPU kernel is tested against, and fast
 * enough to train on. Loops are split across a fixed thread team ({@link Parallel}) in
 * static chunks, so results are bit-identical for a given thread count.
 *
 * <p>This class is the only one here that sees {@link View}s: it takes each view's array and
 * offset and calls the kernel classes (Elementwise, Gemm, Conv, Norm, Pool, Softmax, Sampler,
 * Augment), which all take arrays, offsets and sizes.
 */
public final class CpuBackend implements Backend {
    private Parallel team;
    private final Map<Integer, ArrayDeque<float[]>> cache = new HashMap<>();
    /** Per-chunk scratch (im2col columns, partial sums), grown on demand and kept. */
    private float[][] scratch;
    private float[][] partial;
    /** Per-chunk rows for the pooling and batch-norm kernels, grown on demand and kept. */
    private float[][] work;
    /** Arrays made by {@link #allocate} because the cache had none of the size (tests check a training step makes none after the first). */
    private final java.util.concurrent.atomic.AtomicLong freshArrays = new java.util.concurrent.atomic.AtomicLong();

    public CpuBackend(int threads) {
        setThreads(threads);
    }

    public synchronized void setThreads(int threads) {
        if (team != null && team.threads() == threads) return;
        if (team != null) team.shutdown();
        team = new Parallel(threads);
        scratch = new float[threads][0];
        partial = new float[threads][0];
        work = new float[threads][0];
    }

    public int threads() { return team.threads(); }

    public void shutdown() { team.shutdown(); }

    @Override public String describe() {
        return "cpu (" + team.threads() + " threads, " + Gemm.F.vectorBitSize() + "-bit vectors)";
    }

    // ---- array access --------------------------------------------------------------------

    static float[] a(View t) { return ((CpuStorage) t.storage()).data; }

    static int o(View t) { return t.intOffset(); }

    float[] scratch(int chunk, int size) {
        if (scratch[chunk].length < size) scratch[chunk] = new float[size];
        return scratch[chunk];
    }

    float[] partial(int chunk, int size) {
        if (partial[chunk].length < size) partial[chunk] = new float[size];
        return partial[chunk];
    }

    float[] work(int chunk, int size) {
        if (work[chunk].length < size) work[chunk] = new float[size];
        return work[chunk];
    }

    Parallel team() { return team; }

    // ---- memory --------------------------------------------------------------------------

    @Override public Storage allocate(long numel) {
        if (numel > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("CPU tensors hold at most 2^31 floats, asked for " + numel);
        int n = (int) numel;
        float[] data;
        synchronized (cache) {
            ArrayDeque<float[]> q = cache.get(n);
            data = q == null ? null : q.poll();
        }
        if (data == null) {
            try {
                data = new float[n];
            } catch (OutOfMemoryError e) {
                // The cache keeps arrays of every size ever asked for: validation at another batch
                // size than training doubles it (the 128x128 ensemble ran out of the default 6 GB
                // heap this way). Give them all to the GC and try once more.
                synchronized (cache) {
                    cache.clear();
                }
                try {
                    data = new float[n];
                } catch (OutOfMemoryError again) {
                    throw new IllegalStateException(outOfHeap(4L * n), again);
                }
            }
            freshArrays.incrementAndGet();
        }
        return new CpuStorage(this, data);
    }

    /**
     * What to change when the heap is full: a heap 1.5x the present one (bin/attnface sized it from the
     * machine's memory and the recipe, unless -Xmx was given), if the machine has that much, else a smaller batch.
     * {@code bytes} < 0: the size that did not fit is unknown (an OutOfMemoryError outside this backend).
     */
    public static String outOfHeap(long bytes) {
        long heapMib = Runtime.getRuntime().maxMemory() >> 20, moreGib = (heapMib * 3 / 2 + 1023) >> 10;
        long machineMib = java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getTotalMemorySize() >> 20 : 0;
        String raise = "raise the heap: ATTNFACE_JAVA_OPTS=-Xmx" + moreGib + "g bin/attnface ... (java -Xmx" + moreGib + "g)";
        return "out of Java heap (" + heapMib + " MiB)" + (bytes >= 0 ? " allocating " + (bytes >> 20) + " MiB for a tensor" : "") + "; "
                + (machineMib == 0 || (moreGib << 10) <= machineMib - 1024 ? raise + ", or lower --batch or --image-size"
                        : "this machine has " + machineMib + " MiB of memory: lower --batch or --image-size");
    }

    /** How many tensor arrays this backend has created (not handed out again from its cache). */
    long freshArrays() { return freshArrays.get(); }

    @Override public void release(Storage storage) {
        CpuStorage s = (CpuStorage) storage;
        if (s.released) return;
        s.released = true;
        synchronized (cache) {
            cache.computeIfAbsent(s.data.length, x -> new ArrayDeque<>()).push(s.data);
        }
    }

    @Override public void upload(float[] src, int srcOffset, View dst) {
        System.arraycopy(src, srcOffset, a(dst), o(dst), dst.size());
    }

    @Override public void download(View src, float[] dst, int dstOffset) {
        System.arraycopy(a(src), o(src), dst, dstOffset, src.size());
    }

    /** Floats per chunk at least for the streaming loops: below ~64k a second thread costs more than it gains. */
    private static final int STREAM_GRAIN = 1 << 16;

    @Override public void copy(View src, View dst) {
        View.checkNumel("copy", src, dst);
        float[] s = a(src), d = a(dst);
        int so = o(src), dO = o(dst);
        team.range(src.size(), STREAM_GRAIN, (lo, hi, c) -> System.arraycopy(s, so + lo, d, dO + lo, hi - lo));
    }

    @Override public void fill(View t, float value) {
        float[] d = a(t);
        int off = o(t);
        team.range(t.size(), STREAM_GRAIN, (lo, hi, c) -> Arrays.fill(d, off + lo, off + hi, value));
    }

    @Override public void synchronize() {}

    // ---- elementwise -----------------------------------------------------------------------

    @Override public void binary(BinaryOp op, View x, View y, View out) {
        int n = out.size();
        if (x.numel() == n && y.numel() == n && x.sameShape(out) && y.sameShape(out))
            Elementwise.binaryFlat(this, op, a(x), o(x), a(y), o(y), a(out), o(out), n);
        else
            Elementwise.binary(this, op, Broadcast.of(op, x.shape(), y.shape(), out.shape()), a(x), o(x), a(y), o(y), a(out), o(out), n);
    }

    @Override public void sumTo(View x, View out) {
        Elementwise.sumTo(Broadcast.sumTo(x.shape(), out.shape()), a(x), o(x), x.size(), a(out), o(out), out.size());
    }

    @Override public void axpy(float alpha, View x, View y) {
        View.checkNumel("axpy", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.axpy(alpha, xa, xo + lo, ya, yo + lo, hi - lo));
    }

    @Override public void scale(View x, float alpha, View out) {
        View.checkNumel("scale", x, out);
        float[] xa = a(x), ya = a(out);
        int xo = o(x), yo = o(out);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.scale(xa, xo + lo, alpha, ya, yo + lo, hi - lo));
    }

    @Override public void scaleByScalar(View x, View s, float alpha, View out) {
        scale(x, alpha * a(s)[o(s)], out);
    }

    @Override public void relu(View x, View y) {
        View.checkNumel("relu", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.relu(xa, xo + lo, ya, yo + lo, hi - lo));
    }

    @Override public void reluBackward(View y, View dy, View dx) {
        View.checkNumel("reluBackward", y, dy);
        float[] ya = a(y), ga = a(dy), da = a(dx);
        int yo = o(y), go = o(dy), dxo = o(dx);
        team.range(y.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.reluBackward(ya, yo + lo, ga, go + lo, da, dxo + lo, hi - lo));
    }

    @Override public void sumAll(View x, View out) {
        float[] xa = a(x);
        int xo = o(x), n = x.size();
        double s = 0;
        for (int i = 0; i < n; i++) s += xa[xo + i];
        a(out)[o(out)] = (float) s;
    }

    @Override public void countNonFinite(View x, View out) {
        float[] xa = a(x);
        a(out)[o(out)] = Elementwise.countNonFinite(xa, o(x), x.size());
    }

    @Override public void copy2d(View src, int srcStride, int srcCol, View dst, int dstStride, int dstCol, int rows, int cols) {
        float[] s = a(src), d = a(dst);
        int so = o(src), dO = o(dst);
        for (int r = 0; r < rows; r++) System.arraycopy(s, so + r * srcStride + srcCol, d, dO + r * dstStride + dstCol, cols);
    }

    // ---- matrix products -------------------------------------------------------------------

    @Override public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, View a, View b, float beta, View c) {
        if ((long) m * k > a.numel() || (long) k * n > b.numel() || (long) m * n > c.numel())
            throw new IllegalArgumentException("gemm " + m + "x" + n + "x" + k + " does not fit A " + Arrays.toString(a.shape())
                    + ", B " + Arrays.toString(b.shape()) + ", C " + Arrays.toString(c.shape()));
        float[] aa = a(a), ba = a(b), ca = a(c);
        int ao = o(a), bo = o(b), co = o(c);
        int lda = transA ? m : k, ldb = transB ? k : n;
        Gemm.parallel(team, transA, transB, m, n, k, alpha, aa, ao, lda, ba, bo, ldb, beta, ca, co, n);
    }

    // ---- convolution -------------------------------------------------------------------------

    @Override public void conv2dForward(ConvShape g, View x, View w, View bias, View y) {
        Conv.forward(this, g, a(x), o(x), a(w), o(w), bias == null ? null : a(bias), bias == null ? 0 : o(bias), a(y), o(y));
    }

    @Override public void conv2dBackwardData(ConvShape g, View dy, View w, View dx) {
        Conv.backwardData(this, g, a(dy), o(dy), a(w), o(w), a(dx), o(dx));
    }

    @Override public void conv2dBackwardFilter(ConvShape g, View x, View dy, View dw) {
        Conv.backwardFilter(this, g, a(x), o(x), a(dy), o(dy), a(dw), o(dw));
    }

    @Override public void conv2dBackwardBias(ConvShape g, View dy, View db) {
        float[] ga = a(dy), da = a(db);
        int go = o(dy), dbo = o(db), k = g.k(), pq = g.p() * g.q(), n = g.n();
        // One channel's sum is its planes' vector sums added in double, whichever chunk runs it.
        team.range(k, Math.max(1, (1 << 14) / (n * pq)), (lo, hi, c) -> {
            for (int ch = lo; ch < hi; ch++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += Elementwise.sum(ga, go + (i * k + ch) * pq, pq);
                da[dbo + ch] = (float) s;
            }
        });
    }

    // ---- normalisation -------------------------------------------------------------------

    @Override public void batchNormTrain(View x, View gamma, View beta, View runningMean, View runningVar,
                                         float momentum, float eps, View y, View saveMean, View saveInvStd) {
        Norm.train(this, NormShape.of(x), a(x), o(x), a(gamma), o(gamma), a(beta), o(beta), a(runningMean), o(runningMean),
                a(runningVar), o(runningVar), momentum, eps, a(y), o(y), a(saveMean), o(saveMean), a(saveInvStd), o(saveInvStd));
    }

    @Override public void batchNormInfer(View x, View gamma, View beta, View runningMean, View runningVar, float eps, View y) {
        Norm.infer(this, NormShape.of(x), a(x), o(x), a(gamma), o(gamma), a(beta), o(beta), a(runningMean), o(runningMean),
                a(runningVar), o(runningVar), eps, a(y), o(y));
    }

    @Override public void batchNormBackward(View x, View dy, View gamma, View saveMean, View saveInvStd,
                                            View dx, View dgamma, View dbeta) {
        Norm.backward(this, NormShape.of(x), a(x), o(x), a(dy), o(dy), a(gamma), o(gamma), a(saveMean), o(saveMean),
                a(saveInvStd), o(saveInvStd), a(dx), o(dx), a(dgamma), o(dgamma), a(dbeta), o(dbeta));
    }

    // ---- pooling -------------------------------------------------------------------------

    @Override public void maxPool2d(PoolShape g, View x, View y) { Pool.max(this, g, a(x), o(x), a(y), o(y)); }

    @Override public void maxPool2dBackward(PoolShape g, View x, View y, View dy, View dx) {
        Pool.maxBackward(this, g, a(x), o(x), a(y), o(y), a(dy), o(dy), a(dx), o(dx));
    }

    @Override public void avgPool2d(PoolShape g, View x, View y) { Pool.avg(this, g, a(x), o(x), a(y), o(y)); }

    @Override public void avgPool2dBackward(PoolShape g, View dy, View dx) { Pool.avgBackward(this, g, a(dy), o(dy), a(dx), o(dx)); }

    // ---- softmax and losses ----------------------------------------------------------------

    @Override public void softmax(View x, View y) { Softmax.softmax(RowShape.of(x), a(x), o(x), a(y), o(y)); }

    @Override public void softmaxBackward(View y, View dy, View dx) {
        Softmax.softmaxBackward(RowShape.of(y), a(y), o(y), a(dy), o(dy), a(dx), o(dx));
    }

    @Override public void logSoftmax(View x, View y) { Softmax.logSoftmax(RowShape.of(x), a(x), o(x), a(y), o(y)); }

    @Override public void logSoftmaxBackward(View y, View dy, View dx) {
        Softmax.logSoftmaxBackward(RowShape.of(y), a(y), o(y), a(dy), o(dy), a(dx), o(dx));
    }

    @Override public void softmaxCrossEntropy(View logits, View labels, View probs, View loss) {
        Softmax.crossEntropy(RowShape.withLabels("softmaxCrossEntropy", logits, labels), a(logits), o(logits), a(labels), o(labels),
                a(probs), o(probs), a(loss), o(loss));
    }

    @Override public void softmaxCrossEntropyBackward(View probs, View labels, View dloss, View dlogits) {
        Softmax.crossEntropyBackward(RowShape.of(probs), a(probs), o(probs), a(labels), o(labels), a(dloss), o(dloss), a(dlogits), o(dlogits));
    }

    @Override public void expectedDistance(View logits, View labels, View probs, View loss) {
        Softmax.expectedDistance(RowShape.withLabels("expectedDistance", logits, labels), a(logits), o(logits), a(labels), o(labels),
                a(probs), o(probs), a(loss), o(loss));
    }

    @Override public void expectedDistanceBackward(View probs, View labels, View dloss, View dlogits) {
        Softmax.expectedDistanceBackward(RowShape.of(probs), a(probs), o(probs), a(labels), o(labels), a(dloss), o(dloss), a(dlogits), o(dlogits));
    }

    // ---- spatial transformer -------------------------------------------------------------

    @Override public void affineGrid(View theta, View grid) {
        Sampler.affineGrid(SampleShape.ofGrid("affineGrid", theta, grid), a(theta), o(theta), a(grid), o(grid));
    }

    @Override public void affineGridBackward(View dgrid, View dtheta) {
        Sampler.affineGridBackward(SampleShape.ofGrid("affineGridBackward", dtheta, dgrid), a(dgrid), o(dgrid), a(dtheta), o(dtheta));
    }

    @Override public void gridSample(View x, View grid, View y) {
        Sampler.gridSample(this, SampleShape.of("gridSample", x, grid, y), a(x), o(x), a(grid), o(grid), a(y), o(y));
    }

    @Override public void gridSampleBackward(View x, View grid, View dy, View dx, View dgrid) {
        Sampler.gridSampleBackward(this, SampleShape.of("gridSampleBackward", x, grid, dy), a(x), o(x), a(grid), o(grid), a(dy), o(dy),
                dx == null ? null : a(dx), dx == null ? 0 : o(dx), dgrid == null ? null : a(dgrid), dgrid == null ? 0 : o(dgrid));
    }

    // ---- dropout ---------------------------------------------------------------------------

    @Override public void dropout(View x, float p, long seed, View y) {
        View.checkNumel("dropout", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        float keepScale = 1f / (1f - p);
        team.range(x.size(), 1 << 14, (lo, hi, c) -> Elementwise.dropout(xa, xo + lo, ya, yo + lo, hi - lo, lo, p, seed, keepScale));
    }

    @Override public void dropoutBackward(View dy, float p, long seed, View dx) {
        dropout(dy, p, seed, dx);
    }

    // ---- optimisers --------------------------------------------------------------------------

    @Override public void sgdStep(View param, View grad, View momentumBuf, float lr, float momentum, float weightDecay) {
        View.checkNumel("sgdStep", param, grad);
        View.checkNumel("sgdStep", param, momentumBuf);
        float[] p = a(param), g = a(grad), m = a(momentumBuf);
        int po = o(param), go = o(grad), mo = o(momentumBuf);
        team.range(param.size(), STREAM_GRAIN, (lo, hi, c) ->
                Elementwise.sgd(p, po + lo, g, go + lo, m, mo + lo, hi - lo, lr, momentum, weightDecay));
    }

    @Override public void adamwStep(View param, View grad, View m, View v, float lr, float beta1, float beta2,
                                    float eps, float weightDecay, int step) {
        View.checkNumel("adamwStep", param, grad);
        float[] p = a(param), g = a(grad), ma = a(m), va = a(v);
        int po = o(param), go = o(grad), mo = o(m), vo = o(v);
        float bc1 = (float) (1 - Math.pow(beta1, step)), bc2 = (float) (1 - Math.pow(beta2, step));
        float decay = 1f - lr * weightDecay;
        team.range(param.size(), STREAM_GRAIN, (lo, hi, c) ->
                Elementwise.adamw(p, po + lo, g, go + lo, ma, mo + lo, va, vo + lo, hi - lo, lr, beta1, beta2, eps, decay, bc1, bc2));
    }

    // ---- data preparation --------------------------------------------------------------------

    @Override public ImageStore uploadImages(java.lang.foreign.MemorySegment hwc, int count, int height, int width) {
        if ((long) count * height * width * 3 != hwc.byteSize())
            throw new IllegalArgumentException("uploadImages: " + hwc.byteSize() + " bytes is not " + count + " x " + height + "x" + width + "x3");
        return new HostImages(hwc, count, height, width);
    }

    /** The images where they are, a Java array or a mapped file: nothing is copied. */
    record HostImages(java.lang.foreign.MemorySegment hwc, int count, int height, int width) implements ImageStore {
        @Override public void close() {}
    }

    @Override public void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, View out) {
        HostImages im = (HostImages) images;
        Augment.batch(this, im.hwc, im.count, im.height, im.width, index, spec, seed, a(out), o(out), out.shape());
    }
}
