package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading and writing the face cache costs no native memory of the pixels' size. A FileChannel
 * read into (or write from) a heap buffer goes through a temporary direct buffer as large as the
 * request, which the JDK then keeps in a per-thread cache for the thread's life: one read of the
 * recipe's 1.24 GB of faces used to hold 1.24 GB of native memory for the whole training run
 * (resident 5.4 GB at -Xmx4g). In 1 MiB pieces the temporary buffer stays at 1 MiB. JDK 25 does
 * not count these buffers in the "direct" buffer pool, so the test reads the resident set size.
 */
class FaceCacheMemoryTest {
    @TempDir Path tmp;

    @Test
    void aRoundTripOf64MiBOfPixelsAddsOnlyTheArrayItReadsToTheResidentSet() throws Exception {
        assumeTrue(residentBytes() > 0, "no VmRSS in /proc/self/status on this OS");
        int count = 1365, size = 128;                       // 1365 x 128 x 128 x 3 bytes: 64 MiB
        byte[] pixels = new byte[count * size * size * 3];
        new Random(3).nextBytes(pixels);
        String[] names = new String[count];
        byte[][] hashes = new byte[count][32];
        for (int i = 0; i < count; i++) names[i] = i + "_0_0_2017.jpg";
        FaceSet set = new FaceSet(size, names, new int[count], new int[count], new int[count], hashes, pixels, List.of("a note"));
        Path file = tmp.resolve("c.afcache");
        System.gc();
        long before = residentBytes();
        FaceCache.write(file, set, 42L);
        FaceSet back = FaceCache.read(file, size, 42L);
        long grown = residentBytes() - before;
        assertEquals(-1L, java.lang.foreign.MemorySegment.ofArray(pixels).mismatch(back.pixels()), "pixels read back differ");
        // the new pixel array is 64 MiB; a whole-array temporary buffer would add another 64
        assertTrue(grown < pixels.length * 3L / 2, "resident memory grew by " + (grown >> 20) + " MiB for " + (pixels.length >> 20)
                + " MiB of pixels read");
    }

    private static long residentBytes() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/status")))
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        return -1;
    }
}
