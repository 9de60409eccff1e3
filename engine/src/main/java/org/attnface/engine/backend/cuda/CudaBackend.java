package org.attnface.engine.backend.cuda;

import org.attnface.engine.backend.Backend;

/**
 * Entry point of the CUDA backend (JCuda driver API, cuBLAS and cuDNN through FFM, our
 * kernels from the kernels module).
 */
public final class CudaBackend {
    private CudaBackend() {}

    /** Opens the first GPU, or fails with a message that says what is missing. */
    public static Backend create() {
        throw new UnsupportedOperationException("the CUDA backend is not implemented yet (issue #4); use --device cpu");
    }
}
