package org.attnface.model.onnx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An ONNX graph being built: inputs, weights (initializers), nodes in topological order and
 * outputs, serialised by {@link #toModel} into a ModelProto (field numbers from onnx.proto).
 * Every node has one output, named by the caller ("attn.conv1"), so the graph reads like the
 * Java forward it mirrors.
 */
final class OnnxGraph {
    static final int FLOAT = 1, INT64 = 7;   // TensorProto.DataType

    /** One node attribute; {@code type} is AttributeProto.AttributeType. */
    record Attr(String name, int type, Object value) {
        static Attr i(String name, long v) { return new Attr(name, 2, v); }
        static Attr f(String name, float v) { return new Attr(name, 1, v); }
        static Attr s(String name, String v) { return new Attr(name, 3, v); }
        static Attr ints(String name, long... v) { return new Attr(name, 7, v); }

        Protobuf proto() {
            Protobuf p = new Protobuf().string(1, name).varint(20, type);
            switch (type) {
                case 1 -> p.float32(2, (Float) value);
                case 2 -> p.varint(3, (Long) value);
                case 3 -> p.string(4, (String) value);
                case 7 -> p.packed(8, (long[]) value);
                default -> throw new IllegalStateException("attribute type " + type);
            }
            return p;
        }
    }

    private final String name;
    private final List<Protobuf> inputs = new ArrayList<>(), outputs = new ArrayList<>(), initializers = new ArrayList<>(),
            nodes = new ArrayList<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final java.util.Set<String> names = new java.util.HashSet<>();

    OnnxGraph(String name) {
        this.name = name;
    }

    /** A float graph input; each dim is an Integer (fixed) or a String (a named, free dimension such as the batch). */
    String input(String name, Object... dims) {
        inputs.add(valueInfo(fresh(name), FLOAT, dims));
        return name;
    }

    /** Marks value {@code name} (a node's output) as a float graph output of the given dims. */
    void output(String name, Object... dims) {
        if (!names.contains(name)) throw new IllegalArgumentException("no value '" + name + "' in the graph");
        outputs.add(valueInfo(name, FLOAT, dims));
    }

    /** A float initializer of the given shape, row-major. */
    String weight(String name, float[] values, long... dims) {
        long n = 1;
        for (long d : dims) n *= d;
        if (n != values.length) throw new IllegalArgumentException("weight " + name + ": " + values.length + " values for shape " + java.util.Arrays.toString(dims));
        initializers.add(new Protobuf().packed(1, dims).varint(2, FLOAT).string(8, fresh(name)).bytes(9, Protobuf.littleEndian(values)));
        return name;
    }

    /** A 1-D int64 initializer (shapes, sizes). */
    String int64s(String name, long... values) {
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) b.putLong(v);
        initializers.add(new Protobuf().packed(1, values.length).varint(2, INT64).string(8, fresh(name)).bytes(9, b.array()));
        return name;
    }

    /** Adds node {@code op}(inputs) with one output named {@code out}; returns {@code out}. */
    String node(String out, String op, List<String> in, Attr... attrs) {
        for (String i : in)
            if (!names.contains(i)) throw new IllegalArgumentException(op + " " + out + ": input '" + i + "' is not defined yet");
        Protobuf p = new Protobuf();
        for (String i : in) p.string(1, i);
        p.string(2, fresh(out)).string(3, out).string(4, op);
        for (Attr a : attrs) p.message(5, a.proto());
        nodes.add(p);
        return out;
    }

    void metadata(String key, String value) { metadata.put(key, value); }

    /** The ModelProto: IR version, one opset of the default domain, this graph, the metadata. */
    byte[] toModel(long irVersion, long opset, String producer, String producerVersion, String doc) {
        Protobuf g = new Protobuf();
        for (Protobuf n : nodes) g.message(1, n);
        g.string(2, name);
        for (Protobuf t : initializers) g.message(5, t);
        if (doc != null) g.string(10, doc);
        for (Protobuf i : inputs) g.message(11, i);
        for (Protobuf o : outputs) g.message(12, o);
        Protobuf m = new Protobuf().varint(1, irVersion).string(2, producer).string(3, producerVersion)
                .message(7, g).message(8, new Protobuf().string(1, "").varint(2, opset));
        for (var e : metadata.entrySet()) m.message(14, new Protobuf().string(1, e.getKey()).string(2, e.getValue()));
        return m.toByteArray();
    }

    private String fresh(String n) {
        if (!names.add(n)) throw new IllegalArgumentException("value '" + n + "' is defined twice in the graph");
        return n;
    }

    private static Protobuf valueInfo(String name, int elemType, Object... dims) {
        Protobuf shape = new Protobuf();
        for (Object d : dims) {
            Protobuf dim = d instanceof String s ? new Protobuf().string(2, s) : new Protobuf().varint(1, ((Number) d).longValue());
            shape.message(1, dim);
        }
        Protobuf tensor = new Protobuf().varint(1, elemType).message(2, shape);
        return new Protobuf().string(1, name).message(2, new Protobuf().message(1, tensor));
    }
}
