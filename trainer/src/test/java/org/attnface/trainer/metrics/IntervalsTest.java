package org.attnface.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;

/** The t-interval and the paired bootstrap against values worked out by hand and from tables. */
class IntervalsTest {
    @Test
    void tQuantilesMatchTheTable() {
        // two-sided 95% and 99% critical values of Student's t (any statistics table), to the table's 3 decimals
        double[][] t95 = {{1, 12.706}, {2, 4.303}, {3, 3.182}, {4, 2.776}, {5, 2.571}, {9, 2.262}, {10, 2.228}, {30, 2.042}, {120, 1.980}};
        for (double[] r : t95) assertEquals(r[1], Intervals.tQuantile(0.95, (int) r[0]), 5e-4, "t(0.975, " + (int) r[0] + ")");
        assertEquals(63.657, Intervals.tQuantile(0.99, 1), 5e-3);
        assertEquals(9.925, Intervals.tQuantile(0.99, 2), 5e-4);
        assertEquals(1.960, Intervals.tQuantile(0.95, 100_000), 5e-4);
    }

    @Test
    void tIntervalOfThreeSeedsByHand() {
        // {1, 2, 3}: mean 2, sd 1, half-width t(0.975, 2) / sqrt(3) = 4.30265 / 1.73205 = 2.48414
        Intervals.Interval i = Intervals.tInterval(new double[] {1, 2, 3}, 0.95);
        assertEquals(2, i.mean(), 1e-12);
        assertEquals(2 - 2.48414, i.lo(), 1e-4);
        assertEquals(2 + 2.48414, i.hi(), 1e-4);
        assertEquals(0, i.sign());
        // {0.010, 0.012, 0.014}: mean 0.012, sd 0.002, half-width 4.30265 * 0.002 / sqrt(3) = 0.0049683: above 0
        Intervals.Interval j = Intervals.tInterval(new double[] {0.010, 0.012, 0.014}, 0.95);
        assertEquals(0.012 - 0.0049683, j.lo(), 1e-6);
        assertEquals(1, j.sign());
        Intervals.Interval one = Intervals.tInterval(new double[] {0.5}, 0.95);
        assertTrue(!one.defined() && one.mean() == 0.5, "one seed: no interval");
        assertEquals(1.0, Intervals.sd(new double[] {1, 2, 3}), 1e-12);
    }

    @Test
    void bootstrapOfTwoImagesByHand() {
        // d = {0, 1}: a resample's mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4, so the
        // 2.5% and 97.5% quantiles of 4000 resamples are 0 and 1
        Intervals.Interval i = Intervals.pairedBootstrap(new double[] {0, 1}, 4000, 0.95, 7);
        assertEquals(0.5, i.mean(), 1e-12);
        assertEquals(0, i.lo(), 0);
        assertEquals(1, i.hi(), 0);
        // a constant difference has no spread
        Intervals.Interval c = Intervals.pairedBootstrap(new double[] {0.25, 0.25, 0.25}, 1000, 0.95, 7);
        assertEquals(0.25, c.lo(), 0);
        assertEquals(0.25, c.hi(), 0);
    }

    @Test
    void bootstrapWidthIsTheNormalIntervalForManyImages() {
        // per-image differences of two classifiers, in {-1, 0, 1}: for n = 3000 the bootstrap interval is the normal
        // one, mean +- 1.96 sd / sqrt(n), up to the bootstrap's own noise (a few % of the width at 4000 resamples)
        Random r = new Random(11);
        int n = 3000;
        double[] d = new double[n];
        for (int i = 0; i < n; i++) {
            double u = r.nextDouble();
            d[i] = u < 0.08 ? -1 : u < 0.20 ? 1 : 0;
        }
        double half = 1.96 * Intervals.sd(d) / Math.sqrt(n), m = Intervals.mean(d);
        Intervals.Interval i = Intervals.pairedBootstrap(d, 4000, 0.95, 3);
        assertEquals(m - half, i.lo(), 0.08 * half);
        assertEquals(m + half, i.hi(), 0.08 * half);
        assertEquals(i, Intervals.pairedBootstrap(d, 4000, 0.95, 3), "seeded: the same interval every time");
    }
}
