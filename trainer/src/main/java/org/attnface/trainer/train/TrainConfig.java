package org.attnface.trainer.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;
import org.attnface.model.Arch;
import org.attnface.model.LossWeights;
import org.attnface.model.ModelConfig;

/**
 * Everything a training run depends on, resolved (no "auto" left), saved as config.json in
 * the run folder and in every checkpoint, and read back on {@code --resume}. {@code attnLr}
 * is the ensemble's attn member's peak rate; 0 means {@code lr} (and is what configs written
 * before it existed load as). {@code resnetDepth} and {@code resnetWidth} shape the ResNet of
 * "resnet" and "ensemble" (18 and 64 in MODELS.md, and for configs written before they existed);
 * {@code attnWidth} the attn trunk of "attn" and "ensemble" (10, likewise). {@code lossAux} > 0
 * gives the networks the auxiliary race and fine-age (5-year bins) heads and weights their loss (0, none,
 * for configs written before it existed). {@code zeroInitResidual} starts the last batch norm of every
 * ResNet block at gamma 0, so each block begins as the identity (Goyal et al. 2017; torchvision's
 * zero_init_residual); false for configs written before it existed.
 */
public record TrainConfig(
        String data, Arch arch, int epochs, int batch, float lr, float attnLr, OptimizerKind optimizer, float momentum, float weightDecay,
        int warmupSteps, int imageSize, int cacheSize, String buckets, int resnetDepth, int resnetWidth, int attnWidth, boolean attention, boolean feedGender, boolean detachGender,
        float lossGender, float lossAge, float lossDistance, float lossAux, boolean zeroInitResidual, String device, int threads, long seed, int limit,
        int checkpointEvery, int lossEvery, float clipGrad, double trainFraction, double valFraction, String cacheDir,
        long faultInjectStep) {

    /** The model this config trains: the arch's defaults with the bucket scheme and switches applied. */
    public ModelConfig modelConfig() {
        ModelConfig d = ModelConfig.defaults(arch, imageSize);
        return new ModelConfig(d.arch(), d.imageSize(), AgeBuckets.parse(buckets), resnetDepth, resnetWidth, attnWidth,
                attention, feedGender, detachGender, d.dropout(), lossAux > 0);
    }

    public LossWeights lossWeights() { return new LossWeights(lossGender, lossAge, lossDistance, lossAux); }

    public TrainConfig withEpochs(int e) {
        return new TrainConfig(data, arch, e, batch, lr, attnLr, optimizer, momentum, weightDecay, warmupSteps, imageSize, cacheSize, buckets,
                resnetDepth, resnetWidth, attnWidth, attention, feedGender, detachGender, lossGender, lossAge, lossDistance, lossAux, zeroInitResidual, device, threads, seed, limit, checkpointEvery,
                lossEvery, clipGrad, trainFraction, valFraction, cacheDir, faultInjectStep);
    }

    public TrainConfig withRuntime(String newData, String newDevice, int newThreads, String newCacheDir, long newFaultStep) {
        return new TrainConfig(newData, arch, epochs, batch, lr, attnLr, optimizer, momentum, weightDecay, warmupSteps, imageSize, cacheSize, buckets,
                resnetDepth, resnetWidth, attnWidth, attention, feedGender, detachGender, lossGender, lossAge, lossDistance, lossAux, zeroInitResidual, newDevice, newThreads, seed, limit, checkpointEvery,
                lossEvery, clipGrad, trainFraction, valFraction, newCacheDir, newFaultStep);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("data", data);
        m.put("arch", arch.toString());
        m.put("epochs", epochs);
        m.put("batch", batch);
        m.put("lr", (double) lr);
        m.put("attn_lr", (double) attnLr);
        m.put("optimizer", optimizer.toString());
        m.put("momentum", (double) momentum);
        m.put("weight_decay", (double) weightDecay);
        m.put("warmup_steps", warmupSteps);
        m.put("image_size", imageSize);
        m.put("cache_size", cacheSize);
        m.put("buckets", buckets);
        m.put("resnet_depth", resnetDepth);
        m.put("resnet_width", resnetWidth);
        m.put("attn_width", attnWidth);
        m.put("attention", attention);
        m.put("feed_gender", feedGender);
        m.put("detach_gender", detachGender);
        m.put("loss_gender", (double) lossGender);
        m.put("loss_age", (double) lossAge);
        m.put("loss_distance", (double) lossDistance);
        m.put("loss_aux", (double) lossAux);
        m.put("zero_init_residual", zeroInitResidual);
        m.put("device", device);
        m.put("threads", threads);
        m.put("seed", seed);
        m.put("limit", limit);
        m.put("checkpoint_every", checkpointEvery);
        m.put("loss_every", lossEvery);
        m.put("clip_grad", (double) clipGrad);
        m.put("train_fraction", trainFraction);
        m.put("val_fraction", valFraction);
        m.put("cache_dir", cacheDir);
        m.put("fault_inject_step", faultInjectStep);
        return m;
    }

    public String toJson() { return Json.write(toMap()); }

    /** Upper bounds for values read from a file: far above any real run, low enough that nothing sized by them can exhaust memory. */
    static final int MAX_EPOCHS = 100_000, MAX_BATCH = 65_536, MAX_IMAGE_SIZE = 1024, MAX_THREADS = 4096;

    /**
     * Reads a config written by {@link #toJson()}. Every key must be present with the right JSON
     * type and a usable value; anything else is an IllegalArgumentException naming {@code where}
     * and the key (a fuzz test feeds this mutated files).
     */
    public static TrainConfig fromJson(String json, String where) {
        try {
            if (!(Json.parse(json) instanceof Map<?, ?> raw))
                throw new IllegalArgumentException("the top level is not a JSON object");
            @SuppressWarnings("unchecked") Map<String, Object> m = (Map<String, Object>) raw;
            String archName = str(m, "arch", false);
            if (!Arch.NAMES.contains(archName)) throw bad("arch", archName, "not one of " + Arch.NAMES);
            Arch arch = Arch.parse(archName);
            String optimizerName = str(m, "optimizer", false);
            if (!OptimizerKind.NAMES.contains(optimizerName)) throw bad("optimizer", optimizerName, "not " + String.join(" or ", OptimizerKind.NAMES));
            OptimizerKind optimizer = OptimizerKind.parse(optimizerName);
            String buckets = str(m, "buckets", false);
            try {
                AgeBuckets.parse(buckets);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("\"buckets\": " + e.getMessage(), e);
            }
            float attnLr = m.containsKey("attn_lr") ? flt(m, "attn_lr", 0, 1e3) : 0f;   // absent in runs made before it existed
            if (attnLr > 0 && arch != Arch.ENSEMBLE)
                throw bad("attn_lr", m.get("attn_lr"), "set for arch \"" + arch + "\"; only the ensemble has an attn member with its own rate");
            // absent in runs made before they existed: MODELS.md's ResNet-18 of width 64
            int resnetDepth = m.containsKey("resnet_depth") ? integer(m, "resnet_depth", 10, 34) : 18;
            int resnetWidth = m.containsKey("resnet_width") ? integer(m, "resnet_width", 1, ModelConfig.MAX_RESNET_WIDTH) : 64;
            int attnWidth = m.containsKey("attn_width") ? integer(m, "attn_width", 1, ModelConfig.MAX_ATTN_WIDTH) : ModelConfig.ATTN_WIDTH;
            if (!ModelConfig.RESNET_DEPTHS.contains(resnetDepth)) throw bad("resnet_depth", m.get("resnet_depth"), "not 10, 18 or 34");
            double trainFraction = dbl(m, "train_fraction", 0, 1), valFraction = dbl(m, "val_fraction", 0, 1);
            if (trainFraction <= 0 || trainFraction + valFraction > 1)
                throw new IllegalArgumentException("\"train_fraction\" " + trainFraction + " and \"val_fraction\" " + valFraction
                        + " must be > 0 and sum to at most 1");
            return new TrainConfig(str(m, "data", true), arch, integer(m, "epochs", 0, MAX_EPOCHS), integer(m, "batch", 1, MAX_BATCH),
                    flt(m, "lr", 0, 1e3), attnLr, optimizer, flt(m, "momentum", 0, 1), flt(m, "weight_decay", 0, 1e3),
                    integer(m, "warmup_steps", -1, Integer.MAX_VALUE), integer(m, "image_size", ModelConfig.MIN_IMAGE_SIZE, MAX_IMAGE_SIZE),
                    integer(m, "cache_size", ModelConfig.MIN_IMAGE_SIZE, 2 * MAX_IMAGE_SIZE), buckets, resnetDepth, resnetWidth, attnWidth,
                    bool(m, "attention"), bool(m, "feed_gender"), bool(m, "detach_gender"),
                    flt(m, "loss_gender", 0, 1e6), flt(m, "loss_age", 0, 1e6), flt(m, "loss_distance", 0, 1e6),
                    m.containsKey("loss_aux") ? flt(m, "loss_aux", 0, 1e6) : 0f,
                    m.containsKey("zero_init_residual") && bool(m, "zero_init_residual"), str(m, "device", true),
                    integer(m, "threads", 0, MAX_THREADS), whole(m, "seed", Long.MIN_VALUE, Long.MAX_VALUE), integer(m, "limit", 0, Integer.MAX_VALUE),
                    integer(m, "checkpoint_every", 0, Integer.MAX_VALUE), integer(m, "loss_every", 1, Integer.MAX_VALUE), flt(m, "clip_grad", 0, 1e9),
                    trainFraction, valFraction, str(m, "cache_dir", true), whole(m, "fault_inject_step", -1, Long.MAX_VALUE));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("cannot read the training config in " + where + ": " + e.getMessage(), e);
        }
    }

    public static TrainConfig load(Path file) throws IOException {
        return fromJson(Files.readString(file), file.toString());
    }

    private static IllegalArgumentException bad(String k, Object v, String why) {
        String shown = Json.shown(v);
        return new IllegalArgumentException("\"" + k + "\" is " + (v instanceof String ? "\"" + shown + "\"" : shown) + ": " + why);
    }

    private static Object required(Map<String, Object> m, String k) {
        if (!m.containsKey(k)) throw new IllegalArgumentException("missing \"" + k + "\"");
        return m.get(k);
    }

    /** A string; {@code nullable} keys (paths and the device, which the command line overrides) may be null. */
    private static String str(Map<String, Object> m, String k, boolean nullable) {
        Object v = required(m, k);
        if (v == null && nullable) return null;
        if (!(v instanceof String s)) throw bad(k, v, "not a string");
        return s;
    }

    private static boolean bool(Map<String, Object> m, String k) {
        if (!(required(m, k) instanceof Boolean b)) throw bad(k, m.get(k), "not true or false");
        return b;
    }

    private static double dbl(Map<String, Object> m, String k, double min, double max) {
        if (!(required(m, k) instanceof Number n)) throw bad(k, m.get(k), "not a number");
        double d = n.doubleValue();
        if (!(d >= min && d <= max)) throw bad(k, n, "outside [" + min + ", " + max + "]");
        return d;
    }

    private static float flt(Map<String, Object> m, String k, double min, double max) { return (float) dbl(m, k, min, max); }

    /** A whole number in [min, max]; 3.5 or 1e300 is refused rather than truncated or saturated. */
    private static long whole(Map<String, Object> m, String k, long min, long max) {
        Object v = required(m, k);
        long x;
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) x = ((Number) v).longValue();
        else if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) && Math.abs(n.doubleValue()) < 0x1p62) x = (long) n.doubleValue();
        else throw bad(k, v, "not a whole number");
        if (x < min || x > max) throw bad(k, v, "outside [" + min + ", " + max + "]");
        return x;
    }

    private static int integer(Map<String, Object> m, String k, int min, int max) { return (int) whole(m, k, min, max); }
}
