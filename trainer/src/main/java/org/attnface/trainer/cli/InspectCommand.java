package org.attnface.trainer.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.attnface.engine.io.Json;
import org.attnface.engine.io.Safetensors;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.data.ImageFiles;
import org.attnface.trainer.train.Checkpoint;
import org.attnface.trainer.train.TrainConfig;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * What a safetensors file holds, before anyone trusts it: every tensor (name, dtype, shape,
 * bytes; min, max and mean of float tensors, min and max of integer ones), the metadata, and
 * for an attnface checkpoint its model, age buckets, training position and training config.
 * The file is read with the same strict reader as a checkpoint, so an invalid one is exit 1
 * with the reason.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Lists the tensors and metadata of a safetensors file (any: PyTorch, Hugging Face, attnface),",
                "and for an attnface checkpoint its model, age buckets and training config; exit 1 with the reason for an invalid file."})
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "a .safetensors file")
    Path file;

    /** Metadata values longer than this are cut in the listing (train_config is shown in full below it). */
    static final int SHOWN_CHARS = 160;

    @Override public Integer call() throws Exception {
        String notAFile = ImageFiles.whyNotAFile(file);
        if (notAFile != null) throw new IllegalArgumentException(file + " " + notAFile);
        // One tensor in memory at a time: a file larger than the heap is still listed.
        Map<String, String[]> rows = new LinkedHashMap<>();
        long[] totals = new long[2];   // data bytes, elements
        Map<String, String> metadata = Safetensors.forEach(file, (name, e) -> {
            rows.put(name, new String[] {e.dtype().name(), Arrays.toString(e.shape()), String.format(Locale.ROOT, "%,d", e.data().length), stats(e)});
            totals[0] += e.data().length;
            totals[1] += e.numel();
        });
        PrintStream out = System.out;
        out.printf(Locale.ROOT, "%s: safetensors, %d tensors, %,d elements, %,d data bytes, file %,d bytes%n",
                file, rows.size(), totals[1], totals[0], Files.size(file));
        out.println();
        out.println("metadata (" + metadata.size() + (metadata.size() == 1 ? " key)" : " keys)") + (metadata.isEmpty() ? ": none" : ":"));
        for (Map.Entry<String, String> m : metadata.entrySet()) {
            String v = m.getValue().replace("\n", "\\n");
            out.println("  " + m.getKey() + " = " + (v.length() > SHOWN_CHARS ? v.substring(0, SHOWN_CHARS) + "... (" + v.length() + " characters)" : v));
        }
        out.println();
        int nameWidth = 4;
        for (String n : rows.keySet()) nameWidth = Math.min(60, Math.max(nameWidth, n.length()));
        out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-5s  %-18s  %12s  %s%n", "name", "dtype", "shape", "bytes", "min / max / mean");
        for (Map.Entry<String, String[]> r : rows.entrySet())
            out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-5s  %-18s  %12s  %s%n", r.getKey(), r.getValue()[0], r.getValue()[1], r.getValue()[2], r.getValue()[3]);
        checkpoint(metadata, out);
        return 0;
    }

    /** min / max / mean of a float tensor (finite values; NaN and Inf counted), min / max of an integer one. */
    static String stats(Safetensors.Entry e) {
        if (e.numel() == 0) return "(empty)";
        if (!e.dtype().isFloat()) {
            long[] v = e.longs();
            long min = Long.MAX_VALUE, max = Long.MIN_VALUE;
            for (long x : v) {
                min = Math.min(min, x);
                max = Math.max(max, x);
            }
            return v.length == 1 ? "value " + min : min + " / " + max;
        }
        float[] v = e.values();   // exact for F16, BF16, F32; F64 rounded, which a summary can afford
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY, sum = 0;
        int finite = 0, nan = 0, inf = 0;
        for (float x : v) {
            if (Float.isNaN(x)) nan++;
            else if (Float.isInfinite(x)) inf++;
            else {
                finite++;
                min = Math.min(min, x);
                max = Math.max(max, x);
                sum += x;
            }
        }
        String s = finite == 0 ? "no finite values" : String.format(Locale.ROOT, "%.5g / %.5g / %.5g", min, max, sum / finite);
        if (nan > 0) s += "; " + nan + " NaN";
        if (inf > 0) s += "; " + inf + " Inf";
        return s;
    }

    private void checkpoint(Map<String, String> metadata, PrintStream out) {
        out.println();
        if (!Checkpoint.FORMAT.equals(metadata.get("format"))) {
            out.println("not an attnface checkpoint (its metadata has no \"format\": \"" + Checkpoint.FORMAT + "\")"
                    + (metadata.keySet().stream().anyMatch(k -> k.startsWith("model.")) ? "; it has model.* keys: an attnface state dict" : ""));
            return;
        }
        Checkpoint.Loaded loaded = new Checkpoint.Loaded(file, new Safetensors.Contents(Map.of(), metadata));   // the metadata is all it reads
        ModelConfig mc = loaded.modelConfig();
        out.println("attnface checkpoint (" + Checkpoint.FORMAT + ")");
        out.printf(Locale.ROOT, "  model: %s, %dx%d input%s%s, attention %s, gender %s the age head, dropout %s%s%n", mc.arch(), mc.imageSize(), mc.imageSize(),
                !mc.arch().hasResnet() ? "" : ", ResNet-" + mc.resnetDepth() + " width " + mc.resnetWidth(),
                !mc.arch().hasAttn() ? "" : ", attn width " + mc.attnWidth(),
                mc.attention() ? "on" : "off", mc.feedGender() ? (mc.detachGender() ? "fed (detached) to" : "fed to") : "not fed to",
                mc.dropout(), mc.auxHeads() ? ", race and 5-year age heads" : "");
        StringBuilder labels = new StringBuilder();
        for (int b = 0; b < mc.buckets().count(); b++) labels.append(b == 0 ? "" : ", ").append(mc.buckets().label(b));
        out.println("  age buckets (" + mc.buckets().count() + "): " + labels);
        Checkpoint.State s = loaded.state();
        out.printf(Locale.ROOT, "  training: step %d, %d epochs done, best validation metric %.4f at epoch %d%n", s.step(), s.epochsDone(), s.bestMetric(), s.bestEpoch());
        TrainConfig tc = loaded.trainConfig();
        if (tc == null) {
            out.println("  training config: none in the metadata");
            return;
        }
        out.println("  training config:");
        if (Json.parse(tc.toJson()) instanceof Map<?, ?> m)
            for (Map.Entry<?, ?> e : m.entrySet()) {
                // float fields travel as doubles: show the float they hold (0.01, not 0.009999999776482582)
                Object v = e.getValue() instanceof Double d && (double) (float) (double) d == d ? (Object) (float) (double) d : e.getValue();
                out.println("    " + e.getKey() + ": " + Json.shown(v));
            }
    }
}
