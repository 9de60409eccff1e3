package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import org.attnface.engine.io.Json;
import org.attnface.trainer.TestData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code mpirun -np 2 attnface train} on generated faces (attn at 32x32, 1 thread per rank): a
 * rank killed mid-epoch ends the job within seconds, naming the rank, and the run resumes on 2
 * ranks (to the very weights of an uninterrupted 2-rank run) and on 1; validation on 2 ranks
 * equals a single-process evaluation of the same checkpoint; ranks that differ in config refuse
 * to start; a hanging rank stops the job after the collective timeout; an unknown host is named.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DistributedTrainingTest {
    @TempDir static Path tmp;
    static Path faces, cache, reference;

    @BeforeAll static void data() throws IOException {
        assumeTrue(mpirun() != null, "mpirun (Open MPI) is not on the PATH: .ci/run installs openmpi-bin; skipping the multi-process tests");
        faces = tmp.resolve("faces");
        cache = tmp.resolve("cache");
        TestData.synthesize(faces, 160, 64, 29);
        // The cache, built once here: the ranks below only read it.
        assertEquals(0, Cli.run(Cli.args("train", "--data", faces, "--epochs", 0, "--image-size", 32, "--out", tmp.resolve("prep"),
                "--cache-dir", cache)).exitCode());
    }

    static Path mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":"))
            if (Files.isExecutable(Path.of(dir, "mpirun"))) return Path.of(dir, "mpirun");
        return null;
    }

    /** 160 faces -> 112 train -> 7 steps of 16 per epoch (8 images per rank); 3 epochs; a checkpoint every 3 steps. */
    static List<String> train(Path run) {
        return List.of(Cli.args("train", "--data", faces, "--model", "attn", "--epochs", 3, "--batch", 16, "--image-size", 32, "--out", run,
                "--threads", 1, "--seed", 5, "--checkpoint-every", 3, "--cache-dir", cache));
    }

    static List<String> mpirun(int ranks, List<String> mca, List<String> attnface) {
        List<String> cmd = new ArrayList<>(List.of(mpirun().toString(), "--allow-run-as-root", "--oversubscribe", "-np", Integer.toString(ranks)));
        cmd.addAll(mca);
        cmd.addAll(java());
        cmd.addAll(attnface);
        return cmd;
    }

    static List<String> java() {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        for (String f : System.getProperty("attnface.jvm.flags", "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED").split(" "))
            if (!f.isBlank()) cmd.add(f);
        cmd.addAll(List.of("-XX:+UseSerialGC", "-Xmx1g", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        return cmd;
    }

    record Run(int exitCode, String output, double seconds) {}

    static Process start(List<String> cmd, Path log, Map<String, String> env) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return pb.start();
    }

    static Run finish(Process p, Path log, long t0, double timeout) throws IOException, InterruptedException {
        if (!p.waitFor((long) (timeout * 1000), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
            return new Run(-1, Files.readString(log) + "\n[killed after " + timeout + " s]", timeout);
        }
        Run r = new Run(p.exitValue(), Files.readString(log), (System.nanoTime() - t0) / 1e9);
        System.out.println("$ " + String.join(" ", p.info().commandLine().orElse("mpirun ...")) + "\n" + Cli.tail(r.output(), 12) + "[exit " + r.exitCode() + "]");
        return r;
    }

    static Run run(List<String> cmd, String name) throws IOException, InterruptedException {
        return finish(start(cmd, tmp.resolve(name + ".log"), Map.of()), tmp.resolve(name + ".log"), System.nanoTime(), 300);
    }

    /** The java process of this rank among {@code mpirun}'s descendants (its OMPI_COMM_WORLD_RANK). */
    static Optional<ProcessHandle> rank(Process mpirun, int rank) {
        return mpirun.descendants().filter(h -> {
            try {
                String env = Files.readString(Path.of("/proc", Long.toString(h.pid()), "environ")).replace('\0', '\n');
                return env.lines().anyMatch(l -> l.equals("OMPI_COMM_WORLD_RANK=" + rank)) && h.info().command().orElse("").endsWith("java");
            } catch (IOException e) {
                return false;
            }
        }).findFirst();
    }

    static int epochsIn(Path run) throws IOException {
        Path f = run.resolve("metrics.jsonl");
        return Files.exists(f) ? Files.readAllLines(f).size() : 0;
    }

    @Test @Order(1) void killedRankEndsTheJobNamingItAndTheRunResumesOnTwoAndOneRanks() throws Exception {
        reference = tmp.resolve("reference");
        Run ref = run(mpirun(2, List.of(), train(reference)), "reference");
        assertEquals(0, ref.exitCode(), ref.output());
        assertTrue(ref.output().contains("2 ranks"), ref.output());
        assertEquals(3, epochsIn(reference));

        Path killed = tmp.resolve("killed");
        Path log = tmp.resolve("killed.log");
        long t0 = System.nanoTime();
        Process job = start(mpirun(2, List.of(), train(killed)), log, Map.of());
        Path last = killed.resolve("last.safetensors");
        while (!Files.exists(last) && job.isAlive() && System.nanoTime() - t0 < 200e9) Thread.sleep(5);
        assertTrue(Files.exists(last), "no checkpoint written: " + Files.readString(log));
        ProcessHandle victim = rank(job, 1).orElseThrow(() -> new AssertionError("rank 1's java process not found"));
        assertTrue(epochsIn(killed) < 3, "the run finished before the kill");
        long killedAt = System.nanoTime();
        victim.destroyForcibly();   // SIGKILL rank 1 mid-epoch
        Run k = finish(job, log, killedAt, 120);
        assertTrue(k.seconds() < 60, "the job took " + k.seconds() + " s to end after rank 1 was killed");
        assertNotEquals(0, k.exitCode(), k.output());
        assertTrue(k.output().contains("rank 1") && k.output().contains("signal 9"), "names the killed rank: " + k.output());
        assertTrue(epochsIn(killed) < 3);

        Path killedOne = tmp.resolve("killed-one");
        copyTree(killed, killedOne);
        // Resume on 2 ranks over TCP: the same weights, bit for bit, as the uninterrupted 2-rank run.
        Run two = run(mpirun(2, List.of("--mca", "btl", "tcp,self"), List.of(Cli.args("train", "--out", killed, "--resume", "--threads", 1,
                "--cache-dir", cache))), "resume-two");
        assertEquals(0, two.exitCode(), two.output());
        assertTrue(two.output().contains("resumed from"), two.output());
        assertEquals(List.of(), Cli.differingTensors(reference.resolve("last.safetensors"), last), "tensors that differ after kill + resume on 2 ranks");
        // Resume on 1 rank: --batch is the global batch, so steps per epoch and the schedule stay; the run completes.
        Cli.Outcome one = Cli.run(Cli.args("train", "--out", killedOne, "--resume", "--threads", 1, "--cache-dir", cache));
        assertEquals(0, one.exitCode(), one.all());
        assertTrue(one.out().contains("resumed from"), one.out());
        assertEquals(3, epochsIn(killedOne));
    }

    @Test @Order(2) void validationOnTwoRanksEqualsOneProcessEvaluatingTheCheckpoint() throws Exception {
        assumeTrue(reference != null && Files.exists(reference.resolve("report/validation.json")), "needs the 2-rank reference run");
        Path out = tmp.resolve("eval-val");
        Cli.Outcome e = Cli.run(Cli.args("eval", "--data", faces, "--checkpoint", reference.resolve("last.safetensors"), "--split", "val",
                "--out", out, "--threads", 1, "--cache-dir", cache));
        assertEquals(0, e.exitCode(), e.all());
        Map<?, ?> sharded = (Map<?, ?>) Json.parse(Files.readString(reference.resolve("report/validation.json")));
        Map<?, ?> single = (Map<?, ?>) Json.parse(Files.readString(out.resolve("metrics.json")));
        for (String k : List.of("n", "gender_accuracy", "age_bucket_accuracy", "aabd", "confusion"))
            assertEquals(single.get(k), sharded.get(k), k + ": the 2-rank training's last validation vs eval of its last checkpoint");
        assertEquals(((Number) single.get("age_mae")).doubleValue(), ((Number) sharded.get("age_mae")).doubleValue(), 1e-4);
    }

    @Test @Order(3) void ranksWithADifferentConfigRefuseToStartSayingWhat() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(mpirun().toString(), "--allow-run-as-root", "--oversubscribe", "-np", "1"));
        cmd.addAll(java());
        cmd.addAll(train(tmp.resolve("mismatch")));
        cmd.addAll(List.of(":", "-np", "1"));
        cmd.addAll(java());
        cmd.addAll(train(tmp.resolve("mismatch")));
        cmd.addAll(List.of("--lr", "0.05"));
        Run r = run(cmd, "mismatch");
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("differs from rank 0: config: lr "), r.output());
        assertTrue(!Files.exists(tmp.resolve("mismatch/last.safetensors")), "nothing trained");
    }

    @Test @Order(4) void aRankThatHangsStopsTheJobAfterTheTimeout() throws Exception {
        Path run = tmp.resolve("hang");
        Path log = tmp.resolve("hang.log");
        Process job = start(mpirun(2, List.of("-x", "ATTNFACE_DIST_TIMEOUT_S"), train(run)), log, Map.of("ATTNFACE_DIST_TIMEOUT_S", "5"));
        long t0 = System.nanoTime();
        while (!Files.exists(run.resolve("last.safetensors")) && job.isAlive() && System.nanoTime() - t0 < 200e9) Thread.sleep(5);
        ProcessHandle victim = rank(job, 1).orElseThrow(() -> new AssertionError("rank 1's java process not found"));
        new ProcessBuilder("kill", "-STOP", Long.toString(victim.pid())).start().waitFor();   // alive, but never answers
        long stoppedAt = System.nanoTime();
        Run r = finish(job, log, stoppedAt, 120);
        assertTrue(r.seconds() < 60, "took " + r.seconds() + " s");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("waited 5 s in ") && r.output().contains("Stopping the job"), r.output());
    }

    @Test @Order(5) void anUnknownHostIsNamed() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/ssh")), "no ssh client: mpirun cannot reach other hosts at all here");
        List<String> cmd = new ArrayList<>(List.of(mpirun().toString(), "--allow-run-as-root", "--host", "no-such-host.invalid:1,localhost:1",
                "-np", "2"));
        cmd.addAll(java());
        cmd.addAll(List.of("--version"));
        Run r = run(cmd, "host");
        assertNotEquals(0, r.exitCode());
        assertTrue(r.output().contains("Could not resolve hostname no-such-host"), r.output());   // Open MPI shows the name up to its first dot
        assertTrue(r.seconds() < 60);
    }

    @Test @Order(6) void benchOnTwoRanksReportsEachRankAndTheCommunication() throws Exception {
        Path json = tmp.resolve("bench.json"), prof = tmp.resolve("bench-profile");
        Run r = run(mpirun(2, List.of(), List.of(Cli.args("bench", "--model", "attn", "--mode", "train", "--batch", 8, "--image-size", 32,
                "--warmup", 1, "--reps", 2, "--steps-per-rep", 1, "--threads", 1, "--json", json, "--profile", "--profile-dir", prof))), "bench");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("2 ranks, 1 CPU threads each"), r.output());
        assertTrue(r.output().contains("  rank 0: 4 images/step") && r.output().contains("  rank 1: 4 images/step"), r.output());
        assertTrue(r.output().contains("mpi.wait"), "the profile table has the communication rows: " + r.output());
        Map<?, ?> report = (Map<?, ?>) Json.parse(Files.readString(json));
        assertEquals(2L, report.get("ranks"));
        List<?> perRank = (List<?>) report.get("perRank");
        assertEquals(2, perRank.size());
        assertTrue(((Number) ((Map<?, ?>) perRank.get(1)).get("allreduceMsPerStep")).doubleValue() > 0);
        String trace = Files.readString(prof.resolve("attn-train-b8-s32/trace.json"));
        assertTrue(trace.contains("\"name\":\"communication\"") && trace.contains("\"name\":\"mpi.iallreduce\""), "a communication lane in the trace");
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (var s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path dst = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(dst);
                else Files.copy(p, dst);
            }
        }
    }
}
