package org.attnface.engine.backend;

import java.util.Arrays;

/**
 * numpy broadcasting of two inputs over one index space {@code shape}: for each input the
 * strides (in elements) that walk it over that space, 0 along the dimensions it broadcasts.
 * Both backends read inputs this way; the CUDA kernels get it packed into their shape struct.
 */
public record Broadcast(int[] shape, int[] stridesA, int[] stridesB) {

    /** out = a op b: a and b read over out's index space. */
    public static Broadcast of(BinaryOp op, int[] a, int[] b, int[] out) {
        String name = op.name().toLowerCase();
        return new Broadcast(out, strides(a, out, name), strides(b, out, name));
    }

    /** sumTo(x, out), a broadcast read backwards: x's index space, out's strides (0 along the summed dimensions). */
    public static Broadcast sumTo(int[] x, int[] out) {
        return new Broadcast(x, strides(out, x, "sumTo"), new int[x.length]);
    }

    /**
     * Strides for reading {@code in} while walking {@code out}'s index space: 0 along broadcast
     * dimensions. Fails with both shapes named when they do not broadcast.
     */
    public static int[] strides(int[] in, int[] out, String op) {
        int r = out.length;
        int[] strides = new int[r];
        if (in.length > r) throw new IllegalArgumentException(op + ": " + Arrays.toString(in) + " does not broadcast to " + Arrays.toString(out));
        int stride = 1;
        for (int d = r - 1; d >= 0; d--) {
            int id = d - (r - in.length);
            if (id < 0) { strides[d] = 0; continue; }
            if (in[id] == out[d]) strides[d] = in[id] == 1 ? 0 : stride;
            else if (in[id] == 1) strides[d] = 0;
            else throw new IllegalArgumentException(op + ": " + Arrays.toString(in) + " does not broadcast to " + Arrays.toString(out));
            stride *= in[id];
        }
        return strides;
    }

    /** The CUDA kernels' shape struct (rank <= 6): {rank, sizes[6], strides of a[6], strides of b[6]}. */
    public int[] packed() {
        int[] g = new int[19];
        g[0] = shape.length;
        for (int d = 0; d < shape.length; d++) {
            g[1 + d] = shape[d];
            g[7 + d] = stridesA[d];
            g[13 + d] = stridesB[d];
        }
        return g;
    }

    /** The same struct for sum_to (rank <= 6): {rank, sizes of x[6], 0[6], 1 where the dimension is summed[6]}. */
    public int[] packedSumTo() {
        int[] g = new int[19];
        g[0] = shape.length;
        for (int d = 0; d < shape.length; d++) {
            g[1 + d] = shape[d];
            g[13 + d] = stridesA[d] == 0 && shape[d] > 1 ? 1 : 0;
        }
        return g;
    }
}
