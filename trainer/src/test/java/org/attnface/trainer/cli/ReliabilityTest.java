package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.io.Json;
import org.attnface.trainer.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue #6 on a small run (generated faces, attn at 32x32, 2 threads): SIGKILL at a random
 * moment and --resume end with the very same weights as an uninterrupted run; the same seed
 * gives the same metrics twice; a NaN stops the step naming the op, and --resume goes on.
 */
class ReliabilityTest {
    @TempDir static Path tmp;
    static Path faces;

    /** 200 images -> 140 train -> 8 steps/epoch at batch 16; 5 epochs = 40 steps; a checkpoint every 3 steps. */
    static String[] trainArgs(Path run) {
        return trainArgs(run, 5);
    }

    static String[] trainArgs(Path run, int epochs) {
        return Cli.args("train", "--data", faces, "--model", "attn", "--epochs", epochs, "--batch", 16, "--image-size", 32, "--out", run,
                "--threads", 2, "--seed", 7, "--checkpoint-every", 3, "--cache-dir", tmp.resolve("cache"));
    }

    @BeforeAll
    static void data() throws IOException {
        faces = tmp.resolve("faces");
        TestData.synthesize(faces, 200, 64, 21);
    }

    @Test
    void killedRunResumesToTheSameWeightsAsAnUninterruptedOne() throws Exception {
        Path reference = tmp.resolve("reference");
        long t0 = System.nanoTime();
        assertEquals(0, Cli.run(trainArgs(reference)).exitCode());
        // The child (a cold JVM) takes longer than this warm in-process run: a delay drawn from
        // [0, this run's time) lands anywhere from the first checkpoint to the last epochs.
        int referenceMillis = (int) Math.max(50, (System.nanoTime() - t0) / 1_000_000);

        Path killed = tmp.resolve("killed");
        long seed = Long.getLong("attnface.test.killSeed", System.nanoTime());
        Random random = new Random(seed);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String f : System.getProperty("attnface.jvm.flags", "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED").split(" "))
            if (!f.isBlank()) cmd.add(f);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(trainArgs(killed)));
        File log = tmp.resolve("child.log").toFile();
        Path last = killed.resolve("last.safetensors");
        long delay = random.nextInt(referenceMillis);
        boolean killedMidRun = false;
        for (int attempt = 0; attempt < 4 && !killedMidRun; attempt++, delay /= 2) {
            deleteTree(killed);
            Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log).start();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(last) && child.isAlive() && System.nanoTime() < deadline) Thread.sleep(5);
            assertTrue(Files.exists(last), "the child wrote no checkpoint; its log:\n" + Files.readString(log.toPath()));
            Thread.sleep(delay);
            killedMidRun = child.isAlive();
            child.destroyForcibly();                  // SIGKILL: no shutdown hooks, no finally blocks
            child.waitFor(30, TimeUnit.SECONDS);
            System.out.printf("attempt %d: %s the child %d ms after its first checkpoint (kill seed %d); its log ends:%n%s%n", attempt,
                    killedMidRun ? "killed" : "too late to kill", delay, seed, Cli.tail(Files.readString(log.toPath()), 3));
        }
        assertTrue(killedMidRun, "the child always finished before the kill");

        Cli.Outcome resumed = Cli.run(Cli.args("train", "--out", killed, "--resume", "--threads", 2, "--cache-dir", tmp.resolve("cache")));
        assertEquals(0, resumed.exitCode(), resumed.all());
        assertTrue(resumed.out().contains("resumed from"), resumed.out());
        List<String> diff = Cli.differingTensors(reference.resolve("last.safetensors"), last);
        assertTrue(diff.isEmpty(), "tensors that differ after kill + resume (kill seed " + seed + "): " + diff);
        assertEquals(epochMetrics(reference), epochMetrics(killed), "metrics.jsonl after the resume");
    }

    @Test
    void sameSeedGivesTheSameMetricsTwice() throws IOException {
        Path a = tmp.resolve("det-a"), b = tmp.resolve("det-b");
        assertEquals(0, Cli.run(trainArgs(a)).exitCode());
        assertEquals(0, Cli.run(trainArgs(b)).exitCode());
        List<String> ma = epochMetrics(a);
        assertEquals(5, ma.size());
        assertEquals(ma, epochMetrics(b));
        assertTrue(Cli.differingTensors(a.resolve("last.safetensors"), b.resolve("last.safetensors")).isEmpty());
    }

    @Test
    void nanStopsTheStepNamingTheOpAndTheRunResumes() throws IOException {
        Path run = tmp.resolve("nan");
        Cli.Outcome r = Cli.run(Cli.concat(trainArgs(run), "--fault-inject-step", "7"));
        assertEquals(Main.EXIT_NUMERICAL_FAULT, r.exitCode(), r.all());
        assertTrue(r.err().contains("stopped at step 7: the loss is NaN; first non-finite value: "), r.err());
        assertTrue(r.err().contains("forward of "), "names the op: " + r.err());
        assertTrue(r.err().contains("--resume"), r.err());
        Cli.Outcome resumed = Cli.run(Cli.args("train", "--out", run, "--resume", "--threads", 2, "--cache-dir", tmp.resolve("cache")));
        assertEquals(0, resumed.exitCode(), resumed.all());
        assertTrue(resumed.out().contains("resumed from " + run.resolve("last.safetensors") + ": step 6"), resumed.out());
    }

    @Test
    void adamWStateAndStepCountSurviveAResume() throws IOException {
        Path reference = tmp.resolve("adamw-ref"), stopped = tmp.resolve("adamw-stopped");
        String[] adamw = {"--optimizer", "adamw"};
        assertEquals(0, Cli.run(Cli.concat(trainArgs(reference, 2), adamw)).exitCode());
        // stop at step 10 (after the step-9 checkpoint), resume: AdamW's moments and its bias-correction step must come back
        assertEquals(Main.EXIT_NUMERICAL_FAULT, Cli.run(Cli.concat(trainArgs(stopped, 2), Cli.concat(adamw, "--fault-inject-step", "10"))).exitCode());
        Cli.Outcome resumed = Cli.run(Cli.args("train", "--out", stopped, "--resume", "--threads", 2, "--cache-dir", tmp.resolve("cache")));
        assertEquals(0, resumed.exitCode(), resumed.all());
        assertTrue(resumed.out().contains(": step 9, 1 epochs done"), resumed.out());
        assertEquals(List.of(), Cli.differingTensors(reference.resolve("last.safetensors"), stopped.resolve("last.safetensors")));
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    /** Each epoch's line without the timing fields (which differ run to run). */
    static List<String> epochMetrics(Path run) throws IOException {
        List<String> out = new ArrayList<>();
        for (String l : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            Map<?, ?> m = (Map<?, ?>) Json.parse(l);
            m.remove("train_images_per_s");
            m.remove("train_seconds");
            m.remove("eval_seconds");
            m.remove("batch_prep_seconds");
            out.add(Json.write(m));
        }
        return out;
    }
}
