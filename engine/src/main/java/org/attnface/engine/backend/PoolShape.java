package org.attnface.engine.backend;

/** Geometry of 2-D pooling over NCHW input [n,c,h,w] to output [n,c,p,q]. */
public record PoolShape(int n, int c, int h, int w, int kh, int kw, int stride, int pad) {
    public PoolShape {
        if (n <= 0 || c <= 0 || h <= 0 || w <= 0 || kh <= 0 || kw <= 0 || stride <= 0 || pad < 0)
            throw new IllegalArgumentException("invalid pooling " + this);
        if (pad * 2 > Math.min(kh, kw))
            throw new IllegalArgumentException("pooling padding " + pad + " exceeds half the window " + kh + "x" + kw);
        if (h + 2 * pad < kh || w + 2 * pad < kw)
            throw new IllegalArgumentException("pooling window " + kh + "x" + kw + " larger than padded input " + h + "x" + w);
    }

    public int p() { return (h + 2 * pad - kh) / stride + 1; }

    public int q() { return (w + 2 * pad - kw) / stride + 1; }
}
