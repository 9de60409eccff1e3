package org.attnface.trainer.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

import org.attnface.engine.Device;
import org.attnface.engine.optim.LrSchedule;
import org.attnface.engine.optim.Optimizer;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.model.resnet.ResNet;
import org.attnface.trainer.data.FaceFolder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Split;

/**
 * Everything before the first step, in the order {@link Trainer} calls it: the run folder, the
 * images and their split (rank 0's, on every rank of an mpirun job), the step counts and the learning-rate schedule, the network and its
 * optimiser, and on {@code --resume} their state from last.safetensors.
 */
final class Preparation {
    private Preparation() {}

    static final String LAST = "last.safetensors", BEST = "best.safetensors";

    /**
     * Creates the run folder; refuses one that holds a run unless {@code resume}; removes
     * checkpoint writes that a kill cut off (the previous file is intact).
     */
    static void runFolder(Path runDir, boolean resume, PrintStream log) throws IOException {
        if (!resume && Files.exists(runDir.resolve(LAST)))
            throw new TrainingFault(runDir + " already holds a run (last.safetensors); add --resume to continue it or choose another --out");
        Files.createDirectories(runDir);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(runDir, ".*.tmp")) {
            for (Path p : ds) {
                log.println("removing " + p.getFileName() + " (a checkpoint write that was cut off; the previous file is intact)");
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * The images, the split (the run's split.json, else a new stratified one written there) and
     * what they fix: the batch, the steps per epoch, the warm-up and the schedule.
     */
    record Data(FaceSet set, int[] train, int[] val, int[] test, int batch, int stepsPerEpoch, int warmup, LrSchedule schedule) {}

    static Data data(TrainConfig cfg, ModelConfig mc, Path runDir, DataParallel dp, PrintStream log) throws IOException {
        FaceFolder.Request request = new FaceFolder.Request(Path.of(cfg.data()), cfg.cacheSize(), cfg.limit(), Path.of(cfg.cacheDir()), cfg.threads());
        // Under mpirun one rank per machine decodes the images into the cache; the others then map it, and so
        // does that rank if it has just decoded them: one copy of the faces per machine, the page cache's.
        FaceSet set = dp.world().localRank() == 0 ? FaceFolder.load(request, log) : null;
        dp.world().barrier("the wait for the face cache", 0);
        if (set == null) set = FaceFolder.load(request, log);
        else if (dp.distributed() && !set.pixels().isMapped())
            set = FaceFolder.load(request, new PrintStream(java.io.OutputStream.nullOutputStream()));
        dp.checkSameRun(cfg, set);
        Path splitFile = runDir.resolve("split.json");
        Split split = null;
        if (!dp.root()) {
            // rank 0's split, broadcast below: the run folder need not be on this rank's machine
        } else if (Files.exists(splitFile)) {
            split = Split.load(splitFile);
            log.println("using the run's split " + splitFile + " (" + split.train().size() + " train, " + split.val().size() + " val, " + split.test().size() + " test)");
        } else {
            split = Split.stratified(set, mc.buckets(), cfg.seed(), cfg.trainFraction(), cfg.valFraction());
            split.save(splitFile);
            log.println("split " + set.count() + " images (stratified by gender x age bucket, seed " + cfg.seed() + "): "
                    + split.train().size() + " train, " + split.val().size() + " val, " + split.test().size() + " test -> " + splitFile);
        }
        split = dp.broadcast(split);
        int[] train = Split.indices(set, split.train(), "train");
        int[] val = Split.indices(set, split.val(), "validation");
        int[] test = Split.indices(set, split.test(), "test");
        int batch = Math.min(cfg.batch(), train.length);
        if (batch < 2) throw new TrainingFault("only " + train.length + " training images: batch norm needs batches of 2 or more; use more data (--limit)");
        int ranks = dp.world().size();
        if (batch / ranks < 2)
            throw new TrainingFault("--batch " + batch + " over " + ranks + " ranks leaves fewer than 2 images per rank, which batch norm needs; "
                    + "--batch is the global batch: raise it to at least " + 2 * ranks);
        int stepsPerEpoch = train.length / batch;   // the last partial batch is dropped, as torch's drop_last
        long totalSteps = (long) stepsPerEpoch * cfg.epochs();
        int warmup = cfg.warmupSteps() >= 0 ? cfg.warmupSteps() : (int) Math.min(stepsPerEpoch, totalSteps / 20);
        LrSchedule schedule = LrSchedule.cosine(cfg.lr(), warmup, (int) Math.max(1, totalSteps), 0f);
        return new Data(set, train, val, test, batch, stepsPerEpoch, warmup, schedule);
    }

    /** The network, initialised from the seed and in training mode, and its optimiser. */
    record Network(AgeGenderModel model, Optimizer opt) {}

    static Network network(TrainConfig cfg, ModelConfig mc, Device device) {
        AgeGenderModel model = Models.create(mc, device, cfg.seed());
        if (cfg.zeroInitResidual() && ResNet.zeroInitResiduals(model) == 0)
            throw new TrainingFault("zero_init_residual is set but model '" + mc.arch() + "' has no ResNet blocks");
        model.train();
        Optimizer opt = cfg.optimizer().create(model.parameters(), cfg.lr(), cfg.momentum(), cfg.weightDecay());
        if (cfg.attnLr() > 0) {
            if (!(model instanceof Ensemble e) || !(cfg.lr() > 0))
                throw new TrainingFault("attn_lr " + cfg.attnLr() + " needs the ensemble and a learning rate > 0; got model '"
                        + mc.arch() + "', lr " + cfg.lr());
            opt.scaleLr(e.attn.parameters(), cfg.attnLr() / cfg.lr());
        }
        return new Network(model, opt);
    }

    /**
     * With {@code resume} and a last.safetensors in {@code runDir}: its weights and optimiser
     * state loaded into {@code net} and the position it holds; else step 0.
     */
    static Checkpoint.State resume(Path runDir, boolean resume, ModelConfig mc, Network net, PrintStream log) throws IOException {
        Path last = runDir.resolve(LAST);
        if (resume && Files.exists(last)) {
            Checkpoint.Loaded c = Checkpoint.read(last);
            c.modelConfig().checkCompatible(mc);
            c.loadModel(net.model());
            c.loadOptimizer(net.opt());
            Checkpoint.State state = c.state();
            log.printf(Locale.ROOT, "resumed from %s: step %d, %d epochs done%n", last, state.step(), state.epochsDone());
            return state;
        }
        if (resume) log.println("no checkpoint in " + runDir + " yet: starting from step 0");
        return new Checkpoint.State(0, 0, Double.NEGATIVE_INFINITY, -1, LossSums.ZERO);
    }
}
