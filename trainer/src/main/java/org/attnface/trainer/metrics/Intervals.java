package org.attnface.trainer.metrics;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * 95% (or any level) confidence intervals for a mean difference: Student's t-interval over a
 * few paired values (one per training seed) and the percentile bootstrap over many paired values
 * (one per test image). What {@code experiments} puts beside each claim of the paper.
 */
public final class Intervals {
    private Intervals() {}

    /** A mean and its interval [lo, hi]; NaN bounds when the interval is undefined (one value for a t-interval). */
    public record Interval(double mean, double lo, double hi) {
        /** +1 when the whole interval is above 0, -1 when below, 0 when it holds 0 (or is undefined). */
        public int sign() { return lo > 0 ? 1 : hi < 0 ? -1 : 0; }

        public boolean defined() { return !Double.isNaN(lo) && !Double.isNaN(hi); }
    }

    public static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }

    /** Sample standard deviation (n - 1 in the denominator); NaN for fewer than 2 values. */
    public static double sd(double[] v) {
        if (v.length < 2) return Double.NaN;
        double m = mean(v), s = 0;
        for (double x : v) s += (x - m) * (x - m);
        return Math.sqrt(s / (v.length - 1));
    }

    /** mean +- t_{(1+level)/2, n-1} * sd / sqrt(n); the bounds are NaN for fewer than 2 values. */
    public static Interval tInterval(double[] v, double level) {
        double m = mean(v);
        if (v.length < 2) return new Interval(m, Double.NaN, Double.NaN);
        double half = tQuantile(level, v.length - 1) * sd(v) / Math.sqrt(v.length);
        return new Interval(m, m - half, m + half);
    }

    /**
     * The t with P(|T| < t) = level for Student's t with df degrees of freedom (12.706 for df 1
     * and level 0.95, 4.303 for df 2, 1.96 as df grows), by bisection on {@link #tTwoSided}.
     */
    public static double tQuantile(double level, int df) {
        if (!(level > 0 && level < 1) || df < 1) throw new IllegalArgumentException("tQuantile: level " + level + ", df " + df);
        double lo = 0, hi = 1;
        while (tTwoSided(hi, df) < level) hi *= 2;
        for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
            double mid = (lo + hi) / 2;
            if (tTwoSided(mid, df) < level) lo = mid;
            else hi = mid;
        }
        return (lo + hi) / 2;
    }

    /**
     * P(|T| < t), T Student's t with integer df: the finite series in theta = atan(t / sqrt(df))
     * (Abramowitz and Stegun 26.7.3-4): odd df (2/pi)(theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 ...)),
     * even df sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 ...), the series ending at cos^(df-3) and cos^(df-2).
     */
    static double tTwoSided(double t, int df) {
        double theta = Math.atan(Math.abs(t) / Math.sqrt(df)), s = Math.sin(theta), c2 = Math.cos(theta) * Math.cos(theta);
        double sum = 0, term = 1;
        if (df % 2 == 1) {
            if (df == 1) return 2 * theta / Math.PI;
            for (int k = 0; k <= (df - 3) / 2; k++) {
                if (k > 0) term *= c2 * (2.0 * k) / (2.0 * k + 1);
                sum += term;
            }
            return 2 / Math.PI * (theta + s * Math.cos(theta) * sum);
        }
        for (int k = 0; k <= (df - 2) / 2; k++) {
            if (k > 0) term *= c2 * (2.0 * k - 1) / (2.0 * k);
            sum += term;
        }
        return s * sum;
    }

    /**
     * The percentile bootstrap of the mean of paired differences d (one per test image):
     * {@code resamples} means of n values drawn with replacement, seeded; the interval is their
     * (1 - level)/2 and (1 + level)/2 quantiles.
     */
    public static Interval pairedBootstrap(double[] d, int resamples, double level, long seed) {
        if (d.length == 0) return new Interval(Double.NaN, Double.NaN, Double.NaN);
        SplittableRandom r = new SplittableRandom(seed);
        double[] means = new double[resamples];
        for (int b = 0; b < resamples; b++) {
            double s = 0;
            for (int i = 0; i < d.length; i++) s += d[r.nextInt(d.length)];
            means[b] = s / d.length;
        }
        Arrays.sort(means);
        int lo = (int) Math.floor(resamples * (1 - level) / 2), hi = (int) Math.ceil(resamples * (1 + level) / 2) - 1;
        return new Interval(mean(d), means[Math.max(0, lo)], means[Math.min(resamples - 1, hi)]);
    }
}
