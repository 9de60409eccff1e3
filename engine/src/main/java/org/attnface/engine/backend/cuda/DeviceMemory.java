package org.attnface.engine.backend.cuda;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import org.attnface.engine.backend.OutOfDeviceMemoryException;

/**
 * Caching device allocator: blocks are kept per size class and handed out again, so the
 * steady training loop never calls cuMemAlloc (which synchronises the device). All work runs
 * on one compute stream, so a block released by one op can be reused by the next op queued
 * behind it without waiting. Size classes: powers of two up to 1 MiB, then 16 steps per
 * octave (at most 1/16 of a block wasted). Every driver call binds the context first: any thread
 * may allocate (a data-loading thread, a test's), and cuMemAlloc fails on one without it.
 */
final class DeviceMemory {
    /** The driver calls of the allocator (a test substitutes its own, the GPU being absent). */
    interface Calls {
        /** cuMemAlloc: the status, the address in {@code out[0]}. */
        int alloc(long bytes, long[] out);

        void free(long address);

        /** cuMemGetInfo: {free, total} bytes. */
        long[] info();
    }

    static final Calls CUDA = new Calls() {
        @Override public int alloc(long bytes, long[] out) {
            CUdeviceptr p = new CUdeviceptr();
            int status = JCudaDriver.cuMemAlloc(p, bytes);
            out[0] = Driver.address(p);
            return status;
        }

        @Override public void free(long address) { JCudaDriver.cuMemFree(Driver.ptr(address)); }

        @Override public long[] info() {
            long[] f = new long[1], t = new long[1];
            JCudaDriver.cuMemGetInfo(f, t);
            return new long[] {f[0], t[0]};
        }
    };

    private final Map<Long, ArrayDeque<Long>> free = new HashMap<>();
    private final Runnable synchronize, bind;
    private final Calls calls;
    private long inUse, cached, deviceAllocations;

    DeviceMemory(Runnable synchronize, Runnable bind) { this(synchronize, bind, CUDA); }

    DeviceMemory(Runnable synchronize, Runnable bind, Calls calls) {
        this.synchronize = synchronize;
        this.bind = bind;
        this.calls = calls;
    }

    static long sizeClass(long bytes) {
        if (bytes <= 512) return 512;
        long pow = Long.highestOneBit(bytes - 1) << 1;
        if (pow <= (1 << 20)) return pow;
        long step = pow / 32;  // bytes is in (pow/2, pow]: 16 steps of pow/32
        return (bytes + step - 1) / step * step;
    }

    synchronized long allocate(long bytes) {
        long cls = sizeClass(bytes);
        ArrayDeque<Long> q = free.get(cls);
        if (q != null && !q.isEmpty()) {
            cached -= cls;
            inUse += cls;
            return q.pop();
        }
        long addr = deviceAlloc(cls, bytes);
        inUse += cls;
        return addr;
    }

    synchronized void release(long address, long bytes) {
        long cls = sizeClass(bytes);
        free.computeIfAbsent(cls, k -> new ArrayDeque<>()).push(address);
        inUse -= cls;
        cached += cls;
    }

    /** cuMemAlloc, after emptying the cache once if the device is full; fails naming the bytes asked for and free. */
    private long deviceAlloc(long cls, long asked) {
        bind.run();
        long[] p = new long[1];
        int status = calls.alloc(cls, p);
        if (status == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            emptyCache();
            bind.run();
            status = calls.alloc(cls, p);
        }
        if (status == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] info = calls.info();
            throw new OutOfDeviceMemoryException(asked, info[0], info[1], inUse);
        }
        if (status != 0) Driver.check(status, "cuMemAlloc(" + cls + " bytes)");
        deviceAllocations++;
        return p[0];
    }

    /** Frees every cached block back to the driver (waits for the device first). */
    synchronized void emptyCache() {
        synchronize.run();
        bind.run();
        for (ArrayDeque<Long> q : free.values())
            for (long a : q) calls.free(a);
        free.clear();
        cached = 0;
    }

    synchronized long deviceAllocations() { return deviceAllocations; }

    synchronized long bytesInUse() { return inUse; }

    synchronized long bytesCached() { return cached; }
}
