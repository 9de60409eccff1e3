package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.attnface.engine.Backends;

/**
 * The CUDA libraries themselves, without a GPU: NVIDIA's Python wheels (cuDNN, cuBLAS, NVRTC,
 * NCCL) in a venv. Skipped with the reason when they are not found; the Maven profile cuda-libs
 * (.ci/cuda-libs.sh) points VIRTUAL_ENV at ~/.cache/attnface/venv-cuda and makes a missing library
 * a failure. What this cannot check: anything that needs libcuda (kernels loading, cudnnFind).
 */
class CudaLibrariesTest {
    static CudaLibraries libs;
    static String unavailable;

    @BeforeAll
    static synchronized void open() {
        if (libs != null || unavailable != null) return;
        try {
            libs = CudaLibraries.open(0);
        } catch (CudaException e) {
            unavailable = e.getMessage();
        }
        if (unavailable != null && "required".equals(System.getProperty("attnface.cudaLibs")))
            throw new AssertionError("the cuda-libs profile needs the CUDA wheels: " + unavailable);
    }

    static void assumeLibraries() {
        Assumptions.assumeTrue(libs != null, () -> "skipped: no CUDA libraries here (.ci/cuda-libs.sh installs them): "
                + String.valueOf(unavailable).lines().findFirst().orElse(""));
    }

    /** The wheel's installed version from its dist-info folder name ("nvidia_cudnn_cu13-9.24.0.43.dist-info" -> "9.24.0.43"). */
    static String wheelVersion(Path libFile, String distPrefix) throws IOException {
        Path up = libFile;
        while (up != null && !up.getFileName().toString().equals("site-packages")) up = up.getParent();
        Assumptions.assumeTrue(up != null, libFile + " is not in a Python site-packages");
        Path site = up;
        try (Stream<Path> s = Files.list(site)) {
            String name = s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(distPrefix + "-") && n.endsWith(".dist-info"))
                    .findFirst().orElseThrow(() -> new AssertionError("no " + distPrefix + "-*.dist-info in " + site));
            return name.substring(distPrefix.length() + 1, name.length() - ".dist-info".length());
        }
    }

    @Test
    void venvLayoutFindsEachLibraryInCudnnsOwnInstallation() {
        assumeLibraries();
        Path cudnn = Path.of(libs.cudnn.library), cublas = Path.of(libs.cublas.library);
        Path root = NativeLibs.installationRoot(cudnn.getParent());
        String venv = System.getenv("VIRTUAL_ENV");
        if (venv != null)
            assertTrue(cudnn.startsWith(Path.of(venv).toAbsolutePath().normalize()), cudnn + " is not in VIRTUAL_ENV " + venv);
        assertTrue(cublas.startsWith(root), "cuBLAS " + cublas + " is not from cuDNN's installation " + root);
        assertTrue(cublas.getFileName().toString().equals("libcublas.so." + libs.major), cublas.toString());
        assertTrue(libs.nvrtc != null, libs.nvrtcMissing);
        assertTrue(Path.of(libs.nvrtc.library).startsWith(root), libs.nvrtc.library);
        assertEquals(List.of(), libs.cudnnProblems, "every cuDNN sub-library loads");
    }

    /** The real cuDNN (built for CUDA 13) is refused for an R570 driver (CUDA 12.8), naming both; an R580 one takes it. */
    @Test
    void aDriverOlderThanCudnnsCudaIsRefusedNamingBoth() {
        assumeLibraries();
        int built = libs.cudnn.cudartVersion();
        int older = 1000 * (Compatibility.major(built) - 1) + 80;
        CudaException e = assertThrows(CudaException.class, () -> CudaLibraries.open(older));
        assertTrue(e.getMessage().startsWith("cuDNN at " + libs.cudnn.library + " was built for CUDA " + Compatibility.format(built))
                && e.getMessage().contains("the driver supports CUDA " + Compatibility.format(older) + ": the driver is too old"), e.getMessage());
        assertEquals(libs.major, CudaLibraries.open(1000 * Compatibility.major(built)).major);
    }

    @Test
    void installationRootOfAWheelIsItsNvidiaFolder() {
        Path site = Path.of("/v/lib/python3.11/site-packages");
        assertEquals(site.resolve("nvidia"), NativeLibs.installationRoot(site.resolve("nvidia/cudnn/lib")));
        assertEquals(site.resolve("nvidia"), NativeLibs.installationRoot(site.resolve("nvidia/cu13/lib")));
        assertEquals(Path.of("/usr/local/cuda/lib64"), NativeLibs.installationRoot(Path.of("/usr/local/cuda/lib64")));
    }

    /** Binding fails on a misspelt or removed function: the constructors bind every function the backend calls. */
    @Test
    void everyDownCallSymbolResolvesAndAMisspeltOneFails() {
        assumeLibraries();
        NativeLibs.Loaded cublas = NativeLibs.load("cuBLAS", Path.of(libs.cublas.library), List.of());
        new Cublas(cublas);
        new Cudnn(NativeLibs.load("cuDNN", Path.of(libs.cudnn.library), List.of()));
        new Nvrtc(NativeLibs.load("NVRTC", Path.of(libs.nvrtc.library), List.of()));
        CudaException e = assertThrows(CudaException.class, () -> new Ffm(cublas).bind("cublasSgemm_v3",
                java.lang.foreign.FunctionDescriptor.of(java.lang.foreign.ValueLayout.JAVA_INT)));
        assertTrue(e.getMessage().contains("has no function cublasSgemm_v3"), e.getMessage());
    }

    @Test
    void versionCallsReportTheInstalledWheels() throws IOException {
        assumeLibraries();
        String cudnn = wheelVersion(Path.of(libs.cudnn.library), "nvidia_cudnn_cu" + libs.major);
        assertTrue(cudnn.startsWith(libs.cudnn.version() + "."), "cudnnGetVersion " + libs.cudnn.version() + ", wheel " + cudnn);
        String cublas = wheelVersion(Path.of(libs.cublas.library), "nvidia_cublas");
        assertTrue(cublas.startsWith(libs.cublas.version() + "."), "cublasGetVersion " + libs.cublas.version() + ", wheel " + cublas);
        String nvrtc = wheelVersion(Path.of(libs.nvrtc.library), "nvidia_cuda_nvrtc");
        assertTrue(nvrtc.startsWith(Compatibility.format(libs.nvrtc.version()) + "."), "nvrtcVersion " + libs.nvrtc.version() + ", wheel " + nvrtc);
        assertEquals(libs.major, Compatibility.major(libs.cudnn.cudartVersion()), "cuDNN's CUDA major picks cuBLAS's");
        Doctor.Found nccl = Doctor.nccl();
        Assumptions.assumeTrue(nccl.file() != null, "no NCCL: " + nccl.detail());
        assertEquals(wheelVersion(nccl.file(), "nvidia_nccl_cu" + libs.major), nccl.detail());
    }

    /** NVRTC compiles every kernel source for sm_80 and sm_90 (SASS) and the fatbin's compute_90 (PTX), with an empty log. */
    @Test
    void nvrtcCompilesEveryKernelWithoutWarnings() {
        assumeLibraries();
        Map<String, String> src = Kernels.sources();
        Map<String, String> header = Map.of(Kernels.HEADER, src.get(Kernels.HEADER));
        for (int arch : new int[] {80, 90}) {
            for (String family : Kernels.FAMILIES) {
                Nvrtc.Output o = libs.nvrtc.compile(family + ".cu", src.get(family), header, arch, false);
                assertEquals("", o.log(), family + ".cu for sm_" + arch);
                // an ELF cubin: 0x7f 'E' 'L' 'F'
                assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F'}, java.util.Arrays.copyOf(o.image(), 4), family + " sm_" + arch);
            }
        }
        Nvrtc.Output ptx = libs.nvrtc.compile("elementwise.cu", src.get("elementwise"), header, 90, true);
        assertTrue(new String(ptx.image(), java.nio.charset.StandardCharsets.US_ASCII).contains(".entry sum_partials"), "PTX names its kernels");
        CudaException e = assertThrows(CudaException.class, () -> libs.nvrtc.compile("broken.cu", "extern \"C\" __global__ void k() { x; }", Map.of(), 80, false));
        assertTrue(e.getMessage().contains("could not compile broken.cu") && e.getMessage().contains("identifier \"x\" is undefined"), e.getMessage());
    }

    /** The second start-up reads the kernels from the cache folder named by arch, driver, NVRTC and sources. */
    @Test
    void compiledKernelsAreCachedPerArchitectureAndDriver(@TempDir Path cache) throws IOException {
        assumeLibraries();
        Map<String, byte[]> first = Kernels.compiled(libs.nvrtc, 86, false, 12080, cache);
        List<Path> dirs;
        try (Stream<Path> s = Files.list(cache)) { dirs = s.toList(); }
        assertEquals(1, dirs.size());
        assertTrue(dirs.getFirst().getFileName().toString().startsWith("sm_86-driver12080-nvrtc"), dirs.toString());
        // Overwrite one cached file: a cache hit returns it unchanged, proving nothing was recompiled.
        Path marker = dirs.getFirst().resolve("dropout.cubin");
        Files.write(marker, new byte[] {1, 2, 3});
        Map<String, byte[]> second = Kernels.compiled(libs.nvrtc, 86, false, 12080, cache);
        assertArrayEquals(new byte[] {1, 2, 3}, second.get("dropout"));
        assertArrayEquals(first.get("norm"), second.get("norm"));
        assertEquals(dirs.getFirst().getFileName().toString(),
                Kernels.cacheKey(86, false, 12080, libs.nvrtc.version(), Kernels.hash(Kernels.sources())));
    }

    /** Without libcuda, creating a cuBLAS or cuDNN handle fails with a message, not a crash. */
    @Test
    void handleCreationWithoutGpuFailsPlainly() {
        assumeLibraries();
        Assumptions.assumeFalse(Backends.cudaAvailable(), "a GPU is here: handles are created by the GPU tests");
        CudaException b = assertThrows(CudaException.class, () -> libs.cublas.createHandle(0));
        assertTrue(b.getMessage().startsWith("cublasCreate_v2 failed: CUBLAS_STATUS_NOT_INITIALIZED (1): cuBLAS (")
                && b.getMessage().endsWith("found no usable GPU or driver"), b.getMessage());
        CudaException d = assertThrows(CudaException.class, () -> libs.cudnn.createHandle(0));
        assertTrue(d.getMessage().startsWith("cudnnCreate failed: CUDNN_STATUS_NOT_INITIALIZED (1001): cuDNN (")
                && d.getMessage().contains("found no usable GPU or driver"), d.getMessage());
    }
}
