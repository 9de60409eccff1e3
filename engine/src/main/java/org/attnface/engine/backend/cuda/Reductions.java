package org.attnface.engine.backend.cuda;

import jcuda.driver.CUstream;

/**
 * Grid-wide reductions over a whole buffer in two stages (elementwise.cu): a few blocks per SM
 * write one double partial each into a pooled block, then one block adds them in a fixed order.
 * Sum, non-finite count and the gradient clipping, which keeps the norm and the scale factor
 * on the device: a clipped step never waits for the host.
 */
final class Reductions {
    static final int THREADS = 256;

    private final Kernels kernels;
    private final DeviceMemory memory;
    private final Driver.Context ctx;
    private final CUstream stream;
    private final int smCount;
    /** {norm, factor} of the last clip (2 floats, allocated on first use, read by the scaling kernel). */
    private long clip;

    Reductions(Kernels kernels, DeviceMemory memory, Driver.Context ctx, CUstream stream, int smCount) {
        this.kernels = kernels;
        this.memory = memory;
        this.ctx = ctx;
        this.stream = stream;
        this.smCount = smCount;
    }

    /** Stage-1 blocks: 4 per SM to fill the GPU, fewer for small inputs (at least 8 elements per thread), at least 1. */
    static int blocks(long n, int smCount) {
        long byWork = (n + 8L * THREADS - 1) / (8L * THREADS);
        return (int) Math.max(1, Math.min(4L * smCount, byWork));
    }

    void sum(long x, long n, long out) { reduce("sum_partials", x, n, 0f, out); }

    void countNonFinite(long x, long n, long out) { reduce("nonfinite_partials", x, n, 0f, out); }

    /** Scales x[0..n) in place so that its L2 norm is at most maxNorm (torch.nn.utils.clip_grad_norm_ without the 1e-6). */
    void clipToNorm(long x, long n, float maxNorm) {
        if (!(maxNorm > 0)) throw new IllegalArgumentException("clipToNorm: the maximum norm must be > 0, got " + maxNorm);
        if (clip == 0) clip = memory.allocate(8);
        reduce("sum_squares_partials", x, n, maxNorm, clip);
        long blocks = Math.min((n + THREADS - 1) / THREADS, (long) smCount * 32);
        Driver.launch(kernels.get("elementwise", "scale_by_scalar"), "scale_by_scalar", (int) Math.max(1, blocks), THREADS, stream,
                x, clip + 4, 1f, x, n);
    }

    private void reduce(String partials, long x, long n, float maxNorm, long out) {
        ctx.bind();
        int blocks = blocks(n, smCount);
        long bytes = 8L * blocks;
        long partial = memory.allocate(bytes);
        Driver.launch(kernels.get("elementwise", partials), partials, blocks, THREADS, stream, x, n, partial);
        Driver.launch(kernels.get("elementwise", "reduce_finalize"), "reduce_finalize", 1, 1024, stream, partial, blocks, maxNorm, out);
        memory.release(partial, bytes);  // stream-ordered: the next user of the block runs after the finalize
    }
}
