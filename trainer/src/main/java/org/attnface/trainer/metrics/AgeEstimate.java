package org.attnface.trainer.metrics;

import org.attnface.model.AgeBuckets;

/**
 * An age in years read from a probability vector over age buckets: the expected age
 * (sum_b p_b * centre(b), the estimate eval's age MAE scores) and an interval that holds
 * {@link #COVERAGE} of the distribution when each bucket's probability is spread evenly over its
 * years ([lo, next lo); the open last bucket as wide as the one before it, as {@link AgeBuckets#centre}).
 */
public record AgeEstimate(double years, double low, double high) {
    /** The interval's share of the probability: from the 10th to the 90th percentile. */
    public static final double COVERAGE = 0.8;

    /** The estimate from p[offset .. offset + buckets.count()), normalised by its sum. */
    public static AgeEstimate of(float[] p, int offset, AgeBuckets buckets) {
        int n = buckets.count();
        double total = 0, expected = 0;
        for (int b = 0; b < n; b++) {
            total += p[offset + b];
            expected += p[offset + b] * buckets.centre(b);
        }
        if (!(total > 0)) throw new IllegalArgumentException("age probabilities sum to " + total + ", not a distribution");
        double tail = (1 - COVERAGE) / 2;
        return new AgeEstimate(expected / total, quantile(p, offset, buckets, total, tail), quantile(p, offset, buckets, total, 1 - tail));
    }

    /** The age below which a share q of the probability lies, each bucket spread evenly over its years. */
    static double quantile(float[] p, int offset, AgeBuckets buckets, double total, double q) {
        int n = buckets.count();
        double below = 0;
        for (int b = 0; b < n; b++) {
            double mass = p[offset + b] / total;
            double lo = buckets.centre(b) - width(buckets, b) / 2.0;
            if (below + mass >= q && mass > 0) return lo + (q - below) / mass * width(buckets, b);
            below += mass;
        }
        return buckets.centre(n - 1) + width(buckets, n - 1) / 2.0;
    }

    private static int width(AgeBuckets buckets, int b) {
        int[] lo = buckets.lowerBounds();
        int last = lo.length - 1;
        return b < last ? lo[b + 1] - lo[b] : lo[last] - lo[last - 1];
    }
}
