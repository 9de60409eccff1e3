package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

import org.attnface.engine.backend.OutOfDeviceMemoryException;

/** The caching allocator's driver discipline, on fake driver calls (no GPU): the context is bound on the calling thread first. */
class DeviceMemoryTest {
    /** A fake driver: fails any call made on a thread that has not bound the context, as cuMemAlloc does. */
    static final class FakeDriver implements DeviceMemory.Calls {
        final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);
        final AtomicLong next = new AtomicLong(1 << 20);
        final List<String> unbound = new ArrayList<>();
        long capacity = Long.MAX_VALUE, used;

        void requireBound(String call) {
            if (!bound.get()) synchronized (unbound) { unbound.add(call + " on " + Thread.currentThread().getName()); }
        }

        @Override public int alloc(long bytes, long[] out) {
            requireBound("cuMemAlloc");
            if (used + bytes > capacity) return jcuda.driver.CUresult.CUDA_ERROR_OUT_OF_MEMORY;
            used += bytes;
            out[0] = next.getAndAdd(bytes);
            return 0;
        }

        @Override public void free(long address) { requireBound("cuMemFree"); }

        @Override public long[] info() {
            requireBound("cuMemGetInfo");
            return new long[] {capacity - used, capacity};
        }
    }

    @Test
    void everyDriverCallOfTheAllocatorHappensWithTheContextBoundOnThatThread() throws InterruptedException {
        FakeDriver d = new FakeDriver();
        DeviceMemory m = new DeviceMemory(() -> {}, () -> d.bound.set(true), d);
        Thread[] threads = new Thread[3];
        for (int t = 0; t < threads.length; t++) {
            int seed = t;
            threads[t] = new Thread(() -> {
                for (int i = 1; i < 50; i++) {
                    long bytes = 4L * (i * 37 + seed);
                    m.release(m.allocate(bytes), bytes);
                }
                m.emptyCache();
            }, "loader-" + t);
            threads[t].start();
        }
        for (Thread t : threads) t.join();
        assertEquals(List.of(), d.unbound);
        assertTrue(m.deviceAllocations() > 0);
    }

    @Test
    void outOfMemoryEmptiesTheCacheOnceThenNamesTheBytes() {
        FakeDriver d = new FakeDriver();
        d.capacity = 3 << 20;
        DeviceMemory m = new DeviceMemory(() -> {}, () -> d.bound.set(true), d);
        long a = m.allocate(2 << 20);
        m.release(a, 2 << 20);
        OutOfDeviceMemoryException e = assertThrows(OutOfDeviceMemoryException.class, () -> m.allocate(4 << 20));
        assertEquals(4 << 20, e.asked);
        assertEquals(List.of(), d.unbound);
    }
}
