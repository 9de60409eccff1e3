package org.attnface.engine.backend.cuda;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * What `--device cuda` does before the backend exists: reads the driver's CUDA version and the
 * GPU's compute capability, opens the libraries that fit them, decides between the prebuilt
 * fatbins and NVRTC ({@link Compatibility}), and prints all of it, one line each, to stderr.
 */
final class Startup {
    private Startup() {}

    interface Constructor {
        CudaBackend create(Driver.Context ctx, CudaLibraries libs, Map<String, byte[]> images);
    }

    static CudaBackend open(Driver.Context ctx, Constructor constructor) {
        ctx.bind();
        int driverCuda = driverVersion();
        int cc = computeCapability(ctx.device);
        System.err.println("attnface: CUDA driver " + driverName() + " (CUDA " + Compatibility.format(driverCuda) + "), GPU 0 sm_" + cc);
        CudaLibraries libs = CudaLibraries.open(driverCuda);
        for (String line : libs.describe()) System.err.println("attnface:   " + line);
        Compatibility.Decision d = decide(driverCuda, cc, libs.nvrtc);
        System.err.println("attnface:   kernels: " + d.reason());
        return constructor.create(ctx, libs, Kernels.images(d, libs.nvrtc, driverCuda));
    }

    static Compatibility.Decision decide(int driverCuda, int cc, Nvrtc nvrtc) {
        return Compatibility.kernels(driverCuda, cc, Kernels.fatbinInfo(), nvrtc == null ? 0 : nvrtc.version(),
                nvrtc == null ? new int[0] : nvrtc.supportedArchs());
    }

    /** cuDriverGetVersion: 1000 * major + 10 * minor of the newest CUDA the driver supports. */
    static int driverVersion() {
        int[] v = new int[1];
        Driver.check(JCudaDriver.cuDriverGetVersion(v), "cuDriverGetVersion");
        return v[0];
    }

    /** 86 for compute capability 8.6. */
    static int computeCapability(CUdevice device) {
        int[] major = new int[1], minor = new int[1];
        Driver.check(JCudaDriver.cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device), "cuDeviceGetAttribute");
        Driver.check(JCudaDriver.cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device), "cuDeviceGetAttribute");
        return 10 * major[0] + minor[0];
    }

    /** The kernel module's version ("580.82.07") from /proc/driver/nvidia/version, or "(version not readable)". */
    static String driverName() {
        try {
            String text = Files.readString(Path.of("/proc/driver/nvidia/version"));
            var m = java.util.regex.Pattern.compile("Kernel Module\\s+(?:for \\S+\\s+)?([0-9]+\\.[0-9.]+)").matcher(text);
            if (m.find()) return m.group(1);
        } catch (IOException | RuntimeException e) {
            // a container may hide it
        }
        return "(version not readable)";
    }
}
