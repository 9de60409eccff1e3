package org.attnface.engine.backend.cuda;

import java.util.Arrays;

/**
 * Which kernels and libraries a driver can run, as pure functions of version numbers (tested
 * without a GPU). CUDA versions are encoded as the driver reports them: 1000 * major + 10 * minor
 * (cuDriverGetVersion: 12080 = CUDA 12.8, the R570 drivers; 13000 = CUDA 13.0, R580).
 * The rules (CUDA's compatibility guide): a driver runs SASS built by a toolkit of its own major
 * version or older (minor-version compatibility); PTX only from a toolkit no newer than itself;
 * SASS for sm_XY runs on sm_XZ with Z >= Y; PTX for compute_XY is compiled by the driver for any
 * GPU of compute capability >= XY.
 */
final class Compatibility {
    private Compatibility() {}

    static int major(int cudaVersion) { return cudaVersion / 1000; }

    /** "13.0" -> 13000. */
    static int parse(String version) {
        String[] p = version.trim().split("\\.");
        return 1000 * Integer.parseInt(p[0]) + 10 * (p.length > 1 ? Integer.parseInt(p[1]) : 0);
    }

    /** 12080 -> "12.8". */
    static String format(int cudaVersion) { return major(cudaVersion) + "." + cudaVersion % 1000 / 10; }

    /** The oldest driver branch that supports a CUDA major version (for messages). */
    static String driverBranch(int cudaMajor) {
        return switch (cudaMajor) {
            case 11 -> "R450";
            case 12 -> "R525";
            case 13 -> "R580";
            default -> "the driver of CUDA " + cudaMajor;
        };
    }

    /** What a fatbin holds: the nvcc release that built it, SASS targets (80 = sm_80) and the PTX target. */
    record Fatbin(int nvccVersion, int[] sass, int ptx) {
        @Override public String toString() {
            return "nvcc " + format(nvccVersion) + " fatbin (SASS " + Arrays.toString(sass) + ", PTX compute_" + ptx + ")";
        }
    }

    enum Source { FATBIN, NVRTC_CUBIN, NVRTC_PTX }

    /** How the kernels reach the GPU: the prebuilt fatbin, or NVRTC output for {@code arch} (86 = sm_86). */
    record Decision(Source source, int arch, String reason) {}

    /**
     * Chooses the kernel source for a driver ({@code driverCuda}) and a GPU of compute capability
     * {@code cc} (86 = 8.6). {@code fatbin} is null when the build had no nvcc; {@code nvrtcVersion}
     * is 0 when no NVRTC was found. Fails saying which side is too old and what to install.
     */
    static Decision kernels(int driverCuda, int cc, Fatbin fatbin, int nvrtcVersion, int[] nvrtcArchs) {
        String gpu = "the GPU (sm_" + cc + ")", driver = "the driver (CUDA " + format(driverCuda) + ")";
        String why;
        if (fatbin == null) {
            why = "the kernels jar has no fatbin (built without nvcc)";
        } else {
            boolean sassFits = major(driverCuda) >= major(fatbin.nvccVersion());
            boolean ptxFits = driverCuda >= fatbin.nvccVersion();
            boolean hasSass = Arrays.stream(fatbin.sass()).anyMatch(s -> s / 10 == cc / 10 && s % 10 <= cc % 10);
            boolean hasPtx = fatbin.ptx() <= cc;
            if (hasSass && sassFits) return new Decision(Source.FATBIN, cc, "SASS for sm_" + cc / 10 + "x in the " + fatbin);
            if (hasPtx && ptxFits) return new Decision(Source.FATBIN, cc, "the driver compiles the PTX of the " + fatbin);
            if (!hasSass && !hasPtx) why = gpu + " is older than the " + fatbin + " supports";
            else why = driver + " is older than the " + fatbin + " needs (" + driverBranch(major(fatbin.nvccVersion()))
                    + " or newer, CUDA " + format(hasSass ? 1000 * major(fatbin.nvccVersion()) : fatbin.nvccVersion()) + ")";
        }
        String install = "install NVRTC for CUDA " + major(driverCuda) + " (pip install nvidia-cuda-nvrtc-cu" + major(driverCuda)
                + ", or a CUDA toolkit) so that the kernels are compiled for sm_" + cc + " at start-up";
        if (nvrtcVersion == 0)
            throw new CudaException("CUDA kernels cannot run: " + why + ", and no NVRTC library was found. Update the driver to "
                    + driverBranch(fatbin == null ? major(driverCuda) : major(fatbin.nvccVersion())) + " or newer, or " + install + ".");
        if (major(nvrtcVersion) > major(driverCuda))
            throw new CudaException("CUDA kernels cannot run: " + why + "; NVRTC " + format(nvrtcVersion) + " was found but "
                    + driver + " is older than its code needs (" + driverBranch(major(nvrtcVersion)) + " or newer). Update the driver, or "
                    + install + ".");
        if (contains(nvrtcArchs, cc))
            return new Decision(Source.NVRTC_CUBIN, cc, why + ": NVRTC " + format(nvrtcVersion) + " compiles them for sm_" + cc);
        int newest = -1;
        for (int a : nvrtcArchs) if (a <= cc && a > newest) newest = a;
        if (newest < 0)
            throw new CudaException("CUDA kernels cannot run: " + why + ", and " + gpu + " is older than NVRTC "
                    + format(nvrtcVersion) + " supports (oldest sm_" + Arrays.stream(nvrtcArchs).min().orElse(0)
                    + "); use an NVRTC of an older CUDA release, or --device cpu.");
        if (nvrtcVersion > driverCuda)
            throw new CudaException("CUDA kernels cannot run: " + why + "; NVRTC " + format(nvrtcVersion) + " does not know "
                    + gpu + " and its PTX needs a driver of CUDA " + format(nvrtcVersion) + " or newer, but " + driver
                    + " is older. Update the driver or NVRTC.");
        return new Decision(Source.NVRTC_PTX, newest, why + ": NVRTC " + format(nvrtcVersion) + " compiles PTX for compute_"
                + newest + ", which the driver compiles for sm_" + cc);
    }

    /**
     * The CUDA major version whose cuBLAS (and NVRTC) to load: the one cuDNN was built for, which
     * the driver must support. {@code driverCuda} 0 = not known (no driver here: no check).
     */
    static int libraryMajor(int driverCuda, int cudnnCudart, String cudnnPath) {
        int m = major(cudnnCudart);
        if (driverCuda != 0 && m > major(driverCuda))
            throw new CudaException("cuDNN at " + cudnnPath + " was built for CUDA " + format(cudnnCudart) + ", which needs a driver "
                    + driverBranch(m) + " or newer, but the driver supports CUDA " + format(driverCuda) + ": the driver is too old. "
                    + "Update the driver, or install the CUDA " + major(driverCuda) + " libraries (pip install nvidia-cudnn-cu"
                    + major(driverCuda) + " nvidia-cublas-cu" + major(driverCuda) + ") and point ATTNFACE_CUDA_LIBS at them.");
        return m;
    }

    private static boolean contains(int[] xs, int x) {
        for (int v : xs) if (v == x) return true;
        return false;
    }
}
