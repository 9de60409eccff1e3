package org.attnface.trainer.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Tensor;
import org.attnface.engine.io.Json;
import org.attnface.engine.io.Safetensors;
import org.attnface.engine.optim.Optimizer;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.ModelConfig;

/**
 * Checkpoints as safetensors: the model's state dict under its PyTorch names, the optimiser
 * state under "optimizer.NAME", and metadata: the model config, the training config, the
 * global step, completed epochs, seed and best validation metric. All randomness in
 * training is a function of (seed, step), so the step is the whole RNG state.
 */
public final class Checkpoint {
    private Checkpoint() {}

    public static final String FORMAT = "attnface-checkpoint/1";
    static final String OPTIMIZER_PREFIX = "optimizer.";

    /** Where training stands; stored in the metadata. */
    public record State(long step, int epochsDone, double bestMetric, int bestEpoch, LossSums epochLoss) {}

    public static void save(Path file, AgeGenderModel model, Optimizer opt, TrainConfig config, State s) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.stateDict());
        for (Map.Entry<String, Tensor> e : opt.state().entrySet()) tensors.put(OPTIMIZER_PREFIX + e.getKey(), e.getValue());
        Map<String, String> meta = new LinkedHashMap<>(model.config().toMetadata());
        meta.put("format", FORMAT);
        meta.put("train_config", config.toJson());
        meta.put("step", Long.toString(s.step()));
        meta.put("epochs_done", Integer.toString(s.epochsDone()));
        meta.put("seed", Long.toString(config.seed()));
        meta.put("best_metric", Double.toString(s.bestMetric()));
        meta.put("best_epoch", Integer.toString(s.bestEpoch()));
        LossSums l = s.epochLoss();
        meta.put("epoch_loss_sum", Double.toString(l.total()));
        meta.put("epoch_loss_count", Long.toString(l.count()));
        meta.put("epoch_loss_gender_sum", Double.toString(l.gender()));
        meta.put("epoch_loss_age_sum", Double.toString(l.age()));
        meta.put("epoch_loss_distance_sum", Double.toString(l.distance()));
        meta.put("epoch_loss_aux_sum", Double.toString(l.aux()));
        meta.put("optimizer_steps", Integer.toString(opt.steps()));
        Safetensors.write(file, tensors, meta);
    }

    /** A checkpoint read from disk: its tensors and metadata. */
    public record Loaded(Path file, Safetensors.Contents contents) {
        public Map<String, String> meta() { return contents.metadata(); }

        public ModelConfig modelConfig() {
            try {
                return ModelConfig.fromMetadata(meta());
            } catch (RuntimeException e) {
                throw new IllegalArgumentException(file + " has no usable model config in its metadata (" + e.getMessage()
                        + "); is it an attnface checkpoint?", e);
            }
        }

        public TrainConfig trainConfig() {
            String json = meta().get("train_config");
            return json == null ? null : TrainConfig.fromJson(json, file.toString());
        }

        /** The training position in the metadata; a malformed value is an IllegalArgumentException naming the file and key. */
        public State state() {
            // The per-term sums are absent from checkpoints written before 2026-12-02: 0, so the
            // epoch being resumed logs those terms' means over its steps after the resume only.
            LossSums l = new LossSums(longOf("epoch_loss_count", "0"), doubleOf("epoch_loss_sum", "0"), doubleOf("epoch_loss_gender_sum", "0"),
                    doubleOf("epoch_loss_age_sum", "0"), doubleOf("epoch_loss_distance_sum", "0"), doubleOf("epoch_loss_aux_sum", "0"));
            State s = new State(longOf("step", "0"), intOf("epochs_done", "0"), doubleOf("best_metric", "-Infinity"), intOf("best_epoch", "-1"), l);
            if (s.step() < 0 || s.epochsDone() < 0 || l.count() < 0)
                throw new IllegalArgumentException(file + ": negative step, epochs_done or epoch_loss_count in the metadata: " + s);
            return s;
        }

        private long longOf(String key, String absent) {
            String v = meta().getOrDefault(key, absent);
            try {
                return Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": checkpoint metadata '" + key + "' = '" + Json.shown(v) + "' is not an integer", e);
            }
        }

        private int intOf(String key, String absent) {
            long x = longOf(key, absent);
            if (x < Integer.MIN_VALUE || x > Integer.MAX_VALUE)
                throw new IllegalArgumentException(file + ": checkpoint metadata '" + key + "' = '" + x + "' is not an integer");
            return (int) x;
        }

        private double doubleOf(String key, String absent) {
            String v = meta().getOrDefault(key, absent);
            try {
                double x = Double.parseDouble(v.trim());
                if (Double.isNaN(x)) throw new NumberFormatException("NaN");
                return x;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + ": checkpoint metadata '" + key + "' = '" + Json.shown(v) + "' is not a number", e);
            }
        }

        /** Copies the model's tensors into {@code model}; every name must match in shape. */
        public void loadModel(AgeGenderModel model) {
            copy(model.stateDict(), "", "model");
        }

        public void loadOptimizer(Optimizer opt) {
            copy(opt.state(), OPTIMIZER_PREFIX, "optimizer");
            int steps = intOf("optimizer_steps", "0");
            if (steps < 0) throw new IllegalArgumentException(file + ": negative optimizer_steps " + steps + " in the metadata");
            opt.setSteps(steps);
        }

        private void copy(Map<String, Tensor> into, String prefix, String what) {
            List<String> problems = new ArrayList<>();
            for (Map.Entry<String, Tensor> e : into.entrySet()) {
                Safetensors.Entry got = contents.tensors().get(prefix + e.getKey());
                if (got == null) problems.add("missing " + prefix + e.getKey());
                else if (!Arrays.equals(got.shape(), e.getValue().shape()))
                    problems.add(prefix + e.getKey() + " is " + Arrays.toString(got.shape()) + " in the file, " + Arrays.toString(e.getValue().shape()) + " in the " + what);
            }
            if (!problems.isEmpty())
                throw new IllegalArgumentException(file + " does not fit the " + what + ": " + String.join("; ", problems.subList(0, Math.min(6, problems.size())))
                        + (problems.size() > 6 ? "; and " + (problems.size() - 6) + " more" : ""));
            for (Map.Entry<String, Tensor> e : into.entrySet()) e.getValue().copyFrom(contents.tensors().get(prefix + e.getKey()).values());
        }
    }

    public static Loaded read(Path file) throws IOException {
        return new Loaded(file, Safetensors.read(file));
    }
}
