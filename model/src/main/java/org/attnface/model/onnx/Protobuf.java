package org.attnface.model.onnx;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The protocol-buffers wire format, write side only, the four field kinds ONNX needs: varint
 * (wire type 0), 64-bit (1, unused), length-delimited (2: strings, bytes, nested messages,
 * packed repeated ints) and 32-bit (5: float). Enough for onnx.proto without a protobuf
 * dependency; nested messages are written into their own Protobuf and embedded by length.
 */
final class Protobuf {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Protobuf varint(int field, long v) {
        tag(field, 0);
        rawVarint(v);
        return this;
    }

    Protobuf float32(int field, float v) {
        tag(field, 5);
        int bits = Float.floatToRawIntBits(v);
        for (int i = 0; i < 4; i++) out.write(bits >>> (8 * i));
        return this;
    }

    Protobuf string(int field, String s) {
        return bytes(field, s.getBytes(StandardCharsets.UTF_8));
    }

    Protobuf bytes(int field, byte[] b) {
        tag(field, 2);
        rawVarint(b.length);
        out.writeBytes(b);
        return this;
    }

    Protobuf message(int field, Protobuf m) {
        return bytes(field, m.toByteArray());
    }

    /** A packed repeated int64/int32 field (proto3's default encoding for repeated scalars). */
    Protobuf packed(int field, long... values) {
        Protobuf p = new Protobuf();
        for (long v : values) p.rawVarint(v);
        return bytes(field, p.toByteArray());
    }

    /** Floats as little-endian bytes: TensorProto.raw_data's layout. */
    static byte[] littleEndian(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    byte[] toByteArray() { return out.toByteArray(); }

    private void tag(int field, int wireType) {
        rawVarint(((long) field << 3) | wireType);
    }

    /** Base-128, least significant group first; negative int64 values take all 10 bytes, as protobuf writes them. */
    private void rawVarint(long v) {
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
