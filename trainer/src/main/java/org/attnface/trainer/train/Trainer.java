package org.attnface.trainer.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.engine.dist.World;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.ModelConfig;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;
import org.attnface.trainer.report.Charts;

/**
 * The training recipe: {@link Preparation} (run folder, data and split, network and optimiser,
 * resume), the {@link EpochLoop} (steps, validation, {@link MetricsLog}, checkpoints), then the
 * report. A run folder holds config.json, split.json, metrics.jsonl (one line per epoch),
 * last.safetensors (every epoch and every {@code checkpointEvery} steps), best.safetensors (by
 * validation age-bucket + gender accuracy) and report PNGs.
 *
 * <p>Reproducibility: the epoch order is a function of (seed, epoch), the augmentation and
 * the dropout masks of (seed, step); a checkpoint holds weights, batch-norm statistics,
 * optimiser state and the step, so {@code --resume} after a kill ends with the same weights
 * as an uninterrupted run (bit-exact on the CPU with the same thread count).
 */
public final class Trainer {
    private Trainer() {}

    /** What a finished run reports. */
    public record Result(Path runDir, Evaluation validation, double bestMetric, int bestEpoch, long steps, double trainImagesPerSecond,
                         FaceSet data, int[] testIndices) {}

    /**
     * Trains from scratch ({@code resume} false: the run folder must not hold a run yet) or
     * continues the run in {@code runDir} from its last.safetensors.
     */
    public static Result run(TrainConfig cfg, Path runDir, boolean resume, PrintStream log) throws IOException {
        return run(cfg, runDir, resume, EpochLoop.GradientHook.NONE, log);
    }

    /** {@link #run(TrainConfig, Path, boolean, PrintStream)} with {@code hook} called on every step's gradients. */
    static Result run(TrainConfig cfg, Path runDir, boolean resume, EpochLoop.GradientHook hook, PrintStream log) throws IOException {
        Device device = Device.parse(cfg.device());
        // Under mpirun: the ranks of the job, rank 0 alone writing files (DataParallel); else a world of one.
        DataParallel dp = new DataParallel(World.get());
        if (dp.root()) Preparation.runFolder(runDir, resume, log);
        if (device == Device.CPU) Backends.setCpuThreads(cfg.threads());
        Backends.of(device);   // fails here, with the backend's message, when the device is missing
        ModelConfig mc = cfg.modelConfig();
        Preparation.Data data = Preparation.data(cfg, mc, runDir, dp, log);
        if (cfg.epochs() == 0) {
            // a run set up for later: `--resume --epochs N` trains it with this config and split
            AtomicFile.writeString(runDir.resolve("config.json"), cfg.toJson() + "\n");
            log.println("--epochs 0: the data is decoded and cached, split.json and config.json written; nothing trained. "
                    + "`attnface train --out " + runDir + " --resume --epochs N` trains this run");
            return new Result(runDir, null, Double.NaN, -1, 0, 0, data.set(), data.test());
        }
        Preparation.Network net = Preparation.network(cfg, mc, device);
        Batches batches = new Batches(data.set(), device, cfg.imageSize(), mc.buckets());
        Checkpoint.State state = dp.root() ? Preparation.resume(runDir, resume, mc, net, log) : null;
        if (dp.distributed()) {
            dp.broadcastModel(net.model(), net.opt());
            state = dp.broadcast(state);
            int n = dp.world().size();
            log.printf(Locale.ROOT, "%d ranks (this is %s): each takes %d-%d images of a global batch of %d, gradients averaged over the ranks%n",
                    n, dp.world().describe(), data.batch() / n, (data.batch() + n - 1) / n, data.batch());
        }
        MetricsLog metrics = new MetricsLog(runDir, cfg.lossWeights(), log);
        if (dp.root()) {
            metrics.keepEpochs(state.epochsDone());
            AtomicFile.writeString(runDir.resolve("config.json"), cfg.toJson() + "\n");
        }
        log.printf(Locale.ROOT, "model %s%s: %,d parameters; %s, lr %.4g%s, batch %d, %d steps/epoch, %d epochs, warm-up %d steps; device %s, %d threads%n",
                mc.arch(), switch (mc.arch()) {
                    case ATTN -> " (attn width " + mc.attnWidth() + ")";
                    case RESNET -> " (ResNet-" + mc.resnetDepth() + ", width " + mc.resnetWidth() + ")";
                    case ENSEMBLE -> " (ResNet-" + mc.resnetDepth() + ", width " + mc.resnetWidth() + "; attn width " + mc.attnWidth() + ")";
                },
                net.model().parameterCount(), cfg.optimizer(), cfg.lr(),
                cfg.attnLr() > 0 ? String.format(Locale.ROOT, " (attn member %.4g)", cfg.attnLr()) : "", data.batch(), data.stepsPerEpoch(),
                cfg.epochs(), data.warmup(), device, device == Device.CPU ? Backends.cpuThreads() : 0);

        EpochLoop.End end = new EpochLoop(cfg, runDir, device, net, batches, data, metrics, hook, dp, log).run(state);
        Evaluation val = end.validation();
        if (val == null) {
            val = Probabilities.evaluate(net.model(), batches, data.val(), mc, data.batch());
            log.println("the run had already finished; validation of the last checkpoint: " + val.overall());
        }
        if (dp.root()) writeReports(runDir, metrics.file(), val, log);
        batches.close();
        return new Result(runDir, val, end.state().bestMetric(), end.state().bestEpoch(), end.state().step(), end.trainImagesPerSecond(),
                data.set(), data.test());
    }

    private static void writeReports(Path runDir, Path metricsFile, Evaluation val, PrintStream log) {
        try {
            Path report = runDir.resolve("report");
            Files.createDirectories(report);
            Charts.curves(metricsFile, report.resolve("curves.png"));
            Charts.confusion(val, "validation", report.resolve("val_confusion.png"));
            Charts.genderHistogram(val, "validation", report.resolve("val_gender_probability.png"));
            AtomicFile.writeString(report.resolve("validation.md"), val.toMarkdown("Validation, last epoch"));
            AtomicFile.writeString(report.resolve("validation.json"), Json.write(val.toJson()) + "\n");
        } catch (IOException | RuntimeException e) {
            log.println("warning: could not write the report PNGs (" + e.getMessage() + ")");
        }
    }
}
