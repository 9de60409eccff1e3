package org.attnface.engine.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.attnface.engine.backend.cuda.NativeLibs;
import org.junit.jupiter.api.Test;

/**
 * The NCCL binding without a GPU: the library search finds the wheel's libnccl.so.2, every bound
 * function resolves with its signature, ncclGetVersion answers, and a communicator on a machine
 * without a GPU fails with NCCL's reason instead of crashing. (All-reduce itself needs GPUs.)
 */
class NcclTest {
    static boolean found() {
        for (Path d : NativeLibs.searchPath()) if (Files.isRegularFile(d.resolve("libnccl.so.2"))) return true;
        return false;
    }

    static final String NO_NCCL = "libnccl.so.2 not found (pip install nvidia-nccl-cu13 into a venv, or set ATTNFACE_CUDA_LIBS; "
            + "~/.cache/attnface/venv-cuda holds it on the build machine)";

    @Test void everySymbolResolvesAndTheVersionIsNccl2() {
        assumeTrue(found(), NO_NCCL);
        Nccl n = Nccl.load();
        assertTrue(n.library.endsWith("libnccl.so.2"), n.library);
        assertEquals(14, Nccl.FUNCTIONS.size());
        String v = n.version();
        assertTrue(v.matches("2\\.\\d+\\.\\d+"), "ncclGetVersion: " + v);
        assertTrue(n.errorString(2).contains("ncclResult 2"), n.errorString(2));   // ncclSystemError's text, from the library
    }

    @Test void withoutAGpuTheCommunicatorFailsSayingWhy() {
        assumeTrue(found(), NO_NCCL);
        assumeTrue(!Files.exists(Path.of("/dev/nvidia0")), "this machine has a GPU");
        Nccl n = Nccl.load();
        DistException e = assertThrows(DistException.class, () -> n.communicator(World.get()));
        assertTrue(e.getMessage().startsWith("NCCL could not make a communicator for rank 0/1"), e.getMessage());
        assertTrue(e.getMessage().contains("one GPU per rank"), e.getMessage());
    }

    @Test void aMissingLibraryListsTheFoldersSearched() {
        assumeTrue(!found(), "libnccl.so.2 is present here; the missing-library message is checked where it is absent");
        DistException e = assertThrows(DistException.class, Nccl::load);
        assertTrue(e.getMessage().contains("could not find NCCL (libnccl.so.2)") && e.getMessage().contains("Folders searched"), e.getMessage());
    }
}
