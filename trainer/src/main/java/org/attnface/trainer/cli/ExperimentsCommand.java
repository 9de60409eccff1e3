package org.attnface.trainer.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;
import org.attnface.trainer.options.CacheDirOption;
import org.attnface.trainer.options.DataOption;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.SeedOption;
import org.attnface.trainer.options.ThreadsOption;
import org.attnface.trainer.train.OptimizerKind;
import org.attnface.trainer.train.TrainConfig;
import org.attnface.trainer.train.Trainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "experiments", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The paper's research questions on one split, one seed, one recipe; writes results.md and results.json:",
                "  RQ1 attention vs none, RQ2 multi-task vs single-task (gender only, age only),",
                "  RQ3 gender fed to the age head vs not, RQ4 the ensemble vs the single models.",
                "Each variant is a run folder under --out (resumable); all are evaluated on the shared test split."})
public final class ExperimentsCommand implements Callable<Integer> {
    @Mixin DataOption data;

    @Option(names = "--out", required = true, description = "folder for the runs and the results table")
    Path out;

    @Option(names = "--model", defaultValue = "attn", description = "network for RQ1-RQ3: attn or resnet (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--epochs", defaultValue = "30", description = "epochs per variant (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--limit", defaultValue = "0", description = "use only N images (0 = all)")
    int limit;

    @Option(names = "--batch", defaultValue = "64", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "0.01", description = "SGD peak learning rate (default: ${DEFAULT-VALUE})")
    float lr;

    @Option(names = "--image-size", defaultValue = "64", description = "crop size (default: ${DEFAULT-VALUE})")
    int imageSize;

    @Mixin SeedOption seed;

    @Option(names = "--only", split = ",", description = "run only these variants (names as in the table, e.g. base,no-attention)")
    List<String> only;

    @Mixin DeviceOption device;

    @Mixin ThreadsOption threads;

    @Mixin CacheDirOption cacheDir;

    /** One trained variant: name, research question, what it changes. */
    record Variant(String name, String question, String what, Arch arch, boolean attention, boolean feedGender, float[] weights,
                   boolean genderMetrics, boolean ageMetrics) {}

    @Override public Integer call() throws Exception {
        Device d = device.open(threads.orDefault(), System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        Arch base = Arch.parse(model);
        Arch other = base == Arch.ATTN ? Arch.RESNET : Arch.ATTN;
        float[] joint = {1, 1, 0.5f};
        List<Variant> variants = List.of(
                new Variant("base", "all", model + ": attention, multi-task, gender fed", base, true, true, joint, true, true),
                new Variant("no-attention", "RQ1", model + " without the spatial transformer", base, false, true, joint, true, true),
                new Variant("gender-only", "RQ2", "single task: gender loss only (1,0,0)", base, true, true, new float[] {1, 0, 0}, true, false),
                new Variant("age-only", "RQ2", "single task: age loss only (0,1,0), gender not fed", base, true, false, new float[] {0, 1, 0}, false, true),
                new Variant("gender-not-fed", "RQ3", "age head without the gender probabilities", base, true, false, joint, true, true),
                new Variant(other.toString(), "RQ4", "the other single network", other,
                        true, true, joint, true, true),
                new Variant("ensemble", "RQ4", "attn + resnet, probabilities averaged", Arch.ENSEMBLE, true, true, joint, true, true));
        Files.createDirectories(out);
        String cache = cacheDir.dir().toString();
        List<Map<String, Object>> rows = new ArrayList<>();
        Path sharedSplit = out.resolve("split.json");
        for (Variant v : variants) {
            if (only != null && !only.contains(v.name())) continue;
            Path run = out.resolve(v.name());
            System.out.println("=== " + v.question() + " " + v.name() + ": " + v.what() + " -> " + run);
            Files.createDirectories(run);
            if (Files.exists(sharedSplit) && !Files.exists(run.resolve("split.json")))
                Files.copy(sharedSplit, run.resolve("split.json"), StandardCopyOption.REPLACE_EXISTING);
            boolean done = Files.exists(run.resolve("last.safetensors"));
            TrainConfig cfg = new TrainConfig(data.path().toString(), v.arch(), epochs, batch, lr, 0f, OptimizerKind.SGD, 0.9f, 5e-4f, -1, imageSize, imageSize * 9 / 8,
                    "0,10,20,30,40,50,60,70", 18, 64, ModelConfig.ATTN_WIDTH, v.attention(), v.feedGender(), false, v.weights()[0], v.weights()[1], v.weights()[2], 0f, false,
                    device.name(), Backends.cpuThreads(), seed.value(), limit, 0, d == Device.CPU ? 1 : 10, 0f, 0.7, 0.15, cache, -1);
            Trainer.Result r = Trainer.run(cfg, run, done, System.out);
            if (!Files.exists(sharedSplit)) Files.copy(run.resolve("split.json"), sharedSplit);
            Inference inf = Inference.load(run.resolve("best.safetensors"), d);
            Evaluation ev;
            try (Batches b = new Batches(r.data(), d, imageSize, inf.config().buckets())) {
                // The training batch size, whose arrays are cached already: a fixed 256 grows 4x with
                // --image-size 128, and eval --mirror at 256 x 128x128 did not fit the default heap.
                ev = Probabilities.evaluate(inf.model(), b, r.testIndices(), inf.config(), batch);
            }
            Evaluation.Summary s = ev.overall();
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("question", v.question());
            row.put("variant", v.name());
            row.put("what", v.what());
            row.put("test_images", s.n());
            row.put("gender_accuracy", v.genderMetrics() ? s.genderAccuracy() : null);
            row.put("age_bucket_accuracy", v.ageMetrics() ? s.ageAccuracy() : null);
            row.put("aabd", v.ageMetrics() ? s.aabd() : null);
            row.put("age_mae", v.ageMetrics() ? s.ageMae() : null);
            row.put("epochs", epochs);
            row.put("best_epoch", r.bestEpoch());
            rows.add(row);
            writeTable(rows);
        }
        System.out.println(Files.readString(out.resolve("results.md")));
        return 0;
    }

    private void writeTable(List<Map<String, Object>> rows) throws java.io.IOException {
        StringBuilder s = new StringBuilder();
        s.append("# Research questions (test split; ").append(epochs).append(" epochs, seed ").append(seed.value())
                .append(limit > 0 ? ", " + limit + " images" : "").append(")\n\n");
        s.append("| RQ | variant | what | test images | gender accuracy | age-bucket accuracy | AABD | age MAE |\n|---|---|---|---:|---:|---:|---:|---:|\n");
        for (Map<String, Object> r : rows)
            s.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s |%n", r.get("question"), r.get("variant"), r.get("what"),
                    r.get("test_images"), pct(r.get("gender_accuracy")), pct(r.get("age_bucket_accuracy")), num(r.get("aabd"), "%.3f"), num(r.get("age_mae"), "%.2f")));
        s.append("\n(-: not trained for that task.) Single runs with one seed: differences of about one point are within run-to-run noise.\n");
        AtomicFile.writeString(out.resolve("results.md"), s.toString());
        AtomicFile.writeString(out.resolve("results.json"), Json.write(rows) + "\n");
    }

    private static String pct(Object o) { return o instanceof Double v ? String.format(Locale.ROOT, "%.2f%%", 100 * v) : "-"; }

    private static String num(Object o, String f) { return o instanceof Double v ? String.format(Locale.ROOT, f, v) : "-"; }
}
