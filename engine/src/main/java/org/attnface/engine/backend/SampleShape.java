package org.attnface.engine.backend;

/**
 * Geometry of the spatial transformer: bilinear sampling of x [n,c,h,w] at grid [n,p,q,2]
 * into y [n,c,p,q]; the affine grid [n,p,q,2] made from theta [n,2,3] (c, h, w unused there).
 */
public record SampleShape(int n, int c, int h, int w, int p, int q) {

    /** gridSample and its backward; fails naming all three when they do not agree. */
    public static SampleShape of(String op, View x, View grid, View y) {
        if (x.rank() != 4 || grid.rank() != 4 || grid.dim(3) != 2 || grid.dim(0) != x.dim(0)
                || y.numel() != (long) x.dim(0) * x.dim(1) * grid.dim(1) * grid.dim(2))
            throw new IllegalArgumentException(op + ": input " + x.describe() + ", grid " + grid.describe()
                    + " and output " + y.describe() + " do not agree (want [n,c,h,w], [n,p,q,2], [n,c,p,q])");
        return new SampleShape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), grid.dim(1), grid.dim(2));
    }

    /** affineGrid and its backward: the grid's n, p, q; theta must hold n 2x3 matrices. */
    public static SampleShape ofGrid(String op, View theta, View grid) {
        int n = grid.dim(0);
        if (theta.numel() != n * 6L)
            throw new IllegalArgumentException(op + ": theta " + theta.describe() + " is not [" + n + ", 2, 3]");
        return new SampleShape(n, 0, 0, 0, grid.dim(1), grid.dim(2));
    }
}
