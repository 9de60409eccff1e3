package org.attnface.trainer.data;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.io.AtomicFile;

/**
 * The decoded-faces cache: one file per (folder, size, limit), little-endian:
 * <pre>
 * "AFCACHE1"  int version  int count  int size  long fingerprint (folder listing + size + limit)
 * int reportLines, then each: int length, UTF-8 bytes
 * per image: int nameLength, UTF-8 name, int age, byte gender, byte race, 32 bytes SHA-256
 * count * size * size * 3 pixel bytes (HWC RGB)
 * long CRC32C of everything before it
 * </pre>
 * Written with {@link AtomicFile}; every length is checked against the file size before
 * anything is allocated, and the checksum catches flipped bits, so a damaged cache is
 * rebuilt rather than trained on. Read back, the pixels are the file mapped into memory.
 */
public final class FaceCache {
    private FaceCache() {}

    static final byte[] MAGIC = "AFCACHE1".getBytes(StandardCharsets.US_ASCII);
    /** 2: pixels from the JDK's libjpeg, which matches libjpeg-turbo, instead of Commons Imaging (up to 9 levels off). */
    static final int VERSION = 2;

    /** The cache is valid but for another folder state, size or limit. */
    static final class StaleCacheException extends IOException {
        StaleCacheException(String m) { super(m); }
    }

    public static Path fileFor(Path cacheDir, Path folder, int size, int limit) {
        Path abs = folder.toAbsolutePath().normalize();
        String base = abs.getFileName() == null ? "root" : abs.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
        long h = Rng.mix(abs.toString().hashCode(), abs.toString().length());
        return cacheDir.resolve(String.format("%s-%08x-%d%s.afcache", base, (int) h, size, limit > 0 ? "-limit" + limit : ""));
    }

    /** The default cache folder: $XDG_CACHE_HOME/attnface or ~/.cache/attnface. */
    public static Path defaultDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("attnface");
    }

    static void write(Path file, FaceSet set, long fingerprint) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(headerSize(set)).order(ByteOrder.LITTLE_ENDIAN);
        head.put(MAGIC).putInt(VERSION).putInt(set.count()).putInt(set.size()).putLong(fingerprint);
        head.putInt(set.report().size());
        for (String line : set.report()) putString(head, line);
        for (int i = 0; i < set.count(); i++) {
            putString(head, set.names()[i]);
            head.putInt(set.ages()[i]).put((byte) set.genders()[i]).put((byte) set.races()[i]).put(set.hashes()[i]);
        }
        head.flip();
        CRC32C crc = new CRC32C();
        crc.update(head.duplicate());
        crc.update(set.pixels().asByteBuffer());
        ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(crc.getValue()).flip();
        AtomicFile.write(file, ch -> {
            writeAll(ch, head);
            writeAll(ch, set.pixels().asByteBuffer());
            writeAll(ch, tail);
        });
    }

    static FaceSet read(Path file, int expectSize, long expectFingerprint) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            CRC32C crc = new CRC32C();
            Reader r = new Reader(ch, fileSize, crc, file);
            byte[] magic = r.bytes(MAGIC.length);
            if (!java.util.Arrays.equals(magic, MAGIC)) throw new IOException("not an attnface cache (bad magic)");
            int version = r.i32();
            if (version != VERSION) throw new StaleCacheException("version " + version + ", expected " + VERSION);
            int count = r.i32(), size = r.i32();
            long fingerprint = r.i64();
            if (size != expectSize) throw new StaleCacheException("images are " + size + "x" + size + ", asked for " + expectSize);
            if (fingerprint != expectFingerprint) throw new StaleCacheException("the folder's files changed since it was written");
            long pixelBytes = (long) count * size * size * 3;
            if (count <= 0 || size <= 0 || pixelBytes > fileSize || pixelBytes > Integer.MAX_VALUE - 16)
                throw new IOException("header says " + count + " images of " + size + "x" + size + ", the file has " + fileSize + " bytes");
            int lines = r.i32();
            if (lines < 0 || lines > 1_000_000) throw new IOException("report line count " + lines);
            List<String> report = new ArrayList<>(lines);
            for (int i = 0; i < lines; i++) report.add(r.string());
            String[] names = new String[count];
            int[] ages = new int[count], genders = new int[count], races = new int[count];
            byte[][] hashes = new byte[count][];
            for (int i = 0; i < count; i++) {
                names[i] = r.string();
                ages[i] = r.i32();
                genders[i] = r.bytes(1)[0];
                races[i] = r.bytes(1)[0];
                hashes[i] = r.bytes(32);
            }
            if (r.pos + pixelBytes + 8 != fileSize)
                throw new IOException("file has " + fileSize + " bytes, header and pixels need " + (r.pos + pixelBytes + 8) + " (truncated?)");
            // The pixels stay in the file, mapped read-only: the ranks of a job on one machine share these pages
            // (the page cache) instead of copying 0.3-1.2 GB each onto their heaps. The cache is only ever
            // replaced by a rename (AtomicFile), never rewritten in place, so a mapping stays valid.
            MemorySegment pixels = ch.map(FileChannel.MapMode.READ_ONLY, r.pos, pixelBytes, Arena.ofAuto());
            crc.update(pixels.asByteBuffer());
            r.pos += pixelBytes;
            long stored = ByteBuffer.wrap(r.rawBytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (stored != crc.getValue()) throw new IOException("checksum mismatch (damaged file)");
            return new FaceSet(size, names, ages, genders, races, hashes, pixels, List.copyOf(report));
        }
    }

    private static int headerSize(FaceSet set) {
        int n = MAGIC.length + 4 + 4 + 4 + 8 + 4;
        for (String line : set.report()) n += 4 + line.getBytes(StandardCharsets.UTF_8).length;
        for (String name : set.names()) n += 4 + name.getBytes(StandardCharsets.UTF_8).length + 4 + 1 + 1 + 32;
        return n;
    }

    private static void putString(ByteBuffer b, String s) {
        byte[] u = s.getBytes(StandardCharsets.UTF_8);
        b.putInt(u.length).put(u);
    }

    /**
     * At most 1 MiB per call: a channel copies a heap buffer through a temporary native buffer of
     * the request's size and keeps it for the thread's life (1.24 GB of faces at 128x128 held
     * 1.24 GB of native memory through the whole run). FaceCacheMemoryTest checks it.
     */
    static final int IO_CHUNK = 1 << 20;

    private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
        int end = b.limit();
        while (b.position() < end) {
            b.limit(Math.min(end, b.position() + IO_CHUNK));
            while (b.hasRemaining()) ch.write(b);
        }
    }

    /** Sequential bounded reads that feed the checksum. */
    private static final class Reader {
        final FileChannel ch;
        final long fileSize;
        final CRC32C crc;
        final Path file;
        long pos;

        Reader(FileChannel ch, long fileSize, CRC32C crc, Path file) {
            this.ch = ch;
            this.fileSize = fileSize;
            this.crc = crc;
            this.file = file;
        }

        byte[] rawBytes(int n) throws IOException {
            if (n < 0 || pos + n > fileSize) throw new IOException("file ends early at byte " + pos + " (truncated?)");
            byte[] out = new byte[n];
            ByteBuffer b = ByteBuffer.wrap(out);
            while (b.position() < n) {
                b.limit(Math.min(n, b.position() + IO_CHUNK));   // see IO_CHUNK
                int got = ch.read(b, pos + b.position());
                if (got < 0) throw new IOException("file ends early at byte " + pos);
            }
            pos += n;
            return out;
        }

        byte[] bytes(int n) throws IOException {
            byte[] out = rawBytes(n);
            crc.update(out);
            return out;
        }

        int i32() throws IOException { return ByteBuffer.wrap(bytes(4)).order(ByteOrder.LITTLE_ENDIAN).getInt(); }

        long i64() throws IOException { return ByteBuffer.wrap(bytes(8)).order(ByteOrder.LITTLE_ENDIAN).getLong(); }

        String string() throws IOException {
            int len = i32();
            if (len < 0 || len > 65536) throw new IOException("string length " + len + " at byte " + pos);
            return new String(bytes(len), StandardCharsets.UTF_8);
        }
    }
}
