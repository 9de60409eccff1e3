package org.attnface.engine.backend.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * Pinned (page-locked) host buffers for host-to-device copies: a ring of slots, each reused
 * only once the copy that last read it has finished (its event), so uploads of labels and
 * batch indices never wait for the device unless the host runs a whole ring ahead.
 */
final class Staging {
    static final int SLOTS = 8;

    static final class Slot {
        Pointer host;
        ByteBuffer buffer;
        long capacity;
        final CUevent done = Driver.event();
        boolean pending;
    }

    private final Slot[] slots = new Slot[SLOTS];
    private int next;

    Staging() {
        for (int i = 0; i < SLOTS; i++) slots[i] = new Slot();
    }

    /** A slot with at least {@code bytes} of pinned memory, its buffer cleared and in native order. */
    synchronized Slot take(long bytes) {
        Slot s = slots[next];
        next = (next + 1) % SLOTS;
        if (s.pending) {
            Driver.check(JCudaDriver.cuEventSynchronize(s.done), "cuEventSynchronize(staging)");
            s.pending = false;
        }
        ensure(s, bytes);
        s.buffer.clear();
        return s;
    }

    static void ensure(Slot s, long bytes) {
        if (s.host != null && s.capacity >= bytes) return;
        if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException("staging copy of " + bytes + " bytes exceeds 2 GiB; copy in chunks");
        if (s.host != null) JCudaDriver.cuMemFreeHost(s.host);
        long cap = Math.max(1 << 16, Long.highestOneBit(bytes - 1) << 1);
        cap = Math.min(cap, Integer.MAX_VALUE);
        s.host = new Pointer();
        Driver.check(JCudaDriver.cuMemAllocHost(s.host, cap), "cuMemAllocHost(" + cap + " bytes)");
        s.buffer = s.host.getByteBuffer(0, cap).order(ByteOrder.nativeOrder());
        s.capacity = cap;
    }

    /** Marks the slot busy until the work queued so far on {@code stream} (its copy) has run. */
    static void recordOn(Slot s, CUstream stream) {
        Driver.check(JCudaDriver.cuEventRecord(s.done, stream), "cuEventRecord(staging)");
        s.pending = true;
    }
}
