package org.attnface.engine.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.SeekableByteChannel;
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

import org.attnface.engine.Tensor;

/**
 * The safetensors format (huggingface/safetensors): 8-byte little-endian header length N,
 * N bytes of JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]},
 * "__metadata__": {string: string}}, then the raw little-endian data. PyTorch's
 * {@code safetensors.torch.load_file} reads what we write, and we read its F32 files.
 *
 * <p>Reading never trusts the header: its length is checked against the file size and a
 * 100 MB cap before anything is allocated, and every tensor's offsets against its shape and
 * the data size, so a corrupt or hostile file fails with a message naming the file.
 */
public final class Safetensors {
    private Safetensors() {}

    static final long MAX_HEADER = 100L << 20;

    /** A tensor read from a file: its shape and values on the host. */
    public record Entry(int[] shape, float[] values) {}

    /** Everything a file holds. */
    public record Contents(Map<String, Entry> tensors, Map<String, String> metadata) {}

    /** Writes tensors (any devices) and string metadata atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new LinkedHashMap<>(metadata));
        long at = 0;
        List<Tensor> order = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", "F32");
            info.put("shape", t.shape());
            info.put("data_offsets", List.of(at, at + 4 * t.numel()));
            header.put(e.getKey(), info);
            at += 4 * t.numel();
            order.add(t);
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // data starts 8-byte aligned, padded with spaces as the reference writer does
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        AtomicFile.write(file, ch -> {
            while (head.hasRemaining()) ch.write(head);
            for (Tensor t : order) {
                float[] v = t.toArray();
                ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(v);
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
        long size = ch.size();
        if (size < 8) throw bad(file, "file is " + size + " bytes, shorter than the 8-byte header length");
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0, file);
        long n = lenBuf.flip().getLong();
        if (n < 2 || n > MAX_HEADER || n > size - 8)
            throw bad(file, "header length " + Long.toUnsignedString(n) + " is impossible for a file of " + size + " bytes");
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8, file);
        Object parsed;
        try {
            parsed = Json.parse(new String(hb.array(), StandardCharsets.UTF_8).stripTrailing());
        } catch (IllegalArgumentException e) {
            throw bad(file, "header is not valid JSON (" + e.getMessage() + ")");
        }
        if (!(parsed instanceof Map<?, ?> header)) throw bad(file, "header is not a JSON object");
        long dataStart = 8 + n, dataSize = size - dataStart;
        Map<String, Entry> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Spec> specs = new ArrayList<>();
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw bad(file, "__metadata__ is not an object");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String v)) throw bad(file, "metadata \"" + me.getKey() + "\" is not a string");
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
        for (Spec t : byOffset) {
            if (t.begin != at)
                throw bad(file, "tensor \"" + t.name + "\" data_offsets [" + t.begin + ", " + t.end + "] "
                        + (t.begin < at ? "overlap another tensor's bytes" : "leave a gap") + " (expected to start at " + at + ")");
            at = t.end;
        }
        if (at != dataSize) throw bad(file, "the tensors cover " + at + " of the " + dataSize + " data bytes");
        for (Spec t : specs) tensors.put(t.name, readTensor(ch, file, t, dataStart));
        return new Contents(tensors, metadata);
    }

    private record Spec(String name, int[] shape, long begin, long end) {}

    private static Spec spec(Path file, String name, Object spec, long dataSize) throws IOException {
        if (!(spec instanceof Map<?, ?> m)) throw bad(file, "tensor \"" + name + "\" is not described by an object");
        Object dtype = m.get("dtype");
        if (!"F32".equals(dtype)) throw bad(file, "tensor \"" + name + "\" has dtype " + dtype + "; attnface reads F32 only");
        if (!(m.get("shape") instanceof List<?> sl)) throw bad(file, "tensor \"" + name + "\" has no shape");
        if (sl.size() > 8) throw bad(file, "tensor \"" + name + "\" has rank " + sl.size());
        int[] shape = new int[sl.size()];
        long numel = 1;
        for (int k = 0; k < shape.length; k++) {
            if (!(sl.get(k) instanceof Long d) || d < 0 || d > Integer.MAX_VALUE)
                throw bad(file, "tensor \"" + name + "\" has invalid shape " + sl);
            shape[k] = (int) (long) d;
            numel *= d;
            if (numel > dataSize) throw bad(file, "tensor \"" + name + "\" shape " + sl + " is larger than the file's data");
        }
        if (!(m.get("data_offsets") instanceof List<?> ol) || ol.size() != 2
                || !(ol.get(0) instanceof Long begin) || !(ol.get(1) instanceof Long end))
            throw bad(file, "tensor \"" + name + "\" has no valid data_offsets");
        if (begin < 0 || end < begin || end > dataSize)
            throw bad(file, "tensor \"" + name + "\" data_offsets [" + begin + ", " + end + "] fall outside the " + dataSize + "-byte data");
        if (end - begin != 4 * numel)
            throw bad(file, "tensor \"" + name + "\" shape " + Arrays.toString(shape) + " needs " + 4 * numel
                    + " bytes but data_offsets give " + (end - begin));
        if (4 * numel > Integer.MAX_VALUE - 8) throw bad(file, "tensor \"" + name + "\" is too large for one array");
        return new Spec(name, shape, begin, end);
    }

    private static Entry readTensor(SeekableByteChannel ch, Path file, Spec t, long dataStart) throws IOException {
        int numel = (int) ((t.end - t.begin) / 4);
        ByteBuffer b = ByteBuffer.allocate(4 * numel).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, b, dataStart + t.begin, file);
        float[] v = new float[numel];
        b.flip().asFloatBuffer().get(v);
        return new Entry(t.shape, v);
    }

    /**
     * Loads a file into existing tensors by name. Every expected tensor must be present with
     * the same shape; the error lists missing, unexpected and mismatched names.
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
        for (String name : c.tensors().keySet()) if (!into.containsKey(name)) problems.add("unexpected " + name);
        if (!problems.isEmpty()) {
            String list = String.join("; ", problems.subList(0, Math.min(8, problems.size())));
            throw new IOException(file + " does not match: " + list + (problems.size() > 8 ? "; and " + (problems.size() - 8) + " more" : ""));
        }
        for (Map.Entry<String, Tensor> e : into.entrySet()) e.getValue().copyFrom(c.tensors().get(e.getKey()).values());
        return c.metadata();
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
