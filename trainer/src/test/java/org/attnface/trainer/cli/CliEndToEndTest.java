package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.Backends;
import org.attnface.engine.io.Json;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.trainer.TestData;
import org.attnface.trainer.train.Checkpoint;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The tiny end-to-end test of the issue: train 1 epoch on ~200 images, eval, predict,
 * explain, through the command line; on generated JPEGs (always) and on real UTKFace
 * images (skipped where ../shared/data/utkface is absent). Then the refusals: a checkpoint
 * of another model or bucket scheme, a missing or empty folder, --device cuda without a GPU.
 */
class CliEndToEndTest {
    @TempDir Path tmp;

    @Test
    void trainEvalPredictExplainOnGeneratedFaces() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 200, 80, 5);
        endToEnd(faces, 32, 0);
    }

    @Test
    void trainEvalPredictExplainOnUtkFace() throws IOException {
        Path real = TestData.utkface();
        assumeTrue(real != null, TestData.NO_UTKFACE);
        endToEnd(real, 64, 200);
    }

    /** --attn-lr reaches the optimiser: at a vanishing attn rate only the ResNet member moves from its initial weights. */
    @Test
    void attnLrSetsTheAttnMembersRateOnly() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 80, 9);
        Path run = tmp.resolve("ens"), cache = tmp.resolve("cache");
        Cli.Outcome train = trainTinyEnsemble(faces, run, cache, "--attn-lr", 1e-9, "--seed", 3);
        assertTrue(train.all().contains("lr 0.01000 (attn member 1.000e-09)"), train.all());
        Checkpoint.Loaded c = Checkpoint.read(run.resolve("last.safetensors"));
        AgeGenderModel trained = Models.create(c.modelConfig(), Device.CPU, 3), initial = Models.create(c.modelConfig(), Device.CPU, 3);
        c.loadModel(trained);
        for (var e : trained.namedParameters().entrySet()) {
            float[] now = e.getValue().toArray(), before = initial.namedParameters().get(e.getKey()).toArray();
            double moved = 0;
            for (int i = 0; i < now.length; i++) moved = Math.max(moved, Math.abs(now[i] - before[i]));
            if (e.getKey().startsWith("attn.")) assertTrue(moved < 1e-6, e.getKey() + " moved " + moved);
            else if (e.getKey().endsWith("conv1.weight")) assertTrue(moved > 1e-4, e.getKey() + " moved only " + moved);
        }
        Cli.Outcome single = Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--attn-lr", 0.001, "--out", tmp.resolve("x"), "--cache-dir", cache));
        assertEquals(2, single.exitCode(), single.all());
        assertTrue(single.all().contains("--attn-lr is the ensemble's attn member's rate"), single.all());
    }

    /** --resnet-depth/--resnet-width/--attn-width shape the trained networks, travel in config.json and the checkpoint, and eval rebuilds them. */
    @Test
    void resnetDepthAndWidthAndAttnWidthShapeTheNetwork() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 80, 4);
        Path run = tmp.resolve("ens"), cache = tmp.resolve("cache");
        Cli.Outcome train = trainTinyEnsemble(faces, run, cache, "--resnet-depth", 10, "--resnet-width", 8, "--attn-width", 6);
        ModelConfig saved = Checkpoint.read(run.resolve("last.safetensors")).modelConfig();
        assertEquals(10, saved.resnetDepth());
        assertEquals(8, saved.resnetWidth());
        assertEquals(6, saved.attnWidth());
        AgeGenderModel small = Models.create(saved, Device.CPU, 1);
        long params = small.namedParameters().values().stream().mapToLong(Tensor::numel).sum();
        assertTrue(train.all().contains(String.format(java.util.Locale.ROOT, "model ensemble (ResNet-10, width 8; attn width 6): %,d parameters", params)), train.all());
        assertTrue(Files.readString(run.resolve("config.json")).contains("\"resnet_depth\":10,\"resnet_width\":8,\"attn_width\":6"));
        Cli.Outcome eval = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, eval.exitCode(), eval.all());
        Cli.Outcome attn = Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--resnet-width", 8, "--out", tmp.resolve("x"), "--cache-dir", cache));
        assertEquals(2, attn.exitCode(), attn.all());
        assertTrue(attn.all().contains("--model attn has none"), attn.all());
        Cli.Outcome zero = Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--zero-init-residual", "--out", tmp.resolve("x"), "--cache-dir", cache));
        assertEquals(2, zero.exitCode(), zero.all());
        assertTrue(zero.all().contains("--zero-init-residual changes the ResNet of --model resnet or ensemble"), zero.all());
        Cli.Outcome depth = Cli.run(Cli.args("train", "--data", faces, "--model", "resnet", "--resnet-depth", 50, "--out", tmp.resolve("y"), "--cache-dir", cache));
        assertEquals(2, depth.exitCode(), depth.all());
        assertTrue(depth.all().contains("--resnet-depth must be 10, 18 or 34, not 50"), depth.all());
        Cli.Outcome resnet = Cli.run(Cli.args("train", "--data", faces, "--model", "resnet", "--attn-width", 16, "--out", tmp.resolve("z"), "--cache-dir", cache));
        assertEquals(2, resnet.exitCode(), resnet.all());
        assertTrue(resnet.all().contains("--model resnet has none"), resnet.all());
    }

    /** A 4th loss weight gives both members the race and fine-age heads; eval and predict of that checkpoint work as ever. */
    @Test
    void fourthLossWeightTrainsTheAuxiliaryHeads() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 60, 80, 4);
        Path run = tmp.resolve("aux"), cache = tmp.resolve("cache");
        trainTinyEnsemble(faces, run, cache, "--resnet-depth", 10, "--resnet-width", 8, "--attn-width", 6, "--loss-weights", "1,1,0.5,0.5",
                "--zero-init-residual");
        Checkpoint.Loaded saved = Checkpoint.read(run.resolve("last.safetensors"));
        assertTrue(saved.modelConfig().auxHeads());
        assertTrue(saved.trainConfig().zeroInitResidual());
        assertEquals(0.5f, saved.trainConfig().lossAux());
        AgeGenderModel m = Models.create(saved.modelConfig(), Device.CPU, 1);
        assertTrue(m.namedParameters().containsKey("resnet.race_head.weight") && m.namedParameters().containsKey("attn.fine_age_head.bias"));
        assertTrue(Files.readString(run.resolve("config.json")).contains("\"loss_aux\":0.5"));
        // metrics.jsonl logs each unweighted term; the logged total is their weighted sum
        Map<?, ?> line = (Map<?, ?>) Json.parse(Files.readAllLines(run.resolve("metrics.jsonl")).getLast());
        double weighted = num(line, "train_loss_gender") + num(line, "train_loss_age") + 0.5 * num(line, "train_loss_distance")
                + 0.5 * num(line, "train_loss_aux");
        assertEquals(num(line, "train_loss"), weighted, 1e-4 * weighted, line.toString());
        assertTrue(num(line, "train_loss_aux") > 0 && num(line, "train_loss_distance") > 0, line.toString());
        Cli.Outcome eval = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, eval.exitCode(), eval.all());
        Cli.Outcome predict = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("last.safetensors"), "--format", "json"));
        assertEquals(0, predict.exitCode(), predict.all());
        Cli.Outcome five = Cli.run(Cli.args("train", "--data", faces, "--loss-weights", "1,1,0.5,0.5,1", "--out", tmp.resolve("x"), "--cache-dir", cache));
        assertEquals(2, five.exitCode(), five.all());
        assertTrue(five.all().contains("--loss-weights takes 3 or 4 numbers"), five.all());
    }

    private static double num(Map<?, ?> m, String key) {
        assertTrue(m.get(key) instanceof Number, key + " in " + m);
        return ((Number) m.get(key)).doubleValue();
    }

    /** One epoch of a 32x32 ensemble on {@code faces}, asserted to succeed; {@code extra} options are appended. */
    private static Cli.Outcome trainTinyEnsemble(Path faces, Path run, Path cache, Object... extra) {
        List<Object> args = new ArrayList<>(List.of("train", "--data", faces, "--model", "ensemble", "--epochs", 1, "--batch", 16,
                "--image-size", 32, "--out", run, "--threads", 2, "--cache-dir", cache));
        args.addAll(List.of(extra));
        Cli.Outcome train = Cli.run(Cli.args(args.toArray()));
        assertEquals(0, train.exitCode(), train.all());
        return train;
    }

    /** eval of an ensemble: members computed once, --attn-weight and --mirror applied, and a weight sweep whose ends are the members. */
    @Test
    void ensembleEvalWeightsMembersAndSweeps() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 80, 7);
        Path run = tmp.resolve("ens"), cache = tmp.resolve("cache");
        Cli.Outcome train = trainTinyEnsemble(faces, run, cache);
        // train validates each member too; eval of the same checkpoint on the same split agrees with it
        assertTrue(train.all().matches("(?s).*epoch 1: .*\\(attn [0-9.]+% / [0-9.]+%, resnet [0-9.]+% / [0-9.]+%\\);.*"), train.all());
        Map<?, ?> epoch1 = (Map<?, ?>) Json.parse(Files.readAllLines(run.resolve("metrics.jsonl")).getLast());
        Cli.Outcome plain = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--split", "val",
                "--out", tmp.resolve("plain"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, plain.exitCode(), plain.all());
        Map<?, ?> pm = (Map<?, ?>) Json.parse(Files.readString(tmp.resolve("plain").resolve("metrics.json")));
        for (String name : List.of("attn", "resnet")) {
            Map<?, ?> o = (Map<?, ?>) ((Map<?, ?>) pm.get("members")).get(name);
            for (String k : List.of("gender_accuracy", "age_bucket_accuracy", "aabd"))
                assertEquals(((Number) o.get(k)).doubleValue(), ((Number) epoch1.get("val_" + name + "_" + k)).doubleValue(), 1e-9, name + " " + k);
        }
        assertEquals(((Number) pm.get("gender_accuracy")).doubleValue(),
                ((Number) epoch1.get("val_gender_accuracy")).doubleValue(), 1e-9);
        assertEquals(1350, javax.imageio.ImageIO.read(run.resolve("report").resolve("curves.png").toFile()).getWidth(), "a third panel: the members");
        Cli.Outcome eval = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--split", "val",
                "--mirror", "--attn-weight", 0.3, "--threads", 2, "--cache-dir", cache));
        assertEquals(0, eval.exitCode(), eval.all());
        Map<?, ?> em = (Map<?, ?>) Json.parse(Files.readString(run.resolve("eval-last").resolve("metrics.json")));
        assertEquals(Boolean.TRUE, em.get("mirror"));
        assertEquals(0.3, ((Number) em.get("attn_weight")).doubleValue(), 1e-6);
        assertTrue(((String) em.get("evaluated_on")).contains("mirror image, attn weight 0.30"), (String) em.get("evaluated_on"));
        List<String> sweep = eval.out().lines().filter(l -> l.matches("\\| [01]\\.\\d \\|.*")).toList();
        assertEquals(11, sweep.size(), eval.out());
        // the sweep's rows at 0.3, 1 and 0 are the ensemble, the attn member and the ResNet member
        Map<?, ?> members = (Map<?, ?>) em.get("members");
        assertEquals(row(sweep.get(3)), row(em), eval.out());
        assertEquals(row(sweep.get(10)), row((Map<?, ?>) members.get("attn")), eval.out());
        assertEquals(row(sweep.get(0)), row((Map<?, ?>) members.get("resnet")), eval.out());

        Cli.Outcome predict = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("last.safetensors"), "--mirror", "--attn-weight", 0.3));
        assertEquals(0, predict.exitCode(), predict.all());

        // --age-rule median changes only how the bucket is read from the same probabilities
        Cli.Outcome median = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--split", "val",
                "--age-rule", "median", "--out", tmp.resolve("median"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, median.exitCode(), median.all());
        Map<?, ?> mm = (Map<?, ?>) Json.parse(Files.readString(tmp.resolve("median").resolve("metrics.json")));
        assertEquals("median", mm.get("age_rule"));
        assertEquals("argmax", pm.get("age_rule"));
        assertTrue(((String) mm.get("evaluated_on")).contains("age bucket by the median rule"), (String) mm.get("evaluated_on"));
        for (String k : List.of("gender_accuracy", "age_mae"))
            assertEquals(((Number) pm.get(k)).doubleValue(), ((Number) mm.get(k)).doubleValue(), 1e-12, k);
        Cli.Outcome medianPredict = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("last.safetensors"), "--age-rule", "median"));
        assertEquals(0, medianPredict.exitCode(), medianPredict.all());
        Cli.Outcome badRule = Cli.run(Cli.args("predict", faces, "--checkpoint", run.resolve("last.safetensors"), "--age-rule", "mode"));
        assertEquals(Main.EXIT_BAD_INPUT, badRule.exitCode());
        assertTrue(badRule.err().contains("--age-rule must be argmax or median, not 'mode'"), badRule.err());
        Cli.Outcome bad = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("last.safetensors"), "--attn-weight", 2, "--cache-dir", cache));
        assertEquals(Main.EXIT_BAD_INPUT, bad.exitCode());
        assertTrue(bad.err().contains("ensemble attn weight must be in [0, 1], got 2.0"), bad.err());
    }

    /** "gender%|age%" of a sweep row or of a metrics.json object, to 2 decimals as the report prints them. */
    private static String row(String sweepRow) {
        String[] c = sweepRow.split("\\|");
        return c[2].trim() + "|" + c[3].trim();
    }

    private static String row(Map<?, ?> m) {
        Map<?, ?> o = m.containsKey("overall") ? (Map<?, ?>) m.get("overall") : m;
        return String.format(java.util.Locale.ROOT, "%.2f%%|%.2f%%", 100 * ((Number) o.get("gender_accuracy")).doubleValue(),
                100 * ((Number) o.get("age_bucket_accuracy")).doubleValue());
    }

    private void endToEnd(Path faces, int size, int limit) throws IOException {
        Path run = tmp.resolve("run"), cache = tmp.resolve("cache");
        Cli.Outcome train = Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--epochs", 1, "--batch", 32, "--image-size", size,
                "--out", run, "--limit", limit, "--threads", 2, "--cache-dir", cache));
        assertEquals(0, train.exitCode(), train.all());
        for (String f : List.of("config.json", "split.json", "metrics.jsonl", "last.safetensors", "best.safetensors",
                "report/curves.png", "report/val_confusion.png", "report/val_gender_probability.png", "report/validation.md"))
            assertTrue(Files.size(run.resolve(f)) > 0, f);
        List<String> metrics = Files.readAllLines(run.resolve("metrics.jsonl"));
        assertEquals(1, metrics.size());
        Map<?, ?> m = (Map<?, ?>) Json.parse(metrics.getFirst());
        double genderAcc = ((Number) m.get("val_gender_accuracy")).doubleValue();
        assertTrue(genderAcc >= 0 && genderAcc <= 1, metrics.getFirst());
        assertTrue(Double.isFinite(((Number) m.get("train_loss")).doubleValue()), metrics.getFirst());
        // the default weights 1,1,0.5 train no auxiliary heads: no aux term is logged
        assertEquals(num(m, "train_loss"), num(m, "train_loss_gender") + num(m, "train_loss_age") + 0.5 * num(m, "train_loss_distance"),
                1e-4 * num(m, "train_loss"), metrics.getFirst());
        assertTrue(!m.containsKey("train_loss_aux"), metrics.getFirst());
        // one epoch from the identity transform: the attention region is still (almost) all on the image
        double inside = ((Number) m.get("val_attn_inside")).doubleValue();
        assertTrue(inside > 0.5 && inside <= 1, metrics.getFirst());
        assertTrue(!train.all().contains("warning: the attn network"), train.all());

        Cli.Outcome eval = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("best.safetensors"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, eval.exitCode(), eval.all());
        Path report = run.resolve("eval-best");
        Map<?, ?> em = (Map<?, ?>) Json.parse(Files.readString(report.resolve("metrics.json")));
        int testCount = ((List<?>) ((Map<?, ?>) Json.parse(Files.readString(run.resolve("split.json")))).get("test")).size();
        assertEquals(testCount, ((Number) em.get("n")).intValue(), "eval uses the run's test split");
        assertTrue(eval.out().contains("| images | gender accuracy | age-bucket accuracy | AABD | age MAE (years) |"), eval.out());
        assertTrue(Files.size(report.resolve("confusion.png")) > 0 && Files.size(report.resolve("gender_probability.png")) > 0);

        // --split train: the training images, to set against test for overfitting
        Cli.Outcome onTrain = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("best.safetensors"), "--split", "train",
                "--out", run.resolve("eval-train"), "--threads", 2, "--cache-dir", cache));
        assertEquals(0, onTrain.exitCode(), onTrain.all());
        int trainCount = ((List<?>) ((Map<?, ?>) Json.parse(Files.readString(run.resolve("split.json")))).get("train")).size();
        Map<?, ?> tm = (Map<?, ?>) Json.parse(Files.readString(run.resolve("eval-train").resolve("metrics.json")));
        assertEquals(trainCount, ((Number) tm.get("n")).intValue(), "eval --split train uses the run's training split");
        assertTrue(onTrain.out().contains("train split of"), onTrain.out());

        // without the run's split.json beside it, eval uses every image of the folder
        Path lone = Files.createDirectories(tmp.resolve("lone")).resolve("model.safetensors");
        Files.copy(run.resolve("best.safetensors"), lone);
        Cli.Outcome all = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", lone, "--limit", limit, "--threads", 2, "--cache-dir", cache));
        assertEquals(0, all.exitCode(), all.all());
        Map<?, ?> am = (Map<?, ?>) Json.parse(Files.readString(lone.resolveSibling("eval-model").resolve("metrics.json")));
        int total = ((List<?>) ((Map<?, ?>) Json.parse(Files.readString(run.resolve("split.json")))).get("train")).size() + testCount
                + ((List<?>) ((Map<?, ?>) Json.parse(Files.readString(run.resolve("split.json")))).get("val")).size();
        assertEquals(total, ((Number) am.get("n")).intValue(), "eval without split.json uses all images");

        Path one;
        try (var s = Files.list(faces)) {
            one = s.filter(p -> p.toString().endsWith(".jpg")).sorted().findFirst().orElseThrow();
        }
        Cli.Outcome predict = Cli.run(Cli.args("predict", one, "--checkpoint", run.resolve("best.safetensors")));
        assertEquals(0, predict.exitCode(), predict.all());
        List<String> csv = predict.out().lines().toList();
        assertEquals("file,gender,gender_probability,age_bucket,age_bucket_probability,age_years,age_low,age_high", csv.getFirst());
        assertEquals(2, csv.size(), predict.out());
        assertTrue(csv.get(1).matches(".*,(male|female),0\\.\\d{4},(\\d+-\\d+|\\d+\\+),[01]\\.\\d{4},\\d+\\.\\d,\\d+\\.\\d,\\d+\\.\\d"), csv.get(1));

        Path explainDir = tmp.resolve("explain");
        Cli.Outcome explain = Cli.run(Cli.args("explain", one, "--checkpoint", run.resolve("best.safetensors"), "--out", explainDir));
        assertEquals(0, explain.exitCode(), explain.all());
        for (String f : List.of("input.png", "attention_region.png", "activation1.png", "activation2.png", "gradcam_gender.png", "gradcam_age.png",
                "overview.png"))
            assertTrue(Files.size(explainDir.resolve(f)) > 0, f);

        // a checkpoint used as another model or with another bucket scheme is refused, naming what differs
        Cli.Outcome wrongArch = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", run.resolve("best.safetensors"), "--model", "resnet", "--cache-dir", cache));
        assertEquals(Main.EXIT_BAD_INPUT, wrongArch.exitCode());
        assertTrue(wrongArch.err().contains("checkpoint is for model 'attn' but 'resnet' was asked"), wrongArch.err());
        Cli.Outcome wrongBuckets = Cli.run(Cli.args("predict", one, "--checkpoint", run.resolve("best.safetensors"), "--buckets", "0,20,40,60"));
        assertEquals(Main.EXIT_BAD_INPUT, wrongBuckets.exitCode());
        assertTrue(wrongBuckets.err().contains("checkpoint uses age buckets 0,10,20,30,40,50,60,70 but 0,20,40,60 was asked"), wrongBuckets.err());
    }

    @Test
    void predictReportsUnreadableFilesAndJsonFormat() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 64, 9);
        Path run = tmp.resolve("run");
        assertEquals(0, Cli.run(Cli.args("train", "--data", faces, "--model", "attn", "--epochs", 1, "--batch", 32, "--image-size", 32, "--out", run,
                "--threads", 2, "--cache-dir", tmp.resolve("cache"))).exitCode());
        Path mixed = Files.createDirectories(tmp.resolve("mixed"));
        TestData.synthesize(mixed, 3, 50, 10);
        Files.writeString(mixed.resolve("readme.jpg"), "not an image");
        Cli.Outcome p = Cli.run(Cli.args("predict", mixed, "--checkpoint", run.resolve("last.safetensors"), "--format", "json"));
        assertEquals(0, p.exitCode(), p.all());
        assertEquals(3, ((List<?>) Json.parse(p.out().trim())).size(), p.out());
        assertTrue(p.err().contains("readme.jpg: not a JPEG (looks like text)"), p.err());
        assertTrue(p.err().contains("predicted 3 images, skipped 1"), p.err());
    }

    @Test
    void missingOrEmptyDataFolderIsAClearError() throws IOException {
        Cli.Outcome missing = Cli.run(Cli.args("train", "--data", tmp.resolve("nope"), "--out", tmp.resolve("r1"), "--cache-dir", tmp));
        assertEquals(Main.EXIT_BAD_INPUT, missing.exitCode());
        assertTrue(missing.err().contains("nope: data folder does not exist"), missing.err());
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Cli.Outcome none = Cli.run(Cli.args("train", "--data", empty, "--out", tmp.resolve("r2"), "--cache-dir", tmp));
        assertEquals(Main.EXIT_BAD_INPUT, none.exitCode());
        assertTrue(none.err().contains("holds no files"), none.err());
    }

    @Test
    void cudaWithoutAGpuSaysSoPlainly() {
        assumeTrue(!Backends.cudaAvailable(), "a CUDA device is present: nothing to refuse");
        Cli.Outcome r = Cli.run(Cli.args("train", "--data", tmp, "--out", tmp.resolve("r"), "--device", "cuda"));
        assertEquals(Main.EXIT_NO_DEVICE, r.exitCode());
        assertTrue(r.err().contains("--device cuda: no usable GPU or driver was found"), r.err());
        assertTrue(!r.err().contains("\tat "), "no stack trace: " + r.err());
    }
}
