package org.attnface.engine.backend;

import java.util.Locale;

/**
 * A device allocation failed even after the allocator's cache was emptied. Carries the
 * numbers a user needs to pick a batch that fits: bytes asked for, free and total on the
 * device, and bytes held by live tensors when it happened.
 */
public final class OutOfDeviceMemoryException extends RuntimeException {
    public final long asked, free, total, held;

    public OutOfDeviceMemoryException(long asked, long free, long total, long held) {
        super(String.format(Locale.ROOT, "out of GPU memory: asked for %.1f MiB (%d bytes), %.1f MiB free of %.1f MiB, "
                + "%.1f MiB held by live tensors; use a smaller batch size", mib(asked), asked, mib(free), mib(total), mib(held)));
        this.asked = asked;
        this.free = free;
        this.total = total;
        this.held = held;
    }

    /**
     * A batch size that should fit, from a failure at {@code batch}: the step needed more than
     * held + asked bytes and could have had held + free, so scale the batch by that ratio,
     * keep 20% for what the step would still have allocated and for memory that does not
     * grow with the batch, never more than half the failed batch, and round down to a
     * multiple of 8 (tensor-core friendly) when that leaves at least 8.
     */
    public int suggestBatch(int batch) {
        double fits = batch * 0.8 * (held + free) / Math.max(1.0, held + asked);
        int b = (int) Math.min(batch / 2, Math.floor(fits));
        if (b >= 8) b -= b % 8;
        return Math.max(1, b);
    }

    private static double mib(long bytes) { return bytes / 1048576.0; }
}
