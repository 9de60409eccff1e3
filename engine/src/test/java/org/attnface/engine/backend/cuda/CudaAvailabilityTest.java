package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.Backends;
import org.junit.jupiter.api.Test;

/** What happens without a GPU (and, on a GPU machine, that the same call succeeds). Runs everywhere. */
class CudaAvailabilityTest {

    @Test
    void createFailsPlainlyWithoutGpuAndSucceedsWithOne() {
        if (Backends.cudaAvailable()) {
            Backend b = CudaBackend.create();
            assertTrue(b.describe().startsWith("cuda ("), b.describe());
            return;
        }
        CudaException e = assertThrows(CudaException.class, CudaBackend::create);
        String m = e.getMessage();
        // One of the three plain reasons, whichever part is missing on this machine.
        assertTrue(m.startsWith("CUDA is not available: no NVIDIA driver (libcuda.so.1) or GPU was found")
                || m.startsWith("CUDA kernels were not compiled: nvcc was not on the PATH at build time")
                || m.startsWith("could not find cu"), m);
    }

    @Test
    void missingLibraryListsEveryFolderSearched() {
        CudaException e = assertThrows(CudaException.class,
                () -> NativeLibs.open("a test library", List.of("libattnface-does-not-exist.so.1"), List.of()));
        String m = e.getMessage();
        assertTrue(m.contains("could not find a test library (libattnface-does-not-exist.so.1)"), m);
        assertTrue(m.contains("Search order: ATTNFACE_CUDA_LIBS, LD_LIBRARY_PATH"), m);
        assertTrue(m.contains("Folders searched (" + NativeLibs.searchPath().size() + ")"), m);
        for (var dir : NativeLibs.searchPath()) assertTrue(m.contains(dir.toString()), dir + " missing from " + m);
    }

    @Test
    void sizeClassesWasteAtMostOneSixteenthAboveOneMiB() {
        assertEquals(512, DeviceMemory.sizeClass(1));
        assertEquals(512, DeviceMemory.sizeClass(512));
        assertEquals(1024, DeviceMemory.sizeClass(513));
        assertEquals(1 << 20, DeviceMemory.sizeClass((1 << 20) - 3));
        for (long bytes = (1 << 20) + 1; bytes < (1L << 31); bytes = bytes * 3 / 2 + 7) {
            long c = DeviceMemory.sizeClass(bytes);
            assertTrue(c >= bytes && c - bytes <= bytes / 16, bytes + " -> " + c);
            assertEquals(c, DeviceMemory.sizeClass(c), "a class is its own class");
        }
    }
}
