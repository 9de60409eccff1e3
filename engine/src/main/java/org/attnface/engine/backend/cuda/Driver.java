package org.attnface.engine.backend.cuda;

import java.lang.reflect.Field;

import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * The driver API through JCuda: status checks that name the call, the primary context made
 * current on every thread that uses the backend, and raw 64-bit device addresses (which cuBLAS
 * and cuDNN take through FFM) converted to and from JCuda's pointer objects.
 */
final class Driver {
    private Driver() {}

    private static final Field NATIVE_POINTER;

    static {
        try {
            NATIVE_POINTER = NativePointerObject.class.getDeclaredField("nativePointer");
            NATIVE_POINTER.setAccessible(true);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    static void check(int status, String call) {
        if (status != CUresult.CUDA_SUCCESS)
            throw new CudaException(call + " failed: " + CUresult.stringFor(status) + " (" + status + ")");
    }

    /** As {@link #check(int, String)}, the call's description built only on failure (for per-op paths). */
    static void check(int status, java.util.function.Supplier<String> call) {
        if (status != CUresult.CUDA_SUCCESS) check(status, call.get());
    }

    /** The native handle or address inside a JCuda object (a CUstream for cuBLAS/cuDNN, a CUdeviceptr). */
    static long address(NativePointerObject p) {
        try {
            return NATIVE_POINTER.getLong(p);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A JCuda device pointer object for a raw address. */
    static CUdeviceptr ptr(long address) {
        CUdeviceptr p = new CUdeviceptr();
        try {
            NATIVE_POINTER.setLong(p, address);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
        return p;
    }

    /** Makes the primary context current on the calling thread, once per thread. */
    static final class Context {
        final CUcontext context;
        final CUdevice device;
        private final ThreadLocal<Boolean> bound = ThreadLocal.withInitial(() -> false);

        Context(CUdevice device, CUcontext context) {
            this.device = device;
            this.context = context;
        }

        void bind() {
            if (bound.get()) return;
            check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            bound.set(true);
        }
    }

    static CUstream stream() {
        CUstream s = new CUstream();
        check(JCudaDriver.cuStreamCreate(s, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
        return s;
    }

    static CUevent event() {
        CUevent e = new CUevent();
        check(JCudaDriver.cuEventCreate(e, 2 /* CU_EVENT_DISABLE_TIMING */), "cuEventCreate");
        return e;
    }

    /**
     * Launches a 1-D kernel. Arguments: Long (device address or 64-bit integer), Integer,
     * Float, or int[] (a struct of 4-byte fields passed by value; floats as raw bits).
     */
    static void launch(CUfunction f, String name, int blocks, int threads, CUstream stream, Object... args) {
        Pointer[] ps = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            ps[i] = switch (a) {
                case Long l -> Pointer.to(new long[] {l});
                case Integer n -> Pointer.to(new int[] {n});
                case Float v -> Pointer.to(new float[] {v});
                case int[] struct -> Pointer.to(struct);
                default -> throw new IllegalArgumentException("kernel " + name + ": unsupported argument " + a);
            };
        }
        int status = JCudaDriver.cuLaunchKernel(f, Math.max(1, blocks), 1, 1, threads, 1, 1, 0, stream, Pointer.to(ps), null);
        if (status != CUresult.CUDA_SUCCESS) check(status, "cuLaunchKernel(" + name + ", " + blocks + "x" + threads + ")");
    }
}
