package org.attnface.engine.optim;

/** Learning rate as a function of the step (0-based). */
@FunctionalInterface
public interface LrSchedule {
    float lr(int step);

    static LrSchedule constant(float lr) { return s -> lr; }

    /** lr * gamma^(step / every), as torch's StepLR. */
    static LrSchedule step(float lr, int every, float gamma) {
        if (every <= 0) throw new IllegalArgumentException("step schedule: every must be > 0, got " + every);
        return s -> (float) (lr * Math.pow(gamma, s / every));
    }

    /** Linear warm-up over {@code warmup} steps, then cosine decay to {@code minLr} at {@code total}. */
    static LrSchedule cosine(float lr, int warmup, int total, float minLr) {
        if (total <= 0) throw new IllegalArgumentException("cosine schedule: total steps must be > 0, got " + total);
        return s -> {
            if (s < warmup) return lr * (s + 1) / warmup;
            double t = Math.min(1.0, (s - warmup) / (double) Math.max(1, total - warmup));
            return (float) (minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * t)));
        };
    }
}
