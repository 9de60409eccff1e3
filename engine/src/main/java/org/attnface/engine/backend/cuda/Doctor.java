package org.attnface.engine.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * The CUDA half of `attnface doctor`: the driver and each GPU (or why there is none), each CUDA
 * library with version and path, how the kernels reach the GPU (fatbin or NVRTC) and whether
 * they load, and NCCL. Every probe reports its failure as a line instead of throwing.
 */
public final class Doctor {
    private Doctor() {}

    /** A library found ({@code file}, {@code detail} = its version) or not ({@code file} null, {@code detail} = why). */
    record Found(Path file, String detail) {}

    /** The report, one line per fact, indented sub-lines for detail. */
    public static List<String> cudaReport() {
        List<String> out = new ArrayList<>();
        int driverCuda = 0;
        List<Integer> ccs = new ArrayList<>();
        List<CUdevice> devices = new ArrayList<>();
        String noDriver = NativeLibs.loaderError("libcuda.so.1");
        if (noDriver != null) {
            out.add("GPU driver: none: libcuda.so.1 (the NVIDIA driver's library) cannot be loaded: " + noDriver);
        } else try {
            JCudaDriver.setExceptionsEnabled(false);
            int status = JCudaDriver.cuInit(0);
            if (status != 0) {
                out.add("GPU driver: cuInit failed: " + jcuda.driver.CUresult.stringFor(status) + " (no usable GPU)");
            } else {
                driverCuda = Startup.driverVersion();
                int[] count = new int[1];
                JCudaDriver.cuDeviceGetCount(count);
                out.add("GPU driver: " + Startup.driverName() + " (CUDA " + Compatibility.format(driverCuda) + "), " + count[0] + " device(s)");
                for (int i = 0; i < count[0]; i++) {
                    CUdevice d = new CUdevice();
                    JCudaDriver.cuDeviceGet(d, i);
                    byte[] name = new byte[256];
                    JCudaDriver.cuDeviceGetName(name, name.length, d);
                    int[] sms = new int[1];
                    JCudaDriver.cuDeviceGetAttribute(sms, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, d);
                    long[] mem = new long[1];
                    JCudaDriver.cuDeviceTotalMem(mem, d);
                    int cc = Startup.computeCapability(d);
                    ccs.add(cc);
                    devices.add(d);
                    out.add(String.format("  GPU %d: %s, sm_%d, %d SMs, %.1f GiB", i, new String(name, java.nio.charset.StandardCharsets.US_ASCII).trim(),
                            cc, sms[0], mem[0] / (double) (1L << 30)));
                }
            }
        } catch (LinkageError e) {
            out.add("GPU driver: none (" + firstLine(e.getMessage()).replace("libcuda.so.1: cannot open shared object file",
                    "libcuda.so.1 not found: no NVIDIA driver on this machine") + ")");
        } catch (RuntimeException e) {
            out.add("GPU driver: " + firstLine(e.getMessage()));
        }
        CudaLibraries libs = null;
        try {
            libs = CudaLibraries.open(driverCuda);
            out.add("CUDA libraries (for CUDA " + libs.major + "):");
            for (String l : libs.describe()) out.add("  " + l);
        } catch (RuntimeException e) {
            out.add("CUDA libraries: " + e.getMessage().replace("\n", "\n  "));
        }
        Compatibility.Fatbin fatbin = null;
        try {
            fatbin = Kernels.fatbinInfo();
        } catch (CudaException e) {
            out.add("kernels: " + e.getMessage());
        }
        out.add("kernels: " + (fatbin != null ? fatbin.toString() : "no fatbin (built without nvcc)")
                + (libs != null && libs.nvrtc != null ? "; NVRTC can compile the sources" : ""));
        if (devices.isEmpty()) {
            if (libs != null && libs.nvrtc != null) out.add("  " + nvrtcCheck(libs.nvrtc) + " (no GPU here to load them)");
        } else {
            for (int i = 0; i < devices.size(); i++) out.add("  GPU " + i + ": " + kernelCheck(devices.get(i), driverCuda, ccs.get(i), libs));
        }
        Found nccl = nccl();
        out.add(nccl.file() != null ? "NCCL " + nccl.detail() + " " + nccl.file() : "NCCL: " + nccl.detail());
        return out;
    }

    /** Decides fatbin or NVRTC for one GPU, builds the images and loads them in its primary context. */
    private static String kernelCheck(CUdevice device, int driverCuda, int cc, CudaLibraries libs) {
        try {
            Compatibility.Decision d = Startup.decide(driverCuda, cc, libs == null ? null : libs.nvrtc);
            long t0 = System.nanoTime();
            Map<String, byte[]> images = Kernels.images(d, libs == null ? null : libs.nvrtc, driverCuda);
            CUcontext ctx = new CUcontext();
            Driver.check(JCudaDriver.cuDevicePrimaryCtxRetain(ctx, device), "cuDevicePrimaryCtxRetain");
            new Driver.Context(device, ctx).bind();
            new Kernels(images);
            return String.format("%s; all %d kernel modules load (%.1f s)", d.reason(), images.size(), (System.nanoTime() - t0) / 1e9);
        } catch (RuntimeException e) {
            return "kernels do not load: " + e.getMessage();
        }
    }

    /** Compiles the largest kernel source for sm_90 to show NVRTC works here. */
    private static String nvrtcCheck(Nvrtc nvrtc) {
        try {
            Map<String, String> src = Kernels.sources();
            long t0 = System.nanoTime();
            Nvrtc.Output o = nvrtc.compile("sampler.cu", src.get("sampler"), Map.of(Kernels.HEADER, src.get(Kernels.HEADER)), 90, false);
            return String.format("NVRTC compiled sampler.cu for sm_90 in %.1f s (%d bytes%s)", (System.nanoTime() - t0) / 1e9,
                    o.image().length, o.log().isEmpty() ? ", no warnings" : "; log: " + o.log());
        } catch (RuntimeException e) {
            return "NVRTC failed: " + e.getMessage();
        }
    }

    /** libnccl.so.2 in the library search path and its ncclGetVersion (2.30.7), or why not. */
    static Found nccl() {
        Path file;
        try {
            file = NativeLibs.find("NCCL", List.of("libnccl.so.2"), null);
        } catch (CudaException e) {
            return new Found(null, "not found (" + firstLine(e.getMessage()) + ")");
        }
        try (Arena a = Arena.ofConfined()) {
            MethodHandle version = Ffm.open(file).bind("ncclGetVersion", FunctionDescriptor.of(JAVA_INT, ADDRESS));
            MemorySegment v = a.allocate(JAVA_INT);
            int status = (int) version.invokeExact(v);
            if (status != 0) return new Found(null, file + ": ncclGetVersion returned " + status);
            int n = v.get(JAVA_INT, 0);  // NCCL >= 2.9: major * 10000 + minor * 100 + patch
            return new Found(file, n / 10000 + "." + n / 100 % 100 + "." + n % 100);
        } catch (Throwable t) {
            return new Found(null, file + " does not load: " + firstLine(String.valueOf(t.getMessage())));
        }
    }

    static String firstLine(String s) { return s == null ? "" : s.lines().findFirst().orElse(""); }
}
