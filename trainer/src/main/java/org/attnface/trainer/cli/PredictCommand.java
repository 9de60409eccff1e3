package org.attnface.trainer.cli;

import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.io.Json;
import org.attnface.model.Prediction;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.ImageFiles;
import org.attnface.trainer.data.UnusableImageException;
import org.attnface.trainer.metrics.AgeEstimate;
import org.attnface.trainer.metrics.AgeRule;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.ThreadsOption;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "predict", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Predicts gender, age bucket and age in years for a face crop or a folder of them (any size: centre-cropped",
                "square, resized as in training). The age is the bucket distribution's expected age (as eval's MAE), with the",
                "10th-90th percentile of that distribution as an 80% interval. CSV or JSON on stdout or --out; unreadable files",
                "get one line on stderr."})
public final class PredictCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "IMAGE_OR_DIR", description = "an image file or a folder of them")
    Path input;

    @Option(names = "--checkpoint", required = true, description = "a .safetensors checkpoint written by train")
    Path checkpoint;

    @Option(names = "--model", description = "refuse the checkpoint unless it is this model (attn, resnet, ensemble)")
    String expectArch;

    @Option(names = "--buckets", description = "refuse the checkpoint unless it uses these age buckets (e.g. 0,10,20,30,40,50,60,70)")
    String expectBuckets;

    @Option(names = "--mirror", description = "average each image's probabilities with its mirror image's (as eval --mirror)")
    boolean mirror;

    @Option(names = "--attn-weight", defaultValue = "0.5", description = "ensemble only: the attn network's weight (as eval --attn-weight; default: ${DEFAULT-VALUE})")
    float attnWeight;

    @Option(names = "--age-rule", defaultValue = "argmax", description = "argmax or median: how the age bucket is picked from its"
            + " distribution (as eval --age-rule; default: ${DEFAULT-VALUE})")
    String ageRule;

    @Option(names = "--top-k", defaultValue = "0", description = "also list the K likeliest age buckets with their probabilities"
            + " (CSV: \"20-29:0.412 30-39:0.231\"; default: none)")
    int topK;

    @Option(names = "--format", defaultValue = "csv", description = "csv or json (default: ${DEFAULT-VALUE})")
    String format;

    @Option(names = "--out", description = "write here instead of stdout")
    Path out;

    @Mixin DeviceOption device;

    @Mixin ThreadsOption threads;

    @Override public Integer call() throws Exception {
        if (!format.equals("csv") && !format.equals("json")) throw new IllegalArgumentException("--format must be csv or json, not '" + format + "'");
        AgeRule rule = AgeRule.parse(ageRule);
        if (topK < 0) throw new IllegalArgumentException("--top-k must be >= 0, not " + topK);
        Device d = device.open(threads.orDefault(), System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        if (!Files.exists(input)) throw new java.nio.file.NoSuchFileException(input.toString(), null, "no such image or folder");
        if (Files.isDirectory(input) && ImageFiles.namedLikeAnImage(input))
            throw new IllegalArgumentException(input + " is a folder named like an image: name the image itself, or a folder (one not named like an image) to predict every image in it");
        if (!Files.isDirectory(input) && ImageFiles.whyNotAFile(input) != null) throw new IllegalArgumentException(input + " " + ImageFiles.whyNotAFile(input));
        List<Path> files = new ArrayList<>();
        if (Files.isDirectory(input)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(input)) {
                for (Path p : ds) if (Files.isRegularFile(p) && !p.getFileName().toString().startsWith(".")) files.add(p);
            }
            files.sort(null);
            if (files.isEmpty()) throw new IllegalArgumentException("folder " + input + " holds no files");
        } else {
            files.add(input);
        }
        Inference inf = Inference.load(checkpoint, d, expectArch, expectBuckets);
        inf.setAttnWeight(attnWeight);
        var buckets = inf.config().buckets();
        List<Map<String, Object>> rows = new ArrayList<>();
        int skipped = 0;
        try (var ng = Autograd.noGrad()) {
            for (Path f : files) {
                FaceSet one;
                try {
                    one = inf.image(f);
                } catch (UnusableImageException e) {
                    System.err.println("skip " + f + ": " + e.getMessage());
                    skipped++;
                    continue;
                }
                for (String note : one.report()) System.err.println("note " + f + ": " + note);
                try (Batches b = new Batches(one, d, inf.config().imageSize(), buckets); TensorScope s = TensorScope.open()) {
                    Tensor x = b.images(new int[] {0}, false, 0);
                    Prediction p = mirror ? inf.model().predictMirrored(x) : inf.model().predict(x);
                    float[] g = p.genderProbs().toArray(), a = p.ageProbs().toArray();
                    int gi = g[1] > g[0] ? 1 : 0, ai = rule.pick(a, 0, a.length);
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("file", f.toString());
                    row.put("gender", gi == 1 ? "female" : "male");
                    row.put("gender_probability", (double) g[gi]);
                    row.put("age_bucket", buckets.label(ai));
                    row.put("age_bucket_probability", (double) a[ai]);
                    AgeEstimate age = AgeEstimate.of(a, 0, buckets);
                    row.put("age_years", age.years());
                    row.put("age_low", age.low());
                    row.put("age_high", age.high());
                    if (topK > 0) row.put("top_buckets", topBuckets(a, buckets, topK));
                    rows.add(row);
                }
            }
        }
        try (PrintStream ps = out == null ? new PrintStream(System.out, true) {
            @Override public void close() { flush(); }
        } : new PrintStream(Files.newOutputStream(out), true, java.nio.charset.StandardCharsets.UTF_8)) {
            if (format.equals("json")) {
                ps.println(Json.write(rows));
            } else {
                ps.println("file,gender,gender_probability,age_bucket,age_bucket_probability,age_years,age_low,age_high" + (topK > 0 ? ",top_buckets" : ""));
                for (Map<String, Object> r : rows)
                    ps.printf(Locale.ROOT, "%s,%s,%.4f,%s,%.4f,%.1f,%.1f,%.1f%s%n", csv((String) r.get("file")), r.get("gender"), (Double) r.get("gender_probability"),
                            r.get("age_bucket"), (Double) r.get("age_bucket_probability"), (Double) r.get("age_years"), (Double) r.get("age_low"),
                            (Double) r.get("age_high"), topK > 0 ? "," + topBucketsCsv(r) : "");
            }
        }
        if (files.size() > 1 || skipped > 0) System.err.printf(Locale.ROOT, "predicted %d images, skipped %d%n", rows.size(), skipped);
        return rows.isEmpty() ? Main.EXIT_BAD_INPUT : 0;
    }

    /** The k likeliest buckets, likeliest first (ties: the lower bucket first), as {bucket, probability} objects. */
    static List<Map<String, Object>> topBuckets(float[] a, org.attnface.model.AgeBuckets buckets, int k) {
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < a.length; b++) order.add(b);
        order.sort((x, y) -> a[y] != a[x] ? Float.compare(a[y], a[x]) : Integer.compare(x, y));
        List<Map<String, Object>> out = new ArrayList<>();
        for (int b : order.subList(0, Math.min(k, a.length))) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("bucket", buckets.label(b));
            m.put("probability", (double) a[b]);
            out.add(m);
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    private static String topBucketsCsv(Map<String, Object> row) {
        List<String> parts = new ArrayList<>();
        for (Map<String, Object> m : (List<Map<String, Object>>) row.get("top_buckets"))
            parts.add(String.format(Locale.ROOT, "%s:%.3f", m.get("bucket"), (Double) m.get("probability")));
        return String.join(" ", parts);
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
