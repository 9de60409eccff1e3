package org.attnface.engine.profile;

/**
 * Accumulated cost of one op at one shape (or of one op type, summed over shapes).
 * flops counts the arithmetic of GEMM and convolution only (2 per multiply-add); bytes is
 * the least traffic the op needs (each input read once, each output written once, 4 bytes a
 * float), so a kernel that makes several passes shows less than the bandwidth it really used.
 */
public final class OpStats {
    private final String op, shape;
    private long calls, nanos;
    private double flops, bytes;

    OpStats(String op, String shape) {
        this.op = op;
        this.shape = shape;
    }

    void add(long durationNanos, double opFlops, double opBytes) {
        calls++;
        nanos += durationNanos;
        flops += opFlops;
        bytes += opBytes;
    }

    void add(OpStats other) {
        calls += other.calls;
        nanos += other.nanos;
        flops += other.flops;
        bytes += other.bytes;
    }

    /** The primitive's name: "conv2dForward", "gemm", "binary ADD", ... */
    public String op() { return op; }

    /** Shapes and settings of the call ("x[64,3,64,64] w[64,3,7,7] s2 p3"); empty for an op-type total. */
    public String shape() { return shape; }

    public long calls() { return calls; }

    public long totalNanos() { return nanos; }

    public double totalMillis() { return nanos / 1e6; }

    public double meanMicros() { return calls == 0 ? 0 : nanos / 1e3 / calls; }

    public double flops() { return flops; }

    public double bytes() { return bytes; }

    /** Achieved GFLOP/s, or NaN for ops whose FLOPs are not counted. */
    public double gflopsPerSecond() { return flops == 0 || nanos == 0 ? Double.NaN : flops / nanos; }

    /** Achieved GB/s of the least traffic, or NaN when nothing was timed. */
    public double gbPerSecond() { return bytes == 0 || nanos == 0 ? Double.NaN : bytes / nanos; }
}
