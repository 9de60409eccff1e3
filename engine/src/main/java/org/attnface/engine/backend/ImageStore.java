package org.attnface.engine.backend;

/** uint8 HWC RGB images held by a backend (host array or device memory). */
public interface ImageStore extends AutoCloseable {
    int count();

    int height();

    int width();

    /** Frees the images (device memory on the GPU). */
    @Override void close();
}
