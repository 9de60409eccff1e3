package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.Json;
import org.attnface.trainer.TestData;
import org.attnface.trainer.data.Split;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `attnface experiments` run small: every variant and seed on one split, one table, resumable. */
class ExperimentsTest {
    @TempDir Path tmp;

    private String[] args(Path faces, Path out, Object... more) {
        return Cli.concat(Cli.args("experiments", "--data", faces, "--out", out, "--batch", 32, "--image-size", 32,
                "--threads", 2, "--cache-dir", tmp.resolve("cache")), Cli.args(more));
    }

    @Test
    void twoSeedsShareOneSplitAndLandInOneTableAndFinishedRunsAreNotRerun() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 48, 31);
        Path out = tmp.resolve("rq");
        Cli.Outcome r = Cli.run(args(faces, out, "--epochs", 1, "--seeds", "1,2", "--split-seed", 7));
        assertEquals(0, r.exitCode(), r.all());
        String split = Files.readString(out.resolve("split.json"));
        assertEquals(7, Split.load(out.resolve("split.json")).seed(), "the split has its own seed");
        for (String seed : List.of("seed-1", "seed-2"))
            for (String v : List.of("base", "no-attention", "gender-only", "age-only", "gender-not-fed", "resnet"))
                assertEquals(split, Files.readString(out.resolve(seed).resolve(v).resolve("split.json")), seed + "/" + v + " used the shared split");
        assertFalse(Files.exists(out.resolve("seed-1").resolve("ensemble")), "the ensemble averages base and resnet: nothing trained for it");
        assertEquals(0.003, ((Number) ((Map<?, ?>) Json.parse(Files.readString(out.resolve("seed-1/base/config.json")))).get("lr")).doubleValue(), 1e-6,
                "attn runs at --attn-lr (its default)");
        assertEquals(0.01, ((Number) ((Map<?, ?>) Json.parse(Files.readString(out.resolve("seed-1/resnet/config.json")))).get("lr")).doubleValue(), 1e-6,
                "the resnet at --lr (its default)");

        Map<?, ?> results = (Map<?, ?>) Json.parse(Files.readString(out.resolve("results.json")));
        assertEquals(List.of(1L, 2L), results.get("seeds"));
        assertEquals(7L, results.get("split_seed"));
        List<?> variants = (List<?>) results.get("variants");
        assertEquals(7, variants.size());
        for (Object o : variants) {
            Map<?, ?> row = (Map<?, ?>) o;
            assertEquals(2, ((List<?>) row.get("per_seed")).size(), row.get("variant") + ": a row per seed");
            if (row.get("variant").equals("gender-only")) assertNull(row.get("age_mean"));
            if (row.get("variant").equals("age-only")) assertNull(row.get("gender_mean"));
        }
        List<?> claims = (List<?>) results.get("claims");
        assertEquals(10, claims.size(), "RQ1 x2, RQ2 x2, RQ3 x2, RQ4 x4");
        for (Object o : claims) {
            Map<?, ?> c = (Map<?, ?>) o;
            assertTrue(List.of("supported", "not supported", "inconclusive at this budget").contains(c.get("verdict")), c.toString());
            assertEquals(2, ((List<?>) c.get("t_interval")).size());
        }
        String md = Files.readString(out.resolve("results.md"));
        for (String s : List.of("| RQ1 | no-attention", "| RQ4 | ensemble", "- RQ1: **", "- RQ4: **", "attn 1 epochs, resnet 1 epochs", "split seed 7", "| ensemble | 2 |",
                "## RQ5", "| base | region |", "| resnet | gradcam-age |", "- RQ5: "))
            assertTrue(md.contains(s), s + " in\n" + md);
        for (String f : List.of("base/rq5.json", "base/rq5_region.png", "base/rq5_gradcam-gender.png", "resnet/rq5_gradcam-age.png", "resnet/rq5_curves.png"))
            assertTrue(Files.size(out.resolve("seed-2").resolve(f)) > 100, f);
        assertEquals(2, ((List<?>) ((Map<?, ?>) results.get("rq5")).get("base")).size(), "RQ5 for each seed");

        // the same call again: every run is done, nothing is trained, the table is the same
        byte[] best = Files.readAllBytes(out.resolve("seed-2").resolve("resnet").resolve("best.safetensors"));
        Cli.Outcome again = Cli.run(args(faces, out, "--epochs", 1, "--seeds", "1,2", "--split-seed", 7));
        assertEquals(0, again.exitCode(), again.all());
        assertEquals(12, again.out().split("done already", -1).length - 1, again.out());
        assertEquals(4, again.out().split("measured already", -1).length - 1, again.out());
        assertFalse(again.out().contains("epoch 1:"), "nothing trained");
        assertArrayEquals(best, Files.readAllBytes(out.resolve("seed-2").resolve("resnet").resolve("best.safetensors")));
        assertEquals(md, Files.readString(out.resolve("results.md")));

        // another split seed or budget on the same folder is refused, naming what differs
        Cli.Outcome otherSplit = Cli.run(args(faces, out, "--epochs", 1, "--seeds", "1,2", "--split-seed", 8));
        assertEquals(Main.EXIT_BAD_INPUT, otherSplit.exitCode());
        assertTrue(otherSplit.err().contains("split seed 7 but --split-seed 8"), otherSplit.err());
        Cli.Outcome otherBudget = Cli.run(args(faces, out, "--epochs", 1, "--seeds", "1", "--split-seed", 7, "--resnet-epochs", 3, "--only", "resnet"));
        assertEquals(Main.EXIT_BAD_INPUT, otherBudget.exitCode());
        assertTrue(otherBudget.err().contains("epochs 1 (asked: 3)"), otherBudget.err());
    }

    @Test
    void aStoppedRunContinuesWhereItStopped() throws IOException {
        Path faces = tmp.resolve("faces");
        TestData.synthesize(faces, 120, 48, 32);
        Path out = tmp.resolve("rq");
        Cli.Outcome badName = Cli.run(args(faces, out, "--epochs", 2, "--only", "bse"));
        assertEquals(Main.EXIT_BAD_INPUT, badName.exitCode());
        assertTrue(badName.err().contains("--only: no variant 'bse'; the variants are [base, "), badName.err());
        Cli.Outcome twice = Cli.run(args(faces, out, "--epochs", 2, "--seeds", "1,1"));
        assertEquals(Main.EXIT_BAD_INPUT, twice.exitCode());
        assertTrue(twice.err().contains("--seeds: distinct seeds"), twice.err());
        // a NaN in step 2 (the second epoch: 84 training faces, batch 32) stops the run after epoch 1's checkpoint
        Cli.Outcome stopped = Cli.run(args(faces, out, "--epochs", 2, "--only", "base", "--fault-inject-step", 2));
        assertEquals(Main.EXIT_NUMERICAL_FAULT, stopped.exitCode(), stopped.all());
        assertFalse(Files.exists(out.resolve("results.md")));
        Cli.Outcome resumed = Cli.run(args(faces, out, "--epochs", 2, "--only", "base"));
        assertEquals(0, resumed.exitCode(), resumed.all());
        assertTrue(resumed.out().contains("resumed from"), resumed.out());
        assertFalse(resumed.out().contains("epoch 1:"), "epoch 1 is not trained again");
        assertTrue(resumed.out().contains("epoch 2:"));
        assertTrue(Files.readString(out.resolve("results.md")).contains("| all | base |"));
    }
}
