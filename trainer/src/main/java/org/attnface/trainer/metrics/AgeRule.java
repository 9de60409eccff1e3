package org.attnface.trainer.metrics;

import java.util.Locale;

/**
 * Which bucket a probability vector over age buckets predicts. ARGMAX, the paper's, maximises
 * the chance of the exact bucket (age-bucket accuracy); MEDIAN, the first bucket where the
 * cumulative probability reaches one half, minimises the expected |predicted - true| bucket
 * distance, which is what AABD averages.
 */
public enum AgeRule {
    ARGMAX, MEDIAN;

    /** The predicted bucket of p[offset .. offset + n). Ties go to the lower bucket. */
    public int pick(float[] p, int offset, int n) {
        if (this == ARGMAX) {
            int best = 0;
            for (int k = 1; k < n; k++) if (p[offset + k] > p[offset + best]) best = k;
            return best;
        }
        double total = 0;
        for (int k = 0; k < n; k++) total += p[offset + k];
        double cumulative = 0;
        for (int k = 0; k < n - 1; k++) {
            cumulative += p[offset + k];
            if (cumulative >= 0.5 * total) return k;
        }
        return n - 1;
    }

    /** "argmax" or "median", as --age-rule takes it. */
    public static AgeRule parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "argmax" -> ARGMAX;
            case "median" -> MEDIAN;
            default -> throw new IllegalArgumentException("--age-rule must be argmax or median, not '" + s + "'");
        };
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
