package org.attnface.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import org.attnface.engine.Tensor;

/**
 * The safetensors format (huggingface/safetensors): 8-byte little-endian header length N,
 * N bytes of UTF-8 JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
 * "__metadata__": {string: string}}, then the raw little-endian data. PyTorch's
 * {@code safetensors.torch.load_file} reads what we write; we read every dtype it writes but
 * the sub-byte and 8-bit floats, each tensor's bytes kept exactly as in the file
 * ({@link Entry#values} converts to float where the engine needs it).
 *
 * <p>Reading is as strict as the reference reader and never trusts the header: its length is
 * checked against the file size and the reference's 100,000,000-byte cap before anything is
 * allocated; it must be valid UTF-8 (no lone surrogates, raw or escaped) starting with '{';
 * every tensor's dtype, shape and offsets are checked against each other and the data size,
 * and each such error names the tensor, so a corrupt or hostile file fails with a message
 * naming the file.
 */
public final class Safetensors {
    private Safetensors() {}

    /** The reference reader's cap on the header (safetensors' MAX_HEADER_SIZE). */
    static final long MAX_HEADER = 100_000_000L;

    /** The element types read and written; the names are the file's. */
    public enum Dtype {
        BOOL(1), U8(1), I8(1), I16(2), U16(2), I32(4), U32(4), I64(8), U64(8), F16(2), BF16(2), F32(4), F64(8);

        public final int bytes;

        Dtype(int bytes) { this.bytes = bytes; }

        public boolean isFloat() { return this == F16 || this == BF16 || this == F32 || this == F64; }
    }

    /** A tensor as stored: dtype, shape and its little-endian bytes, exactly as in the file. */
    public record Entry(Dtype dtype, int[] shape, byte[] data) {
        public Entry {
            if (data.length != numel(shape) * dtype.bytes)
                throw new IllegalArgumentException(dtype + " tensor of shape " + Arrays.toString(shape) + " needs " + numel(shape) * dtype.bytes
                        + " bytes, got " + data.length);
        }

        public static Entry f32(int[] shape, float[] v) {
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            return new Entry(Dtype.F32, shape, b.array());
        }

        public static Entry i64(int[] shape, long[] v) {
            ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(v);
            return new Entry(Dtype.I64, shape, b.array());
        }

        public int numel() { return (int) numel(shape); }

        private static long numel(int[] shape) {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }

        /** The values as float: exact for F16, BF16, F32, BOOL, 8- and 16-bit integers; rounded to nearest for F64 and wider integers. */
        public float[] values() {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            int n = numel();
            float[] v = new float[n];
            switch (dtype) {
                case F32 -> b.asFloatBuffer().get(v);
                case F64 -> { for (int i = 0; i < n; i++) v[i] = (float) b.getDouble(8 * i); }
                case F16 -> { for (int i = 0; i < n; i++) v[i] = Float.float16ToFloat(b.getShort(2 * i)); }
                case BF16 -> { for (int i = 0; i < n; i++) v[i] = Float.intBitsToFloat((b.getShort(2 * i) & 0xFFFF) << 16); }
                case U64 -> { for (int i = 0; i < n; i++) v[i] = unsignedToFloat(b.getLong(8 * i)); }
                default -> { long[] l = longs(); for (int i = 0; i < n; i++) v[i] = l[i]; }
            }
            return v;
        }

        /** The values of an integer or BOOL tensor, exactly (U64 as the same 64 bits); a float tensor is refused. */
        public long[] longs() {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            int n = numel();
            long[] v = new long[n];
            for (int i = 0; i < n; i++) {
                v[i] = switch (dtype) {
                    case BOOL -> data[i] != 0 ? 1 : 0;
                    case U8 -> data[i] & 0xFF;
                    case I8 -> data[i];
                    case I16 -> b.getShort(2 * i);
                    case U16 -> b.getShort(2 * i) & 0xFFFF;
                    case I32 -> b.getInt(4 * i);
                    case U32 -> b.getInt(4 * i) & 0xFFFFFFFFL;
                    case I64, U64 -> b.getLong(8 * i);
                    default -> throw new IllegalStateException("a " + dtype + " tensor has no exact integer values");
                };
            }
            return v;
        }

        private static float unsignedToFloat(long x) {
            return x >= 0 ? x : (float) ((x >>> 1) | (x & 1)) * 2f;
        }
    }

    /** Everything a file holds, in the header's order. */
    public record Contents(Map<String, Entry> tensors, Map<String, String> metadata) {}

    /** Writes tensors (any devices) as F32, with string metadata, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            items.add(new Item(e.getKey(), Dtype.F32, t.shape(), 4L * t.numel(), () -> Entry.f32(t.shape(), t.toArray()).data()));
        }
        write(file, items, metadata);
    }

    /** Writes entries of any dtype byte for byte, with string metadata, atomically: what {@link #read} gave is written back unchanged. */
    public static void writeEntries(Path file, Map<String, Entry> tensors, Map<String, String> metadata) throws IOException {
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            Entry t = e.getValue();
            items.add(new Item(e.getKey(), t.dtype(), t.shape(), t.data().length, t::data));
        }
        write(file, items, metadata);
    }

    private record Item(String name, Dtype dtype, int[] shape, long bytes, Supplier<byte[]> data) {}

    private static void write(Path file, List<Item> items, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long at = 0;
        for (Item t : items) {
            if (t.name().equals("__metadata__")) throw new IllegalArgumentException("a tensor cannot be named __metadata__");
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", t.dtype().name());
            info.put("shape", t.shape());
            info.put("data_offsets", List.of(at, at + t.bytes()));
            header.put(t.name(), info);
            at += t.bytes();
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // data starts 8-byte aligned, padded with spaces as the reference writer does
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicFile.write(file, ch -> {
            while (head.hasRemaining()) ch.write(head);
            for (Item t : items) {
                ByteBuffer b = ByteBuffer.wrap(t.data().get());
                while (b.hasRemaining()) ch.write(b);
            }
        });
    }

    public static Contents read(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(file, ch);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "checkpoint file not found");
        } catch (IOException e) {
            // our own messages name the file already; the JDK's ("Is a directory") may not
            if (e.getMessage() != null && e.getMessage().contains(file.toString())) throw e;
            throw new IOException("could not read safetensors file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads from any channel ({@code file} names it in messages); the fuzz test feeds it bytes in memory. */
    static Contents read(Path file, SeekableByteChannel ch) throws IOException {
        Map<String, Entry> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = read(file, ch, tensors::put);
        return new Contents(tensors, metadata);
    }

    /** Receives a file's tensors one at a time. */
    @FunctionalInterface
    public interface TensorVisitor {
        void visit(String name, Entry tensor) throws IOException;
    }

    /**
     * Checks the whole header as {@link #read} does, then hands the tensors to {@code visitor}
     * one at a time in header order, so a file larger than memory can be looked through
     * (attnface inspect); returns the metadata.
     */
    public static Map<String, String> forEach(Path file, TensorVisitor visitor) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(file, ch, visitor);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains(file.toString())) throw e;
            throw new IOException("could not read safetensors file " + file + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, String> read(Path file, SeekableByteChannel ch, TensorVisitor visitor) throws IOException {
        long size = ch.size();
        if (size < 8) throw bad(file, "file is " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long n = lenBuf.flip().getLong();
        if (n < 0 || n > MAX_HEADER)
            throw bad(file, "header length " + Long.toUnsignedString(n) + " is above the format's limit of " + MAX_HEADER + " bytes");
        if (n < 2 || n > size - 8)
            throw bad(file, "header length " + n + " is impossible for a file of " + size + " bytes");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8, file);
        Map<?, ?> header = header(file, hb.flip());
        long dataStart = 8 + n, dataSize = size - dataStart;
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Spec> specs = new ArrayList<>();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw bad(file, "__metadata__ is not an object");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String v)) throw bad(file, "metadata \"" + Json.shown(me.getKey()) + "\" is not a string");
                    metadata.put((String) me.getKey(), v);
                }
                continue;
            }
            specs.add(spec(file, name, e.getValue(), dataSize));
        }
        // As the reference reader: the byte ranges, in offset order, tile the data exactly. This
        // also bounds what is allocated by the file's size (overlapping ranges could ask for
        // the same bytes a million times).
        List<Spec> byOffset = new ArrayList<>(specs);
        byOffset.sort(Comparator.comparingLong(Spec::begin).thenComparingLong(Spec::end));
        long at = 0;
        String last = null;
        for (Spec t : byOffset) {
            if (t.begin != at)
                throw bad(file, "tensor \"" + t.name + "\" data_offsets [" + t.begin + ", " + t.end + "] "
                        + (t.begin < at ? "overlap another tensor's bytes" : "leave a gap") + " (expected to start at " + at + ")");
            at = t.end;
            last = t.name;
        }
        if (at != dataSize)
            throw bad(file, "the tensors cover " + at + " of the " + dataSize + " data bytes"
                    + (last == null ? "" : " (the last, \"" + Json.shown(last) + "\", ends at " + at + ")"));
        for (Spec t : specs) {
            byte[] data = new byte[(int) (t.end - t.begin)];
            readFully(ch, ByteBuffer.wrap(data), dataStart + t.begin, file);
            visitor.visit(t.name, new Entry(t.dtype, t.shape, data));
        }
        return metadata;
    }

    /** The header decoded as the reference reader does: strict UTF-8, '{' first, JSON (trailing spaces allowed), no lone surrogates. */
    private static Map<?, ?> header(Path file, ByteBuffer hb) throws IOException {
        if (hb.get(0) != '{') throw bad(file, String.format("header does not start with '{' (byte 0x%02X)", hb.get(0) & 0xFF));
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb).toString();
        } catch (CharacterCodingException e) {
            throw bad(file, "header is not valid UTF-8 (at byte " + (8 + hb.position()) + " of the file)");
        }
        Object parsed;
        try {
            parsed = Json.parse(text);
        } catch (IllegalArgumentException e) {
            throw bad(file, "header is not valid JSON (" + e.getMessage() + ")");
        }
        String lone = loneSurrogate(parsed);
        if (lone != null) throw bad(file, "header has a lone surrogate (an escaped \\u" + lone + " that is no character)");
        if (!(parsed instanceof Map<?, ?> header)) throw bad(file, "header is not a JSON object");
        return header;
    }

    /** The first unpaired UTF-16 surrogate in any string of a parsed value, as hex; null when none. */
    private static String loneSurrogate(Object v) {
        if (v instanceof String s) {
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) i++;
                else if (Character.isSurrogate(c)) return String.format("%04X", (int) c);
            }
        } else if (v instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                String k = loneSurrogate(e.getKey());
                if (k == null) k = loneSurrogate(e.getValue());
                if (k != null) return k;
            }
        } else if (v instanceof List<?> l) {
            for (Object x : l) {
                String k = loneSurrogate(x);
                if (k != null) return k;
            }
        }
        return null;
    }

    private record Spec(String name, Dtype dtype, int[] shape, long begin, long end) {}

    private static Spec spec(Path file, String name, Object spec, long dataSize) throws IOException {
        String t = "tensor \"" + Json.shown(name) + "\"";
        if (!(spec instanceof Map<?, ?> m)) throw bad(file, t + " is not described by an object");
        Dtype dtype = dtype(file, t, m.get("dtype"));
        if (!(m.get("shape") instanceof List<?> sl)) throw bad(file, t + " has no shape");
        if (sl.size() > 64) throw bad(file, t + " has rank " + sl.size());
        int[] shape = new int[sl.size()];
        long numel = 1;
        for (int k = 0; k < shape.length; k++) {
            if (!(sl.get(k) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                throw bad(file, t + " has invalid shape " + Json.shown(sl));
            shape[k] = (int) (long) d;
            numel *= d;
            if (numel > dataSize) throw bad(file, t + " shape " + Json.shown(sl) + " is larger than the file's data");
        }
        if (!(m.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                || !(ol.get(0) instanceof Long begin) || !(ol.get(1) instanceof Long end))
            throw bad(file, t + " has no valid data_offsets");
        if (begin < 0 || end < begin || end > dataSize)
            throw bad(file, t + " data_offsets [" + begin + ", " + end + "] fall outside the " + dataSize + "-byte data");
        if (end - begin != dtype.bytes * numel)
            throw bad(file, t + " of dtype " + dtype + " and shape " + Arrays.toString(shape) + " needs " + dtype.bytes * numel
                    + " bytes but data_offsets give " + (end - begin));
        if (end - begin > Integer.MAX_VALUE - 8) throw bad(file, t + " is too large for one array");
        return new Spec(name, dtype, shape, begin, end);
    }

    private static Dtype dtype(Path file, String t, Object dtype) throws IOException {
        if (!(dtype instanceof String d)) throw bad(file, t + " has dtype " + Json.shown(dtype) + ", not a string");
        for (Dtype x : Dtype.values()) if (x.name().equals(d)) return x;
        if (d.startsWith("F8_") || d.startsWith("F6_") || d.equals("F4"))
            throw bad(file, t + " has dtype " + Json.shown(d) + ": floats narrower than 16 bits are not supported (attnface reads "
                    + Arrays.toString(Dtype.values()) + ")");
        throw bad(file, t + " has unknown dtype \"" + Json.shown(d) + "\" (attnface reads " + Arrays.toString(Dtype.values()) + ")");
    }

    /**
     * Loads a file into existing tensors by name, converting to float. Every expected tensor
     * must be present with the same shape; the error lists missing, unexpected and mismatched
     * names. PyTorch's batch-norm step counters ("*.num_batches_tracked", integers) are not
     * unexpected: attnface's batch norm uses a fixed momentum and has no such buffer.
     */
    public static Map<String, String> load(Path file, Map<String, Tensor> into) throws IOException {
        Contents c = read(file);
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : into.entrySet()) {
            Entry got = c.tensors().get(e.getKey());
            if (got == null) problems.add("missing " + e.getKey());
            else if (!Arrays.equals(got.shape(), e.getValue().shape()))
                problems.add(e.getKey() + " has shape " + Arrays.toString(got.shape()) + " in the file, "
                        + Arrays.toString(e.getValue().shape()) + " in the model");
        }
        for (Map.Entry<String, Entry> e : c.tensors().entrySet())
            if (!into.containsKey(e.getKey()) && !isBatchCounter(e.getKey(), e.getValue())) problems.add("unexpected " + e.getKey());
        if (!problems.isEmpty()) {
            String list = String.join("; ", problems.subList(0, Math.min(8, problems.size())));
            throw new IOException(file + " does not match: " + list + (problems.size() > 8 ? "; and " + (problems.size() - 8) + " more" : ""));
        }
        for (Map.Entry<String, Tensor> e : into.entrySet()) e.getValue().copyFrom(c.tensors().get(e.getKey()).values());
        return c.metadata();
    }

    /** A PyTorch BatchNorm's num_batches_tracked: an integer scalar. */
    public static boolean isBatchCounter(String name, Entry e) {
        return (name.equals("num_batches_tracked") || name.endsWith(".num_batches_tracked")) && !e.dtype().isFloat() && e.numel() == 1;
    }

    private static void readFully(SeekableByteChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
        ch.position(pos);
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) throw bad(file, "file ends early (truncated?)");
        }
    }

    private static IOException bad(Path file, String what) {
        return new IOException("corrupt safetensors file " + file + ": " + what);
    }
}
