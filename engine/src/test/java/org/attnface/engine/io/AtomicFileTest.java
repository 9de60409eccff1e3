package org.attnface.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk while writing a checkpoint (issue #6): the previous file stays byte-identical,
 * no temporary file is left behind, and the error says the previous file is intact.
 */
class AtomicFileTest {
    @TempDir Path dir;

    private static List<Path> listing(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    @Test
    void aWriterThatFailsHalfWayLeavesThePreviousFileIntact() throws IOException {
        Path target = dir.resolve("last.safetensors");
        byte[] previous = "the previous checkpoint, complete".getBytes();
        AtomicFile.writeBytes(target, previous);

        IOException e = assertThrows(IOException.class, () -> AtomicFile.write(target, ch -> {
            ch.write(ByteBuffer.wrap(new byte[10_000]));
            throw new IOException("No space left on device");
        }));
        assertTrue(e.getMessage().contains("No space left on device"), e.getMessage());
        assertTrue(e.getMessage().contains(target.toString()), "names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains("previous file") && e.getMessage().contains("intact"), e.getMessage());
        assertArrayEquals(previous, Files.readAllBytes(target));
        assertEquals(List.of(target), listing(dir), "no temporary file left behind");
    }

    @Test
    void aWriterThatThrowsAnythingLeavesNoTemporaryFile() throws IOException {
        Path target = dir.resolve("config.json");
        AtomicFile.writeString(target, "{\"a\":1}");
        assertThrows(IllegalStateException.class, () -> AtomicFile.write(target, ch -> {
            ch.write(ByteBuffer.wrap(new byte[100]));
            throw new IllegalStateException("tensor used after its scope closed");
        }));
        assertEquals("{\"a\":1}", Files.readString(target));
        assertEquals(List.of(target), listing(dir));
    }

    @Test
    void aSuccessfulWriteReplacesTheFile() throws IOException {
        Path target = dir.resolve("sub").resolve("x.txt");
        AtomicFile.writeString(target, "one");
        AtomicFile.writeString(target, "two");
        assertEquals("two", Files.readString(target));
        assertEquals(List.of(target), listing(target.getParent()));
        if (target.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            // not the owner-only rw------- of a temporary file
            assertEquals("rw-r--r--", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(target)));
            Files.setPosixFilePermissions(target, java.nio.file.attribute.PosixFilePermissions.fromString("rw-rw----"));
            AtomicFile.writeString(target, "three");
            assertEquals("rw-rw----", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(target)),
                    "a replaced file keeps its permissions");
        }
    }

    /**
     * A disk with no free inodes: even the empty temporary file cannot be created. The
     * error must still say the previous file is intact (needs root to mount; skipped otherwise).
     */
    @Test
    void aDiskWithoutFreeInodesLeavesThePreviousFileIntact() throws IOException {
        Path mnt = dir.resolve("no-inodes");
        Files.createDirectories(mnt);
        Assumptions.assumeTrue(System.getProperty("os.name").startsWith("Linux")
                        && run("mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=2", "tmpfs", mnt.toString()) == 0,
                "cannot mount a tmpfs here (needs Linux and root)");
        try {
            Path target = mnt.resolve("config.json");
            Files.writeString(target, "{\"epoch\":1}"); // the root folder and this file use both inodes
            IOException e = assertThrows(IOException.class, () -> AtomicFile.writeString(target, "{\"epoch\":2}"));
            assertTrue(e.getMessage().contains(target.toString()) && e.getMessage().contains("intact"), e.getMessage());
            assertEquals("{\"epoch\":1}", Files.readString(target));
            assertEquals(List.of(target), listing(mnt));
        } finally {
            run("umount", mnt.toString());
        }
    }

    private static int run(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
        } catch (IOException | InterruptedException e) {
            return -1;
        }
    }

    private static Map<String, Tensor> checkpoint(int floats) {
        Tensor t = Tensor.emptyPersistent(Device.CPU, floats);
        float[] v = new float[floats];
        for (int i = 0; i < floats; i++) v[i] = i * 0.5f;
        t.copyFrom(v);
        return Map.of("w", t);
    }

    /**
     * A real full disk: a 64 KiB tmpfs. Needs root (mount); skipped with the reason elsewhere.
     * A 40 KB checkpoint fits, a 100 KB one cannot, and the 40 KB one must survive the attempt.
     */
    @Test
    void aRealFullDiskLeavesThePreviousCheckpointIntact() throws IOException {
        Path mnt = dir.resolve("tiny-disk");
        Files.createDirectories(mnt);
        Assumptions.assumeTrue(System.getProperty("os.name").startsWith("Linux")
                        && run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt.toString()) == 0,
                "cannot mount a 64 KiB tmpfs here (needs Linux and root): the simulated full disk test covers the logic");
        try {
            Path target = mnt.resolve("last.safetensors");
            Safetensors.write(target, checkpoint(10_000), Map.of("epoch", "1"));
            byte[] previous = Files.readAllBytes(target);
            IOException e = assertThrows(IOException.class, () -> Safetensors.write(target, checkpoint(25_000), Map.of("epoch", "2")));
            assertTrue(e.getMessage().contains("intact"), e.getMessage());
            System.out.println("AtomicFileTest: full tmpfs says: " + e.getMessage());
            assertArrayEquals(previous, Files.readAllBytes(target), "the previous checkpoint is byte-identical");
            assertEquals(List.of(target), listing(mnt), "no temporary file left on the full disk");
            assertEquals("1", Safetensors.read(target).metadata().get("epoch"));
        } finally {
            run("umount", mnt.toString());
        }
    }
}
