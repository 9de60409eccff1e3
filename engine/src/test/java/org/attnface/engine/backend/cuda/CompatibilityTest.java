package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;

import org.junit.jupiter.api.Test;

import org.attnface.engine.backend.cuda.Compatibility.Decision;
import org.attnface.engine.backend.cuda.Compatibility.Fatbin;
import org.attnface.engine.backend.cuda.Compatibility.Source;

/** The driver-range and library-choice rules as pure functions, and cuDNN's result filter: no GPU, no libraries. */
class CompatibilityTest {
    /** What build-kernels.sh builds with nvcc 13.0. */
    static final Fatbin NVCC13 = new Fatbin(13000, new int[] {80, 90}, 90);
    /** NVRTC 13.0's nvrtcGetSupportedArchs, as read from the wheel; 12.9's adds the older ones. */
    static final int[] NVRTC13 = {75, 80, 86, 87, 88, 89, 90, 100, 103, 110, 120, 121};
    static final int[] NVRTC12 = {50, 52, 53, 60, 61, 62, 70, 72, 75, 80, 86, 87, 89, 90, 100, 101, 120};

    @Test
    void versionsParseAndPrintAsTheDriverEncodesThem() {
        assertEquals(13000, Compatibility.parse("13.0"));
        assertEquals(12080, Compatibility.parse("12.8"));
        assertEquals("12.8", Compatibility.format(12080));
        assertEquals(12, Compatibility.major(12080));
    }

    @Test
    void anR580DriverLoadsTheFatbinOnEveryGpuItHasSassOrPtxFor() {
        for (int cc : new int[] {80, 86, 89, 90}) {
            Decision d = Compatibility.kernels(13000, cc, NVCC13, 0, new int[0]);
            assertEquals(Source.FATBIN, d.source(), "sm_" + cc + ": " + d.reason());
            assertTrue(d.reason().startsWith("SASS for sm_" + cc / 10 + "x"), d.reason());
        }
        // Blackwell: no SASS in the fatbin, but the driver compiles its compute_90 PTX; a newer minor driver too.
        Decision b = Compatibility.kernels(13010, 100, NVCC13, 0, new int[0]);
        assertEquals(Source.FATBIN, b.source());
        assertTrue(b.reason().startsWith("the driver compiles the PTX"), b.reason());
    }

    @Test
    void anOlderDriverCompilesWithAnNvrtcOfItsOwnMajorVersion() {
        Decision d = Compatibility.kernels(12080, 90, NVCC13, 12090, NVRTC12);
        assertEquals(new Decision(Source.NVRTC_CUBIN, 90, d.reason()), d);
        assertTrue(d.reason().startsWith("the driver (CUDA 12.8) is older than the nvcc 13.0 fatbin"), d.reason());
        assertTrue(d.reason().contains("R580 or newer"), d.reason());
        // A minor-version-newer NVRTC still produces SASS that a 12.x driver runs.
        assertEquals(Source.NVRTC_CUBIN, Compatibility.kernels(12020, 86, NVCC13, 12090, NVRTC12).source());
    }

    @Test
    void aGpuOlderThanTheFatbinIsCompiledForByNvrtc() {
        Decision d = Compatibility.kernels(13000, 75, NVCC13, 13000, NVRTC13);
        assertEquals(Source.NVRTC_CUBIN, d.source());
        assertEquals(75, d.arch());
        assertTrue(d.reason().startsWith("the GPU (sm_75) is older than the nvcc 13.0 fatbin"), d.reason());
    }

    @Test
    void withoutAFatbinNvrtcCompilesForTheGpu() {
        assertEquals(new Decision(Source.NVRTC_CUBIN, 90, "the kernels jar has no fatbin (built without nvcc): NVRTC 13.0 compiles them for sm_90"),
                Compatibility.kernels(13000, 90, null, 13000, NVRTC13));
    }

    @Test
    void aGpuNewerThanNvrtcKnowsGetsPtxWhenTheDriverIsNewEnough() {
        Decision d = Compatibility.kernels(12090, 121, null, 12080, new int[] {80, 90, 100});
        assertEquals(Source.NVRTC_PTX, d.source());
        assertEquals(100, d.arch());
        CudaException e = assertThrows(CudaException.class, () -> Compatibility.kernels(12080, 121, null, 12090, new int[] {80, 90, 100}));
        assertTrue(e.getMessage().contains("its PTX needs a driver of CUDA 12.9 or newer"), e.getMessage());
    }

    @Test
    void eachFailureSaysWhichSideIsTooOld() {
        CudaException noNvrtc = assertThrows(CudaException.class, () -> Compatibility.kernels(12080, 90, NVCC13, 0, new int[0]));
        assertTrue(noNvrtc.getMessage().contains("the driver (CUDA 12.8) is older than the nvcc 13.0 fatbin (SASS [80, 90], PTX compute_90) needs (R580 or newer"), noNvrtc.getMessage());
        assertTrue(noNvrtc.getMessage().contains("pip install nvidia-cuda-nvrtc-cu12"), noNvrtc.getMessage());
        CudaException newNvrtc = assertThrows(CudaException.class, () -> Compatibility.kernels(12080, 90, NVCC13, 13000, NVRTC13));
        assertTrue(newNvrtc.getMessage().contains("NVRTC 13.0 was found but the driver (CUDA 12.8) is older than its code needs (R580 or newer)"),
                newNvrtc.getMessage());
        CudaException oldGpu = assertThrows(CudaException.class, () -> Compatibility.kernels(13000, 70, NVCC13, 13000, NVRTC13));
        assertTrue(oldGpu.getMessage().contains("the GPU (sm_70) is older than NVRTC 13.0 supports (oldest sm_75)"), oldGpu.getMessage());
    }

    @Test
    void cudnnsCudaMajorPicksCublasAndMustFitTheDriver() {
        assertEquals(13, Compatibility.libraryMajor(13000, 13030, "/x/libcudnn.so.9"));
        assertEquals(12, Compatibility.libraryMajor(13000, 12080, "/x/libcudnn.so.9"), "a CUDA 12 cuDNN on a newer driver keeps cuBLAS 12");
        assertEquals(13, Compatibility.libraryMajor(0, 13030, "/x/libcudnn.so.9"), "no driver: no check");
        CudaException e = assertThrows(CudaException.class, () -> Compatibility.libraryMajor(12080, 13030, "/x/libcudnn.so.9"));
        assertTrue(e.getMessage().startsWith("cuDNN at /x/libcudnn.so.9 was built for CUDA 13.3, which needs a driver R580 or newer, "
                + "but the driver supports CUDA 12.8: the driver is too old"), e.getMessage());
        assertTrue(e.getMessage().contains("pip install nvidia-cudnn-cu12 nvidia-cublas-cu12"), e.getMessage());
    }

    @Test
    void theCacheFolderChangesWithArchitectureDriverNvrtcAndSources() {
        String h = Kernels.hash(Map.of("a.cu", "x"));
        String k = Kernels.cacheKey(86, false, 12080, 12090, h);
        assertEquals("sm_86-driver12080-nvrtc12.9-" + h, k);
        assertEquals(16, h.length());
        assertNotEquals(k, Kernels.cacheKey(89, false, 12080, 12090, h));
        assertNotEquals(k, Kernels.cacheKey(86, false, 12090, 12090, h));
        assertNotEquals(k, Kernels.cacheKey(86, false, 12080, 12080, h));
        assertNotEquals(k, Kernels.cacheKey(86, true, 12080, 12090, h));
        assertNotEquals(h, Kernels.hash(Map.of("a.cu", "y")));
    }

    /** One cudnnConvolution*AlgoPerf_t per row: algo, status, determinism, mathType at their offsets. */
    private static MemorySegment perf(Arena a, int[]... rows) {
        MemorySegment s = a.allocate((long) Cudnn.PERF_BYTES * Cudnn.PERF_COUNT, 8);
        for (int i = 0; i < rows.length; i++) {
            long at = (long) i * Cudnn.PERF_BYTES;
            s.set(ValueLayout.JAVA_INT, at, rows[i][0]);
            s.set(ValueLayout.JAVA_INT, at + 4, rows[i][1]);
            s.set(ValueLayout.JAVA_INT, at + Cudnn.DETERMINISM_OFFSET, rows[i][2]);
            s.set(ValueLayout.JAVA_INT, at + Cudnn.MATH_OFFSET, rows[i][3]);
        }
        return s;
    }

    @Test
    void fp32KeepsOnlyFmaAlgorithmsAndTf32AllowsTensorOps() {
        int tensorOp = 1, fma = Cudnn.FMA_MATH, det = Cudnn.DETERMINISTIC;
        try (Arena a = Arena.ofConfined()) {
            // fastest first: a failed one, a tensor-op one, a non-deterministic FMA one, a deterministic FMA one
            MemorySegment p = perf(a, new int[] {6, 3, det, fma}, new int[] {1, 0, det, tensorOp}, new int[] {0, 0, 0, fma},
                    new int[] {2, 0, det, fma});
            assertEquals(1, Cudnn.pick(4, p, true, false), "tf32: the fastest successful one");
            assertEquals(2, Cudnn.pick(4, p, false, false), "fp32: the fastest FMA one");
            assertEquals(3, Cudnn.pick(4, p, false, true), "fp32, deterministic");
            assertEquals(1, Cudnn.pick(4, p, true, true), "tf32, deterministic");
            assertEquals(-1, Cudnn.pick(2, p, false, false), "no FMA algorithm among the first two");
        }
    }
}
