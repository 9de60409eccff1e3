package org.attnface.engine.backend;

import java.util.Arrays;

/**
 * What a backend sees of a tensor: a contiguous row-major window (offset, shape) onto one
 * of its storages. Tensor implements it; backends name only this, so the kernels depend on
 * no autograd, scope or device-registry code.
 */
public interface View {

    /** The buffer under the view; fails with a clear message when its scope has closed. */
    Storage storage();

    /** Offset in floats of element 0 within the storage. */
    long offset();

    /** A copy of the shape. */
    int[] shape();

    long numel();

    int rank();

    /** Size of dimension {@code i}; negative indices count from the end. */
    int dim(int i);

    /** "conv2d [64, 8, 62, 62] cpu": for error messages. */
    String describe();

    /** Offset as an int index into a CPU array. */
    default int intOffset() { return (int) offset(); }

    /** numel as an int, for kernels that index with int; fails loudly beyond 2^31 elements. */
    default int size() {
        long n = numel();
        if (n > Integer.MAX_VALUE) throw new IllegalStateException("tensor " + describe() + " has more than 2^31 elements");
        return (int) n;
    }

    default boolean sameShape(View o) { return Arrays.equals(shape(), o.shape()); }

    /** Fails naming both views when they hold different numbers of elements. */
    static void checkNumel(String op, View a, View b) {
        if (a.numel() != b.numel())
            throw new IllegalArgumentException(op + ": " + a.describe() + " and " + b.describe() + " differ in size");
    }
}
