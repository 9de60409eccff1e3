package org.attnface.trainer.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.NumericalFault;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.backend.Backends;
import org.attnface.engine.backend.OutOfDeviceMemoryException;
import org.attnface.engine.backend.cuda.CudaBackend;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.engine.nn.Dropout;
import org.attnface.engine.nn.Module;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.AdamW;
import org.attnface.engine.optim.LrSchedule;
import org.attnface.engine.optim.Optimizer;
import org.attnface.engine.optim.Sgd;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.AuxLabels;
import org.attnface.model.Losses;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.model.resnet.ResNet;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceFolder;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.data.Split;
import org.attnface.trainer.metrics.AgeRule;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.report.Charts;

/**
 * The training loop. A run folder holds config.json, split.json, metrics.jsonl (one line
 * per epoch), last.safetensors (every epoch and every {@code checkpointEvery} steps),
 * best.safetensors (by validation age-bucket + gender accuracy) and report PNGs.
 *
 * <p>Reproducibility: the epoch order is a function of (seed, epoch), the augmentation and
 * the dropout masks of (seed, step); a checkpoint holds weights, batch-norm statistics,
 * optimiser state and the step, so {@code --resume} after a kill ends with the same weights
 * as an uninterrupted run (bit-exact on the CPU with the same thread count).
 */
public final class Trainer {
    private final TrainConfig cfg;
    private final Path runDir;
    private final PrintStream log;
    private final Device device;
    private AgeGenderModel model;
    private Optimizer opt;
    private Batches batches;
    private LrSchedule schedule;
    private int[] trainIdx, valIdx, testIdx;
    /** Time spent making batches (crop, flip, jitter, normalise, labels), to see whether prefetching would pay. */
    private long batchNanos;

    /** What a finished run reports. */
    public record Result(Path runDir, Evaluation validation, double bestMetric, int bestEpoch, long steps, double trainImagesPerSecond,
                         FaceSet data, int[] testIndices) {}

    private Trainer(TrainConfig cfg, Path runDir, PrintStream log) {
        this.cfg = cfg;
        this.runDir = runDir;
        this.log = log;
        this.device = parseDevice(cfg.device());
    }

    public static Device parseDevice(String name) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "cpu" -> Device.CPU;
            case "cuda", "gpu" -> Device.CUDA;
            default -> throw new IllegalArgumentException("unknown device '" + name + "' (cpu or cuda)");
        };
    }

    /**
     * Trains from scratch ({@code resume} false: the run folder must not hold a run yet) or
     * continues the run in {@code runDir} from its last.safetensors.
     */
    public static Result run(TrainConfig cfg, Path runDir, boolean resume, PrintStream log) throws IOException {
        return new Trainer(cfg, runDir, log).run(resume);
    }

    private Result run(boolean resume) throws IOException {
        Path last = runDir.resolve("last.safetensors");
        if (!resume && Files.exists(last))
            throw new TrainingFault(runDir + " already holds a run (last.safetensors); add --resume to continue it or choose another --out");
        Files.createDirectories(runDir);
        removeStaleTemporaries();
        if (device == Device.CPU) Backends.setCpuThreads(cfg.threads());
        Backends.of(device);   // fails here, with the backend's message, when the device is missing
        ModelConfig mc = cfg.modelConfig();

        FaceSet set = FaceFolder.load(new FaceFolder.Request(Path.of(cfg.data()), cfg.cacheSize(), cfg.limit(), Path.of(cfg.cacheDir()), cfg.threads()), log);
        Path splitFile = runDir.resolve("split.json");
        Split split;
        if (Files.exists(splitFile)) {
            split = Split.load(splitFile);
            log.println("using the run's split " + splitFile + " (" + split.train().size() + " train, " + split.val().size() + " val, " + split.test().size() + " test)");
        } else {
            split = Split.stratified(set, mc.buckets(), cfg.seed(), cfg.trainFraction(), cfg.valFraction());
            split.save(splitFile);
            log.println("split " + set.count() + " images (stratified by gender x age bucket, seed " + cfg.seed() + "): "
                    + split.train().size() + " train, " + split.val().size() + " val, " + split.test().size() + " test -> " + splitFile);
        }
        trainIdx = Split.indices(set, split.train(), "train");
        valIdx = Split.indices(set, split.val(), "validation");
        testIdx = Split.indices(set, split.test(), "test");
        int batch = Math.min(cfg.batch(), trainIdx.length);
        if (batch < 2) throw new TrainingFault("only " + trainIdx.length + " training images: batch norm needs batches of 2 or more; use more data (--limit)");
        int stepsPerEpoch = trainIdx.length / batch;   // the last partial batch is dropped, as torch's drop_last
        long totalSteps = (long) stepsPerEpoch * cfg.epochs();
        int warmup = cfg.warmupSteps() >= 0 ? cfg.warmupSteps() : (int) Math.min(stepsPerEpoch, totalSteps / 20);
        schedule = LrSchedule.cosine(cfg.lr(), warmup, (int) Math.max(1, totalSteps), 0f);

        if (cfg.epochs() == 0) {
            log.println("--epochs 0: the data is decoded and cached and the split written; nothing trained");
            return new Result(runDir, null, Double.NaN, -1, 0, 0, set, testIdx);
        }
        model = Models.create(mc, device, cfg.seed());
        if (cfg.zeroInitResidual() && ResNet.zeroInitResiduals(model) == 0)
            throw new TrainingFault("zero_init_residual is set but model '" + mc.arch() + "' has no ResNet blocks");
        model.train();
        opt = switch (cfg.optimizer()) {
            case "sgd" -> new Sgd(model.parameters(), cfg.lr(), cfg.momentum(), cfg.weightDecay());
            case "adamw" -> new AdamW(model.parameters(), cfg.lr(), cfg.weightDecay());
            default -> throw new IllegalArgumentException("unknown optimizer '" + cfg.optimizer() + "' (sgd or adamw)");
        };
        if (cfg.attnLr() > 0) {
            if (!(model instanceof Ensemble e) || !(cfg.lr() > 0))
                throw new TrainingFault("attn_lr " + cfg.attnLr() + " needs the ensemble and a learning rate > 0; got model '"
                        + mc.arch() + "', lr " + cfg.lr());
            opt.scaleLr(e.attn.parameters(), cfg.attnLr() / cfg.lr());
        }
        batches = new Batches(set, device, cfg.imageSize(), mc.buckets());

        Checkpoint.State state = new Checkpoint.State(0, 0, Double.NEGATIVE_INFINITY, -1, LossSums.ZERO);
        if (resume && Files.exists(last)) {
            Checkpoint.Loaded c = Checkpoint.read(last);
            c.modelConfig().checkCompatible(mc);
            c.loadModel(model);
            c.loadOptimizer(opt);
            state = c.state();
            log.printf(Locale.ROOT, "resumed from %s: step %d, %d epochs done%n", last, state.step(), state.epochsDone());
        } else if (resume) {
            log.println("no checkpoint in " + runDir + " yet: starting from step 0");
        }
        keepMetricLines(state.epochsDone());
        AtomicFile.writeString(runDir.resolve("config.json"), cfg.toJson() + "\n");
        log.printf(Locale.ROOT, "model %s%s: %,d parameters; %s, lr %.4g%s, batch %d, %d steps/epoch, %d epochs, warm-up %d steps; device %s, %d threads%n",
                mc.arch(), switch (mc.arch()) {
                    case "attn" -> " (attn width " + mc.attnWidth() + ")";
                    case "resnet" -> " (ResNet-" + mc.resnetDepth() + ", width " + mc.resnetWidth() + ")";
                    default -> " (ResNet-" + mc.resnetDepth() + ", width " + mc.resnetWidth() + "; attn width " + mc.attnWidth() + ")";
                },
                model.parameterCount(), cfg.optimizer(), cfg.lr(),
                cfg.attnLr() > 0 ? String.format(Locale.ROOT, " (attn member %.4g)", cfg.attnLr()) : "", batch, stepsPerEpoch,
                cfg.epochs(), warmup, device, device == Device.CPU ? Backends.cpuThreads() : 0);

        long step = state.step();
        Evaluation val = null;
        double trainRate = 0;
        long runStart = System.nanoTime();
        int firstEpoch = (int) (step / stepsPerEpoch);
        for (int epoch = firstEpoch; epoch < cfg.epochs(); epoch++) {
            int[] order = Batches.epochOrder(trainIdx, cfg.seed(), epoch);
            LossSums sums = step % stepsPerEpoch == 0 ? LossSums.ZERO : state.epochLoss();
            int first = (int) (step - (long) epoch * stepsPerEpoch);
            Progress bar = new Progress(log, String.format(Locale.ROOT, "epoch %d/%d", epoch + 1, cfg.epochs()), stepsPerEpoch - first);
            float lastLoss = Float.NaN;
            batchNanos = 0;
            for (int b = first; b < stepsPerEpoch; b++) {
                int[] idx = Arrays.copyOfRange(order, b * batch, (b + 1) * batch);
                float[] losses;
                try {
                    losses = trainStep(idx, step);
                } catch (OutOfDeviceMemoryException e) {
                    throw new IllegalStateException(e.getMessage() + ": --batch " + batch + " does not fit on this GPU, try --batch "
                            + e.suggestBatch(batch), e);
                }
                if (losses != null) {
                    sums = sums.plus(losses);
                    lastLoss = losses[0];
                }
                step++;
                bar.update(b + 1 - first, (long) (b + 1 - first) * batch, lastLoss);
                if (cfg.checkpointEvery() > 0 && step % cfg.checkpointEvery() == 0 && b + 1 < stepsPerEpoch) {
                    state = new Checkpoint.State(step, epoch, state.bestMetric(), state.bestEpoch(), sums);
                    Checkpoint.save(last, model, opt, cfg, state);
                }
            }
            bar.finish();
            double seconds = bar.seconds();
            trainRate = (double) (stepsPerEpoch - first) * batch / Math.max(1e-9, seconds);
            long t0 = System.nanoTime();
            Map<String, Evaluation.Summary> members = new LinkedHashMap<>();
            val = validate(valIdx, mc, batch, members);
            double inside = attentionInside(Arrays.copyOf(valIdx, Math.min(batch, valIdx.length)));
            double evalSeconds = (System.nanoTime() - t0) / 1e9;
            Evaluation.Summary v = val.overall();
            double metric = v.ageAccuracy() + v.genderAccuracy();
            boolean best = !(metric <= state.bestMetric());   // NaN (empty validation set) counts as better than nothing
            state = new Checkpoint.State(step, epoch + 1, best ? metric : state.bestMetric(), best ? epoch + 1 : state.bestEpoch(), LossSums.ZERO);
            Map<String, Object> line = new LinkedHashMap<>();
            line.put("epoch", epoch + 1);
            line.put("step", step);
            line.put("train_loss", sums.count() == 0 ? null : sums.mean(sums.total()));
            // the unweighted terms (the total weights them), only those trained
            Map<String, Double> terms = sums.termMeans(cfg.lossWeights());
            terms.forEach((name, mean) -> line.put("train_loss_" + name, mean));
            line.put("lr", (double) schedule.lr((int) Math.max(0, step - 1)));
            line.put("val_gender_accuracy", v.genderAccuracy());
            line.put("val_age_bucket_accuracy", v.ageAccuracy());
            line.put("val_aabd", v.aabd());
            line.put("val_age_mae", v.ageMae());
            members.forEach((name, ms) -> {
                line.put("val_" + name + "_gender_accuracy", ms.genderAccuracy());
                line.put("val_" + name + "_age_bucket_accuracy", ms.ageAccuracy());
                line.put("val_" + name + "_aabd", ms.aabd());
            });
            if (!Double.isNaN(inside)) line.put("val_attn_inside", inside);
            line.put("train_images_per_s", trainRate);
            line.put("train_seconds", seconds);
            line.put("batch_prep_seconds", batchNanos / 1e9);
            line.put("eval_seconds", evalSeconds);
            appendMetrics(line);
            StringBuilder memberText = new StringBuilder();
            members.forEach((name, ms) -> memberText.append(memberText.isEmpty() ? " (" : ", ").append(String.format(Locale.ROOT,
                    "%s %.2f%% / %.2f%%", name, 100 * ms.genderAccuracy(), 100 * ms.ageAccuracy())));
            if (!memberText.isEmpty()) memberText.append(")");
            log.printf(Locale.ROOT, "epoch %d: train loss %.4f%s, val gender %.2f%%, age bucket %.2f%%, AABD %.3f, MAE %.2f y%s; %.1f img/s "
                            + "(batch preparation %.1f%% of the time)%s%s%n",
                    epoch + 1, sums.mean(sums.total()), termText(terms), 100 * v.genderAccuracy(), 100 * v.ageAccuracy(), v.aabd(),
                    v.ageMae(), memberText, trainRate, 100 * batchNanos / 1e9 / Math.max(1e-9, seconds), best ? " (best so far)" : "",
                    runEta(runStart, epoch + 1 - firstEpoch, cfg.epochs() - epoch - 1));
            if (inside < 0.5)
                log.printf(Locale.ROOT, "warning: the attn network's spatial transformer samples only %.0f%% of its grid inside the image: "
                        + "it sees mostly padding and will not recover; lower its rate (%s)%n", 100 * inside,
                        mc.arch().equals("ensemble") ? "--attn-lr" : "--lr");
            if (best) Checkpoint.save(runDir.resolve("best.safetensors"), model, opt, cfg, state);
            Checkpoint.save(last, model, opt, cfg, state);
        }
        if (val == null) {
            val = evaluate(model, batches, valIdx, mc, batch);
            log.println("the run had already finished; validation of the last checkpoint: " + val.overall());
        }
        writeReports(val);
        batches.close();
        return new Result(runDir, val, state.bestMetric(), state.bestEpoch(), step, trainRate, set, testIdx);
    }

    /**
     * Validation at the training batch size (its arrays are cached already). For an ensemble,
     * also each member's metrics into {@code members}, from the same forward passes: a member
     * that stops learning shows here while the ensemble's numbers still look fine.
     */
    private Evaluation validate(int[] idx, ModelConfig mc, int batch, Map<String, Evaluation.Summary> members) {
        if (!(model instanceof Ensemble e)) return evaluate(model, batches, idx, mc, batch);
        Members m = Members.of(e, batches, idx, batch, false);
        m.evaluations(batches.set(), idx, mc, AgeRule.ARGMAX).forEach((name, ev) -> members.put(name, ev.overall()));
        return evaluation(m.mix(e.attnWeight()), batches.set(), idx, mc, AgeRule.ARGMAX);
    }

    /** {@link AttnCnn#insideFraction} of the attn network (alone or in the ensemble) on these images; NaN when it has no attention. */
    private double attentionInside(int[] idx) {
        AttnCnn attn = model instanceof AttnCnn a ? a : model instanceof Ensemble e ? e.attn : null;
        if (attn == null || !attn.config().attention() || idx.length == 0) return Double.NaN;
        try (AutoCloseable ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
            return AttnCnn.insideFraction(attn.theta(batches.images(idx, false, 0)).toArray());
        } catch (Exception e) {
            if (e instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e);
        }
    }

    /**
     * "; run ETA 1h42m (16:05)": the remaining epochs at this process's mean time per epoch so far
     * (training and validation), and the local clock time they end; "" after the last epoch. A
     * 2-hour run's end is the number a user plans around, and the bar's ETA covers one epoch.
     */
    static String runEta(long startNanos, int epochsDone, int epochsLeft) {
        if (epochsLeft <= 0 || epochsDone <= 0) return "";
        double s = (System.nanoTime() - startNanos) / 1e9 / epochsDone * epochsLeft;
        String clock = java.time.LocalTime.now().plusSeconds(Math.round(s)).truncatedTo(java.time.temporal.ChronoUnit.MINUTES).toString();
        return "; run ETA " + Progress.time(s) + " (" + clock + ")";
    }

    /** " (gender 0.4120, age 1.2340, ...)" of {@link LossSums#termMeans}; "" when it is empty. */
    private static String termText(Map<String, Double> terms) {
        if (terms.isEmpty()) return "";
        StringBuilder b = new StringBuilder();
        terms.forEach((name, mean) -> b.append(String.format(Locale.ROOT, ", %s %.4f", name, mean)));
        return " (" + b.substring(2) + ")";
    }

    /**
     * One optimiser step; returns the losses (total, gender, age, distance, aux: {@link LossSums#plus})
     * when they were read this step, else null.
     */
    private float[] trainStep(int[] idx, long step) {
        boolean read = step % Math.max(1, cfg.lossEvery()) == 0 || step == cfg.faultInjectStep();
        float[] losses = null;
        try (TensorScope scope = TensorScope.open()) {
            Losses l = forwardBackward(idx, step);
            if (read) {
                losses = new float[] {l.total().item(), l.gender().item(), l.age().item(), l.distance().item(), l.aux().item()};
                Tensor bad = Tensor.empty(device, 1);
                opt.flatGrads().backend().countNonFinite(opt.flatGrads(), bad);
                int badGrads = (int) bad.item();
                if (!Float.isFinite(losses[0]) || badGrads > 0) fault(idx, step, losses[0], badGrads);
            }
            if (cfg.clipGrad() > 0) clipGradients(opt.flatGrads(), cfg.clipGrad());
            opt.setLr(schedule.lr((int) step));
            opt.step();
        }
        return losses;
    }

    private Losses forwardBackward(int[] idx, long step) {
        setDropoutStep(step);
        long t0 = System.nanoTime();
        Tensor x = batches.images(idx, true, Batches.augmentSeed(cfg.seed(), step));
        Tensor genders = batches.genderLabels(idx), bucketLabels = batches.bucketLabels(idx);
        batchNanos += System.nanoTime() - t0;
        if (step == cfg.faultInjectStep()) {
            // Test hook (--fault-inject-step): a NaN pixel, as a corrupt image would give, to exercise the fault path.
            float[] v = x.toArray();
            v[0] = Float.NaN;
            x.copyFrom(v);
        }
        opt.zeroGrad();
        AuxLabels aux = cfg.lossAux() > 0 ? batches.auxLabels(idx) : null;
        Losses l = model.loss(x, genders, bucketLabels, aux, cfg.lossWeights());
        l.total().backward();
        return l;
    }

    /** Re-runs the bad step with anomaly detection to name the first op that made a NaN/Inf, then stops. */
    private void fault(int[] idx, long step, float loss, int badGrads) {
        String where;
        Autograd.setAnomalyDetection(true);
        try (TensorScope s = TensorScope.open()) {
            forwardBackward(idx, step);
            where = "re-running the step with anomaly detection found no NaN/Inf (the fault did not repeat)";
        } catch (NumericalFault f) {
            where = "first non-finite value: " + f.getMessage();
        } finally {
            Autograd.setAnomalyDetection(false);
        }
        String what = !Float.isFinite(loss) ? "the loss is " + loss : badGrads + " gradient values are NaN/Inf (loss " + loss + ")";
        Path last = runDir.resolve("last.safetensors");
        String resumeHint = Files.exists(last)
                ? "The last good checkpoint " + last + " is intact; `attnface train --out " + runDir + " --resume` restarts from it"
                : "No checkpoint was written yet; `attnface train --out " + runDir + " --resume` starts the run again";
        throw new TrainingFault(String.format(Locale.ROOT, "stopped at step %d: %s; %s. The weights were not updated. %s "
                + "(a lower --lr or --clip-grad may avoid it).", step, what, where, resumeHint));
    }

    /**
     * Scales gradients (the optimiser's flat buffer, so one pass for all parameters) so their
     * global L2 norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_; returns the norm before,
     * or NaN on the GPU, where the norm and the factor stay on the device (no host sync per step).
     */
    static double clipGradients(Tensor flatGrads, float maxNorm) {
        if (flatGrads.device() == Device.CUDA && Backends.raw(Device.CUDA) instanceof CudaBackend cuda) {
            cuda.clipToNorm(flatGrads, maxNorm);
            return Double.NaN;
        }
        double norm;
        try (AutoCloseable ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
            norm = Math.sqrt(Ops.sum(Ops.mul(flatGrads, flatGrads)).item());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        if (norm > maxNorm) flatGrads.backend().scale(flatGrads, (float) (maxNorm / norm), flatGrads);
        return norm;
    }

    private void setDropoutStep(long step) {
        for (Module m : model.namedModules().values()) if (m instanceof Dropout d) d.setStep(step);
    }

    /** Predictions of {@code model} on images (centre crop) against their labels. */
    public static Evaluation evaluate(AgeGenderModel model, Batches batches, int[] indices, ModelConfig mc, int batchSize) {
        return evaluation(probabilities(model, batches, indices, batchSize, false), batches.set(), indices, mc, AgeRule.ARGMAX);
    }

    /** Class probabilities of n images: gender [n * 2] and age bucket [n * B], row by row. */
    public record Probabilities(float[] gender, float[] age) {
        /** w * a + (1 - w) * b, class by class (what Ensemble computes with attnWeight w). */
        public static Probabilities mix(Probabilities a, Probabilities b, float w) {
            return new Probabilities(mix(a.gender, b.gender, w), mix(a.age, b.age, w));
        }

        private static float[] mix(float[] a, float[] b, float w) {
            float[] out = new float[a.length];
            for (int i = 0; i < a.length; i++) out[i] = a[i] * w + b[i] * (1 - w);
            return out;
        }
    }

    /** An ensemble's two members' probabilities on the same images, each network run once (train's validation, eval). */
    public record Members(Probabilities attn, Probabilities resnet) {
        public static Members of(Ensemble e, Batches batches, int[] indices, int batchSize, boolean mirrored) {
            return new Members(probabilities(e.attn, batches, indices, batchSize, mirrored), probabilities(e.resnet, batches, indices, batchSize, mirrored));
        }

        /** The ensemble's probabilities with attn weight w. */
        public Probabilities mix(float w) { return Probabilities.mix(attn, resnet, w); }

        /** Each member's metrics: "attn", then "resnet". */
        public Map<String, Evaluation> evaluations(FaceSet set, int[] indices, ModelConfig mc, AgeRule rule) {
            Map<String, Evaluation> m = new LinkedHashMap<>();
            m.put("attn", evaluation(attn, set, indices, mc, rule));
            m.put("resnet", evaluation(resnet, set, indices, mc, rule));
            return m;
        }
    }

    public static Probabilities probabilities(AgeGenderModel model, Batches batches, int[] indices, int batchSize, boolean mirrored) {
        int b = model.config().buckets().count();
        float[] gender = new float[indices.length * 2], age = new float[indices.length * b];
        boolean wasTraining = model.training();
        model.eval();
        try (AutoCloseable ng = Autograd.noGrad()) {
            for (int from = 0; from < indices.length; from += batchSize) {
                int[] idx = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batchSize));
                try (TensorScope s = TensorScope.open()) {
                    Tensor x = batches.images(idx, false, 0);
                    var p = mirrored ? model.predictMirrored(x) : model.predict(x);
                    System.arraycopy(p.genderProbs().toArray(), 0, gender, from * 2, idx.length * 2);
                    System.arraycopy(p.ageProbs().toArray(), 0, age, from * b, idx.length * b);
                }
            }
        } catch (Exception e) {
            if (e instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e);
        } finally {
            if (wasTraining) model.train();
        }
        return new Probabilities(gender, age);
    }

    /** The metrics of {@code p}, the probabilities of the images {@code indices} of {@code set}; {@code rule} reads each age bucket. */
    public static Evaluation evaluation(Probabilities p, FaceSet set, int[] indices, ModelConfig mc, AgeRule rule) {
        Evaluation ev = new Evaluation(mc.buckets(), rule);
        int b = mc.buckets().count();
        for (int i = 0; i < indices.length; i++)
            ev.add(set.genders()[indices[i]], set.ages()[indices[i]], set.races()[indices[i]], p.gender(), i * 2, p.age(), i * b);
        return ev;
    }

    private void appendMetrics(Map<String, Object> line) throws IOException {
        Path f = runDir.resolve("metrics.jsonl");
        Files.writeString(f, Json.write(line) + "\n", java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
    }

    /** On resume: keeps the metric lines of the epochs the checkpoint has; drops later or half-written ones. */
    private void keepMetricLines(int epochsDone) throws IOException {
        Path f = runDir.resolve("metrics.jsonl");
        if (!Files.exists(f)) return;
        List<String> keep = new ArrayList<>();
        int dropped = 0;
        for (String l : Files.readAllLines(f)) {
            try {
                Object o = Json.parse(l);
                if (o instanceof Map<?, ?> m && m.get("epoch") instanceof Number n && n.intValue() <= epochsDone) keep.add(l);
                else dropped++;
            } catch (IllegalArgumentException e) {
                dropped++;
            }
        }
        if (dropped > 0) {
            log.println("metrics.jsonl: dropped " + dropped + " line(s) after the checkpoint's epoch " + epochsDone + " (written before the run stopped)");
            AtomicFile.writeString(f, keep.isEmpty() ? "" : String.join("\n", keep) + "\n");
        }
    }

    private void removeStaleTemporaries() throws IOException {
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(runDir, ".*.tmp")) {
            for (Path p : ds) {
                log.println("removing " + p.getFileName() + " (a checkpoint write that was cut off; the previous file is intact)");
                Files.deleteIfExists(p);
            }
        }
    }

    private void writeReports(Evaluation val) {
        try {
            Path report = runDir.resolve("report");
            Files.createDirectories(report);
            Charts.curves(runDir.resolve("metrics.jsonl"), report.resolve("curves.png"));
            Charts.confusion(val, "validation", report.resolve("val_confusion.png"));
            Charts.genderHistogram(val, "validation", report.resolve("val_gender_probability.png"));
            AtomicFile.writeString(report.resolve("validation.md"), val.toMarkdown("Validation, last epoch"));
            AtomicFile.writeString(report.resolve("validation.json"), Json.write(val.toJson()) + "\n");
        } catch (IOException | RuntimeException e) {
            log.println("warning: could not write the report PNGs (" + e.getMessage() + ")");
        }
    }
}
