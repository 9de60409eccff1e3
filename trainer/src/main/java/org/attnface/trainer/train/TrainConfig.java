package org.attnface.trainer.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;
import org.attnface.model.LossWeights;
import org.attnface.model.ModelConfig;

/**
 * Everything a training run depends on, resolved (no "auto" left), saved as config.json in
 * the run folder and in every checkpoint, and read back on {@code --resume}.
 */
public record TrainConfig(
        String data, String arch, int epochs, int batch, float lr, String optimizer, float momentum, float weightDecay,
        int warmupSteps, int imageSize, int cacheSize, String buckets, boolean attention, boolean feedGender, boolean detachGender,
        float lossGender, float lossAge, float lossDistance, String device, int threads, long seed, int limit,
        int checkpointEvery, int lossEvery, float clipGrad, double trainFraction, double valFraction, String cacheDir,
        long faultInjectStep) {

    /** The model this config trains: the arch's defaults with the bucket scheme and switches applied. */
    public ModelConfig modelConfig() {
        ModelConfig d = ModelConfig.defaults(arch, imageSize);
        return new ModelConfig(d.arch(), d.imageSize(), AgeBuckets.parse(buckets), d.resnetDepth(), d.resnetWidth(),
                attention, feedGender, detachGender, d.dropout());
    }

    public LossWeights lossWeights() { return new LossWeights(lossGender, lossAge, lossDistance); }

    public TrainConfig withEpochs(int e) {
        return new TrainConfig(data, arch, e, batch, lr, optimizer, momentum, weightDecay, warmupSteps, imageSize, cacheSize, buckets,
                attention, feedGender, detachGender, lossGender, lossAge, lossDistance, device, threads, seed, limit, checkpointEvery,
                lossEvery, clipGrad, trainFraction, valFraction, cacheDir, faultInjectStep);
    }

    public TrainConfig withRuntime(String newData, String newDevice, int newThreads, String newCacheDir, long newFaultStep) {
        return new TrainConfig(newData, arch, epochs, batch, lr, optimizer, momentum, weightDecay, warmupSteps, imageSize, cacheSize, buckets,
                attention, feedGender, detachGender, lossGender, lossAge, lossDistance, newDevice, newThreads, seed, limit, checkpointEvery,
                lossEvery, clipGrad, trainFraction, valFraction, newCacheDir, newFaultStep);
    }

    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("data", data);
        m.put("arch", arch);
        m.put("epochs", epochs);
        m.put("batch", batch);
        m.put("lr", (double) lr);
        m.put("optimizer", optimizer);
        m.put("momentum", (double) momentum);
        m.put("weight_decay", (double) weightDecay);
        m.put("warmup_steps", warmupSteps);
        m.put("image_size", imageSize);
        m.put("cache_size", cacheSize);
        m.put("buckets", buckets);
        m.put("attention", attention);
        m.put("feed_gender", feedGender);
        m.put("detach_gender", detachGender);
        m.put("loss_gender", (double) lossGender);
        m.put("loss_age", (double) lossAge);
        m.put("loss_distance", (double) lossDistance);
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

    @SuppressWarnings("unchecked")
    public static TrainConfig fromJson(String json, String where) {
        try {
            Map<String, Object> m = (Map<String, Object>) Json.parse(json);
            return new TrainConfig(str(m, "data"), str(m, "arch"), i(m, "epochs"), i(m, "batch"), f(m, "lr"), str(m, "optimizer"),
                    f(m, "momentum"), f(m, "weight_decay"), i(m, "warmup_steps"), i(m, "image_size"), i(m, "cache_size"), str(m, "buckets"),
                    (Boolean) m.get("attention"), (Boolean) m.get("feed_gender"), (Boolean) m.get("detach_gender"),
                    f(m, "loss_gender"), f(m, "loss_age"), f(m, "loss_distance"), str(m, "device"), i(m, "threads"),
                    ((Number) m.get("seed")).longValue(), i(m, "limit"), i(m, "checkpoint_every"), i(m, "loss_every"), f(m, "clip_grad"),
                    ((Number) m.get("train_fraction")).doubleValue(), ((Number) m.get("val_fraction")).doubleValue(), str(m, "cache_dir"),
                    ((Number) m.get("fault_inject_step")).longValue());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("cannot read the training config in " + where + ": " + e.getMessage(), e);
        }
    }

    public static TrainConfig load(Path file) throws IOException {
        return fromJson(Files.readString(file), file.toString());
    }

    private static String str(Map<String, Object> m, String k) {
        Object v = m.get(k);
        if (v == null && !m.containsKey(k)) throw new IllegalArgumentException("missing \"" + k + "\"");
        return (String) v;
    }

    private static int i(Map<String, Object> m, String k) { return num(m, k).intValue(); }

    private static float f(Map<String, Object> m, String k) { return num(m, k).floatValue(); }

    private static Number num(Map<String, Object> m, String k) {
        Object v = m.get(k);
        if (!(v instanceof Number n)) throw new IllegalArgumentException("\"" + k + "\" is " + v + ", not a number");
        return n;
    }
}
