package org.attnface.engine;

import java.util.EnumMap;
import java.util.Map;
import java.util.function.UnaryOperator;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.cpu.CpuBackend;
import org.attnface.engine.backend.cuda.CudaBackend;

/**
 * The backend for each device, created on first use. A wrapper (the profiler) can be
 * installed around a device's backend; ops always look their backend up here. The one
 * class that names both backends: it sits above backend.cpu and backend.cuda, which know
 * only the backend package.
 */
public final class Backends {
    private Backends() {}

    private static final Map<Device, Backend> RAW = new EnumMap<>(Device.class);
    private static final Map<Device, Backend> ACTIVE = new EnumMap<>(Device.class);
    private static int cpuThreads = defaultThreads();

    /** The backend that runs ops for tensors on {@code device}. */
    public static Backend of(Device device) {
        Backend b = ACTIVE.get(device);
        if (b != null) return b;
        synchronized (Backends.class) {
            b = ACTIVE.get(device);
            if (b == null) {
                b = raw(device);
                ACTIVE.put(device, b);
            }
            return b;
        }
    }

    /** The unwrapped backend of a device. */
    public static synchronized Backend raw(Device device) {
        Backend b = RAW.get(device);
        if (b == null) {
            b = switch (device) {
                case CPU -> new CpuBackend(cpuThreads);
                case CUDA -> CudaBackend.create();
            };
            RAW.put(device, b);
        }
        return b;
    }

    /** True when a CUDA device can be used (driver, GPU and kernels present). */
    public static boolean cudaAvailable() {
        try {
            raw(Device.CUDA);
            return true;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** Wraps a device's backend (for example with the profiler); pass null to remove wrappers. */
    public static synchronized void wrap(Device device, UnaryOperator<Backend> wrapper) {
        Backend raw = raw(device);
        ACTIVE.put(device, wrapper == null ? raw : wrapper.apply(raw));
    }

    /**
     * Sets the CPU thread count (default: ATTNFACE_THREADS, else all available processors).
     * Results are bit-identical for the same thread count.
     */
    public static synchronized void setCpuThreads(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        cpuThreads = threads;
        if (RAW.get(Device.CPU) instanceof CpuBackend cpu) cpu.setThreads(threads);
    }

    public static synchronized int cpuThreads() { return cpuThreads; }

    private static int defaultThreads() {
        String env = System.getenv("ATTNFACE_THREADS");
        if (env != null && !env.isBlank()) {
            try {
                int n = Integer.parseInt(env.trim());
                if (n >= 1) return n;
            } catch (NumberFormatException ignored) {
                // fall through to the processor count
            }
            System.err.println("attnface: ignoring ATTNFACE_THREADS='" + env + "' (not a positive integer)");
        }
        return Runtime.getRuntime().availableProcessors();
    }
}
