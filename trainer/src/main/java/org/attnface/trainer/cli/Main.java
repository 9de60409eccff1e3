package org.attnface.trainer.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.NoSuchFileException;

import org.attnface.engine.backend.OutOfDeviceMemoryException;
import org.attnface.trainer.train.TrainingFault;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code attnface} command line. Exit codes: 0 done, 1 bad input (a message says which
 * file or option), 2 usage error or no GPU for {@code --device cuda}, 3 training stopped on
 * a NaN/Inf (resumable).
 */
@Command(name = "attnface", mixinStandardHelpOptions = true, versionProvider = VersionInfo.class,
        description = "Age and gender from face images with an attentional CNN, a ResNet and their ensemble; a deep-learning engine in Java.",
        subcommands = {
                TrainCommand.class,
                EvalCommand.class,
                PredictCommand.class,
                ExplainCommand.class,
                ExperimentsCommand.class,
                InspectCommand.class,
                // ---- further subcommands go here, one line each (the bench helper adds BenchCommand) ----
                org.attnface.trainer.bench.BenchCommand.class,
                DoctorCommand.class,
                ExportCommand.class,
        })
public final class Main implements Runnable {
    public static final int EXIT_BAD_INPUT = 1;
    public static final int EXIT_NO_DEVICE = 2;
    public static final int EXIT_NUMERICAL_FAULT = 3;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    @Override public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            // Without it the CPU backend fails at its first kernel with NoClassDefFoundError, after the data is loaded.
            System.err.println("attnface: the CPU backend needs Java's Vector API, which is not enabled; run "
                    + "'java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -jar attnface.jar ...' or bin/attnface");
            System.exit(EXIT_NO_DEVICE);
        }
        int code = run(args);
        // MPI_Finalize only after a clean end: after an error the other ranks may sit in a collective, and
        // this rank's non-zero exit is what makes mpirun stop them.
        if (code == 0 && org.attnface.engine.dist.World.launchedByMpirun()) org.attnface.engine.dist.World.get().close();
        System.exit(code);
    }

    /** Runs a command line and returns its exit code (tests call this in-process). */
    public static int run(String... args) {
        System.setProperty("java.awt.headless", "true");
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((e, cmd, parse) -> {
            PrintWriter err = cmd.getErr();
            String rank = org.attnface.engine.dist.World.describeIfStarted();
            if (rank != null && org.attnface.engine.dist.World.launchedByMpirun()) err.print("[" + rank + "] ");
            if (e instanceof TrainingFault) {
                err.println("attnface: " + e.getMessage());
                err.flush();
                return EXIT_NUMERICAL_FAULT;
            }
            if (e instanceof NoSuchFileException nf) {
                err.println("attnface: " + nf.getFile() + ": " + (nf.getReason() != null ? nf.getReason() : "no such file or folder"));
                err.flush();
                return EXIT_BAD_INPUT;
            }
            if (e instanceof IOException || e instanceof IllegalArgumentException || e instanceof IllegalStateException
                    || e instanceof OutOfDeviceMemoryException || e instanceof org.attnface.engine.dist.DistException) {
                err.println("attnface: " + e.getMessage());
                err.flush();
                return EXIT_BAD_INPUT;
            }
            throw e;
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {   // outside the CPU backend's allocator, which says this itself
            System.err.println("attnface: " + org.attnface.engine.backend.cpu.CpuBackend.outOfHeap(-1));
            return EXIT_BAD_INPUT;
        }
    }
}
