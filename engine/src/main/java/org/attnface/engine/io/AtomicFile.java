package org.attnface.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that readers see either the old complete file or the new complete one:
 * write a temporary file beside it, fsync it, rename it over the target, fsync the folder.
 * If anything fails (a full disk, a kill) the previous file is untouched and the
 * temporary file is removed where possible.
 */
public final class AtomicFile {
    private AtomicFile() {}

    @FunctionalInterface
    public interface Writer {
        void write(FileChannel out) throws IOException;
    }

    public static void write(Path target, Writer writer) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        boolean done = false;
        try {
            Files.createDirectories(dir);
            // Inside the try: on a full disk even creating the empty temporary file can fail.
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            keepUsualPermissions(tmp, target);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException ignored) {
                // some file systems cannot fsync a directory; the rename itself is done
            }
        } catch (IOException e) {
            throw new IOException("could not write " + target + " (" + e.getMessage() + "); the previous file, if any, is intact", e);
        } finally {
            if (!done && tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException e) {
                    // keep the original failure; say where the leftover is
                    System.err.println("attnface: could not remove temporary file " + tmp + ": " + e.getMessage());
                }
            }
        }
    }

    /**
     * Temporary files are created owner-only (rw-------); a checkpoint should get the
     * permissions of the file it replaces, or rw-r--r-- as torch.save's files usually have.
     */
    private static void keepUsualPermissions(Path tmp, Path target) throws IOException {
        try {
            Files.setPosixFilePermissions(tmp, Files.exists(target)
                    ? Files.getPosixFilePermissions(target)
                    : java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
        } catch (UnsupportedOperationException notPosix) {
            // Windows and other non-POSIX file systems: keep the defaults
        }
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
