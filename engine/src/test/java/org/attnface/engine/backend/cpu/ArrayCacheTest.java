package org.attnface.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;

import org.attnface.engine.backend.Storage;
import org.junit.jupiter.api.Test;

/**
 * The CPU backend keeps released arrays by size for the next step. Arrays of sizes nobody asks
 * for any more (training's batch after validation at another batch size) must not make a new
 * size fail: when the heap is full the cache is emptied and the allocation tried again.
 */
class ArrayCacheTest {

    @Test
    void cachedArraysOfAnotherSizeGiveWayWhenTheHeapIsFull() {
        CpuBackend backend = new CpuBackend(1);
        try {
            Runtime rt = Runtime.getRuntime();
            System.gc();
            long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
            int chunk = 1 << 22;   // 16 MiB
            List<Storage> held = new ArrayList<>();
            for (long bytes = 0; bytes < free / 2; bytes += 4L * chunk) held.add(backend.allocate(chunk));
            for (Storage s : held) backend.release(s);
            held.clear();
            // half the free heap sits in the cache as 16 MiB arrays; 60% in one other size must still fit
            int big = (int) Math.min(Integer.MAX_VALUE - 8, free * 6 / 10 / 4);
            Storage s = backend.allocate(big);
            assertEquals(big, ((CpuStorage) s).data.length);
            backend.release(s);
        } finally {
            backend.shutdown();
        }
    }
}
