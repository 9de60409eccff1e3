package org.attnface.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The safetensors reader and writer: round trip, the reference byte format, Python interop, and bad files. */
class SafetensorsTest {
    @TempDir Path dir;

    private static Tensor tensor(int seed, int... shape) {
        Tensor t = Tensor.emptyPersistent(Device.CPU, shape);
        float[] v = new float[t.size()];
        java.util.Random r = new java.util.Random(seed);
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        t.copyFrom(v);
        return t;
    }

    private static Map<String, Tensor> sample() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("conv1.weight", tensor(1, 5, 3, 7, 7));
        m.put("bn1.running_var", tensor(2, 5));
        m.put("fc.weight", tensor(3, 2, 13));
        m.put("fc.bias", tensor(4, 2));
        return m;
    }

    @Test
    void roundTripKeepsNamesShapesValuesAndMetadata() throws IOException {
        Map<String, Tensor> in = sample();
        Map<String, String> meta = Map.of("arch", "attn", "buckets", "0,10,20", "note", "quote \" and \\ and \u00e9");
        Path f = dir.resolve("model.safetensors");
        Safetensors.write(f, in, meta);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(List.copyOf(in.keySet()), List.copyOf(c.tensors().keySet()), "names in order");
        for (var e : in.entrySet()) {
            assertArrayEquals(e.getValue().shape(), c.tensors().get(e.getKey()).shape(), e.getKey());
            assertArrayEquals(e.getValue().toArray(), c.tensors().get(e.getKey()).values(), e.getKey());
        }
        assertEquals(meta, c.metadata());

        // load() copies into existing tensors by name
        Map<String, Tensor> into = new LinkedHashMap<>();
        for (var e : in.entrySet()) into.put(e.getKey(), Tensor.emptyPersistent(Device.CPU, e.getValue().shape()));
        assertEquals(meta, Safetensors.load(f, into));
        for (var e : in.entrySet()) assertArrayEquals(e.getValue().toArray(), into.get(e.getKey()).toArray(), e.getKey());

        // the layout: 8-byte length, header padded to 8 bytes, data right after
        byte[] bytes = Files.readAllBytes(f);
        long n = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length is a multiple of 8");
        long data = 0;
        for (Tensor t : in.values()) data += 4 * t.numel();
        assertEquals(8 + n + data, bytes.length, "file = 8 + header + data, nothing else");
        assertEquals('{', bytes[8]);
    }

    /** Builds a file exactly as huggingface's serializer lays it out. */
    static byte[] referenceFile(String header, float[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (float v : data) b.putFloat(v);
        return b.array();
    }

    @Test
    void readsAHandBuiltFileInTheReferenceFormat() throws IOException {
        // What safetensors.torch.save_file({"b": tensor([[1,2,3],[4,5,6]]), "a": tensor([-1.5]),
        // "s": tensor(7.)}, metadata={"format": "pt"}) writes: __metadata__ first, tensors
        // sorted by name with contiguous offsets, header padded with spaces to 8 bytes; a 0-d
        // tensor has shape [].
        String header = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[4,28]},"
                + "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[28,32]}}";
        header += " ".repeat((8 - header.length() % 8) % 8);
        // Byte for byte what safetensors 0.8.0's numpy save() produced for these tensors
        // (checked with the Python package): 193 characters padded to 200.
        assertEquals(200, header.length());
        Path f = dir.resolve("reference.safetensors");
        Files.write(f, referenceFile(header, new float[] {-1.5f, 1, 2, 3, 4, 5, 6, 7}));
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(Map.of("format", "pt"), c.metadata());
        assertArrayEquals(new int[] {1}, c.tensors().get("a").shape());
        assertArrayEquals(new float[] {-1.5f}, c.tensors().get("a").values());
        assertArrayEquals(new int[] {2, 3}, c.tensors().get("b").shape());
        assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, c.tensors().get("b").values());
        assertArrayEquals(new int[] {}, c.tensors().get("s").shape());
        assertArrayEquals(new float[] {7}, c.tensors().get("s").values());
    }

    @Test
    void pythonReadsWhatWeWrite() throws Exception {
        Path script = dir.resolve("read_safetensors.py");
        try (InputStream in = SafetensorsTest.class.getResourceAsStream("/read_safetensors.py")) {
            Files.copy(in, script);
        }
        Process probe;
        try {
            probe = new ProcessBuilder("python3", "-c", "import json, struct, array").redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("python3 is not installed: cannot check that Python reads our files");
            return;
        }
        Assumptions.assumeTrue(probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0, "python3 does not run");

        Map<String, Tensor> in = sample();
        Map<String, String> meta = Map.of("arch", "resnet", "epoch", "3");
        Path f = dir.resolve("for-python.safetensors");
        Safetensors.write(f, in, meta);
        Process p = new ProcessBuilder("python3", script.toString(), f.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
        assertEquals(0, p.exitValue(), "python could not read the file: " + out);

        Map<?, ?> got = (Map<?, ?>) Json.parse(out.strip());
        System.out.println("SafetensorsTest: python read the file with the " + got.get("reader") + " reader");
        assertEquals(meta, got.get("metadata"));
        Map<?, ?> tensors = (Map<?, ?>) got.get("tensors");
        assertEquals(in.keySet(), tensors.keySet());
        for (var e : in.entrySet()) {
            Map<?, ?> t = (Map<?, ?>) tensors.get(e.getKey());
            List<?> shape = (List<?>) t.get("shape");
            int[] s = shape.stream().mapToInt(o -> ((Number) o).intValue()).toArray();
            assertArrayEquals(e.getValue().shape(), s, e.getKey());
            List<?> values = (List<?>) t.get("values");
            float[] v = new float[values.size()];
            for (int i = 0; i < v.length; i++) v[i] = ((Number) values.get(i)).floatValue();
            assertArrayEquals(e.getValue().toArray(), v, e.getKey() + " (float32 printed by Python as float64 reads back exactly)");
        }
    }

    @Test
    void weReadWhatPythonSafetensorsWrites() throws Exception {
        Path script = dir.resolve("read_safetensors.py");
        try (InputStream in = SafetensorsTest.class.getResourceAsStream("/read_safetensors.py")) {
            Files.copy(in, script);
        }
        Path f = dir.resolve("from-python.safetensors");
        Process p;
        try {
            p = new ProcessBuilder("python3", script.toString(), "--write", f.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("python3 is not installed");
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "python timed out");
        Assumptions.assumeTrue(p.exitValue() != 3, "the Python safetensors package (with numpy) is not installed: "
                + "cannot make a file with the reference writer");
        assertEquals(0, p.exitValue(), "python failed: " + out);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(Map.of("arch", "attn", "epoch", "7"), c.metadata());
        assertArrayEquals(new int[] {2, 3}, c.tensors().get("b.weight").shape());
        assertArrayEquals(new float[] {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f}, c.tensors().get("b.weight").values());
        assertArrayEquals(new float[] {1.0e-3f, -7.25f, 3.0e30f}, c.tensors().get("a.bias").values());
        assertArrayEquals(new int[] {}, c.tensors().get("scalar").shape());
        assertArrayEquals(new float[] {42f}, c.tensors().get("scalar").values());
    }

    // ---- bad files ------------------------------------------------------------------------

    private Path write(String name, byte[] bytes) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, bytes);
        return f;
    }

    private void assertRejected(Path f, String why) {
        IOException e = assertThrows(IOException.class, () -> Safetensors.read(f), why);
        assertTrue(e.getMessage().contains(f.toString()), "message names the file: " + e.getMessage());
        assertTrue(e.getMessage().contains(why), "message says '" + why + "': " + e.getMessage());
    }

    private static final String GOOD = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";

    @Test
    void corruptFilesGiveAnIOExceptionNamingTheFile() throws IOException {
        byte[] good = referenceFile(GOOD, new float[] {1, 2, 3, 4});
        Path ok = write("ok.safetensors", good);
        assertArrayEquals(new float[] {1, 2, 3, 4}, Safetensors.read(ok).tensors().get("w").values());

        assertRejected(write("truncated-data.safetensors", java.util.Arrays.copyOf(good, good.length - 3)), "outside");
        assertRejected(write("truncated-header.safetensors", java.util.Arrays.copyOf(good, 20)), "header length");
        assertRejected(write("tiny.safetensors", new byte[] {1, 2, 3}), "shorter than");

        byte[] huge = good.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 62);
        assertRejected(write("huge-header.safetensors", huge), "header length 4611686018427387904");
        byte[] negative = good.clone();
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putLong(0, -8L);
        assertRejected(write("negative-header.safetensors", negative), "header length");

        assertRejected(write("not-json.safetensors", referenceFile("this is not json at all", new float[4])), "header does not start with '{'");
        assertRejected(write("not-json2.safetensors", referenceFile("{this is not json at all", new float[4])), "not valid JSON");
        assertRejected(write("array.safetensors", referenceFile("[1, 2, 3]", new float[4])), "header does not start with '{'");
        assertRejected(write("offsets.safetensors", referenceFile(GOOD.replace("[0,16]", "[8,24]"), new float[4])), "outside");
        assertRejected(write("offsets-reversed.safetensors", referenceFile(GOOD.replace("[0,16]", "[16,0]"), new float[4])), "outside");
        assertRejected(write("dtype.safetensors", referenceFile(GOOD.replace("F32", "F16"), new float[4])), "tensor \"w\" of dtype F16 and shape [2, 2] needs 8 bytes");
        assertRejected(write("bf16.safetensors", referenceFile(GOOD.replace("F32", "BF16"), new float[4])), "tensor \"w\" of dtype BF16");
        assertRejected(write("f8.safetensors", referenceFile(GOOD.replace("F32", "F8_E4M3"), new float[4])), "tensor \"w\" has dtype F8_E4M3: floats narrower than 16 bits are not supported");
        assertRejected(write("f8e5.safetensors", referenceFile(GOOD.replace("F32", "F8_E5M2"), new float[4])), "tensor \"w\" has dtype F8_E5M2");
        assertRejected(write("unknown-dtype.safetensors", referenceFile(GOOD.replace("F32", "Q4"), new float[4])), "tensor \"w\" has unknown dtype \"Q4\"");
        assertRejected(write("lower-dtype.safetensors", referenceFile(GOOD.replace("F32", "f32"), new float[4])), "tensor \"w\" has unknown dtype \"f32\"");
        assertRejected(write("mismatch.safetensors", referenceFile(GOOD.replace("[2,2]", "[2,3]"), new float[4])), "tensor \"w\" of dtype F32 and shape [2, 3] needs 24 bytes but data_offsets give 16");
        assertRejected(write("mismatch-big.safetensors", referenceFile(GOOD.replace("[2,2]", "[2,3000]"), new float[4])), "larger than");
        assertRejected(write("mismatch2.safetensors", referenceFile(GOOD.replace("[2,2]", "[3]"), new float[4])), "needs 12 bytes");
        assertRejected(write("shape.safetensors", referenceFile(GOOD.replace("[2,2]", "[2,-2]"), new float[4])), "tensor \"w\" has invalid shape");
        assertRejected(write("shape-big.safetensors", referenceFile(GOOD.replace("[2,2]", "[4294967296,4294967296]"), new float[4])), "invalid shape");
        assertRejected(write("no-offsets.safetensors", referenceFile(GOOD.replace("data_offsets", "offsets"), new float[4])), "tensor \"w\" has no valid data_offsets");
        assertRejected(write("offsets-named.safetensors", referenceFile(GOOD.replace("[0,16]", "[8,24]"), new float[4])), "tensor \"w\" data_offsets [8, 24] fall outside");
        assertRejected(write("larger-named.safetensors", referenceFile(GOOD.replace("[2,2]", "[2,3000]"), new float[4])), "tensor \"w\" shape [2, 3000] is larger than");
        // the byte ranges must tile the data, as the reference reader requires: overlapping ranges
        // would let a small file ask for its data many times over
        String two = "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}";
        assertRejected(write("overlap.safetensors", referenceFile(two, new float[4])), "\"b\" data_offsets [0, 16] overlap another tensor's bytes");
        String gap = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}";
        assertRejected(write("gap.safetensors", referenceFile(gap, new float[2])), "leave a gap (expected to start at 0)");
        assertRejected(write("trailing.safetensors", referenceFile(GOOD, new float[5])), "the tensors cover 16 of the 20 data bytes");
        String reversed = "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
        var r = Safetensors.read(write("out-of-order.safetensors", referenceFile(reversed, new float[] {1, 2}))).tensors();
        assertArrayEquals(new float[] {2}, r.get("b").values());   // header order need not be offset order
        assertArrayEquals(new float[] {1}, r.get("a").values());
        assertRejected(write("metadata.safetensors", referenceFile("{\"__metadata__\":{\"epoch\":3}}", new float[0])), "not a string");

        IOException missing = assertThrows(IOException.class, () -> Safetensors.read(dir.resolve("absent.safetensors")));
        assertTrue(missing.getMessage().contains("absent.safetensors"), missing.getMessage());
        IOException folder = assertThrows(IOException.class, () -> Safetensors.read(dir));
        assertTrue(folder.getMessage().contains(dir.toString()), folder.getMessage());
    }

    @Test
    void loadNamesMissingUnexpectedAndMisshapenTensors() throws IOException {
        Path f = dir.resolve("model.safetensors");
        Safetensors.write(f, sample(), Map.of());
        Map<String, Tensor> model = new LinkedHashMap<>();
        model.put("conv1.weight", Tensor.emptyPersistent(Device.CPU, 5, 3, 3, 3)); // wrong shape
        model.put("bn1.running_var", Tensor.emptyPersistent(Device.CPU, 5));
        model.put("fc.weight", Tensor.emptyPersistent(Device.CPU, 2, 13));
        model.put("head.bias", Tensor.emptyPersistent(Device.CPU, 2));            // missing from the file; fc.bias unexpected
        IOException e = assertThrows(IOException.class, () -> Safetensors.load(f, model));
        String m = e.getMessage();
        assertTrue(m.contains(f.toString()), m);
        assertTrue(m.contains("conv1.weight has shape [5, 3, 7, 7] in the file, [5, 3, 3, 3] in the model"), m);
        assertTrue(m.contains("missing head.bias"), m);
        assertTrue(m.contains("unexpected fc.bias"), m);
    }
}
