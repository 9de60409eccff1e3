package org.attnface.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.model.AgeBuckets;
import org.junit.jupiter.api.Test;

class AgeEstimateTest {
    private static final AgeBuckets DECADES = AgeBuckets.decades();

    @Test
    void oneSureBucketGivesItsCentreAndItsMiddleEightyPercent() {
        float[] p = new float[8];
        p[2] = 1;   // 20-29
        AgeEstimate e = AgeEstimate.of(p, 0, DECADES);
        assertEquals(25, e.years(), 1e-9);
        assertEquals(21, e.low(), 1e-6);
        assertEquals(29, e.high(), 1e-6);
        float[] last = new float[8];
        last[7] = 1;   // 70+: as wide as 60-69
        assertEquals(75, AgeEstimate.of(last, 0, DECADES).years(), 1e-9);
        assertThrows(IllegalArgumentException.class, () -> AgeEstimate.of(new float[8], 0, DECADES));
    }

    /** On random distributions: the interval holds 80% of the piecewise-uniform mass, and scaling p changes nothing. */
    @Test
    void intervalHoldsEightyPercentOfTheSpreadDistribution() {
        Random r = new Random(5);
        AgeBuckets uneven = AgeBuckets.parse("0,3,13,20,40,65");
        for (int trial = 0; trial < 300; trial++) {
            AgeBuckets b = trial % 2 == 0 ? DECADES : uneven;
            int n = b.count();
            float[] p = new float[n + 2];   // at offset 1, with junk around it
            p[0] = 9;
            p[n + 1] = 9;
            double sum = 0, expected = 0;
            for (int k = 0; k < n; k++) sum += p[1 + k] = (float) Math.pow(r.nextDouble(), 4);
            for (int k = 0; k < n; k++) expected += p[1 + k] / sum * b.centre(k);
            AgeEstimate e = AgeEstimate.of(p, 1, b);
            assertEquals(expected, e.years(), 1e-4, "trial " + trial);
            assertTrue(e.low() <= e.high(), "trial " + trial);
            assertEquals(0.8, cdf(p, 1, b, sum, e.high()) - cdf(p, 1, b, sum, e.low()), 1e-5, "trial " + trial);
            float[] scaled = p.clone();
            for (int k = 1; k <= n; k++) scaled[k] *= 3;
            AgeEstimate s = AgeEstimate.of(scaled, 1, b);
            assertEquals(e.low(), s.low(), 1e-4);
            assertEquals(e.high(), s.high(), 1e-4);
        }
    }

    /** The share of the mass below age x when bucket k's is spread evenly over [centre - w/2, centre + w/2). */
    private static double cdf(float[] p, int off, AgeBuckets b, double sum, double x) {
        double below = 0;
        int[] lo = b.lowerBounds();
        for (int k = 0; k < b.count(); k++) {
            int w = k < lo.length - 1 ? lo[k + 1] - lo[k] : lo[k] - lo[k - 1];
            double start = b.centre(k) - w / 2.0;
            below += p[off + k] / sum * Math.max(0, Math.min(1, (x - start) / w));
        }
        return below;
    }
}
