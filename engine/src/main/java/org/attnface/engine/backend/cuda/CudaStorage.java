package org.attnface.engine.backend.cuda;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.Storage;

/** A block of device memory from the caching allocator; one object per allocation (see {@link Storage}). */
final class CudaStorage implements Storage {
    final long address;
    final long floats;
    private final CudaBackend backend;
    boolean released;

    CudaStorage(CudaBackend backend, long address, long floats) {
        this.backend = backend;
        this.address = address;
        this.floats = floats;
    }

    @Override public Backend backend() { return backend; }

    @Override public long size() { return floats; }

    @Override public boolean released() { return released; }
}
