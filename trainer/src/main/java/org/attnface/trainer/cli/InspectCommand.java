package org.attnface.trainer.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
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
        Safetensors.Contents c = Safetensors.read(file);
        PrintStream out = System.out;
        long bytes = 0, elements = 0;
        for (Safetensors.Entry e : c.tensors().values()) {
            bytes += e.data().length;
            elements += e.numel();
        }
        out.printf(Locale.ROOT, "%s: safetensors, %d tensors, %,d elements, %,d data bytes, file %,d bytes%n",
                file, c.tensors().size(), elements, bytes, Files.size(file));
        out.println();
        out.println("metadata (" + c.metadata().size() + (c.metadata().size() == 1 ? " key)" : " keys)") + (c.metadata().isEmpty() ? ": none" : ":"));
        for (Map.Entry<String, String> m : c.metadata().entrySet()) {
            String v = m.getValue().replace("\n", "\\n");
            out.println("  " + m.getKey() + " = " + (v.length() > SHOWN_CHARS ? v.substring(0, SHOWN_CHARS) + "... (" + v.length() + " characters)" : v));
        }
        out.println();
        int nameWidth = 4;
        for (String n : c.tensors().keySet()) nameWidth = Math.min(60, Math.max(nameWidth, n.length()));
        out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-5s  %-18s  %12s  %s%n", "name", "dtype", "shape", "bytes", "min / max / mean");
        for (Map.Entry<String, Safetensors.Entry> t : c.tensors().entrySet()) {
            Safetensors.Entry e = t.getValue();
            out.printf(Locale.ROOT, "%-" + nameWidth + "s  %-5s  %-18s  %,12d  %s%n", t.getKey(), e.dtype(), Arrays.toString(e.shape()), e.data().length, stats(e));
        }
        checkpoint(c, out);
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

    private void checkpoint(Safetensors.Contents c, PrintStream out) {
        out.println();
        if (!Checkpoint.FORMAT.equals(c.metadata().get("format"))) {
            out.println("not an attnface checkpoint (its metadata has no \"format\": \"" + Checkpoint.FORMAT + "\")"
                    + (c.metadata().keySet().stream().anyMatch(k -> k.startsWith("model.")) ? "; it has model.* keys: an attnface state dict" : ""));
            return;
        }
        Checkpoint.Loaded loaded = new Checkpoint.Loaded(file, c);
        ModelConfig mc = loaded.modelConfig();
        out.println("attnface checkpoint (" + Checkpoint.FORMAT + ")");
        out.printf(Locale.ROOT, "  model: %s, %dx%d input%s%s, attention %s, gender %s the age head, dropout %s%s%n", mc.arch(), mc.imageSize(), mc.imageSize(),
                mc.arch().equals("attn") ? "" : ", ResNet-" + mc.resnetDepth() + " width " + mc.resnetWidth(),
                mc.arch().equals("resnet") ? "" : ", attn width " + mc.attnWidth(),
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
