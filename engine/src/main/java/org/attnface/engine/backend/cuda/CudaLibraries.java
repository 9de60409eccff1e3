package org.attnface.engine.backend.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * cuDNN, cuBLAS and NVRTC, chosen to fit each other and the driver: cuDNN 9 first (its shim
 * alone), whose CUDA runtime version fixes the major version of cuBLAS and NVRTC
 * ({@link Compatibility#libraryMajor}); those are looked up first in cuDNN's own installation
 * (the same wheels' site-packages/nvidia, or the same folder). NVRTC is opened before cuDNN's
 * sub-libraries: its runtime-compiled engines dlopen libnvrtc.so.N by soname, which the loader
 * then resolves to the one already open, so no LD_LIBRARY_PATH is needed. Needs no GPU.
 */
final class CudaLibraries {
    /** cuDNN's sub-libraries, dependencies before users; libcudnn.so.9 is a shim that dlopens them on first use. */
    static final List<String> CUDNN_PARTS = List.of("libcudnn_graph", "libcudnn_engines_precompiled",
            "libcudnn_engines_runtime_compiled", "libcudnn_engines_tensor_ir", "libcudnn_heuristic", "libcudnn_ops", "libcudnn_cnn");

    final Cudnn cudnn;
    final Cublas cublas;
    /** Null when no NVRTC of the right major version was found ({@link #nvrtcMissing} says why). */
    final Nvrtc nvrtc;
    final String nvrtcMissing;
    /** cuDNN sub-libraries that failed to load, each with the loader's reason (also logged). */
    final List<String> cudnnProblems;
    final int major;

    private CudaLibraries(Cudnn cudnn, Cublas cublas, Nvrtc nvrtc, String nvrtcMissing, List<String> cudnnProblems, int major) {
        this.cudnn = cudnn;
        this.cublas = cublas;
        this.nvrtc = nvrtc;
        this.nvrtcMissing = nvrtcMissing;
        this.cudnnProblems = cudnnProblems;
        this.major = major;
    }

    /** Opens the libraries for a driver of CUDA version {@code driverCuda} (0: no driver here, no check). */
    static CudaLibraries open(int driverCuda) {
        Path cudnnFile = NativeLibs.find("cuDNN 9", List.of("libcudnn.so.9"), null);
        Path root = NativeLibs.installationRoot(cudnnFile.getParent());
        Cudnn cudnn = new Cudnn(NativeLibs.load("cuDNN", cudnnFile, List.of()));
        int major = Compatibility.libraryMajor(driverCuda, cudnn.cudartVersion(), cudnnFile.toString());
        Nvrtc nvrtc = null;
        String nvrtcMissing = null;
        try {
            nvrtc = openNvrtc(major, root);
        } catch (CudaException e) {
            nvrtcMissing = e.getMessage().lines().findFirst().orElse("") + " (searched as for cuBLAS)";
        }
        List<String> problems = NativeLibs.load("cuDNN", cudnnFile, CUDNN_PARTS).problems();
        Path cublasFile = NativeLibs.find("cuBLAS for CUDA " + major + " (as cuDNN " + cudnnFile + ")",
                List.of("libcublas.so." + major), root);
        Cublas cublas = new Cublas(NativeLibs.load("cuBLAS", cublasFile, List.of("libcublasLt")));
        return new CudaLibraries(cudnn, cublas, nvrtc, nvrtcMissing, problems, major);
    }

    /** NVRTC of CUDA {@code major}, preferring {@code root}; its builtins library (libnvrtc-builtins.so.M.m) opened first. */
    static Nvrtc openNvrtc(int major, Path root) {
        Path file = NativeLibs.find("NVRTC for CUDA " + major, List.of("libnvrtc.so." + major), root);
        for (Path builtins : glob(file.getParent(), "libnvrtc-builtins.so." + major + ".*")) {
            try {
                NativeLibs.load("NVRTC", builtins, List.of());
            } catch (CudaException e) {
                System.err.println("attnface: " + e.getMessage());
            }
        }
        return new Nvrtc(NativeLibs.load("NVRTC", file, List.of()));
    }

    /** One line per library: name, version, path (for the start-up banner and doctor). */
    List<String> describe() {
        List<String> out = new ArrayList<>();
        out.add("cuDNN " + cudnn.version() + " (built for CUDA " + Compatibility.format(cudnn.cudartVersion()) + ") " + cudnn.library);
        for (String p : cudnnProblems) out.add("  cuDNN part not loaded: " + p);
        out.add("cuBLAS " + cublas.version() + " " + cublas.library);
        out.add(nvrtc != null ? "NVRTC " + Compatibility.format(nvrtc.version()) + " " + nvrtc.library : "NVRTC: " + nvrtcMissing);
        return out;
    }

    private static List<Path> glob(Path dir, String pattern) {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, pattern)) {
            for (Path p : ds) out.add(p);
        } catch (IOException e) {
            // nothing to preload
        }
        out.sort(null);
        return out;
    }
}
