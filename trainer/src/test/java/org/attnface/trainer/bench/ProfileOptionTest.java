package org.attnface.trainer.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.model.Arch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import picocli.CommandLine;

/** train --profile's mixin: steps end at each optimiser update, the report lands in the run folder, the profiler comes off. */
class ProfileOptionTest {

    @Test
    void profilesTrainingStepsAndWritesTheReportIntoTheRunFolder(@TempDir Path run) throws Exception {
        ProfileOption option = new ProfileOption();
        new CommandLine(option).parseArgs("--profile");
        option.start(Device.CPU);
        Throughput training = new Throughput(Arch.ATTN, "train", 2, 32, Device.CPU, 1);
        for (int i = 0; i < 4; i++) training.step();
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        option.finish(run, new PrintStream(text, true, StandardCharsets.UTF_8));
        String out = text.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("profile of 3 step(s)"), out);
        assertTrue(out.contains("gridSampleBackward"), out);
        assertTrue(Files.size(run.resolve("profile").resolve("trace.json")) > 1000);
        assertTrue(Backends.of(Device.CPU) == Backends.raw(Device.CPU), "the profiler is removed after finish()");
    }

    @Test
    void withoutTheFlagNothingIsInstalled(@TempDir Path run) throws Exception {
        ProfileOption option = new ProfileOption();
        new CommandLine(option).parseArgs();
        option.start(Device.CPU);
        assertTrue(Backends.of(Device.CPU) == Backends.raw(Device.CPU));
        option.finish(run, System.out);
        assertTrue(!Files.exists(run.resolve("profile")));
    }
}
