package org.attnface.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceFolder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.metrics.AgeRule;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;
import org.attnface.trainer.options.CacheDirOption;
import org.attnface.trainer.options.DataOption;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.ThreadsOption;
import org.attnface.trainer.report.Charts;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Evaluates a checkpoint: gender accuracy, age-bucket accuracy, AABD, age MAE, confusion matrix,",
                "per-bucket and per-race tables (Markdown + JSON) and report PNGs. Uses the run's test split when the",
                "checkpoint's folder has split.json, else every image in --data."})
public final class EvalCommand implements Callable<Integer> {
    @Mixin DataOption data;

    @Option(names = "--checkpoint", required = true, description = "a .safetensors checkpoint written by train")
    Path checkpoint;

    @Option(names = "--model", description = "refuse the checkpoint unless it is this model (attn, resnet, ensemble)")
    String expectArch;

    @Option(names = "--buckets", description = "refuse the checkpoint unless it uses these age buckets (e.g. 0,10,20,30,40,50,60,70)")
    String expectBuckets;

    @Option(names = "--split", defaultValue = "test", description = "test, val, train or all (default: ${DEFAULT-VALUE}; all when there is no split.json); "
            + "train, without augmentation, against test shows how much the model overfits")
    String part;

    @Option(names = "--out", description = "report folder (default: eval-<checkpoint name> beside the checkpoint)")
    Path out;

    @Option(names = "--limit", defaultValue = "0", description = "without a split.json: use only N images")
    int limit;

    @Mixin DeviceOption device;

    @Mixin ThreadsOption threads;

    @Option(names = "--batch", description = "evaluation batch size (default: 256 at 64x64, fewer for larger images: "
            + "the same pixels per batch, 64 at 128x128)")
    Integer batchOption;

    @Option(names = "--mirror", description = "test-time augmentation: average each image's probabilities with its mirror image's")
    boolean mirror;

    @Option(names = "--attn-weight", defaultValue = "0.5", description = "ensemble only: the attn network's weight in the averaged"
            + " probabilities, the ResNet's is 1 - w (default: ${DEFAULT-VALUE}, the paper's plain average); choose it with --split val")
    float attnWeight;

    @Option(names = "--age-rule", defaultValue = "argmax", description = "argmax (the paper's: the likeliest bucket, best age-bucket"
            + " accuracy) or median (the bucket where the cumulative probability reaches 1/2: the least expected bucket distance,"
            + " best AABD); every table and the confusion matrix use it (default: ${DEFAULT-VALUE})")
    String ageRule;

    @Mixin CacheDirOption cacheDir;

    @Override public Integer call() throws Exception {
        AgeRule rule = AgeRule.parse(ageRule);
        Device d = device.open(threads.orDefault(), System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        Inference inf = Inference.load(checkpoint, d, expectArch, expectBuckets);
        inf.setAttnWeight(attnWeight);
        Path runDir = checkpoint.toAbsolutePath().getParent();
        boolean useSplit = Files.exists(runDir.resolve("split.json")) && !part.equals("all");
        int dataLimit = useSplit && inf.trainConfig() != null ? inf.trainConfig().limit() : limit;
        FaceSet set = FaceFolder.load(new FaceFolder.Request(data.path(), inf.cacheSize(), dataLimit, cacheDir.dir(), Backends.cpuThreads()), System.out);
        EvalImages chosen = EvalImages.choose(set, data.path(), runDir, part, inf.trainConfig(), System.out);
        if (chosen == null) {   // another folder: all of it, at the user's --limit rather than the run's
            if (dataLimit != limit) set = FaceFolder.load(new FaceFolder.Request(data.path(), inf.cacheSize(), limit, cacheDir.dir(), Backends.cpuThreads()), System.out);
            chosen = new EvalImages(EvalImages.all(set), "all " + set.count() + " images in " + data.path() + " (none is in the run's split)");
        }
        int[] idx = chosen.indices();
        String title = chosen.title();
        if (mirror) title += ", each averaged with its mirror image";
        if (rule != AgeRule.ARGMAX) title += ", age bucket by the " + rule + " rule";
        if (inf.model() instanceof Ensemble && attnWeight != 0.5f) title += String.format(Locale.ROOT, ", attn weight %.2f", attnWeight);
        if (idx.length == 0) throw new IllegalArgumentException("nothing to evaluate: the " + part + " split is empty");
        // A no-grad forward keeps its activations until the batch is done: 256 images at 128x128
        // with --mirror did not fit the default 6 GB heap beside the cached faces.
        int size = inf.config().imageSize();
        int batch = batchOption != null ? batchOption : Math.max(1, 256 * 64 * 64 / (size * size));
        if (batch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        Evaluation ev;
        var members = new LinkedHashMap<String, Evaluation>();
        long t0 = System.nanoTime();
        String sweep = "";
        try (Batches b = new Batches(set, d, inf.config().imageSize(), inf.config().buckets())) {
            if (inf.model() instanceof Ensemble e) {
                // Each member once; the ensemble is their weighted mean (RQ4: does it beat both on the same images?).
                var m = Probabilities.Members.of(e, b, idx, batch, mirror);
                ev = m.mix(attnWeight).evaluate(set, idx, inf.config(), rule);
                members.putAll(m.evaluations(set, idx, inf.config(), rule));
                sweep = weightSweep(m, set, idx, inf.config(), rule);
            } else {
                ev = Probabilities.of(inf.model(), b, idx, batch, mirror).evaluate(set, idx, inf.config(), rule);
            }
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Path dir = out != null ? out : runDir.resolve("eval-" + checkpoint.getFileName().toString().replace(".safetensors", ""));
        Files.createDirectories(dir);
        String md = ev.toMarkdown(inf.config().arch() + " " + checkpoint.getFileName() + " on the " + title);
        if (!members.isEmpty()) md += membersTable(ev, members) + sweep;
        AtomicFile.writeString(dir.resolve("report.md"), md);
        var json = new LinkedHashMap<String, Object>();
        json.put("checkpoint", checkpoint.toString());
        json.put("arch", inf.config().arch().toString());
        json.put("evaluated_on", title);
        json.put("mirror", mirror);
        json.put("age_rule", rule.toString());
        if (inf.model() instanceof Ensemble e) json.put("attn_weight", (double) e.attnWeight());
        json.putAll(ev.toJson());
        if (!members.isEmpty()) {
            var m = new LinkedHashMap<String, Object>();
            members.forEach((name, e) -> m.put(name, e.toJson()));
            json.put("members", m);
        }
        AtomicFile.writeString(dir.resolve("metrics.json"), Json.write(json) + "\n");
        Charts.confusion(ev, part, dir.resolve("confusion.png"));
        Charts.genderHistogram(ev, part, dir.resolve("gender_probability.png"));
        System.out.println(md);
        System.out.printf(Locale.ROOT, "evaluated %d images in %.1f s; report in %s%n", idx.length, seconds, dir);
        return 0;
    }

    /** The ensemble's metrics for attn weights 0, 0.1, ..., 1: pick --attn-weight from this table on the validation split. */
    private static String weightSweep(Probabilities.Members m, FaceSet set, int[] idx, org.attnface.model.ModelConfig mc, AgeRule rule) {
        StringBuilder b = new StringBuilder("\n## Ensemble attn weight (choose it on `--split val`, then report `--split test` with it)\n\n"
                + "| attn weight | gender acc | age-bucket acc | AABD |\n|---|---|---|---|\n");
        for (int i = 0; i <= 10; i++) {
            Evaluation.Summary s = m.mix(i / 10f).evaluate(set, idx, mc, rule).overall();
            b.append(String.format(Locale.ROOT, "| %.1f | %.2f%% | %.2f%% | %.3f |%n",
                    i / 10f, 100 * s.genderAccuracy(), 100 * s.ageAccuracy(), s.aabd()));
        }
        return b.toString();
    }

    /** Ensemble vs each member on the same images. */
    private static String membersTable(Evaluation ensemble, Map<String, Evaluation> members) {
        StringBuilder b = new StringBuilder("\n## Ensemble vs its members (same images)\n\n"
                + "| model | gender acc | age-bucket acc | AABD |\n|---|---|---|---|\n");
        var rows = new LinkedHashMap<String, Evaluation>();
        rows.put("ensemble", ensemble);
        rows.putAll(members);
        rows.forEach((name, e) -> {
            Evaluation.Summary s = e.overall();
            b.append(String.format(Locale.ROOT, "| %s | %.2f%% | %.2f%% | %.3f |%n",
                    name, 100 * s.genderAccuracy(), 100 * s.ageAccuracy(), s.aabd()));
        });
        return b.toString();
    }
}
