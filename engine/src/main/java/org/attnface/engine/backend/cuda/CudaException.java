package org.attnface.engine.backend.cuda;

/** A CUDA, cuBLAS or cuDNN call failed, or CUDA is not usable here; the message names the call and the status. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) { super(message); }

    public CudaException(String message, Throwable cause) { super(message, cause); }
}
