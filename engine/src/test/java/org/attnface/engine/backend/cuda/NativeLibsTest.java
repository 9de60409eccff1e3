package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading a library with its companions (cuDNN's sub-libraries), on a system library copied into a folder: no CUDA needed. */
class NativeLibsTest {
    /** libz, present wherever the JDK runs, stands in for a library whose companion is broken. */
    static Path systemLibrary() {
        for (String d : List.of("/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64", "/usr/lib")) {
            Path p = Path.of(d, "libz.so.1");
            if (Files.isRegularFile(p)) return p;
        }
        Assumptions.abort("no libz.so.1 in the usual folders");
        return null;
    }

    @Test
    void aCompanionThatFailsToLoadIsReportedWithTheLoadersReasonAndTheRestLoads(@TempDir Path dir) throws IOException {
        Path main = Files.copy(systemLibrary(), dir.resolve("libmain.so.1"));
        Files.write(dir.resolve("libpart_broken.so.1"), new byte[] {1, 2, 3, 4});   // not an ELF file
        Files.copy(systemLibrary(), dir.resolve("libpart_good.so.1"));
        NativeLibs.Loaded lib = NativeLibs.load("test library", main, List.of("libpart_broken", "libpart_missing", "libpart_good"));
        assertEquals(1, lib.problems().size(), lib.problems().toString());
        String p = lib.problems().getFirst();
        assertTrue(p.startsWith("libpart_broken.so.1: ") && p.contains(dir.toString()) && (p.contains("too short") || p.contains("ELF")), p);
        assertTrue(lib.lookup().find("zlibVersion").isPresent(), "the main library still loads");
    }

    @Test
    void aMainLibraryThatFailsToLoadNamesTheFileAndTheReason(@TempDir Path dir) throws IOException {
        Path bad = Files.write(dir.resolve("libbad.so.9"), new byte[] {0x7f, 'E', 'L', 'F'});
        CudaException e = assertThrows(CudaException.class, () -> NativeLibs.load("test library", bad, List.of()));
        assertTrue(e.getMessage().startsWith("found " + bad + " but could not load it (" + bad), e.getMessage());
    }

    /** Of two installations in the search order, the preferred one's library is chosen even when it comes second. */
    @Test
    void theInstallationsOwnFolderIsSearchedFirst(@TempDir Path dir) throws IOException {
        Path system = Files.createDirectories(dir.resolve("usr/lib"));
        Path venv = Files.createDirectories(dir.resolve("venv/lib/python3.11/site-packages/nvidia/cu13/lib"));
        Path cudnn = Files.createDirectories(dir.resolve("venv/lib/python3.11/site-packages/nvidia/cudnn/lib"));
        for (Path d : List.of(system, venv)) Files.write(d.resolve("libcublas.so.13"), new byte[0]);
        List<Path> order = List.of(system, cudnn, venv);
        assertEquals(system.resolve("libcublas.so.13"), NativeLibs.find("cuBLAS", List.of("libcublas.so.13"), null, order));
        assertEquals(venv.resolve("libcublas.so.13"),
                NativeLibs.find("cuBLAS", List.of("libcublas.so.13"), NativeLibs.installationRoot(cudnn), order));
        CudaException e = assertThrows(CudaException.class, () -> NativeLibs.find("cuBLAS 12", List.of("libcublas.so.12"), null, order));
        assertTrue(e.getMessage().startsWith("could not find cuBLAS 12 (libcublas.so.12)") && e.getMessage().contains(venv.toString()), e.getMessage());
    }
}
