package org.attnface.engine.backend;

/** Geometry of batch norm over x [n,c,h,w] (or [n,c]): statistics per channel over n * hw values. */
public record NormShape(int n, int c, int hw) {

    public static NormShape of(View x) {
        int[] s = x.shape();
        if (s.length == 4) return new NormShape(s[0], s[1], s[2] * s[3]);
        if (s.length == 2) return new NormShape(s[0], s[1], 1);
        throw new IllegalArgumentException("batch norm expects [n,c,h,w] or [n,c], got " + x.describe());
    }

    /** Values per channel. */
    public long m() { return (long) n * hw; }

    /** The CUDA kernels' geometry argument {n, c, hw}. */
    public int[] packed() { return new int[] {n, c, hw}; }
}
