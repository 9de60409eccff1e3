package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;
import org.attnface.trainer.TestData;
import org.attnface.trainer.report.Overview;
import org.attnface.trainer.train.TrainConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jdk.incubator.vector.FloatVector;

/**
 * What a user gets without reading the whole README (issue 36): train's recipes and their
 * overrides, eval on a folder outside the run's split, predict's age in years with its interval
 * and top buckets, explain's overview picture, and --version. Every run is tiny (32x32 inputs,
 * narrow networks), so the ensemble recipe's defaults are overridden where they would be slow.
 */
class DefaultsTest {
    @TempDir Path tmp;

    /** Flags that keep a recipe run to seconds: one epoch of narrow networks at 32x32. */
    private static final Object[] TINY = {"--epochs", 1, "--batch", 16, "--image-size", 32, "--resnet-width", 8, "--attn-width", 6, "--threads", 2};

    private Cli.Outcome train(Path faces, Path run, Object... flags) {
        Object[] head = {"train", "--data", faces, "--out", run, "--cache-dir", tmp.resolve("cache")};
        Object[] all = Stream.concat(Stream.of(head), Stream.of(flags)).toArray();
        return Cli.run(Cli.args(all));
    }

    @Test
    void withoutModelTrainTakesTheEnsembleRecipeAndGivenFlagsWin() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 64, 21);
        Path run = tmp.resolve("run");
        Cli.Outcome r = train(faces, run, TINY);
        assertEquals(0, r.exitCode(), r.all());
        assertTrue(r.out().contains("recipe ensemble: --model ensemble --split 0.8,0.05 --lr 0.05 --attn-lr 0.003 --loss-weights 1,1,0.5,0.5; "
                + "given here: --epochs 1 (recipe: 17), --attn-width 6 (recipe: 16), --image-size 32 (recipe: 128), --resnet-width 8 (recipe: 32)"), r.out());
        TrainConfig saved = TrainConfig.load(run.resolve("config.json"));
        assertEquals("ensemble", saved.arch().toString());
        assertEquals(0.05f, saved.lr());
        assertEquals(0.003f, saved.attnLr());
        assertEquals(0.8, saved.trainFraction());
        assertEquals(0.05, saved.valFraction());
        assertEquals(0.5f, saved.lossAux());
        // the given flags, not the recipe's
        assertEquals(1, saved.epochs());
        assertEquals(32, saved.imageSize());
        assertEquals(8, saved.resnetWidth());
        assertEquals(6, saved.attnWidth());
    }

    @Test
    void quickRecipeAndARecipeForAnotherModelAndABadName() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 64, 22);
        Cli.Outcome quick = train(faces, tmp.resolve("quick"), Stream.concat(Stream.of("--recipe", "quick"), Stream.of(TINY)).toArray());
        assertEquals(0, quick.exitCode(), quick.all());
        TrainConfig q = TrainConfig.load(tmp.resolve("quick").resolve("config.json"));
        assertEquals(4000, q.limit());
        assertEquals(0.05f, q.lr());
        assertEquals("ensemble", q.arch().toString());
        // --model attn with the ensemble recipe: the ResNet's width and the ensemble's attn rate do not apply and are left out
        Cli.Outcome attn = train(faces, tmp.resolve("attn"), "--recipe", "ensemble", "--model", "attn", "--epochs", 1, "--image-size", 32, "--batch", 16);
        assertEquals(0, attn.exitCode(), attn.all());
        assertTrue(attn.out().contains("not for --model attn: --attn-lr 0.003, --resnet-width 32"), attn.out());
        TrainConfig a = TrainConfig.load(tmp.resolve("attn").resolve("config.json"));
        assertEquals(16, a.attnWidth());
        assertEquals(0f, a.attnLr());
        // --model alone: no recipe, the flags' own defaults
        Cli.Outcome plain = train(faces, tmp.resolve("plain"), "--model", "attn", "--epochs", 1, "--image-size", 32, "--batch", 16);
        assertEquals(0, plain.exitCode(), plain.all());
        assertTrue(!plain.out().contains("recipe "), plain.out());
        assertEquals(0.01f, TrainConfig.load(tmp.resolve("plain").resolve("config.json")).lr());
        Cli.Outcome bad = train(faces, tmp.resolve("bad"), "--recipe", "best");
        assertEquals(Main.EXIT_NO_DEVICE, bad.exitCode(), "a usage error");
        assertTrue(bad.err().contains("--recipe must be ensemble or quick, not 'best'"), bad.err());
    }

    /** One tiny attn run on {@code faces}; returns its run folder. */
    private Path tinyAttnRun(Path faces) {
        Path run = tmp.resolve("run");
        Cli.Outcome r = train(faces, run, "--model", "attn", "--epochs", 1, "--image-size", 32, "--batch", 32, "--threads", 2);
        assertEquals(0, r.exitCode(), r.all());
        return run;
    }

    @Test
    void evalOnAnotherFolderScoresItAllAndOnAPartialOneNamesTheOptions() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 64, 23);
        Path run = tinyAttnRun(faces), cache = tmp.resolve("cache");
        Path other = tmp.resolve("other");
        TestData.synthesize(other, 40, 64, 24);
        Cli.Outcome all = Cli.run(Cli.args("eval", "--data", other, "--checkpoint", run.resolve("best.safetensors"), "--out", tmp.resolve("e1"),
                "--cache-dir", cache));
        assertEquals(0, all.exitCode(), all.all());
        assertTrue(all.out().contains("note: none of the 40 images in " + other + " is in the split of run (made on " + faces
                + "): evaluating all of them, as --split all would"), all.out());
        Map<?, ?> m = (Map<?, ?>) Json.parse(Files.readString(tmp.resolve("e1").resolve("metrics.json")));
        assertEquals(40, ((Number) m.get("n")).intValue());
        assertTrue(((String) m.get("evaluated_on")).contains("(none is in the run's split)"), m.toString());

        // a folder with some of the run's images but not its whole test split: refused, naming --split all and the run's folder
        Path part = tmp.resolve("part");
        TestData.copySome(faces, part, 10);
        Cli.Outcome partial = Cli.run(Cli.args("eval", "--data", part, "--checkpoint", run.resolve("best.safetensors"), "--cache-dir", cache));
        assertEquals(Main.EXIT_BAD_INPUT, partial.exitCode(), partial.all());
        int trained = 0;
        List<?> train = (List<?>) ((Map<?, ?>) Json.parse(Files.readString(run.resolve("split.json")))).get("train");
        try (var s = Files.list(part)) {
            for (Path p : s.toList()) if (train.contains(p.getFileName().toString())) trained++;
        }
        assertTrue(partial.err().contains("add --split all (of the 10 images there, " + trained + (trained == 1 ? " is" : " are")
                + " in the run's training split"), partial.err());
        assertTrue(partial.err().matches("(?s).*the test split of run: \\d+ of its \\d+ images are not in " + java.util.regex.Pattern.quote(part.toString())
                + " \\(first: .*"), partial.err());
        assertTrue(partial.err().contains("use --data " + faces + ", the folder the run was made on"), partial.err());
        Cli.Outcome asked = Cli.run(Cli.args("eval", "--data", part, "--checkpoint", run.resolve("best.safetensors"), "--split", "all",
                "--out", tmp.resolve("e2"), "--cache-dir", cache));
        assertEquals(0, asked.exitCode(), asked.all());
    }

    @Test
    void predictGivesAnAgeInYearsWithAnIntervalAndTheTopBuckets() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 64, 25);
        Path run = tinyAttnRun(faces);
        Cli.Outcome json = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("best.safetensors"), "--format", "json", "--top-k", 8));
        assertEquals(0, json.exitCode(), json.all());
        AgeBuckets buckets = AgeBuckets.decades();
        for (Object o : (List<?>) Json.parse(json.out().trim())) {
            Map<?, ?> row = (Map<?, ?>) o;
            double years = num(row, "age_years"), low = num(row, "age_low"), high = num(row, "age_high");
            // (the expected age may lie outside the 80% interval only for a distribution split between far-apart buckets)
            assertTrue(0 <= low && low <= high && high <= 80 && 0 <= years && years <= 80, row.toString());
            List<?> top = (List<?>) row.get("top_buckets");
            assertEquals(8, top.size(), row.toString());
            // all 8 buckets: their probabilities sum to 1, fall in order, start at the argmax bucket, and give the expected age
            double sum = 0, expected = 0, previous = 1;
            for (Object t : top) {
                Map<?, ?> b = (Map<?, ?>) t;
                double p = num(b, "probability");
                assertTrue(p <= previous + 1e-12, row.toString());
                previous = p;
                sum += p;
                int k = List.of("0-9", "10-19", "20-29", "30-39", "40-49", "50-59", "60-69", "70+").indexOf(b.get("bucket"));
                expected += p * buckets.centre(k);
            }
            assertEquals(1, sum, 1e-5, row.toString());
            assertEquals(expected, years, 1e-4, row.toString());
            assertEquals(row.get("age_bucket"), ((Map<?, ?>) top.getFirst()).get("bucket"));
        }
        Cli.Outcome csv = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("best.safetensors"), "--top-k", 2));
        assertEquals(0, csv.exitCode(), csv.all());
        List<String> lines = csv.out().lines().toList();
        assertEquals("file,gender,gender_probability,age_bucket,age_bucket_probability,age_years,age_low,age_high,top_buckets", lines.getFirst());
        assertTrue(lines.get(1).matches(".*,(male|female),0\\.\\d{4},[0-9+-]+,[01]\\.\\d{4},\\d+\\.\\d,\\d+\\.\\d,\\d+\\.\\d,"
                + "[0-9+-]+:[01]\\.\\d{3} [0-9+-]+:[01]\\.\\d{3}"), lines.get(1));
        Cli.Outcome negative = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("best.safetensors"), "--top-k", -1));
        assertEquals(Main.EXIT_BAD_INPUT, negative.exitCode());
        assertTrue(negative.err().contains("--top-k must be >= 0, not -1"), negative.err());
    }

    @Test
    void explainWritesOneLabelledOverviewPerFace() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 64, 26);
        Path run = tmp.resolve("ens");
        assertEquals(0, train(faces, run, TINY).exitCode());
        Path one;
        try (var s = Files.list(faces)) {
            one = s.sorted().findFirst().orElseThrow();
        }
        Cli.Outcome single = Cli.run(Cli.args("explain", one, "--checkpoint", run.resolve("last.safetensors"), "--out", tmp.resolve("x1")));
        assertEquals(0, single.exitCode(), single.all());
        var img = ImageIO.read(tmp.resolve("x1").resolve("overview.png").toFile());
        // five panels a row, one row per member of the ensemble
        assertEquals(5 * Overview.PANEL + 6 * 8, img.getWidth());
        assertTrue(img.getHeight() > 2 * Overview.PANEL, "two rows: " + img.getHeight());
        Path some = tmp.resolve("some");
        TestData.synthesize(some, 3, 50, 27);
        Files.writeString(some.resolve("notes.jpg"), "not an image");
        Cli.Outcome folder = Cli.run(Cli.args("explain", some, "--checkpoint", run.resolve("last.safetensors"), "--out", tmp.resolve("x2")));
        assertEquals(0, folder.exitCode(), folder.all());
        assertTrue(folder.out().contains("wrote 3 overviews"), folder.out());
        assertTrue(folder.err().contains("skip " + some.resolve("notes.jpg")), folder.err());
        try (var s = Files.list(some)) {
            for (Path p : s.toList())
                if (!p.getFileName().toString().equals("notes.jpg"))
                    assertTrue(Files.size(tmp.resolve("x2").resolve(p.getFileName() + ".overview.png")) > 0, p.toString());
        }
    }

    @Test
    void versionNamesBuildCommitJavaVectorWidthAndBackends() {
        Cli.Outcome v = Cli.run("--version");
        assertEquals(0, v.exitCode(), v.all());
        assertTrue(v.out().matches("(?s)attnface \\d+\\.\\d+\\.\\d+\\S* \\(git commit ([0-9a-f]{12}(\\+changes)?|unknown)\\)\n.*"), v.out());
        assertTrue(v.out().contains("Java " + Runtime.version()), v.out());
        int bits = FloatVector.SPECIES_PREFERRED.vectorBitSize();
        assertTrue(v.out().contains("backend cpu: vector width " + bits + " bits (" + bits / 32 + " floats)"), v.out());
        assertTrue(v.out().matches("(?s).*backend cuda: (available|not available \\(.+\\))\n.*"), v.out());
        if (Files.isDirectory(Path.of(System.getProperty("user.dir")).resolve("../.git")) || Files.isRegularFile(Path.of(System.getProperty("user.dir")).resolve("../.git")))
            assertTrue(!v.out().contains("git commit unknown"), "a git checkout has a commit: " + v.out());
    }

    private static double num(Map<?, ?> m, String key) {
        assertTrue(m.get(key) instanceof Number, key + " in " + m);
        return ((Number) m.get(key)).doubleValue();
    }
}
