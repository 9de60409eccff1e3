package org.attnface.engine.dist;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Starts a Java main under Open MPI's mpirun (or alone) for the multi-process tests. */
public final class Mpirun {
    private Mpirun() {}

    /** mpirun on the PATH, or null (the tests that need it then skip, saying so). */
    public static Path find() {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(":")) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    /** The launcher's words: N ranks, oversubscribed on a 2-core machine, allowed as root (CI runs as root); extra MCA options after. */
    public static List<String> prefix(int ranks, String... extra) {
        List<String> cmd = new ArrayList<>(List.of(find().toString(), "--allow-run-as-root", "--oversubscribe", "-np", Integer.toString(ranks)));
        cmd.addAll(List.of(extra));
        return cmd;
    }

    /** java with the test JVM's class path and the engine's flags, then {@code main} and {@code args}. */
    public static List<String> java(String main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        return cmd;
    }

    public record Result(int exitCode, String output, double seconds) {}

    /** Runs {@code cmd}, its output to {@code log}; kills it after {@code timeoutSeconds}. */
    public static Result run(List<String> cmd, Path log, double timeoutSeconds) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("OMPI_MCA_rmaps_base_oversubscribe", "1");
        Process p = pb.start();
        if (!p.waitFor((long) (timeoutSeconds * 1000), TimeUnit.MILLISECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
            return new Result(-1, Files.readString(log) + "\n[killed after " + timeoutSeconds + " s]", timeoutSeconds);
        }
        return new Result(p.exitValue(), Files.readString(log), (System.nanoTime() - t0) / 1e9);
    }
}
