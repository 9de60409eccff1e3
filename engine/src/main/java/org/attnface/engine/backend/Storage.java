package org.attnface.engine.backend;

/**
 * A buffer of float32 values owned by one backend. The CPU backend holds a float[]; the
 * CUDA backend a device address. Tensors are views (offset + shape) onto a storage.
 * A storage object is used for one allocation only: the backend recycles the memory
 * under it, so a stale tensor finds {@link #released()} true instead of someone else's data.
 */
public interface Storage {
    Backend backend();

    /** Capacity in floats. */
    long size();

    /** True once returned to the backend's cache. */
    boolean released();
}
