package org.attnface.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.model.AgeBuckets;
import org.junit.jupiter.api.Test;

class AgeRuleTest {
    @Test
    void argmaxAndMedianDifferOnASkewedDistribution() {
        // the likeliest bucket is 1, but 60% of the mass lies at 3 and above
        float[] p = {0, 0.4f, 0, 0.3f, 0.3f};
        assertEquals(1, AgeRule.ARGMAX.pick(p, 0, 5));
        assertEquals(3, AgeRule.MEDIAN.pick(p, 0, 5));
        // at an offset, and a tie on the half goes to the lower bucket
        float[] q = {9, 9, 0.5f, 0.5f};
        assertEquals(0, AgeRule.MEDIAN.pick(q, 2, 2));
        assertEquals(0, AgeRule.ARGMAX.pick(q, 2, 2));
    }

    @Test
    void medianMinimisesTheExpectedBucketDistance() {
        Random r = new Random(3);
        for (int trial = 0; trial < 500; trial++) {
            int n = 2 + r.nextInt(9);
            float[] p = new float[n];
            double sum = 0;
            for (int k = 0; k < n; k++) sum += p[k] = (float) Math.pow(r.nextDouble(), 3);
            for (int k = 0; k < n; k++) p[k] /= (float) sum;
            double atMedian = expectedDistance(p, AgeRule.MEDIAN.pick(p, 0, n));
            for (int c = 0; c < n; c++) assertTrue(atMedian <= expectedDistance(p, c) + 1e-6, "trial " + trial + " bucket " + c);
            double best = p[AgeRule.ARGMAX.pick(p, 0, n)];
            for (float v : p) assertTrue(v <= best);
        }
    }

    private static double expectedDistance(float[] p, int c) {
        double d = 0;
        for (int k = 0; k < p.length; k++) d += p[k] * Math.abs(k - c);
        return d;
    }

    @Test
    void evaluationUsesTheRuleForAccuracyAabdAndConfusion() {
        float[] p = new float[8];
        p[1] = 0.4f;
        p[3] = 0.3f;
        p[4] = 0.3f;
        float[] woman = {0.1f, 0.9f};
        Evaluation argmax = new Evaluation(AgeBuckets.decades());
        Evaluation median = new Evaluation(AgeBuckets.decades(), AgeRule.MEDIAN);
        for (Evaluation e : new Evaluation[] {argmax, median}) e.add(1, 35, 0, woman, 0, p, 0);  // true bucket 3
        assertEquals(0.0, argmax.overall().ageAccuracy());
        assertEquals(2.0, argmax.overall().aabd());
        assertEquals(1, argmax.confusion()[3][1]);
        assertEquals(1.0, median.overall().ageAccuracy());
        assertEquals(0.0, median.overall().aabd());
        assertEquals(1, median.confusion()[3][3]);
        assertEquals(argmax.overall().ageMae(), median.overall().ageMae(), "the expected age does not depend on the rule");
        assertEquals("median", median.toJson().get("age_rule"));
    }

    @Test
    void parseNamesTheOption() {
        assertEquals(AgeRule.MEDIAN, AgeRule.parse("Median"));
        var e = assertThrows(IllegalArgumentException.class, () -> AgeRule.parse("mean"));
        assertTrue(e.getMessage().contains("--age-rule"), e.getMessage());
    }
}
