package org.attnface.engine.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.io.Safetensors.Dtype;
import org.attnface.engine.io.Safetensors.Entry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #32: every dtype PyTorch writes but the 8-bit floats is read, exactly as stored, and
 * written back byte for byte (NaN payloads too); the header is decoded as strictly as the
 * reference reader (UTF-8 without lone surrogates, '{' first, at most 100,000,000 bytes).
 */
class SafetensorsDtypeTest {
    @TempDir Path dir;

    /** A file of raw little-endian tensors, laid out as the reference writer does. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h).put(data).array();
    }

    static byte[] file(byte[] header, byte[] data) {
        return ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header).put(data).array();
    }

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

    private static ByteBuffer le(int n) { return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN); }

    @Test
    void everyDtypeReadsAsStoredAndConvertsToFloat() throws IOException {
        // One tensor of each dtype with edge values; header in offset order.
        Map<String, byte[]> data = new LinkedHashMap<>();
        Map<String, Dtype> dtypes = new LinkedHashMap<>();
        data.put("bool", new byte[] {0, 1, 1});                                                   dtypes.put("bool", Dtype.BOOL);
        data.put("u8", new byte[] {0, (byte) 255, 7});                                            dtypes.put("u8", Dtype.U8);
        data.put("i8", new byte[] {-128, 127, -1});                                               dtypes.put("i8", Dtype.I8);
        data.put("i16", le(6).putShort((short) -32768).putShort((short) 32767).putShort((short) -2).array());   dtypes.put("i16", Dtype.I16);
        data.put("u16", le(6).putShort((short) 0xFFFF).putShort((short) 1).putShort((short) 0).array());       dtypes.put("u16", Dtype.U16);
        data.put("i32", le(12).putInt(Integer.MIN_VALUE).putInt(Integer.MAX_VALUE).putInt(-3).array());        dtypes.put("i32", Dtype.I32);
        data.put("u32", le(12).putInt(-1).putInt(5).putInt(0).array());                                        dtypes.put("u32", Dtype.U32);
        data.put("i64", le(24).putLong(Long.MIN_VALUE).putLong((1L << 53) + 1).putLong(12345).array());        dtypes.put("i64", Dtype.I64);
        data.put("u64", le(24).putLong(-1L).putLong(2).putLong(0).array());                                    dtypes.put("u64", Dtype.U64);
        // F16: 1.0, -2.0, 65504 (largest), 2^-24 (smallest subnormal); BF16: 1.0, -3.0, 1e38ish
        data.put("f16", le(8).putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x7BFF).putShort((short) 0x0001).array());
        dtypes.put("f16", Dtype.F16);
        data.put("bf16", le(6).putShort((short) 0x3F80).putShort((short) 0xC040).putShort((short) 0x7F00).array());   dtypes.put("bf16", Dtype.BF16);
        data.put("f32", le(8).putFloat(-1.5f).putFloat(Float.MIN_VALUE).array());                               dtypes.put("f32", Dtype.F32);
        data.put("f64", le(16).putDouble(0.1).putDouble(-1e300).array());                                       dtypes.put("f64", Dtype.F64);

        StringBuilder h = new StringBuilder("{");
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (var e : data.entrySet()) {
            Dtype d = dtypes.get(e.getKey());
            int n = e.getValue().length / d.bytes;
            h.append(h.length() > 1 ? "," : "").append('"').append(e.getKey()).append("\":{\"dtype\":\"").append(d)
                    .append("\",\"shape\":[").append(n).append("],\"data_offsets\":[").append(all.size()).append(',').append(all.size() + e.getValue().length).append("]}");
            all.writeBytes(e.getValue());
        }
        h.append('}');
        Path f = write("dtypes.safetensors", file(h.toString(), all.toByteArray()));
        Map<String, Entry> t = Safetensors.read(f).tensors();
        for (var e : data.entrySet()) {
            assertEquals(dtypes.get(e.getKey()), t.get(e.getKey()).dtype(), e.getKey());
            assertArrayEquals(e.getValue(), t.get(e.getKey()).data(), e.getKey() + ": the bytes as stored");
        }
        assertArrayEquals(new long[] {0, 1, 1}, t.get("bool").longs());
        assertArrayEquals(new long[] {0, 255, 7}, t.get("u8").longs());
        assertArrayEquals(new long[] {-128, 127, -1}, t.get("i8").longs());
        assertArrayEquals(new long[] {-32768, 32767, -2}, t.get("i16").longs());
        assertArrayEquals(new long[] {65535, 1, 0}, t.get("u16").longs());
        assertArrayEquals(new long[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -3}, t.get("i32").longs());
        assertArrayEquals(new long[] {4294967295L, 5, 0}, t.get("u32").longs());
        assertArrayEquals(new long[] {Long.MIN_VALUE, (1L << 53) + 1, 12345}, t.get("i64").longs(), "I64 exact, past float's and double's 2^53");
        assertArrayEquals(new long[] {-1L, 2, 0}, t.get("u64").longs(), "U64 as its 64 bits");
        assertArrayEquals(new float[] {0, 1, 1}, t.get("bool").values());
        assertArrayEquals(new float[] {-128, 127, -1}, t.get("i8").values());
        assertArrayEquals(new float[] {4294967295f, 5, 0}, t.get("u32").values());
        assertArrayEquals(new float[] {1.8446744e19f, 2, 0}, t.get("u64").values());
        assertArrayEquals(new float[] {-9.223372e18f, 9.0071993e15f, 12345}, t.get("i64").values());
        assertArrayEquals(new float[] {1f, -2f, 65504f, 0x1p-24f}, t.get("f16").values(), 0f);
        assertArrayEquals(new float[] {1f, -3f, 0x1p127f}, t.get("bf16").values(), 0f);
        assertArrayEquals(new float[] {-1.5f, Float.MIN_VALUE}, t.get("f32").values(), 0f);
        assertArrayEquals(new float[] {0.1f, Float.NEGATIVE_INFINITY}, t.get("f64").values(), 0f, "F64 rounded to the nearest float");
        assertThrows(IllegalStateException.class, () -> t.get("f32").longs());

        // written back: the same file, byte for byte (our writer pads as the reference does, so write twice to compare)
        Path back = dir.resolve("back.safetensors");
        Safetensors.writeEntries(back, t, Map.of());
        Map<String, Entry> again = Safetensors.read(back).tensors();
        for (var e : t.entrySet()) {
            assertEquals(e.getValue().dtype(), again.get(e.getKey()).dtype());
            assertArrayEquals(e.getValue().shape(), again.get(e.getKey()).shape());
            assertArrayEquals(e.getValue().data(), again.get(e.getKey()).data(), e.getKey());
        }
        Path back2 = dir.resolve("back2.safetensors");
        Safetensors.writeEntries(back2, again, Map.of());
        assertArrayEquals(Files.readAllBytes(back), Files.readAllBytes(back2));
    }

    @Test
    void roundTripOfEveryDtypeKeepsEveryBitIncludingNaNPayloads() throws IOException {
        Random r = new Random(32);
        Map<String, Entry> in = new LinkedHashMap<>();
        for (Dtype d : Dtype.values()) {
            int[] shape = {2, 3, 5};
            byte[] b = new byte[30 * d.bytes];
            r.nextBytes(b);                       // random bits: for float types many NaNs with payloads, subnormals, infinities
            if (d == Dtype.BOOL) for (int i = 0; i < b.length; i++) b[i] &= 1;
            in.put("t." + d, new Entry(d, shape, b));
        }
        // and NaNs with chosen payloads, signalling and quiet, both signs
        in.put("nan.f32", new Entry(Dtype.F32, new int[] {4}, le(16).putInt(0x7F800001).putInt(0xFFC00123).putInt(0x7FBFFFFF).putInt(0x7FC00000).array()));
        in.put("nan.f16", new Entry(Dtype.F16, new int[] {2}, le(4).putShort((short) 0x7C01).putShort((short) 0xFE7F).array()));
        in.put("nan.bf16", new Entry(Dtype.BF16, new int[] {2}, le(4).putShort((short) 0x7F81).putShort((short) 0xFFC1).array()));
        in.put("nan.f64", new Entry(Dtype.F64, new int[] {2}, le(16).putLong(0x7FF0000000000001L).putLong(0xFFF8000000000ABCL).array()));
        in.put("empty", new Entry(Dtype.I64, new int[] {0, 4}, new byte[0]));
        in.put("scalar", Entry.i64(new int[] {}, new long[] {7}));
        Map<String, String> meta = Map.of("format", "pt", "note", "é ✓ 🙂");
        Path f = dir.resolve("all.safetensors");
        Safetensors.writeEntries(f, in, meta);
        Safetensors.Contents c = Safetensors.read(f);
        assertEquals(meta, c.metadata());
        assertEquals(in.keySet(), c.tensors().keySet());
        for (var e : in.entrySet()) {
            Entry got = c.tensors().get(e.getKey());
            assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
            assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
            assertArrayEquals(e.getValue().data(), got.data(), e.getKey() + ": every bit");
        }
        // F32 through float[] keeps NaN payloads as well (what checkpoints use)
        float[] nan = c.tensors().get("nan.f32").values();
        assertEquals(0x7F800001, Float.floatToRawIntBits(nan[0]));
        assertEquals(0xFFC00123, Float.floatToRawIntBits(nan[1]));
        assertArrayEquals(c.tensors().get("nan.f32").data(), Entry.f32(new int[] {4}, nan).data());
        Path g = dir.resolve("again.safetensors");
        Safetensors.writeEntries(g, c.tensors(), c.metadata());
        assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(g), "what was read is written back unchanged");
    }

    @Test
    void loadConvertsToFloatAndIgnoresPyTorchBatchCounters() throws IOException {
        Map<String, Entry> in = new LinkedHashMap<>();
        in.put("bn.weight", new Entry(Dtype.F16, new int[] {2}, le(4).putShort((short) 0x3C00).putShort((short) 0x3800).array()));
        in.put("bn.running_mean", new Entry(Dtype.F64, new int[] {2}, le(16).putDouble(0.25).putDouble(-4).array()));
        in.put("bn.num_batches_tracked", Entry.i64(new int[] {}, new long[] {1234}));
        Path f = dir.resolve("bn.safetensors");
        Safetensors.writeEntries(f, in, Map.of());
        Map<String, Tensor> model = new LinkedHashMap<>();
        model.put("bn.weight", Tensor.emptyPersistent(Device.CPU, 2));
        model.put("bn.running_mean", Tensor.emptyPersistent(Device.CPU, 2));
        Safetensors.load(f, model);
        assertArrayEquals(new float[] {1f, 0.5f}, model.get("bn.weight").toArray());
        assertArrayEquals(new float[] {0.25f, -4f}, model.get("bn.running_mean").toArray());
        assertEquals(1234, Safetensors.read(f).tensors().get("bn.num_batches_tracked").longs()[0]);
        // a float tensor under that name is not a counter
        in.put("bn.num_batches_tracked", Entry.f32(new int[] {}, new float[] {1}));
        Safetensors.writeEntries(f, in, Map.of());
        IOException e = assertThrows(IOException.class, () -> Safetensors.load(f, model));
        assertTrue(e.getMessage().contains("unexpected bn.num_batches_tracked"), e.getMessage());
    }

    private static final String GOOD = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @Test
    void headerIsDecodedAsStrictlyAsTheReferenceReader() throws IOException {
        byte[] data = new byte[8];
        assertEquals(1, Safetensors.read(write("ok.safetensors", file(GOOD + "   ", data))).tensors().size(), "trailing spaces pad the header");
        assertRejected(write("leading-space.safetensors", file(" " + GOOD, data)), "header does not start with '{' (byte 0x20)");
        assertRejected(write("leading-newline.safetensors", file("\n" + GOOD, data)), "header does not start with '{' (byte 0x0A)");
        assertRejected(write("bom.safetensors", file("\uFEFF" + GOOD, data)), "header does not start with '{' (byte 0xEF)");
        byte[] h = GOOD.getBytes(StandardCharsets.UTF_8);
        for (byte[] bad : new byte[][] {{(byte) 0xC3, 0x28}, {(byte) 0xFF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, {(byte) 0xC0, (byte) 0xAF},
                {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}}) {
            // inside the tensor's name: "w" becomes "w<bad>"
            byte[] hb = new byte[h.length + bad.length];
            System.arraycopy(h, 0, hb, 0, 3);
            System.arraycopy(bad, 0, hb, 3, bad.length);
            System.arraycopy(h, 3, hb, 3 + bad.length, h.length - 3);
            assertRejected(write("utf8.safetensors", file(hb, data)), "header is not valid UTF-8 (at byte 11 of the file)");
        }
        assertRejected(write("lone-high.safetensors", file(GOOD.replace("\"w\"", "\"w\\ud800\""), data)), "lone surrogate (an escaped \\uD800");
        assertRejected(write("lone-low.safetensors", file(GOOD.replace("\"w\"", "\"\\udc00w\""), data)), "lone surrogate (an escaped \\uDC00");
        assertRejected(write("lone-meta.safetensors", file("{\"__metadata__\":{\"k\":\"\\ud83d\"}," + GOOD.substring(1), data)), "lone surrogate");
        assertRejected(write("u2028.safetensors", file(GOOD.replace(",\"shape\"", ",\u2028\"shape\""), data)), "not valid JSON");
        assertRejected(write("plus.safetensors", file(GOOD.replace("[2]", "[+2]"), data)), "bad number '+2'");
        assertRejected(write("zero-lead.safetensors", file(GOOD.replace("[2]", "[02]"), data)), "bad number '02'");
        assertRejected(write("dot.safetensors", file(GOOD.replace("[0,8]", "[0,8.]"), data)), "bad number '8.'");
        assertEquals(1, Safetensors.read(write("ws.safetensors", file(GOOD.replace(",", " ,\t\r\n "), data))).tensors().size(), "JSON whitespace between tokens");
        Safetensors.Contents pair = Safetensors.read(write("pair.safetensors", file(GOOD.replace("\"w\"", "\"w\\ud83d\\ude42\""), data)));
        assertTrue(pair.tensors().containsKey("w\uD83D\uDE42"), "an escaped surrogate pair is one character");
    }

    @Test
    void headerOfMoreThanOneHundredMillionBytesIsRefusedBeforeItIsRead() throws IOException {
        Path f = dir.resolve("big-header.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8 + 100_000_001L + 8);   // sparse: the header is never read
            raf.write(le(8).putLong(100_000_001L).array());
        }
        assertRejected(f, "header length 100000001 is above the format's limit of 100000000 bytes");
    }
}
