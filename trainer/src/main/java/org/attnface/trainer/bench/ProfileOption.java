package org.attnface.trainer.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

import org.attnface.engine.Device;
import org.attnface.engine.profile.Profiler;

import picocli.CommandLine.Option;

/**
 * {@code --profile} for {@code train}, as a picocli mixin: the profiler goes around the device's
 * backend before training starts, and each optimiser update ends a step. The first step (set-up,
 * JIT) is not counted and recording stops after {@link Profiler#AUTOMATIC_STEPS} steps, so a
 * long run pays nothing afterwards. In the command:
 *
 * <pre>
 * &#64;Mixin ProfileOption profile;
 * ...
 * profile.start(device);                    // before Trainer.run
 * profile.finish(runDir, System.out);       // after it: table, runDir/profile/{profile.txt,trace.json}
 * </pre>
 */
public final class ProfileOption {
    @Option(names = "--profile",
            description = "profile " + Profiler.AUTOMATIC_STEPS + " training steps (after the first): per-op table, <out>/profile/trace.json")
    boolean enabled;

    private Profiler profiler;

    public boolean enabled() { return enabled; }

    /** Installs the profiler on {@code device} when --profile was given. */
    public void start(Device device) {
        if (enabled && profiler == null) profiler = Profiler.install(device);
    }

    /** Prints the table, writes {@code runDir}/profile/{profile.txt,trace.json} and removes the profiler. */
    public void finish(Path runDir, PrintStream out) throws IOException {
        if (profiler == null) return;
        try {
            if (profiler.steps() == 0) out.println("--profile: no training step was profiled (the run made fewer than 2 optimiser steps)");
            else out.print(profiler.writeReport(runDir.resolve("profile")));
        } finally {
            profiler.uninstall();
            profiler = null;
        }
    }
}
