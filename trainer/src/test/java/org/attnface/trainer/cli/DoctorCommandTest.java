package org.attnface.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import org.junit.jupiter.api.Test;

/** `attnface doctor` reports every part, found or not, and exits 0 on any machine. */
class DoctorCommandTest {
    @Test
    void reportsJavaCpuGpuLibrariesKernelsNcclAndMpi() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DoctorCommand.report(new PrintStream(bytes, true, StandardCharsets.UTF_8));
        List<String> lines = bytes.toString(StandardCharsets.UTF_8).lines().toList();
        for (String start : List.of("Java 25", "CPU: ", "GPU driver: ", "CUDA libraries", "kernels: ", "NCCL", "MPI: "))
            assertTrue(lines.stream().anyMatch(l -> l.startsWith(start)), "no line starting '" + start + "' in\n" + String.join("\n", lines));
        assertTrue(lines.get(1).contains("float vectors of " + jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.length() + " lanes"), lines.get(1));
        assertEquals(0, Main.run("doctor"));
    }
}
