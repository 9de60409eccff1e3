package org.attnface.trainer.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.Safetensors;

/** Runs the attnface command line in this JVM and captures what it prints. */
final class Cli {
    private Cli() {}

    record Outcome(int exitCode, String out, String err) {
        String all() { return out + err; }
    }

    static synchronized Outcome run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int code;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8); PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            code = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        Outcome r = new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        oldOut.println("$ attnface " + String.join(" ", args) + "\n" + tail(r.all(), 40) + "[exit " + code + "]");
        return r;
    }

    static String tail(String s, int lines) {
        List<String> l = s.lines().toList();
        return String.join("\n", l.subList(Math.max(0, l.size() - lines), l.size())) + "\n";
    }

    static String[] args(Object... parts) {
        List<String> out = new ArrayList<>();
        for (Object p : parts) out.add(p.toString());
        return out.toArray(new String[0]);
    }

    /** The names of tensors whose values differ bit for bit between two checkpoints (empty = identical). */
    static List<String> differingTensors(Path a, Path b) throws IOException {
        Map<String, Safetensors.Entry> x = Safetensors.read(a).tensors(), y = Safetensors.read(b).tensors();
        List<String> diff = new ArrayList<>();
        if (!x.keySet().equals(y.keySet())) diff.add("names differ: " + x.keySet() + " vs " + y.keySet());
        for (String k : x.keySet()) {
            Safetensors.Entry ey = y.get(k);
            if (ey == null) continue;
            float[] va = x.get(k).values(), vb = ey.values();
            boolean same = va.length == vb.length;
            for (int i = 0; same && i < va.length; i++) same = Float.floatToRawIntBits(va[i]) == Float.floatToRawIntBits(vb[i]);
            if (!same) diff.add(k);
        }
        return diff;
    }

    static String[] concat(String[] a, String... b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
