package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bin/attnface sizes the Java heap from the machine's memory and the recipe: run here, on a copy
 * of the script beside a stand-in jar, with a stand-in {@code java} that prints the options it was given.
 */
class LauncherTest {
    @TempDir Path tmp;

    record Launch(String javaArgs, String err) {}

    private Launch launch(Map<String, String> env, String... args) throws IOException, InterruptedException {
        Path script = Path.of(System.getProperty("user.dir")).resolve("../bin/attnface").normalize();
        assumeTrue(Files.isRegularFile(script), "bin/attnface not found from " + System.getProperty("user.dir"));
        Path root = tmp.resolve("root");
        Files.createDirectories(root.resolve("bin"));
        Files.createDirectories(root.resolve("trainer/target"));
        Files.copy(script, root.resolve("bin/attnface"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(root.resolve("trainer/target/attnface.jar"), "stand-in");
        Path java = Files.createDirectories(tmp.resolve("jdk/bin")).resolve("java");
        Files.writeString(java, "#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'openjdk version \"25\" 2025-09-16' >&2; exit 0; fi\necho \"$@\"\n");
        Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
        List<String> cmd = new ArrayList<>(List.of("sh", root.resolve("bin/attnface").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("ATTNFACE_JAVA_OPTS");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        pb.environment().remove("JAVA_TOOL_OPTIONS");
        pb.environment().put("JAVA_HOME", tmp.resolve("jdk").toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        return new Launch(out.trim(), err);
    }

    private String heap(Map<String, String> env, String... args) throws IOException, InterruptedException {
        String a = launch(env, args).javaArgs();
        int i = a.indexOf("-Xmx");
        return i < 0 ? "none" : a.substring(i, a.indexOf(' ', i));
    }

    @Test
    void heapIsTheRecipesNeedAtLeastTheJvmDefaultAtMostTheMemoryLessOneGib() throws IOException, InterruptedException {
        // 8 GiB: the ensemble recipe's 3.5 GiB is above the JVM's default quarter (2 GiB); quick's 1.5 GiB is not
        assertEquals("-Xmx3584m", heap(Map.of("ATTNFACE_MEMORY_MIB", "8192"), "train", "--data", "d", "--out", "r"));
        assertEquals("-Xmx2048m", heap(Map.of("ATTNFACE_MEMORY_MIB", "8192"), "train", "--recipe", "quick", "--data", "d"));
        assertEquals("-Xmx3072m", heap(Map.of("ATTNFACE_MEMORY_MIB", "8192"), "train", "--model", "attn", "--data", "d"));
        assertEquals("-Xmx3584m", heap(Map.of("ATTNFACE_MEMORY_MIB", "8192"), "train", "--model", "attn", "--recipe=ensemble"));
        // 64 GiB: the JVM's default quarter is more than the recipe needs
        assertEquals("-Xmx16384m", heap(Map.of("ATTNFACE_MEMORY_MIB", "65536"), "train", "--data", "d"));
        // 4 GiB: capped at the memory less 1 GiB, and train says it may not be enough
        Launch small = launch(Map.of("ATTNFACE_MEMORY_MIB", "4096"), "train", "--data", "d");
        assertTrue(small.javaArgs().contains("-Xmx3072m"), small.javaArgs());
        assertTrue(small.err().contains("this machine has 4096 MiB of memory; this recipe wants a 3584 MiB Java heap and gets 3072 MiB"), small.err());
        // the user's own heap is left alone, and the arguments reach the jar unchanged
        Launch own = launch(Map.of("ATTNFACE_MEMORY_MIB", "8192", "ATTNFACE_JAVA_OPTS", "-Xmx700m"), "train", "--data", "a b");
        assertTrue(own.javaArgs().endsWith("-Xmx700m -jar " + tmp.resolve("root/trainer/target/attnface.jar") + " train --data a b"), own.javaArgs());
        assertEquals(1, own.javaArgs().split("-Xmx", -1).length - 1, own.javaArgs());
    }

    /** A heap too small for the recipe: exit 1 with what to change, no stack trace. */
    @Test
    void outOfHeapSaysWhatToChange() throws IOException, InterruptedException {
        Path faces = tmp.resolve("faces");
        org.attnface.trainer.TestData.synthesize(faces, 40, 64, 31);
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String f : System.getProperty("attnface.jvm.flags", "--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED").split(" "))
            if (!f.isBlank()) cmd.add(f);
        cmd.addAll(List.of("-Xmx96m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "train", "--data", faces.toString(),
                "--epochs", "1", "--out", tmp.resolve("run").toString(), "--cache-dir", tmp.resolve("cache").toString(), "--threads", "2"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(Main.EXIT_BAD_INPUT, p.exitValue(), out);
        assertTrue(out.matches("(?s).*attnface: out of Java heap \\(\\d+ MiB\\)( allocating \\d+ MiB for a tensor)?; raise the heap: "
                + "ATTNFACE_JAVA_OPTS=-Xmx1g bin/attnface \\.\\.\\. \\(java -Xmx1g\\), or lower --batch or --image-size.*"), out);
        assertTrue(!out.contains("\tat "), "no stack trace: " + out);
    }
}
