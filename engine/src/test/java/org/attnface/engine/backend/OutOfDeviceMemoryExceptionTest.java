package org.attnface.engine.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The GPU out-of-memory message and batch suggestion; the numbers come from DeviceMemory on a device, so they are given here. */
class OutOfDeviceMemoryExceptionTest {
    static final long MIB = 1 << 20, GIB = 1L << 30;

    @Test
    void messageNamesAskedFreeTotalAndHeld() {
        var e = new OutOfDeviceMemoryException(3 * GIB, 512 * MIB, 140 * GIB, 135 * GIB);
        assertTrue(e.getMessage().contains("asked for 3072.0 MiB (3221225472 bytes)"), e.getMessage());
        assertTrue(e.getMessage().contains("512.0 MiB free of 143360.0 MiB"), e.getMessage());
        assertTrue(e.getMessage().contains("138240.0 MiB held by live tensors"), e.getMessage());
    }

    @Test
    void suggestedBatchScalesWithWhatWasUsableAndIsAtMostHalf() {
        // needed > 10 + 30 GiB, could have had 10 + 5: 256 * 0.8 * 15 / 40 = 76.8 -> 72 (a multiple of 8)
        assertEquals(72, new OutOfDeviceMemoryException(30 * GIB, 5 * GIB, 80 * GIB, 10 * GIB).suggestBatch(256));
        // a small overshoot still halves: the step would have allocated more after this call
        assertEquals(128, new OutOfDeviceMemoryException(GIB, GIB / 2, 80 * GIB, 70 * GIB).suggestBatch(256));
        // below 8 no rounding; never 0
        assertEquals(3, new OutOfDeviceMemoryException(10 * GIB, GIB, 16 * GIB, 5 * GIB).suggestBatch(11));   // 11 * 0.8 * 6 / 15 = 3.5
        assertEquals(1, new OutOfDeviceMemoryException(10 * GIB, 0, 16 * GIB, 0).suggestBatch(64));
    }
}
