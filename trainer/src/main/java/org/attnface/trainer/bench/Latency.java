package org.attnface.trainer.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Backends;
import org.attnface.model.ModelConfig;

/**
 * What a user predicting one face waits for: the milliseconds of single-image predictions
 * (batch 1, eval, no gradients: {@link Throughput#step} in infer mode), each timed alone after
 * untimed warm-up runs; p50 and p99 by nearest rank, as bench/reference/bench_torch.py and
 * bench_ort.py --latency report them. Decoding and resizing the JPEG are not included.
 */
public record Latency(String model, int imageSize, double[] ms) {

    /** Times {@code runs} predictions after max(20, runs / 10) untimed ones. */
    public static Latency measure(ModelConfig config, Device device, long seed, int runs) {
        Throughput t = new Throughput(config, "infer", 1, device, seed);
        for (int i = 0; i < Math.max(20, runs / 10); i++) t.step();
        Backends.of(device).synchronize();
        double[] ms = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            t.step();
            Backends.of(device).synchronize();
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        return new Latency(config.arch().toString(), config.imageSize(), ms);
    }

    /** The value at or below which q percent of the runs fall (nearest rank). */
    public double percentile(double q) {
        double[] s = ms.clone();
        Arrays.sort(s);
        int k = (int) Math.ceil(q / 100 * s.length) - 1;
        return s[Math.max(0, Math.min(s.length - 1, k))];
    }

    public double mean() { return Arrays.stream(ms).average().orElse(Double.NaN); }

    public String line() {
        return String.format(java.util.Locale.ROOT, "%-9s latency batch 1 %4dx%d: p50 %.3f ms, p99 %.3f ms, mean %.3f ms over %d runs",
                model, imageSize, imageSize, percentile(50), percentile(99), mean(), ms.length);
    }

    /** bench_torch.py's "latency" entries: model, imageSize, batch, latencyMs {runs, p50, p99, mean, min}. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>(), l = new LinkedHashMap<>();
        m.put("model", model);
        m.put("imageSize", imageSize);
        m.put("batch", 1);
        l.put("runs", ms.length);
        l.put("p50", percentile(50));
        l.put("p99", percentile(99));
        l.put("mean", mean());
        l.put("min", percentile(0));
        m.put("latencyMs", l);
        return m;
    }
}
