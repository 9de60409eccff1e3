package org.attnface.trainer.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Backends;
import org.attnface.engine.Device;
import org.attnface.engine.NumericalFault;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.backend.OutOfDeviceMemoryException;
import org.attnface.engine.backend.cuda.CudaBackend;
import org.attnface.engine.nn.Dropout;
import org.attnface.engine.nn.Module;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.Optimizer;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.AuxLabels;
import org.attnface.model.Losses;
import org.attnface.model.ModelConfig;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.metrics.AgeRule;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;

/**
 * The epochs: each one's steps in its (seed, epoch) order, then validation, a metrics line and
 * the checkpoints. One step is forward, backward, {@link GradientHook}, a NaN/Inf check on the
 * loss and gradients, clipping, the scheduled rate and the optimiser update.
 */
final class EpochLoop {
    /**
     * Sees the gradients of every step after backward and before they are checked, clipped
     * and applied ({@code flatGrads} is the optimiser's flat buffer of all of them): the place
     * where a data-parallel run would average them across processes.
     */
    @FunctionalInterface
    interface GradientHook {
        GradientHook NONE = (step, flatGrads) -> {};

        void afterBackward(long step, Tensor flatGrads);
    }

    /** Where the loop ended: the checkpoint state, the last validation (null when no epoch was left to train) and the last epoch's training rate. */
    record End(Checkpoint.State state, Evaluation validation, double trainImagesPerSecond) {}

    private final TrainConfig cfg;
    private final ModelConfig mc;
    private final Path runDir;
    private final Device device;
    private final AgeGenderModel model;
    private final Optimizer opt;
    private final Batches batches;
    private final Preparation.Data data;
    private final MetricsLog metrics;
    private final GradientHook hook;
    /** The ranks of an mpirun job (one otherwise): this rank's share of each batch, the all-reduce during backward, rank 0's files. */
    private final DataParallel dp;
    private final org.attnface.engine.dist.GradientReducer reducer;
    private final PrintStream log;
    /** Time spent making batches (crop, flip, jitter, normalise, labels), to see whether prefetching would pay. */
    private long batchNanos;

    EpochLoop(TrainConfig cfg, Path runDir, Device device, Preparation.Network net, Batches batches, Preparation.Data data,
              MetricsLog metrics, GradientHook hook, DataParallel dp, PrintStream log) {
        this.cfg = cfg;
        this.mc = net.model().config();
        this.runDir = runDir;
        this.device = device;
        this.model = net.model();
        this.opt = net.opt();
        this.batches = batches;
        this.data = data;
        this.metrics = metrics;
        this.hook = hook;
        this.dp = dp;
        this.reducer = dp.distributed() ? dp.reducer(opt, model.parameters()) : null;
        this.log = log;
    }

    /** Trains from {@code state} to the last epoch; each epoch ends with last.safetensors (and best.safetensors when it is the best). */
    End run(Checkpoint.State state) throws IOException {
        int batch = data.batch(), stepsPerEpoch = data.stepsPerEpoch();
        long step = state.step();
        Evaluation val = null;
        double trainRate = 0;
        long runStart = System.nanoTime();
        int firstEpoch = (int) (step / stepsPerEpoch);
        for (int epoch = firstEpoch; epoch < cfg.epochs(); epoch++) {
            int[] order = Batches.epochOrder(data.train(), cfg.seed(), epoch);
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
                    dp.broadcastBuffers(model);
                    if (dp.root()) Checkpoint.save(runDir.resolve(Preparation.LAST), model, opt, cfg, state);
                }
            }
            bar.finish();
            double seconds = bar.seconds();
            trainRate = (double) (stepsPerEpoch - first) * batch / Math.max(1e-9, seconds);
            long t0 = System.nanoTime();
            dp.checkSameWeights(opt, epoch + 1);
            dp.broadcastBuffers(model);   // every rank validates rank 0's model: its batch-norm statistics
            Map<String, Evaluation.Summary> members = new LinkedHashMap<>();
            val = validate(data.val(), batch, members);
            double inside = attentionInside(Arrays.copyOf(data.val(), Math.min(batch, data.val().length)));
            double evalSeconds = (System.nanoTime() - t0) / 1e9;
            Evaluation.Summary v = val.overall();
            double metric = v.ageAccuracy() + v.genderAccuracy();
            boolean best = !(metric <= state.bestMetric());   // NaN (empty validation set) counts as better than nothing
            state = new Checkpoint.State(step, epoch + 1, best ? metric : state.bestMetric(), best ? epoch + 1 : state.bestEpoch(), LossSums.ZERO);
            if (dp.root()) metrics.write(new MetricsLog.Epoch(epoch + 1, step, sums, data.schedule().lr((int) Math.max(0, step - 1)), v, members, inside,
                    trainRate, seconds, batchNanos / 1e9, evalSeconds, best), MetricsLog.runEta(runStart, epoch + 1 - firstEpoch, cfg.epochs() - epoch - 1));
            if (inside < 0.5)
                log.printf(Locale.ROOT, "warning: the attn network's spatial transformer samples only %.0f%% of its grid inside the image: "
                        + "it sees mostly padding and will not recover; lower its rate (%s)%n", 100 * inside,
                        mc.arch() == Arch.ENSEMBLE ? "--attn-lr" : "--lr");
            if (best && dp.root()) Checkpoint.save(runDir.resolve(Preparation.BEST), model, opt, cfg, state);
            if (dp.root()) Checkpoint.save(runDir.resolve(Preparation.LAST), model, opt, cfg, state);
        }
        if (reducer != null) reducer.close();
        return new End(state, val, trainRate);
    }

    /**
     * Validation at the training batch size (its arrays are cached already). For an ensemble,
     * also each member's metrics into {@code members}, from the same forward passes: a member
     * that stops learning shows here while the ensemble's numbers still look fine.
     */
    private Evaluation validate(int[] idx, int batch, Map<String, Evaluation.Summary> members) {
        if (!(model instanceof Ensemble e)) return sharded(model, idx, batch).evaluate(batches.set(), idx, mc, AgeRule.ARGMAX);
        Probabilities.Members m = new Probabilities.Members(sharded(e.attn, idx, batch), sharded(e.resnet, idx, batch));
        m.evaluations(batches.set(), idx, mc, AgeRule.ARGMAX).forEach((name, ev) -> members.put(name, ev.overall()));
        return m.mix(e.attnWeight()).evaluate(batches.set(), idx, mc, AgeRule.ARGMAX);
    }

    /** {@link Probabilities#of} the images {@code idx}: each rank computes its share, then all are gathered. */
    private Probabilities sharded(AgeGenderModel m, int[] idx, int batch) {
        if (!dp.distributed()) return Probabilities.of(m, batches, idx, batch, false);
        int[] mine = dp.shard(idx);
        Probabilities p = mine.length == 0 ? new Probabilities(new float[0], new float[0]) : Probabilities.of(m, batches, mine, batch, false);
        return new Probabilities(dp.gatherRows(p.gender(), idx.length, 2), dp.gatherRows(p.age(), idx.length, m.config().buckets().count()));
    }

    /** {@link AttnCnn#insideFraction} of the attn network (alone or in the ensemble) on these images; NaN when it has no attention. */
    private double attentionInside(int[] idx) {
        AttnCnn attn = model instanceof AttnCnn a ? a : model instanceof Ensemble e ? e.attn : null;
        if (attn == null || !attn.config().attention() || idx.length == 0) return Double.NaN;
        try (var ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
            return AttnCnn.insideFraction(attn.theta(batches.images(idx, false, 0)).toArray());
        }
    }

    /**
     * One optimiser step; returns the losses (total, gender, age, distance, aux: {@link LossSums#plus})
     * when they were read this step, else null.
     */
    private float[] trainStep(int[] idx, long step) {
        boolean read = step % Math.max(1, cfg.lossEvery()) == 0 || step == cfg.faultInjectStep();
        float[] losses = null;
        int[] mine = dp.shard(idx);
        try (TensorScope scope = TensorScope.open()) {
            Losses l;
            if (reducer == null) {
                l = forwardBackward(idx, step);
            } else {
                // DDP: this rank's share forward and backward, the gradient buckets all-reduced while backward runs
                try (var ready = reducer.beginBackward(mine.length, idx.length)) {
                    l = forwardBackward(mine, step);
                }
                reducer.finish();
            }
            hook.afterBackward(step, opt.flatGrads());
            if (read) {
                // the global batch's mean losses; NaN on any rank reaches every rank through them and the summed gradients
                losses = dp.meanLosses(new float[] {l.total().item(), l.gender().item(), l.age().item(), l.distance().item(), l.aux().item()},
                        mine.length, idx.length);
                Tensor bad = Tensor.empty(device, 1);
                opt.flatGrads().backend().countNonFinite(opt.flatGrads(), bad);
                int badGrads = (int) bad.item();
                if (!Float.isFinite(losses[0]) || badGrads > 0) fault(mine, step, losses[0], badGrads);
            }
            if (cfg.clipGrad() > 0) clipGradients(opt.flatGrads(), cfg.clipGrad());
            opt.setLr(data.schedule().lr((int) step));
            opt.step();
        }
        return losses;
    }

    private Losses forwardBackward(int[] idx, long step) {
        setDropoutStep(dp.dropoutStep(step));
        long t0 = System.nanoTime();
        Tensor x = batches.images(idx, true, dp.augmentSeed(Batches.augmentSeed(cfg.seed(), step)));
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
        Path last = runDir.resolve(Preparation.LAST);
        String resumeHint = Files.exists(last) || !dp.root()
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
        try (var ng = Autograd.noGrad(); TensorScope s = TensorScope.open()) {
            norm = Math.sqrt(Ops.sum(Ops.mul(flatGrads, flatGrads)).item());
        }
        if (norm > maxNorm) flatGrads.backend().scale(flatGrads, (float) (maxNorm / norm), flatGrads);
        return norm;
    }

    private void setDropoutStep(long step) {
        for (Module m : model.namedModules().values()) if (m instanceof Dropout d) d.setStep(step);
    }
}
