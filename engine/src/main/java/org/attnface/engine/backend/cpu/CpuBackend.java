package org.attnface.engine.backend.cpu;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.AugmentSpec;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.ImageStore;
import org.attnface.engine.backend.PoolShape;
import org.attnface.engine.backend.Storage;

/**
 * The CPU backend: the readable reference every GPU kernel is tested against, and fast
 * enough to train on. Loops are split across a fixed thread team ({@link Parallel}) in
 * static chunks, so results are bit-identical for a given thread count.
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

    @Override public Device device() { return Device.CPU; }

    @Override public String describe() {
        return "cpu (" + team.threads() + " threads, " + Gemm.F.vectorBitSize() + "-bit vectors)";
    }

    // ---- array access --------------------------------------------------------------------

    static float[] a(Tensor t) { return ((CpuStorage) t.storage()).data; }

    static int o(Tensor t) { return t.intOffset(); }

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

    @Override public void upload(float[] src, int srcOffset, Tensor dst) {
        System.arraycopy(src, srcOffset, a(dst), o(dst), dst.size());
    }

    @Override public void download(Tensor src, float[] dst, int dstOffset) {
        System.arraycopy(a(src), o(src), dst, dstOffset, src.size());
    }

    /** Floats per chunk at least for the streaming loops: below ~64k a second thread costs more than it gains. */
    private static final int STREAM_GRAIN = 1 << 16;

    @Override public void copy(Tensor src, Tensor dst) {
        checkNumel("copy", src, dst);
        float[] s = a(src), d = a(dst);
        int so = o(src), dO = o(dst);
        team.range(src.size(), STREAM_GRAIN, (lo, hi, c) -> System.arraycopy(s, so + lo, d, dO + lo, hi - lo));
    }

    @Override public void fill(Tensor t, float value) {
        float[] d = a(t);
        int off = o(t);
        team.range(t.size(), STREAM_GRAIN, (lo, hi, c) -> Arrays.fill(d, off + lo, off + hi, value));
    }

    @Override public void synchronize() {}

    // ---- elementwise -----------------------------------------------------------------------

    @Override public void binary(BinaryOp op, Tensor x, Tensor y, Tensor out) {
        Elementwise.binary(this, op, x, y, out);
    }

    @Override public void sumTo(Tensor x, Tensor out) {
        Elementwise.sumTo(x, out);
    }

    @Override public void axpy(float alpha, Tensor x, Tensor y) {
        checkNumel("axpy", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.axpy(alpha, xa, xo + lo, ya, yo + lo, hi - lo));
    }

    @Override public void scale(Tensor x, float alpha, Tensor out) {
        checkNumel("scale", x, out);
        float[] xa = a(x), ya = a(out);
        int xo = o(x), yo = o(out);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.scale(xa, xo + lo, alpha, ya, yo + lo, hi - lo));
    }

    @Override public void scaleByScalar(Tensor x, Tensor s, float alpha, Tensor out) {
        scale(x, alpha * a(s)[o(s)], out);
    }

    @Override public void relu(Tensor x, Tensor y) {
        checkNumel("relu", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        team.range(x.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.relu(xa, xo + lo, ya, yo + lo, hi - lo));
    }

    @Override public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        checkNumel("reluBackward", y, dy);
        float[] ya = a(y), ga = a(dy), da = a(dx);
        int yo = o(y), go = o(dy), dxo = o(dx);
        team.range(y.size(), STREAM_GRAIN, (lo, hi, c) -> Elementwise.reluBackward(ya, yo + lo, ga, go + lo, da, dxo + lo, hi - lo));
    }

    @Override public void sumAll(Tensor x, Tensor out) {
        float[] xa = a(x);
        int xo = o(x), n = x.size();
        double s = 0;
        for (int i = 0; i < n; i++) s += xa[xo + i];
        a(out)[o(out)] = (float) s;
    }

    @Override public void countNonFinite(Tensor x, Tensor out) {
        float[] xa = a(x);
        a(out)[o(out)] = Elementwise.countNonFinite(xa, o(x), x.size());
    }

    @Override public void copy2d(Tensor src, int srcStride, int srcCol, Tensor dst, int dstStride, int dstCol, int rows, int cols) {
        float[] s = a(src), d = a(dst);
        int so = o(src), dO = o(dst);
        for (int r = 0; r < rows; r++) System.arraycopy(s, so + r * srcStride + srcCol, d, dO + r * dstStride + dstCol, cols);
    }

    // ---- matrix products -------------------------------------------------------------------

    @Override public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        if ((long) m * k > a.numel() || (long) k * n > b.numel() || (long) m * n > c.numel())
            throw new IllegalArgumentException("gemm " + m + "x" + n + "x" + k + " does not fit A " + Arrays.toString(a.shape())
                    + ", B " + Arrays.toString(b.shape()) + ", C " + Arrays.toString(c.shape()));
        float[] aa = a(a), ba = a(b), ca = a(c);
        int ao = o(a), bo = o(b), co = o(c);
        int lda = transA ? m : k, ldb = transB ? k : n;
        Gemm.parallel(team, transA, transB, m, n, k, alpha, aa, ao, lda, ba, bo, ldb, beta, ca, co, n);
    }

    // ---- convolution -------------------------------------------------------------------------

    @Override public void conv2dForward(ConvShape g, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Conv.forward(this, g, a(x), o(x), a(w), o(w), bias == null ? null : a(bias), bias == null ? 0 : o(bias), a(y), o(y));
    }

    @Override public void conv2dBackwardData(ConvShape g, Tensor dy, Tensor w, Tensor dx) {
        Conv.backwardData(this, g, a(dy), o(dy), a(w), o(w), a(dx), o(dx));
    }

    @Override public void conv2dBackwardFilter(ConvShape g, Tensor x, Tensor dy, Tensor dw) {
        Conv.backwardFilter(this, g, a(x), o(x), a(dy), o(dy), a(dw), o(dw));
    }

    @Override public void conv2dBackwardBias(ConvShape g, Tensor dy, Tensor db) {
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

    @Override public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                         float momentum, float eps, Tensor y, Tensor saveMean, Tensor saveInvStd) {
        Norm.train(this, x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
    }

    @Override public void batchNormInfer(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps, Tensor y) {
        Norm.infer(this, x, gamma, beta, runningMean, runningVar, eps, y);
    }

    @Override public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd,
                                            Tensor dx, Tensor dgamma, Tensor dbeta) {
        Norm.backward(this, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }

    // ---- pooling -------------------------------------------------------------------------

    @Override public void maxPool2d(PoolShape g, Tensor x, Tensor y) { Pool.max(this, g, x, y); }

    @Override public void maxPool2dBackward(PoolShape g, Tensor x, Tensor y, Tensor dy, Tensor dx) { Pool.maxBackward(this, g, x, y, dy, dx); }

    @Override public void avgPool2d(PoolShape g, Tensor x, Tensor y) { Pool.avg(this, g, x, y); }

    @Override public void avgPool2dBackward(PoolShape g, Tensor dy, Tensor dx) { Pool.avgBackward(this, g, dy, dx); }

    // ---- softmax and losses ----------------------------------------------------------------

    @Override public void softmax(Tensor x, Tensor y) { Softmax.softmax(x, y); }

    @Override public void softmaxBackward(Tensor y, Tensor dy, Tensor dx) { Softmax.softmaxBackward(y, dy, dx); }

    @Override public void logSoftmax(Tensor x, Tensor y) { Softmax.logSoftmax(x, y); }

    @Override public void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx) { Softmax.logSoftmaxBackward(y, dy, dx); }

    @Override public void softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probs, Tensor loss) {
        Softmax.crossEntropy(logits, labels, probs, loss);
    }

    @Override public void softmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits) {
        Softmax.crossEntropyBackward(probs, labels, dloss, dlogits);
    }

    @Override public void expectedDistance(Tensor logits, Tensor labels, Tensor probs, Tensor loss) {
        Softmax.expectedDistance(logits, labels, probs, loss);
    }

    @Override public void expectedDistanceBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits) {
        Softmax.expectedDistanceBackward(probs, labels, dloss, dlogits);
    }

    // ---- spatial transformer -------------------------------------------------------------

    @Override public void affineGrid(Tensor theta, Tensor grid) { Sampler.affineGrid(theta, grid); }

    @Override public void affineGridBackward(Tensor dgrid, Tensor dtheta) { Sampler.affineGridBackward(dgrid, dtheta); }

    @Override public void gridSample(Tensor x, Tensor grid, Tensor y) { Sampler.gridSample(this, x, grid, y); }

    @Override public void gridSampleBackward(Tensor x, Tensor grid, Tensor dy, Tensor dx, Tensor dgrid) {
        Sampler.gridSampleBackward(this, x, grid, dy, dx, dgrid);
    }

    // ---- dropout ---------------------------------------------------------------------------

    @Override public void dropout(Tensor x, float p, long seed, Tensor y) {
        checkNumel("dropout", x, y);
        float[] xa = a(x), ya = a(y);
        int xo = o(x), yo = o(y);
        float keepScale = 1f / (1f - p);
        team.range(x.size(), 1 << 14, (lo, hi, c) -> Elementwise.dropout(xa, xo + lo, ya, yo + lo, hi - lo, lo, p, seed, keepScale));
    }

    @Override public void dropoutBackward(Tensor dy, float p, long seed, Tensor dx) {
        dropout(dy, p, seed, dx);
    }

    // ---- optimisers --------------------------------------------------------------------------

    @Override public void sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, float lr, float momentum, float weightDecay) {
        checkNumel("sgdStep", param, grad);
        checkNumel("sgdStep", param, momentumBuf);
        float[] p = a(param), g = a(grad), m = a(momentumBuf);
        int po = o(param), go = o(grad), mo = o(momentumBuf);
        team.range(param.size(), STREAM_GRAIN, (lo, hi, c) ->
                Elementwise.sgd(p, po + lo, g, go + lo, m, mo + lo, hi - lo, lr, momentum, weightDecay));
    }

    @Override public void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                    float eps, float weightDecay, int step) {
        checkNumel("adamwStep", param, grad);
        float[] p = a(param), g = a(grad), ma = a(m), va = a(v);
        int po = o(param), go = o(grad), mo = o(m), vo = o(v);
        float bc1 = (float) (1 - Math.pow(beta1, step)), bc2 = (float) (1 - Math.pow(beta2, step));
        float decay = 1f - lr * weightDecay;
        team.range(param.size(), STREAM_GRAIN, (lo, hi, c) ->
                Elementwise.adamw(p, po + lo, g, go + lo, ma, mo + lo, va, vo + lo, hi - lo, lr, beta1, beta2, eps, decay, bc1, bc2));
    }

    // ---- data preparation --------------------------------------------------------------------

    @Override public ImageStore uploadImages(byte[] hwc, int count, int height, int width) {
        if ((long) count * height * width * 3 != hwc.length)
            throw new IllegalArgumentException("uploadImages: " + hwc.length + " bytes is not " + count + " x " + height + "x" + width + "x3");
        return new HostImages(hwc, count, height, width);
    }

    record HostImages(byte[] hwc, int count, int height, int width) implements ImageStore {
        @Override public void close() {}
    }

    @Override public void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, Tensor out) {
        HostImages im = (HostImages) images;
        Augment.batch(this, im.hwc, im.count, im.height, im.width, index, spec, seed, a(out), o(out), out.shape());
    }

    static void checkNumel(String op, Tensor a, Tensor b) {
        if (a.numel() != b.numel())
            throw new IllegalArgumentException(op + ": " + a.describe() + " and " + b.describe() + " differ in size");
    }
}
