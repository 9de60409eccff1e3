package org.attnface.trainer.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;
import org.attnface.model.Arch;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceFolder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Split;
import org.attnface.trainer.metrics.Probabilities;
import org.attnface.trainer.options.CacheDirOption;
import org.attnface.trainer.options.DataOption;
import org.attnface.trainer.options.DeviceOption;
import org.attnface.trainer.options.ThreadsOption;
import org.attnface.trainer.report.MapFigures;
import org.attnface.trainer.research.MapFaithfulness;
import org.attnface.trainer.research.ResultsTable;
import org.attnface.trainer.research.RunRecord;
import org.attnface.trainer.research.TestPredictions;
import org.attnface.trainer.research.Variant;
import org.attnface.trainer.train.OptimizerKind;
import org.attnface.trainer.train.TrainConfig;
import org.attnface.trainer.train.Trainer;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "experiments", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The paper's research questions, every variant once per seed, all on one split; writes results.md and results.json:",
                "  RQ1 attention vs none, RQ2 multi-task vs single-task (gender only, age only),",
                "  RQ3 gender fed to the age head vs not, RQ4 the ensemble (the attn and resnet runs of a seed, averaged) vs each.",
                "Runs are OUT/seed-S/VARIANT; rerunning continues a killed run and skips finished ones."})
public final class ExperimentsCommand implements Callable<Integer> {
    @Mixin DataOption data;

    @Option(names = "--out", required = true, description = "folder for the runs and the results table")
    Path out;

    @Option(names = "--model", defaultValue = "attn", description = "network for RQ1-RQ3: attn or resnet (default: ${DEFAULT-VALUE})")
    String model;

    @Option(names = "--epochs", defaultValue = "30", description = "epochs of every attn run (default: ${DEFAULT-VALUE})")
    int epochs;

    @Option(names = "--resnet-epochs", description = "epochs of every resnet run (default: --epochs)")
    Integer resnetEpochs;

    @Option(names = "--seeds", split = ",", defaultValue = "1", description = "training seeds (initial weights, batch order, augmentation, "
            + "dropout); every variant runs once per seed (default: ${DEFAULT-VALUE})")
    List<Long> seeds;

    @Option(names = "--split-seed", defaultValue = "1", description = "seed of the one train/validation/test split all runs share; "
            + "recorded in OUT/split.json (default: ${DEFAULT-VALUE})")
    long splitSeed;

    @Option(names = "--limit", defaultValue = "0", description = "use only N images (0 = all)")
    int limit;

    @Option(names = "--batch", defaultValue = "64", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--lr", defaultValue = "0.01", description = "SGD peak learning rate of the resnet runs (default: ${DEFAULT-VALUE})")
    float lr;

    // At 0.01 the spatial transformer drifted off the image in 2 of 3 attn runs (seed 2 at 40 epochs, seed 1 at 80:
    // 0-23% of its grid inside, gender at the majority class); at 0.003, as in the ensemble recipe, it stayed at 63-83%.
    @Option(names = "--attn-lr", defaultValue = "0.003", description = "SGD peak learning rate of the attn runs (default: ${DEFAULT-VALUE})")
    float attnLr;

    @Option(names = "--image-size", defaultValue = "64", description = "crop size (default: ${DEFAULT-VALUE})")
    int imageSize;

    @Option(names = "--only", split = ",", description = "run only these variants (names as in the table, e.g. base,no-attention)")
    List<String> only;

    @Option(names = "--rq5-images", defaultValue = "500", description = "RQ5: test faces whose attention maps are measured (deletion and "
            + "insertion curves, share inside the face) for each network and seed; 0 = skip (default: ${DEFAULT-VALUE})")
    int rq5Images;

    @Mixin DeviceOption device;

    @Mixin ThreadsOption threads;

    @Mixin CacheDirOption cacheDir;

    @Option(names = "--fault-inject-step", defaultValue = "-1", hidden = true, description = "test hook: put a NaN into the batch of this step")
    long faultInjectStep;

    static final String BUCKETS = "0,10,20,30,40,50,60,70";
    static final double TRAIN_FRACTION = 0.7, VAL_FRACTION = 0.15;
    /** config.json keys that say where and how fast a run ran, not what it computes: they may differ when a run is continued. */
    static final Set<String> RUNTIME_KEYS = Set.of("data", "device", "threads", "cache_dir", "fault_inject_step", "loss_every");

    @Override public Integer call() throws Exception {
        Device d = device.open(threads.orDefault(), System.err);
        if (d == null) return Main.EXIT_NO_DEVICE;
        if (epochs < 1 || (resnetEpochs != null && resnetEpochs < 1)) throw new IllegalArgumentException("--epochs and --resnet-epochs must be 1 or more");
        if (seeds.isEmpty() || seeds.stream().distinct().count() != seeds.size()) throw new IllegalArgumentException("--seeds: distinct seeds, e.g. 1,2,3; got " + seeds);
        Arch base = Arch.parse(model);
        List<Variant> variants = Variant.all(base);
        if (only != null)
            for (String name : only)
                if (variants.stream().noneMatch(v -> v.name().equals(name)))
                    throw new IllegalArgumentException("--only: no variant '" + name + "'; the variants are "
                            + variants.stream().map(Variant::name).toList());
        Files.createDirectories(out);
        Path split = sharedSplit();
        Map<String, List<RunRecord>> runs = new LinkedHashMap<>();
        for (long seed : seeds) {
            Path seedDir = out.resolve("seed-" + seed);
            for (Variant v : variants) {
                if (!v.trained() || (only != null && !only.contains(v.name()))) continue;
                Path run = seedDir.resolve(v.name());
                System.out.println("=== seed " + seed + ", " + v.question() + " " + v.name() + ": " + v.what() + " -> " + run);
                trainAndTest(v, seed, run, split, d);
            }
            if (rq5Images > 0)
                for (String net : List.of(Variant.BASE, other(base)))
                    if ((only == null || only.contains(net)) && Files.exists(seedDir.resolve(net).resolve(TestPredictions.FILE)))
                        measureMaps(seedDir.resolve(net), split, d);
        }
        // The table from every finished run on disk (also those of an earlier call with other --only or --seeds).
        for (Variant v : variants) {
            List<RunRecord> rs = new ArrayList<>();
            for (long seed : seeds) {
                Path seedDir = out.resolve("seed-" + seed);
                if (v.trained()) {
                    if (Files.exists(seedDir.resolve(v.name()).resolve(TestPredictions.FILE))) rs.add(RunRecord.read(seedDir.resolve(v.name())));
                } else if (v.members().stream().allMatch(m -> Files.exists(seedDir.resolve(m).resolve(TestPredictions.FILE)))) {
                    rs.add(RunRecord.ensemble(RunRecord.read(seedDir.resolve(v.members().get(0))), RunRecord.read(seedDir.resolve(v.members().get(1))),
                            "the ensemble of seed " + seed));
                }
            }
            // the paired statistics need every seed: a variant with a seed missing is left out of the table until it has them all
            if (rs.size() == seeds.size()) runs.put(v.name(), rs);
            else if (!rs.isEmpty()) System.out.println("note: " + v.name() + " has " + rs.size() + " of " + seeds.size() + " seeds finished; left out of the table");
        }
        String other = other(base);
        ResultsTable table = new ResultsTable(new ResultsTable.Setup(budget(), seeds, splitSeed, limit, recipe()), variants, runs, other);
        Map<String, List<Map<?, ?>>> maps = new LinkedHashMap<>();
        for (String net : List.of(Variant.BASE, other)) {
            List<Map<?, ?>> l = new ArrayList<>();
            for (long seed : seeds) {
                Path f = out.resolve("seed-" + seed).resolve(net).resolve(RQ5_FILE);
                if (Files.exists(f)) l.add((Map<?, ?>) Json.parse(Files.readString(f)));
            }
            if (!l.isEmpty()) maps.put(net, l);
        }
        table.setMaps(maps, "seed-" + seeds.getFirst());
        AtomicFile.writeString(out.resolve("results.md"), table.toMarkdown());
        AtomicFile.writeString(out.resolve("results.json"), Json.write(table.toJson()) + "\n");
        System.out.println(Files.readString(out.resolve("results.md")));
        return 0;
    }

    private static String other(Arch base) { return (base == Arch.ATTN ? Arch.RESNET : Arch.ATTN).toString(); }

    static final String RQ5_FILE = "rq5.json";
    private FaceSet faces;

    /**
     * RQ5 on one finished run: its best checkpoint's maps on --rq5-images test faces (a sample
     * seeded by the split seed, the same faces for every run), written as RUN/rq5.json and
     * RUN/rq5_*.png; done once per run and image count.
     */
    private void measureMaps(Path run, Path split, Device d) throws IOException {
        Path file = run.resolve(RQ5_FILE);
        if (Files.exists(file) && Json.parse(Files.readString(file)) instanceof Map<?, ?> m && m.get("images") instanceof Number n
                && n.intValue() == Math.min(rq5Images, Split.load(split).test().size())) {
            System.out.println("RQ5 maps of " + run + " measured already (" + file + ")");
            return;
        }
        if (faces == null)
            faces = FaceFolder.load(new FaceFolder.Request(data.path(), imageSize * 9 / 8, limit, cacheDir.dir(), Backends.cpuThreads()), System.out);
        int[] test = Split.indices(faces, Split.load(split).test(), "test");
        int[] order = FaceFolder.permutation(test.length, splitSeed);
        int[] sample = new int[Math.min(rq5Images, test.length)];
        for (int i = 0; i < sample.length; i++) sample[i] = test[order[i]];
        Inference inf = Inference.load(run.resolve("best.safetensors"), d);
        long t0 = System.nanoTime();
        MapFaithfulness.Result r;
        try (Batches b = new Batches(faces, d, imageSize, inf.config().buckets())) {
            r = MapFaithfulness.measure(inf.model(), b, sample, inf.config().buckets(), inf.cacheSize(), splitSeed);
        }
        Map<String, Object> json = MapFaithfulness.toJson(r);
        AtomicFile.writeString(file, Json.write(json) + "\n");
        String name = run.getParent().getFileName() + "/" + run.getFileName() + " (" + inf.config().arch() + ")";
        for (String map : r.averageMaps().keySet())
            MapFigures.averageMaps(r, map, inf.config().buckets(), inf.cacheSize(), "mean " + map + " map of " + name + " over "
                    + r.images() + " test faces, per true gender and age bucket; white: the face ellipse", run.resolve("rq5_" + map + ".png"));
        MapFigures.curves(r, "deletion and insertion of 16x16 patches, " + name + ", " + r.images() + " test faces", run.resolve("rq5_curves.png"));
        System.out.printf(Locale.ROOT, "RQ5 maps of %s: %d faces in %.1f s -> %s%n", run, r.images(), (System.nanoTime() - t0) / 1e9, file);
    }

    private int epochsOf(Arch a) { return a == Arch.RESNET && resnetEpochs != null ? resnetEpochs : epochs; }

    private float lrOf(Arch a) { return a == Arch.RESNET ? lr : attnLr; }

    private String budget() {
        return String.format(Locale.ROOT, "attn %d epochs, resnet %d epochs", epochsOf(Arch.ATTN), epochsOf(Arch.RESNET));
    }

    private String recipe() {
        return String.format(Locale.ROOT, "SGD lr %s (attn), %s (resnet), batch %d, %dx%d crops, split %.0f/%.0f/%.0f", attnLr, lr, batch, imageSize, imageSize,
                100 * TRAIN_FRACTION, 100 * VAL_FRACTION, 100 * (1 - TRAIN_FRACTION - VAL_FRACTION));
    }

    /** OUT/split.json, made from --split-seed the first time; later calls must ask for the same split. */
    private Path sharedSplit() throws IOException {
        Path file = out.resolve("split.json");
        if (Files.exists(file)) {
            Split s = Split.load(file);
            if (s.seed() != splitSeed)
                throw new IllegalArgumentException(file + " was made with split seed " + s.seed() + " but --split-seed " + splitSeed
                        + " was asked: the runs there use that split; choose another --out for another split");
            System.out.println("using the shared split " + file + " (split seed " + s.seed() + ")");
            return file;
        }
        FaceSet set = FaceFolder.load(new FaceFolder.Request(data.path(), imageSize * 9 / 8, limit, cacheDir.dir(), Backends.cpuThreads()), System.out);
        Split s = Split.stratified(set, AgeBuckets.parse(BUCKETS), splitSeed, TRAIN_FRACTION, VAL_FRACTION);
        s.save(file);
        System.out.println("split " + set.count() + " images with split seed " + splitSeed + ": " + s.train().size() + " train, " + s.val().size()
                + " val, " + s.test().size() + " test -> " + file);
        return file;
    }

    private TrainConfig config(Variant v, long seed) {
        float[] w = v.weights();
        return new TrainConfig(data.path().toString(), v.arch(), epochsOf(v.arch()), batch, lrOf(v.arch()), 0f, OptimizerKind.SGD, 0.9f, 5e-4f, -1, imageSize,
                imageSize * 9 / 8, BUCKETS, 18, 64, ModelConfig.ATTN_WIDTH, v.attention(), v.feedGender(), false, w[0], w[1], w[2], 0f, false,
                device.name(), Backends.cpuThreads(), seed, limit, 0, device.parse() == Device.CPU ? 1 : 10, 0f, TRAIN_FRACTION, VAL_FRACTION,
                cacheDir.dir().toString(), faultInjectStep);
    }

    /**
     * Trains the run (or continues it from last.safetensors) and writes its test predictions;
     * a run that has them is done and is not touched. A run folder made with other settings is
     * refused, naming them, rather than mixed into the table.
     */
    private void trainAndTest(Variant v, long seed, Path run, Path split, Device d) throws IOException {
        TrainConfig cfg = config(v, seed);
        boolean started = Files.exists(run.resolve("config.json"));
        if (started) checkSameRun(run, cfg);
        if (Files.exists(run.resolve(TestPredictions.FILE))) {
            System.out.println("done already (" + run.resolve(TestPredictions.FILE) + "); not rerun");
            return;
        }
        Files.createDirectories(run);
        Path runSplit = run.resolve("split.json");
        if (!Files.exists(runSplit)) Files.copy(split, runSplit, StandardCopyOption.REPLACE_EXISTING);
        else if (!Files.readString(runSplit).equals(Files.readString(split)))
            throw new IllegalArgumentException(runSplit + " differs from the shared " + split + ": that run was made on another split; remove it or choose another --out");
        Trainer.Result r = Trainer.run(cfg, run, Files.exists(run.resolve("last.safetensors")), System.out);
        Inference inf = Inference.load(run.resolve("best.safetensors"), d);
        Probabilities p;
        try (Batches b = new Batches(r.data(), d, imageSize, inf.config().buckets())) {
            p = Probabilities.of(inf.model(), b, r.testIndices(), batch, false);
        }
        TestPredictions.of(r.data(), r.testIndices(), p, inf.config().buckets()).write(run.resolve(TestPredictions.FILE));
    }

    /** Refuses a run folder whose config.json differs from cfg in anything but where it ran. */
    static void checkSameRun(Path run, TrainConfig cfg) throws IOException {
        Map<String, Object> had = TrainConfig.load(run.resolve("config.json")).toMap(), want = cfg.toMap();
        List<String> diff = new ArrayList<>();
        for (String k : want.keySet())
            if (!RUNTIME_KEYS.contains(k) && !String.valueOf(had.get(k)).equals(String.valueOf(want.get(k))))
                diff.add(k + " " + had.get(k) + " (asked: " + want.get(k) + ")");
        if (!diff.isEmpty())
            throw new IllegalArgumentException(run + " was made with other settings: " + String.join(", ", diff)
                    + "; remove that run folder or choose another --out");
    }
}
