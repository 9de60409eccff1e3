package org.attnface.engine.io;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile files (issue #6): a seeded generator of mutated safetensors files and JSON
 * headers. Every case must end in a valid result or a clean IOException /
 * IllegalArgumentException: never an OutOfMemoryError, a StackOverflowError, another
 * RuntimeException, or a hang; a valid result is written back unchanged, and every error
 * about one tensor names it. Issue #32's classes have a family of their own: invalid UTF-8,
 * escaped lone surrogates, whitespace before '{', and every dtype name including the 8-bit
 * floats. 12,000 files (1,000 on disk, the rest in memory through the
 * same reader) and 12,000 headers run in about a second; each test is bounded at 60 s / 30 s.
 */
class SafetensorsFuzzTest {
    static final int FILE_CASES = 12_000, JSON_CASES = 12_000;
    /** The first cases go through real files; the rest through the same reader on bytes in memory (disk-independent speed). */
    static final int ON_DISK = 1_000;
    @TempDir Path dir;

    static byte[] validFile(Path dir) throws IOException {
        Map<String, Tensor> t = new LinkedHashMap<>();
        t.put("conv.weight", Tensor.emptyPersistent(Device.CPU, 4, 3, 3, 3));
        t.put("bn.running_mean", Tensor.emptyPersistent(Device.CPU, 4));
        t.put("fc.bias", Tensor.emptyPersistent(Device.CPU, 2));
        Random r = new Random(1);
        for (Tensor x : t.values()) {
            float[] v = new float[x.size()];
            for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
            x.copyFrom(v);
        }
        // and tensors of the other dtypes, as a PyTorch state dict holds them
        Map<String, Safetensors.Entry> all = new LinkedHashMap<>();
        for (var e : t.entrySet()) all.put(e.getKey(), Safetensors.Entry.f32(e.getValue().shape(), e.getValue().toArray()));
        for (Safetensors.Dtype d : Safetensors.Dtype.values()) {
            byte[] b = new byte[3 * d.bytes];
            r.nextBytes(b);
            all.put("t." + d.name().toLowerCase(java.util.Locale.ROOT), new Safetensors.Entry(d, new int[] {3}, b));
        }
        all.put("bn.num_batches_tracked", Safetensors.Entry.i64(new int[] {}, new long[] {17}));
        Path f = dir.resolve("valid.safetensors");
        Safetensors.writeEntries(f, all, Map.of("arch", "attn", "buckets", "0,10,20,30,40,50,60,70"));
        return Files.readAllBytes(f);
    }

    private static final String JSON_CHARS = "{}[]:,\"0123456789-+eE.\\ ntfu/";

    /** A mutated copy of {@code good}; {@code kind} picks the mutation family. */
    static byte[] mutate(byte[] good, Random r, int kind) {
        long headerLen = ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        switch (kind) {
            case 0 -> { // bit flips anywhere
                byte[] b = good.clone();
                for (int k = 1 + r.nextInt(8); k > 0; k--) b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
                return b;
            }
            case 1 -> { // truncation
                return Arrays.copyOf(good, r.nextInt(good.length));
            }
            case 2 -> { // random byte insertions
                byte[] b = good;
                for (int k = 1 + r.nextInt(4); k > 0; k--) {
                    int at = r.nextInt(b.length + 1), n = 1 + r.nextInt(16);
                    byte[] ins = new byte[n];
                    r.nextBytes(ins);
                    byte[] c = new byte[b.length + n];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(ins, 0, c, at, n);
                    System.arraycopy(b, at, c, at + n, b.length - at);
                    b = c;
                }
                return b;
            }
            case 3 -> { // header length overwritten
                byte[] b = good.clone();
                long[] choices = {0, 1, 2, 7, headerLen - 1, headerLen + 1, b.length - 8, b.length, Long.MAX_VALUE, Long.MIN_VALUE,
                        -1, 1L << 62, 1L << 31, (1L << 31) - 1, Safetensors.MAX_HEADER, Safetensors.MAX_HEADER + 1, r.nextLong()};
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, choices[r.nextInt(choices.length)]);
                return b;
            }
            case 4 -> { // JSON mutation of the header, with the length field kept consistent
                String header = new String(good, 8, (int) headerLen, StandardCharsets.UTF_8);
                String mutated = mutateJson(header, r);
                byte[] h = mutated.getBytes(StandardCharsets.UTF_8);
                byte[] data = Arrays.copyOfRange(good, 8 + (int) headerLen, good.length);
                ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
                b.putLong(h.length).put(h).put(data);
                return b.array();
            }
            case 5 -> { // the classes of issue #32, in the header, with the length field kept consistent
                String header = new String(good, 8, (int) headerLen, StandardCharsets.UTF_8);
                byte[] h = header.getBytes(StandardCharsets.UTF_8);
                byte[][] badUtf8 = {{(byte) 0xC3, 0x28}, {(byte) 0xFF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xC0, (byte) 0xAF},
                        {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}};
                String[] dtypes = {"F8_E4M3", "F8_E5M2", "F4", "F6_E2M3", "F16", "BF16", "F64", "I64", "I32", "I16", "I8", "U8", "BOOL", "U64", "f32", "Q4", ""};
                switch (r.nextInt(5)) {
                    case 0 -> { // invalid UTF-8 bytes anywhere in the header
                        byte[] bad = badUtf8[r.nextInt(badUtf8.length)];
                        int at = r.nextInt(h.length + 1);
                        byte[] c = new byte[h.length + bad.length];
                        System.arraycopy(h, 0, c, 0, at);
                        System.arraycopy(bad, 0, c, at, bad.length);
                        System.arraycopy(h, at, c, at + bad.length, h.length - at);
                        h = c;
                    }
                    case 1 -> { // an escaped surrogate, lone or paired, inside a name or a metadata value
                        int at = header.indexOf('"', r.nextInt(header.length())) + 1;
                        String[] esc = {"\\ud800", "\\udfff", "\\ud83d\\ude42", "\\ude42\\ud83d", "\\ud83d"};
                        h = (header.substring(0, at) + esc[r.nextInt(esc.length)] + header.substring(at)).getBytes(StandardCharsets.UTF_8);
                    }
                    case 2 -> h = (" \t\n\r".charAt(r.nextInt(4)) + header).getBytes(StandardCharsets.UTF_8);   // whitespace before '{'
                    default -> { // one tensor's dtype replaced
                        String[] parts = header.split("\"dtype\":\"", -1);
                        int k = 1 + r.nextInt(parts.length - 1);
                        parts[k] = dtypes[r.nextInt(dtypes.length)] + parts[k].substring(parts[k].indexOf('"'));
                        h = String.join("\"dtype\":\"", parts).getBytes(StandardCharsets.UTF_8);
                    }
                }
                byte[] data = Arrays.copyOfRange(good, 8 + (int) headerLen, good.length);
                ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
                b.putLong(h.length).put(h).put(data);
                return b.array();
            }
            default -> { // byte deletions
                byte[] b = good;
                for (int k = 1 + r.nextInt(4); k > 0 && b.length > 1; k--) {
                    int at = r.nextInt(b.length), n = Math.min(1 + r.nextInt(16), b.length - at);
                    byte[] c = new byte[b.length - n];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + n, c, at, b.length - at - n);
                    b = c;
                }
                return b;
            }
        }
    }

    /** Token-level damage to JSON text: characters, numbers, nesting, duplication. */
    static String mutateJson(String s, Random r) {
        StringBuilder b = new StringBuilder(s);
        for (int k = 1 + r.nextInt(3); k > 0; k--) {
            if (b.isEmpty()) b.append('{');
            int at = r.nextInt(b.length());
            switch (r.nextInt(9)) {
                case 0 -> b.setCharAt(at, JSON_CHARS.charAt(r.nextInt(JSON_CHARS.length())));
                case 1 -> b.deleteCharAt(at);
                case 2 -> b.insert(at, JSON_CHARS.charAt(r.nextInt(JSON_CHARS.length())));
                case 3 -> { // replace a number with an extreme one
                    int d = indexOfDigit(b, at);
                    if (d >= 0) {
                        int e = d;
                        while (e < b.length() && Character.isDigit(b.charAt(e))) e++;
                        String[] big = {"99999999999999999999", "-1", "2147483648", "4294967296", "1e400", "-0", "1.5", "9223372036854775807", "0"};
                        b.replace(d, e, big[r.nextInt(big.length)]);
                    }
                }
                case 4 -> { // deep nesting, far past the parser's depth limit
                    int depth = 1 + r.nextInt(20_000);
                    b.insert(at, "[".repeat(depth) + "]".repeat(r.nextBoolean() ? depth : 0));
                }
                case 5 -> { // duplicate a slice (duplicate keys, repeated entries)
                    int end = Math.min(b.length(), at + 1 + r.nextInt(80));
                    b.insert(end, b.substring(at, end));
                }
                case 6 -> b.insert(at, "\\u" + Integer.toHexString(r.nextInt(0x10000)));
                case 7 -> b.setLength(at); // truncated JSON
                default -> b.setCharAt(at, (char) r.nextInt(0x3000)); // any character, including controls
            }
        }
        return b.toString();
    }

    private static int indexOfDigit(CharSequence s, int from) {
        for (int i = from; i < s.length(); i++) if (Character.isDigit(s.charAt(i))) return i;
        return -1;
    }

    @Test
    void mutatedFilesEndInAValidResultOrACleanException() throws IOException {
        byte[] good = validFile(dir);
        Path f = dir.resolve("fuzz.safetensors");
        List<String> problems = new ArrayList<>();
        int[] outcomes = new int[3]; // valid, IOException, IllegalArgumentException
        Map<String, Integer> classes = new java.util.TreeMap<>();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            Random r = new Random(20261129);
            for (int i = 0; i < FILE_CASES; i++) {
                int kind = i % 7;
                byte[] bytes = mutate(good, r, kind);
                try {
                    Safetensors.Contents c;
                    if (i < ON_DISK) {
                        Files.write(f, bytes);
                        c = Safetensors.read(f);
                    } else {
                        c = Safetensors.read(f, new ByteArrayChannel(bytes));
                    }
                    for (Safetensors.Entry e : c.tensors().values()) {
                        long n = 1;
                        for (int d : e.shape()) n *= d;
                        if (n != e.values().length || n * e.dtype().bytes != e.data().length)
                            problems.add("case " + i + ": shape " + Arrays.toString(e.shape()) + " with " + e.values().length + " values");
                        if (!e.dtype().isFloat() && e.longs().length != n) problems.add("case " + i + ": longs() of " + e.longs().length);
                    }
                    if (i < ON_DISK) {   // what was read is written back unchanged
                        Path back = dir.resolve("back.safetensors");
                        Safetensors.writeEntries(back, c.tensors(), c.metadata());
                        Safetensors.Contents again = Safetensors.read(back);
                        if (!again.metadata().equals(c.metadata()) || !again.tensors().keySet().equals(c.tensors().keySet()))
                            problems.add("case " + i + ": names or metadata changed on the way back");
                        for (var e : c.tensors().entrySet())
                            if (!Arrays.equals(e.getValue().data(), again.tensors().get(e.getKey()).data()) || e.getValue().dtype() != again.tensors().get(e.getKey()).dtype())
                                problems.add("case " + i + ": tensor " + e.getKey() + " changed on the way back");
                    }
                    outcomes[0]++;
                } catch (IOException e) {
                    if (!e.getMessage().contains(f.toString())) problems.add("case " + i + " (kind " + kind + "): message does not name the file: " + e.getMessage());
                    String m = e.getMessage();
                    if (!m.contains("not valid JSON") && (m.contains("dtype") || m.contains("shape") || m.contains("data_offsets")) && !m.contains("tensor \""))
                        problems.add("case " + i + " (kind " + kind + "): an error about one tensor that does not name it: " + m);
                    if (kind == 5) classes.merge(m.replaceAll(".*" + java.util.regex.Pattern.quote(f.toString()) + ": ", "").replaceAll("[\"(].*", ""), 1, Integer::sum);
                    outcomes[1]++;
                } catch (IllegalArgumentException e) {
                    outcomes[2]++;
                } catch (Throwable t) {
                    problems.add("case " + i + " (kind " + kind + "): " + t);
                }
                if (problems.size() > 20) break;
            }
        });
        System.out.printf("SafetensorsFuzzTest: %d files: %d valid, %d IOException, %d IllegalArgumentException%n",
                FILE_CASES, outcomes[0], outcomes[1], outcomes[2]);
        System.out.println("SafetensorsFuzzTest: issue #32 header classes refused: " + classes);
        if (!problems.isEmpty()) fail(problems.size() + " bad outcomes, first: " + String.join("\n", problems));
        assertTrue(outcomes[0] > 0 && outcomes[1] > FILE_CASES / 2, "the mutations should produce both valid and rejected files");
        for (String c : List.of("header is not valid UTF-8 ", "header does not start with '{' ", "header has a lone surrogate ", "tensor "))
            assertTrue(classes.keySet().stream().anyMatch(k -> k.startsWith(c)), "no case refused as '" + c + "': " + classes);
    }

    @Test
    void mutatedJsonEndsInAValueOrIllegalArgumentException() throws IOException {
        byte[] good = validFile(dir);
        long headerLen = ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        String header = new String(good, 8, (int) headerLen, StandardCharsets.UTF_8).strip();
        List<String> problems = new ArrayList<>();
        int[] valid = new int[1];
        assertTimeoutPreemptively(Duration.ofSeconds(30), () -> {
            Random r = new Random(7);
            for (int i = 0; i < JSON_CASES; i++) {
                String s = mutateJson(header, r);
                try {
                    Json.parse(s);
                    valid[0]++;
                } catch (IllegalArgumentException e) {
                    // expected for most
                } catch (Throwable t) {
                    problems.add("case " + i + ": " + t + " on " + (s.length() > 200 ? s.substring(0, 200) + "..." : s));
                }
                if (problems.size() > 20) break;
            }
        });
        System.out.printf("SafetensorsFuzzTest: %d JSON headers: %d parsed%n", JSON_CASES, valid[0]);
        if (!problems.isEmpty()) fail(problems.size() + " bad outcomes, first: " + String.join("\n", problems));
    }

    @Test
    void jsonRoundTripsWhatItWrites() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("s", "tab\t quote\" back\\ nl\n ctl\u0001 \u00e9");
        m.put("n", 42L);
        m.put("d", 1.5);
        m.put("l", List.of(1L, "x", true, false));
        m.put("z", null);
        assertTrue(m.equals(Json.parse(Json.write(m))), Json.write(m));
    }
}
