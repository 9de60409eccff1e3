package org.attnface.engine.backend;

/**
 * Geometry of a 2-D convolution, NCHW input [n,c,h,w], weights [k,c,r,s], output [n,k,p,q].
 * Square stride and padding, no dilation, groups = 1: all the two networks use.
 */
public record ConvShape(int n, int c, int h, int w, int k, int r, int s, int stride, int pad) {
    public ConvShape {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || k <= 0 || r <= 0 || s <= 0 || stride <= 0 || pad < 0)
            throw new IllegalArgumentException("invalid convolution " + this);
        if (h + 2 * pad < r || w + 2 * pad < s)
            throw new IllegalArgumentException("convolution kernel " + r + "x" + s + " larger than padded input "
                    + (h + 2 * pad) + "x" + (w + 2 * pad));
    }

    /** Output height. */
    public int p() { return (h + 2 * pad - r) / stride + 1; }

    /** Output width. */
    public int q() { return (w + 2 * pad - s) / stride + 1; }

    /** Multiply-adds times two of the forward pass (backward data and filter cost the same each). */
    public double flops() { return 2.0 * n * k * p() * q() * (double) c * r * s; }
}
