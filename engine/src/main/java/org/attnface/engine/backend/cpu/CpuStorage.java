package org.attnface.engine.backend.cpu;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.Storage;

/** A float[] from the CPU backend's cache; one object per allocation (see {@link Storage}). */
final class CpuStorage implements Storage {
    final float[] data;
    private final CpuBackend backend;
    boolean released;

    CpuStorage(CpuBackend backend, float[] data) {
        this.backend = backend;
        this.data = data;
    }

    @Override public Backend backend() { return backend; }

    @Override public long size() { return data.length; }

    @Override public boolean released() { return released; }
}
