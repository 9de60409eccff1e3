package org.attnface.engine.backend.cuda;

import java.util.Arrays;
import java.util.Map;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

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
 * The CUDA backend: JCuda for the driver API, cuBLAS and cuDNN through java.lang.foreign, our
 * kernels (kernels module) for everything else. Every op is queued on one compute stream and
 * returns at once; only {@link #download} and {@link #synchronize} wait for the device, so a
 * training step that reads its loss every N steps synchronises the host once per N steps.
 * Semantics are those of {@link org.attnface.engine.backend.cpu.CpuBackend}, which the tests
 * compare against op by op.
 */
public final class CudaBackend implements Backend {
    private static final int THREADS = 256;

    /**
     * Deterministic mode: cuDNN convolutions use only algorithms cuDNN marks CUDNN_DETERMINISTIC,
     * and the two kernels that scatter with atomicAdd (max-pool backward, grid-sample dx) are
     * replaced by fixed-order ones (slower). The other kernels gather or reduce in a fixed order
     * already. Starts from ATTNFACE_DETERMINISTIC=1; `attnface train/bench --deterministic` sets it.
     */
    private static volatile boolean deterministic = "1".equals(System.getenv("ATTNFACE_DETERMINISTIC"));

    public static void setDeterministic(boolean on) { deterministic = on; }

    public static boolean deterministic() { return deterministic; }

    private final Driver.Context ctx;
    private final CUstream compute, copyStream;
    private final Kernels kernels;
    private final Cublas cublas;
    private final Cudnn cudnn;
    private final DeviceMemory memory;
    private final Reductions reductions;
    private final Staging staging;
    private final Staging.Slot downloadSlot;
    private final String name;
    private final int smCount, ccMajor, ccMinor;
    private final long totalBytes;
    private volatile boolean tf32 = envFlag("ATTNFACE_TF32");
    private long workspace, workspaceBytes;
    /** True while {@link #capture} records: host copies and waits would be baked into the graph or are illegal. */
    private volatile boolean capturing;

    private CudaBackend(Driver.Context ctx, CudaLibraries libs, Map<String, byte[]> fatbins) {
        this.ctx = ctx;
        ctx.bind();  // before anything that creates driver objects (streams, events)
        staging = new Staging();
        downloadSlot = new Staging.Slot();
        compute = Driver.stream();
        copyStream = Driver.stream();
        kernels = new Kernels(fatbins);
        memory = new DeviceMemory(this::synchronize, ctx::bind);
        long stream = Driver.address(compute);
        cublas = libs.cublas.createHandle(stream);
        cudnn = libs.cudnn.createHandle(stream);
        byte[] nameBytes = new byte[256];
        JCudaDriver.cuDeviceGetName(nameBytes, nameBytes.length, ctx.device);
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) len++;
        name = new String(nameBytes, 0, len, java.nio.charset.StandardCharsets.US_ASCII);
        smCount = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        ccMajor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        ccMinor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        long[] total = new long[1];
        JCudaDriver.cuDeviceTotalMem(total, ctx.device);
        totalBytes = total[0];
        reductions = new Reductions(kernels, memory, ctx, compute, smCount);
    }

    private int attribute(int which) {
        int[] v = new int[1];
        Driver.check(JCudaDriver.cuDeviceGetAttribute(v, which, ctx.device), "cuDeviceGetAttribute(" + which + ")");
        return v[0];
    }

    private static boolean envFlag(String name) {
        String v = System.getenv(name);
        return v != null && (v.equals("1") || v.equalsIgnoreCase("true") || v.equalsIgnoreCase("on"));
    }

    private static String firstLinkError;

    /**
     * Opens GPU 0, or fails with a message that says what is missing: the driver or a GPU, the
     * compiled kernels, or the cuBLAS / cuDNN libraries (with every folder searched).
     */
    public static Backend create() {
        Driver.Context ctx;
        try {
            JCudaDriver.setExceptionsEnabled(false);
            int status = JCudaDriver.cuInit(0);
            if (status != 0) throw noGpu("cuInit returned " + jcuda.driver.CUresult.stringFor(status), null);
            int[] count = new int[1];
            JCudaDriver.cuDeviceGetCount(count);
            if (count[0] == 0) throw noGpu("the driver reports no CUDA device", null);
            CUdevice dev = new CUdevice();
            Driver.check(JCudaDriver.cuDeviceGet(dev, 0), "cuDeviceGet(0)");
            CUcontext context = new CUcontext();
            Driver.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, dev), "cuDevicePrimaryCtxRetain");
            ctx = new Driver.Context(dev, context);
        } catch (LinkageError e) {
            // JCuda's class fails to initialise once (UnsatisfiedLinkError naming libcuda.so.1);
            // later attempts only see NoClassDefFoundError, so the first reason is kept.
            synchronized (CudaBackend.class) {
                if (firstLinkError == null) firstLinkError = shortReason(e);
            }
            throw noGpu(firstLinkError, e);
        } catch (jcuda.CudaException e) {
            throw noGpu(e.getMessage(), e);
        }
        return Startup.open(ctx, (c, libs, images) -> new CudaBackend(c, libs, images));
    }

    /** JCuda's load failure runs to pages of nested stack traces; the cause is one line of it. */
    private static String shortReason(LinkageError e) {
        String m = String.valueOf(e.getMessage());
        if (m.contains("libcuda.so.1: cannot open shared object file"))
            return "libcuda.so.1: cannot open shared object file, needed by JCuda's libJCudaDriver";
        String first = m.lines().findFirst().orElse(m);
        return e.getClass().getSimpleName() + ": " + (first.length() > 300 ? first.substring(0, 300) + "..." : first);
    }

    private static CudaException noGpu(String detail, Throwable cause) {
        return new CudaException("CUDA is not available: no NVIDIA driver (libcuda.so.1) or GPU was found (" + detail
                + "). Use --device cpu.", cause);
    }

    @Override public String describe() {
        return String.format("cuda (%s, sm_%d%d, %d SMs, %.0f GiB; cuBLAS %s, cuDNN %s; TF32 %s)", name, ccMajor, ccMinor,
                smCount, totalBytes / (double) (1L << 30), cublas.version(), cudnn.version(), tf32 ? "on" : "off");
    }

    /** Where cuBLAS and cuDNN were loaded from (for logs and the GPU check script). */
    public String libraries() { return cublas.library + ", " + cudnn.library; }

    /**
     * TF32 tensor cores for convolutions and GEMMs (PyTorch's allow_tf32): ~1e-3 relative error,
     * several times the FP32 speed. Default off, or on with ATTNFACE_TF32=1.
     */
    public void setTf32(boolean on) { tf32 = on; }

    public boolean tf32() { return tf32; }

    /** Number of cuMemAlloc calls so far: constant across steady training steps. */
    public long deviceAllocations() { return memory.deviceAllocations(); }

    public long bytesInUse() { return memory.bytesInUse(); }

    /** Scales x in place so that its L2 norm is at most maxNorm, the norm never leaving the device (no host sync). */
    public void clipToNorm(View x, float maxNorm) { reductions.clipToNorm(ptr(x), x.numel(), maxNorm); }

    /** The device address of a CUDA tensor's element 0 (NCCL's all-reduce takes it, engine.dist). */
    public static long deviceAddress(View t) { return ptr(t); }

    /** The compute stream (a CUstream as an address): NCCL queues its all-reduce there, after the backward kernels. */
    public long computeStream() { return Driver.address(compute); }

    // ---- plumbing ---------------------------------------------------------------------------

    private static long ptr(View t) {
        Storage s = t.storage();
        if (!(s instanceof CudaStorage cs))
            throw new IllegalArgumentException("tensor " + t.describe() + " is not on the CUDA device");
        return cs.address + 4L * t.offset();
    }

    private static long ptrOrNull(View t) { return t == null ? 0L : ptr(t); }

    private void launch(String family, String kernel, long work, Object... args) {
        ctx.bind();
        long blocks = Math.min((work + THREADS - 1) / THREADS, (long) smCount * 32);
        CUfunction f = kernels.get(family, kernel);
        Driver.launch(f, kernel, (int) Math.max(1, blocks), THREADS, compute, args);
    }

    private void launchBlocks(String family, String kernel, int blocks, int threads, Object... args) {
        ctx.bind();
        Driver.launch(kernels.get(family, kernel), kernel, blocks, threads, compute, args);
    }

    private static int bits(float f) { return Float.floatToRawIntBits(f); }

    // ---- memory --------------------------------------------------------------------------

    @Override public Storage allocate(long numel) {
        ctx.bind();
        long n = Math.max(1, numel);
        return new CudaStorage(this, memory.allocate(4 * n), n);
    }

    @Override public void release(Storage storage) {
        CudaStorage s = (CudaStorage) storage;
        if (s.released) return;
        s.released = true;
        memory.release(s.address, 4 * s.floats);
    }

    private static IllegalStateException duringCapture(String what) {
        return new IllegalStateException(what + " inside CUDA graph capture: a replay would copy the same host buffer "
                + "again (or wait on the host); upload inputs before capturing and keep the captured work on the device");
    }

    @Override public void upload(float[] src, int srcOffset, View dst) {
        if (capturing) throw duringCapture("upload to " + dst.describe());
        ctx.bind();
        int n = dst.size();
        if (srcOffset + n > src.length)
            throw new IllegalArgumentException("upload: " + n + " floats from offset " + srcOffset + " of a " + src.length + "-float array");
        Staging.Slot s = staging.take(4L * n);
        s.buffer.asFloatBuffer().put(src, srcOffset, n);
        Driver.check(JCudaDriver.cuMemcpyHtoDAsync(Driver.ptr(ptr(dst)), s.host, 4L * n, compute), () -> "cuMemcpyHtoDAsync(" + dst.describe() + ")");
        Staging.recordOn(s, compute);
    }

    @Override public synchronized void download(View src, float[] dst, int dstOffset) {
        if (capturing) throw duringCapture("download of " + src.describe());
        ctx.bind();
        int n = src.size();
        Staging.ensure(downloadSlot, 4L * n);
        Driver.check(JCudaDriver.cuMemcpyDtoHAsync(downloadSlot.host, Driver.ptr(ptr(src)), 4L * n, compute), () -> "cuMemcpyDtoHAsync(" + src.describe() + ")");
        Driver.check(JCudaDriver.cuStreamSynchronize(compute), () -> "cuStreamSynchronize (after the work queued before downloading " + src.describe() + ")");
        downloadSlot.buffer.clear();
        downloadSlot.buffer.asFloatBuffer().get(dst, dstOffset, n);
    }

    @Override public void copy(View src, View dst) {
        View.checkNumel("copy", src, dst);
        ctx.bind();
        Driver.check(JCudaDriver.cuMemcpyDtoDAsync(Driver.ptr(ptr(dst)), Driver.ptr(ptr(src)), 4L * src.numel(), compute), "cuMemcpyDtoDAsync");
    }

    @Override public void fill(View t, float value) {
        ctx.bind();
        Driver.check(JCudaDriver.cuMemsetD32Async(Driver.ptr(ptr(t)), bits(value), t.numel(), compute), "cuMemsetD32Async");
    }

    @Override public void synchronize() {
        if (capturing) throw duringCapture("synchronize");
        ctx.bind();
        Driver.check(JCudaDriver.cuStreamSynchronize(copyStream), "cuStreamSynchronize(copy)");
        Driver.check(JCudaDriver.cuStreamSynchronize(compute), "cuStreamSynchronize(compute)");
    }

    // ---- elementwise and reductions -----------------------------------------------------

    @Override public void binary(BinaryOp op, View a, View b, View out) {
        long n = out.numel();
        if (a.numel() == n && b.numel() == n && a.sameShape(out) && b.sameShape(out)) {
            launch("elementwise", "binary_flat", n, op.ordinal(), ptr(a), ptr(b), ptr(out), n);
            return;
        }
        int[] os = out.shape();
        if (os.length > 6) throw new IllegalArgumentException(op + ": broadcasting supports rank <= 6, got " + out.describe());
        int[] g = Broadcast.of(op, a.shape(), b.shape(), os).packed();
        launch("elementwise", "binary_bcast", n, op.ordinal(), ptr(a), ptr(b), ptr(out), n, g);
    }

    @Override public void sumTo(View x, View out) {
        int[] xs = x.shape();
        if (xs.length == 0) xs = new int[] {1};
        if (xs.length > 6) throw new IllegalArgumentException("sumTo: rank <= 6 supported, got " + x.describe());
        int[] g = Broadcast.sumTo(xs, out.shape()).packedSumTo();
        long outN = out.numel(), reduced = x.numel() / Math.max(1, outN);
        int threads = (int) Math.min(256, Math.max(32, Long.highestOneBit(Math.max(1, reduced - 1)) << 1));
        int blocks = (int) Math.min(outN, 1 << 20);
        launchBlocks("elementwise", "sum_to", blocks, threads, ptr(x), ptr(out), (int) outN, reduced, g);
    }

    @Override public void axpy(float alpha, View x, View y) {
        View.checkNumel("axpy", x, y);
        launch("elementwise", "axpy_f32", x.numel(), alpha, ptr(x), ptr(y), x.numel());
    }

    @Override public void scale(View x, float alpha, View out) {
        View.checkNumel("scale", x, out);
        launch("elementwise", "scale_f32", x.numel(), ptr(x), alpha, ptr(out), x.numel());
    }

    @Override public void scaleByScalar(View x, View s, float alpha, View out) {
        View.checkNumel("scaleByScalar", x, out);
        launch("elementwise", "scale_by_scalar", x.numel(), ptr(x), ptr(s), alpha, ptr(out), x.numel());
    }

    @Override public void relu(View x, View y) {
        View.checkNumel("relu", x, y);
        launch("elementwise", "relu_fwd", x.numel(), ptr(x), ptr(y), x.numel());
    }

    @Override public void reluBackward(View y, View dy, View dx) {
        View.checkNumel("reluBackward", y, dy);
        View.checkNumel("reluBackward", y, dx);
        launch("elementwise", "relu_bwd", y.numel(), ptr(y), ptr(dy), ptr(dx), y.numel());
    }

    @Override public void sumAll(View x, View out) {
        reductions.sum(ptr(x), x.numel(), ptr(out));
    }

    @Override public void countNonFinite(View x, View out) {
        reductions.countNonFinite(ptr(x), x.numel(), ptr(out));
    }

    @Override public void copy2d(View src, int srcStride, int srcCol, View dst, int dstStride, int dstCol, int rows, int cols) {
        if (rows == 0 || cols == 0) return;
        if ((long) (rows - 1) * srcStride + srcCol + cols > src.numel() || (long) (rows - 1) * dstStride + dstCol + cols > dst.numel())
            throw new IllegalArgumentException("copy2d: " + rows + "x" + cols + " block does not fit " + src.describe() + " -> " + dst.describe());
        launch("elementwise", "copy2d", (long) rows * cols, ptr(src), srcStride, srcCol, ptr(dst), dstStride, dstCol, rows, cols);
    }

    // ---- matrix products -----------------------------------------------------------------

    @Override public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, View a, View b, float beta, View c) {
        if ((long) m * k > a.numel() || (long) k * n > b.numel() || (long) m * n > c.numel())
            throw new IllegalArgumentException("gemm " + m + "x" + n + "x" + k + " does not fit A " + Arrays.toString(a.shape())
                    + ", B " + Arrays.toString(b.shape()) + ", C " + Arrays.toString(c.shape()));
        ctx.bind();
        cublas.setTf32(tf32);
        cublas.gemmRowMajor(transA, transB, m, n, k, alpha, ptr(a), ptr(b), beta, ptr(c));
    }

    /**
     * {@code batch} row-major products C_i = alpha op(A_i) op(B_i) + beta C_i, with A_i at
     * a + i*strideA floats (and so on): one cuBLAS call (not part of the Backend interface yet).
     */
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha, View a, long strideA,
                                   View b, long strideB, float beta, View c, long strideC, int batch) {
        if ((batch - 1) * strideA + (long) m * k > a.numel() || (batch - 1) * strideB + (long) k * n > b.numel()
                || (batch - 1) * strideC + (long) m * n > c.numel())
            throw new IllegalArgumentException("gemmStridedBatched " + batch + " x " + m + "x" + n + "x" + k + " does not fit A "
                    + a.describe() + ", B " + b.describe() + ", C " + c.describe());
        ctx.bind();
        cublas.setTf32(tf32);
        cublas.gemmStridedBatchedRowMajor(transA, transB, m, n, k, alpha, ptr(a), strideA, ptr(b), strideB, beta, ptr(c), strideC, batch);
    }

    // ---- convolution ---------------------------------------------------------------------

    private long workspace(long bytes) {
        if (bytes > workspaceBytes) {
            if (workspace != 0) memory.release(workspace, workspaceBytes);
            workspace = memory.allocate(bytes);
            workspaceBytes = bytes;
        }
        return workspace;
    }

    private void conv(Cudnn.Dir dir, ConvShape g, View in1, View in2, View out) {
        ctx.bind();
        Cudnn.Plan p = cudnn.plan(g, tf32);
        long bytes = cudnn.choose(p, dir, g);
        long ws = bytes == 0 ? 0 : workspace(bytes);
        cudnn.run(p, dir, g, ptr(in1), ptr(in2), ptr(out), ws, bytes);
    }

    @Override public void conv2dForward(ConvShape g, View x, View w, View bias, View y) {
        conv(Cudnn.Dir.FORWARD, g, x, w, y);
        if (bias != null)
            launch("elementwise", "bias_add_nchw", y.numel(), ptr(y), ptr(bias), g.k(), g.p() * g.q(), (long) g.n() * g.k() * g.p() * g.q());
    }

    @Override public void conv2dBackwardData(ConvShape g, View dy, View w, View dx) {
        conv(Cudnn.Dir.BACKWARD_DATA, g, dy, w, dx);
    }

    @Override public void conv2dBackwardFilter(ConvShape g, View x, View dy, View dw) {
        conv(Cudnn.Dir.BACKWARD_FILTER, g, x, dy, dw);
    }

    @Override public boolean conv2dBackwardFilterAccumulate(ConvShape g, View x, View dy, View dw) {
        ctx.bind();
        Cudnn.Plan p = cudnn.plan(g, tf32);
        long bytes = cudnn.choose(p, Cudnn.Dir.BACKWARD_FILTER, g);
        cudnn.run(p, Cudnn.Dir.BACKWARD_FILTER, g, ptr(x), ptr(dy), ptr(dw), bytes == 0 ? 0 : workspace(bytes), bytes, 1f);
        return true;
    }

    @Override public void conv2dBackwardBias(ConvShape g, View dy, View db) {
        int[] geo = {g.n(), g.k(), g.p() * g.q()};
        long m = (long) g.n() * g.p() * g.q();
        int slices = slices(g.k(), m);
        long partial = channelPartials(dy, null, null, geo, slices, 2);
        launch("norm", "channel_sum_finalize", g.k(), partial, slices, ptr(db), g.k());
        memory.release(partial, 16L * g.k() * slices);
    }

    // ---- normalisation -------------------------------------------------------------------

    /** Slices per channel for the statistics: about four blocks per SM in all, each >= 2048 values. */
    private int slices(int channels, long perChannel) {
        long wanted = (4L * smCount + channels - 1) / channels;
        return (int) Math.max(1, Math.min(wanted, (perChannel + 2047) / 2048));
    }

    /** Per-(channel, slice) double sums of a (and a*a, or a*(b - mean)) into a pooled block; the caller releases it. */
    private long channelPartials(View a, View b, View mean, int[] g, int slices, int mode) {
        long bytes = 16L * g[1] * slices;
        long partial = memory.allocate(bytes);
        launchBlocks("norm", "channel_partials", g[1] * slices, 256, ptr(a), ptrOrNull(b), ptrOrNull(mean), partial, g, slices, mode);
        return partial;
    }

    @Override public void batchNormTrain(View x, View gamma, View beta, View runningMean, View runningVar,
                                         float momentum, float eps, View y, View saveMean, View saveInvStd) {
        int[] g = NormShape.of(x).packed();
        long m = (long) g[0] * g[2];
        int slices = slices(g[1], m);
        long partial = channelPartials(x, null, null, g, slices, 0);
        long scaleShiftBytes = 8L * g[1];
        long scaleShift = memory.allocate(scaleShiftBytes);
        launch("norm", "bn_finalize_train", g[1], partial, slices, ptr(gamma), ptr(beta), ptr(runningMean), ptr(runningVar),
                momentum, eps, ptr(saveMean), ptr(saveInvStd), scaleShift, g[1], m);
        launch("norm", "bn_apply", x.numel(), ptr(x), ptr(y), scaleShift, g);
        memory.release(partial, 16L * g[1] * slices);  // stream-ordered reuse: safe once queued
        memory.release(scaleShift, scaleShiftBytes);
    }

    @Override public void batchNormInfer(View x, View gamma, View beta, View runningMean, View runningVar, float eps, View y) {
        int[] g = NormShape.of(x).packed();
        launch("norm", "bn_infer", x.numel(), ptr(x), ptr(gamma), ptr(beta), ptr(runningMean), ptr(runningVar), eps, ptr(y), g);
    }

    @Override public void batchNormBackward(View x, View dy, View gamma, View saveMean, View saveInvStd,
                                            View dx, View dgamma, View dbeta) {
        int[] g = NormShape.of(x).packed();
        long m = (long) g[0] * g[2];
        int slices = slices(g[1], m);
        long partial = channelPartials(dy, x, saveMean, g, slices, 1);
        long coefBytes = 12L * g[1];
        long coef = memory.allocate(coefBytes);
        launch("norm", "bn_finalize_backward", g[1], partial, slices, ptr(gamma), ptr(saveInvStd), ptr(dgamma), ptr(dbeta), coef, g[1], m);
        launch("norm", "bn_backward_apply", x.numel(), ptr(x), ptr(dy), ptr(saveMean), ptr(saveInvStd), coef, ptr(dx), g, (float) m);
        memory.release(partial, 16L * g[1] * slices);
        memory.release(coef, coefBytes);
    }

    // ---- pooling -------------------------------------------------------------------------

    private static int[] poolGeo(PoolShape g) {
        return new int[] {g.n(), g.c(), g.h(), g.w(), g.kh(), g.kw(), g.stride(), g.pad(), g.p(), g.q()};
    }

    @Override public void maxPool2d(PoolShape g, View x, View y) {
        launch("pool", "max_pool_fwd", y.numel(), ptr(x), ptr(y), poolGeo(g));
    }

    @Override public void maxPool2dBackward(PoolShape g, View x, View y, View dy, View dx) {
        fill(dx, 0f);
        if (deterministic) launch("pool", "max_pool_bwd_ordered", (long) dx.dim(0) * dx.dim(1), ptr(x), ptr(y), ptr(dy), ptr(dx), poolGeo(g));
        else launch("pool", "max_pool_bwd", dy.numel(), ptr(x), ptr(y), ptr(dy), ptr(dx), poolGeo(g));
    }

    @Override public void avgPool2d(PoolShape g, View x, View y) {
        launch("pool", "avg_pool_fwd", y.numel(), ptr(x), ptr(y), poolGeo(g));
    }

    @Override public void avgPool2dBackward(PoolShape g, View dy, View dx) {
        launch("pool", "avg_pool_bwd", dx.numel(), ptr(dy), ptr(dx), poolGeo(g));
    }

    // ---- softmax and losses over [n, classes] rows ---------------------------------------

    private static int rows(View x) { return RowShape.of(x).n(); }

    private static int cols(View x) { return RowShape.of(x).c(); }

    @Override public void softmax(View x, View y) {
        launch("softmax", "softmax_fwd", rows(x), ptr(x), ptr(y), rows(x), cols(x));
    }

    @Override public void softmaxBackward(View y, View dy, View dx) {
        launch("softmax", "softmax_bwd", rows(y), ptr(y), ptr(dy), ptr(dx), rows(y), cols(y));
    }

    @Override public void logSoftmax(View x, View y) {
        launch("softmax", "log_softmax_fwd", rows(x), ptr(x), ptr(y), rows(x), cols(x));
    }

    @Override public void logSoftmaxBackward(View y, View dy, View dx) {
        launch("softmax", "log_softmax_bwd", rows(y), ptr(y), ptr(dy), ptr(dx), rows(y), cols(y));
    }

    private static void checkLabels(String op, View logits, View labels) {
        RowShape.withLabels(op, logits, labels);
    }

    @Override public void softmaxCrossEntropy(View logits, View labels, View probs, View loss) {
        checkLabels("softmaxCrossEntropy", logits, labels);
        launchBlocks("softmax", "cross_entropy_fwd", 1, 256, ptr(logits), ptr(labels), ptr(probs), ptr(loss), rows(logits), cols(logits));
    }

    @Override public void softmaxCrossEntropyBackward(View probs, View labels, View dloss, View dlogits) {
        launch("softmax", "cross_entropy_bwd", probs.numel(), ptr(probs), ptr(labels), ptr(dloss), ptr(dlogits), rows(probs), cols(probs));
    }

    @Override public void expectedDistance(View logits, View labels, View probs, View loss) {
        checkLabels("expectedDistance", logits, labels);
        launchBlocks("softmax", "expected_distance_fwd", 1, 256, ptr(logits), ptr(labels), ptr(probs), ptr(loss), rows(logits), cols(logits));
    }

    @Override public void expectedDistanceBackward(View probs, View labels, View dloss, View dlogits) {
        launch("softmax", "expected_distance_bwd", rows(probs), ptr(probs), ptr(labels), ptr(dloss), ptr(dlogits), rows(probs), cols(probs));
    }

    // ---- spatial transformer -------------------------------------------------------------

    private static void checkTheta(View theta, View grid, String op) {
        SampleShape.ofGrid(op, theta, grid);
    }

    private static void checkGrid(View x, View grid, View y, String op) {
        SampleShape.of(op, x, grid, y);
    }

    @Override public void affineGrid(View theta, View grid) {
        int n = grid.dim(0), h = grid.dim(1), w = grid.dim(2);
        checkTheta(theta, grid, "affineGrid");
        launch("sampler", "affine_grid_fwd", (long) n * h * w, ptr(theta), ptr(grid), n, h, w);
    }

    @Override public void affineGridBackward(View dgrid, View dtheta) {
        int n = dgrid.dim(0), h = dgrid.dim(1), w = dgrid.dim(2);
        checkTheta(dtheta, dgrid, "affineGridBackward");
        launchBlocks("sampler", "affine_grid_bwd", n, 256, ptr(dgrid), ptr(dtheta), h, w);
    }

    @Override public void gridSample(View x, View grid, View y) {
        checkGrid(x, grid, y, "gridSample");
        int pq = grid.dim(1) * grid.dim(2);
        launch("sampler", "grid_sample_fwd", y.numel(), ptr(x), ptr(grid), ptr(y), x.dim(0), x.dim(1), x.dim(2), x.dim(3), pq);
    }

    @Override public void gridSampleBackward(View x, View grid, View dy, View dx, View dgrid) {
        checkGrid(x, grid, dy, "gridSampleBackward");
        if (dx == null && dgrid == null) return;
        if (dx != null) fill(dx, 0f);
        int pq = grid.dim(1) * grid.dim(2);
        if (deterministic && dx != null) {
            launch("sampler", "grid_sample_bwd_dx_ordered", (long) x.dim(0) * x.dim(1), ptr(grid), ptr(dy), ptr(dx),
                    x.dim(0), x.dim(1), x.dim(2), x.dim(3), pq);
            dx = null;
            if (dgrid == null) return;
        }
        launch("sampler", "grid_sample_bwd", (long) x.dim(0) * pq, ptr(x), ptr(grid), ptr(dy), ptrOrNull(dx), ptrOrNull(dgrid),
                x.dim(0), x.dim(1), x.dim(2), x.dim(3), pq);
    }

    // ---- dropout -------------------------------------------------------------------------

    @Override public void dropout(View x, float p, long seed, View y) {
        View.checkNumel("dropout", x, y);
        float keepScale = 1f / (1f - p);
        launch("dropout", "dropout_fwd", x.numel(), ptr(x), ptr(y), x.numel(), p, seed, keepScale);
    }

    @Override public void dropoutBackward(View dy, float p, long seed, View dx) {
        dropout(dy, p, seed, dx);
    }

    // ---- optimisers --------------------------------------------------------------------------

    @Override public void sgdStep(View param, View grad, View momentumBuf, float lr, float momentum, float weightDecay) {
        View.checkNumel("sgdStep", param, grad);
        View.checkNumel("sgdStep", param, momentumBuf);
        launch("optim", "sgd_step", param.numel(), ptr(param), ptr(grad), ptr(momentumBuf), param.numel(), lr, momentum, weightDecay);
    }

    @Override public void adamwStep(View param, View grad, View m, View v, float lr, float beta1, float beta2,
                                    float eps, float weightDecay, int step) {
        View.checkNumel("adamwStep", param, grad);
        View.checkNumel("adamwStep", param, m);
        View.checkNumel("adamwStep", param, v);
        float bc1 = (float) (1 - Math.pow(beta1, step)), bc2 = (float) (1 - Math.pow(beta2, step));
        float decay = 1f - lr * weightDecay;
        launch("optim", "adamw_step", param.numel(), ptr(param), ptr(grad), ptr(m), ptr(v), param.numel(), lr, beta1, beta2,
                eps, decay, bc1, bc2);
    }

    // ---- data preparation -----------------------------------------------------------------

    /** uint8 HWC images resident in device memory (one cuMemAlloc, freed by close). */
    final class DeviceImages implements ImageStore {
        final long address;
        final long bytes;
        private final int count, height, width;
        private boolean closed;

        DeviceImages(long address, long bytes, int count, int height, int width) {
            this.address = address;
            this.bytes = bytes;
            this.count = count;
            this.height = height;
            this.width = width;
        }

        @Override public int count() { return count; }

        @Override public int height() { return height; }

        @Override public int width() { return width; }

        @Override public void close() {
            if (closed) return;
            closed = true;
            synchronize();
            JCudaDriver.cuMemFree(Driver.ptr(address));
        }
    }

    @Override public ImageStore uploadImages(java.lang.foreign.MemorySegment hwc, int count, int height, int width) {
        if ((long) count * height * width * 3 != hwc.byteSize())
            throw new IllegalArgumentException("uploadImages: " + hwc.byteSize() + " bytes is not " + count + " x " + height + "x" + width + "x3");
        ctx.bind();
        long bytes = hwc.byteSize();
        jcuda.driver.CUdeviceptr d = new jcuda.driver.CUdeviceptr();
        int status = JCudaDriver.cuMemAlloc(d, Math.max(1, bytes));
        if (status == jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            memory.emptyCache();
            status = JCudaDriver.cuMemAlloc(d, Math.max(1, bytes));
        }
        if (status == jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] free = new long[1], total = new long[1];
            JCudaDriver.cuMemGetInfo(free, total);
            throw new CudaException(String.format("the data set (%d images %dx%d, %.1f MiB) does not fit in GPU memory "
                    + "(%.1f MiB free of %.1f MiB); store the images smaller or train on fewer", count, height, width,
                    bytes / 1048576.0, free[0] / 1048576.0, total[0] / 1048576.0));
        }
        Driver.check(status, "cuMemAlloc(" + bytes + " bytes of images)");
        long address = Driver.address(d);
        // Copy through two pinned 32 MiB chunks on the copy stream, alternating so that filling
        // one overlaps the transfer of the other.
        int chunk = 32 << 20;
        Staging.Slot[] slots = {new Staging.Slot(), new Staging.Slot()};
        try {
            for (long off = 0, i = 0; off < bytes; off += chunk, i++) {
                Staging.Slot s = slots[(int) (i & 1)];
                if (s.pending) Driver.check(JCudaDriver.cuEventSynchronize(s.done), "cuEventSynchronize(image upload)");
                int len = (int) Math.min(chunk, bytes - off);
                Staging.ensure(s, len);
                s.buffer.clear();
                s.buffer.put(hwc.asSlice(off, len).asByteBuffer());
                Driver.check(JCudaDriver.cuMemcpyHtoDAsync(Driver.ptr(address + off), s.host, len, copyStream), "cuMemcpyHtoDAsync(images)");
                Staging.recordOn(s, copyStream);
            }
            Driver.check(JCudaDriver.cuStreamSynchronize(copyStream), "cuStreamSynchronize(copy)");
        } finally {
            JCudaDriver.cuStreamSynchronize(copyStream);  // on an error too: no copy may still read a buffer freed below
            for (Staging.Slot s : slots) {
                if (s.host != null) JCudaDriver.cuMemFreeHost(s.host);
                JCudaDriver.cuEventDestroy(s.done);
            }
        }
        return new DeviceImages(address, bytes, count, height, width);
    }

    @Override public void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, View out) {
        if (!(images instanceof DeviceImages im))
            throw new IllegalArgumentException("augmentImages: the images were not uploaded to the CUDA backend (" + images + ")");
        int oh = spec.outHeight(), ow = spec.outWidth(), h = im.height(), w = im.width();
        int[] os = out.shape();
        if (os.length != 4 || os[0] != index.length || os[1] != 3 || os[2] != oh || os[3] != ow)
            throw new IllegalArgumentException("augmentImages: output " + Arrays.toString(os) + " is not [" + index.length + ", 3, " + oh + ", " + ow + "]");
        if (oh > h || ow > w)
            throw new IllegalArgumentException("augmentImages: crop " + oh + "x" + ow + " larger than stored images " + h + "x" + w);
        for (int idx : index)
            if (idx < 0 || idx >= im.count()) throw new IndexOutOfBoundsException("augmentImages: image " + idx + " of " + im.count());
        if (capturing) throw duringCapture("augmentImages (uploads the batch indices)");
        ctx.bind();
        // The batch's image indices travel as 4-byte ints through a pinned slot into a pooled block.
        long idxBytes = 4L * index.length;
        long idxAddr = memory.allocate(idxBytes);
        Staging.Slot s = staging.take(idxBytes);
        s.buffer.asIntBuffer().put(index);
        Driver.check(JCudaDriver.cuMemcpyHtoDAsync(Driver.ptr(idxAddr), s.host, idxBytes, compute), "cuMemcpyHtoDAsync(batch indices)");
        Staging.recordOn(s, compute);
        float[] mean = spec.mean(), std = spec.std();
        int[] g = {im.count(), h, w, oh, ow, index.length, spec.train() ? 1 : 0, bits(spec.jitter()),
                bits(mean[0]), bits(mean[1]), bits(mean[2]), bits(1f / std[0]), bits(1f / std[1]), bits(1f / std[2])};
        launch("augment", "augment_batch", (long) index.length * oh * ow, im.address, idxAddr, ptr(out), g, seed);
        memory.release(idxAddr, idxBytes);  // stream-ordered: the next user of the block runs after this kernel
    }

    // ---- CUDA graphs ---------------------------------------------------------------------------

    /**
     * Records everything {@code work} queues on the compute stream into a CUDA graph instead of
     * running it, and returns the graph ready to replay. Replays run the very same kernels on
     * the very same addresses with the same scalar arguments, so {@code work} must allocate
     * nothing that is released before replays end and must not download; warm it up once
     * outside capture (cuDNN's algorithm search cannot be captured).
     */
    public Graph capture(Runnable work) {
        ctx.bind();
        synchronize();
        Driver.check(JCudaDriver.cuStreamBeginCapture(compute, 2 /* CU_STREAM_CAPTURE_MODE_RELAXED */), "cuStreamBeginCapture");
        CUgraph graph = new CUgraph();
        capturing = true;
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            capturing = false;
            JCudaDriver.cuStreamEndCapture(compute, graph);  // leave capture mode; the work's error is the one to report
            throw e;
        }
        capturing = false;
        Driver.check(JCudaDriver.cuStreamEndCapture(compute, graph), "cuStreamEndCapture (an op in the captured work was not capturable)");
        CUgraphExec exec = new CUgraphExec();
        Driver.check(JCudaDriver.cuGraphInstantiate(exec, graph, 0), "cuGraphInstantiate");
        return new Graph(exec);
    }

    /** A captured, instantiated CUDA graph. */
    public final class Graph {
        private final CUgraphExec exec;

        Graph(CUgraphExec exec) { this.exec = exec; }

        /** Queues one replay on the compute stream (one launch for the whole captured sequence). */
        public void replay() {
            ctx.bind();
            Driver.check(JCudaDriver.cuGraphLaunch(exec, compute), "cuGraphLaunch");
        }
    }
}
