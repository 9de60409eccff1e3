package org.attnface.trainer.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Throughput of one configuration: images per second of each timed repetition, and the
 * FLOPs one image costs (conv and GEMM of the forward pass, counted by the profiler).
 */
public record BenchResult(String model, String mode, int batch, int imageSize, String precision,
                          int warmup, int reps, int stepsPerRep, double[] repImagesPerSecond,
                          double forwardGflopPerImage) {

    public double median() {
        double[] s = repImagesPerSecond.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    public double min() { return Arrays.stream(repImagesPerSecond).min().orElse(Double.NaN); }

    public double max() { return Arrays.stream(repImagesPerSecond).max().orElse(Double.NaN); }

    /** Achieved GFLOP/s at the median: a training step costs about 3 forward passes (forward, grad of input, grad of weights). */
    public double achievedGflops() {
        return median() * forwardGflopPerImage * (mode.equals("train") ? 3 : 1);
    }

    /** The same field names as bench/reference/bench_torch.py writes, so the two can be joined. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("mode", mode);
        m.put("batch", batch);
        m.put("imageSize", imageSize);
        m.put("precision", precision);
        m.put("warmup", warmup);
        m.put("reps", reps);
        m.put("stepsPerRep", stepsPerRep);
        Map<String, Object> ips = new LinkedHashMap<>();
        ips.put("median", round(median()));
        ips.put("min", round(min()));
        ips.put("max", round(max()));
        m.put("imagesPerSecond", ips);
        List<Object> reps = new ArrayList<>();
        for (double r : repImagesPerSecond) reps.add(round(r));
        m.put("repImagesPerSecond", reps);
        m.put("forwardGflopPerImage", Math.round(forwardGflopPerImage * 1e5) / 1e5);
        m.put("achievedGflops", round(achievedGflops()));
        return m;
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }
}
