package org.attnface.trainer.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attnface.model.AgeBuckets;
import org.junit.jupiter.api.Test;

/** The metrics on four hand-worked images (decades, 8 buckets; bucket centres 5, 15, ..., 75). */
class EvaluationTest {
    private static float[] onehot(int k, int n) {
        float[] p = new float[n];
        p[k] = 1;
        return p;
    }

    @Test
    void handWorkedExample() {
        Evaluation e = new Evaluation(AgeBuckets.decades());
        // true: age 25 (bucket 2) woman, race 0; predicted bucket 2 (p=1), woman
        e.add(1, 25, 0, new float[] {0.2f, 0.8f}, 0, onehot(2, 8), 0);
        // true: age 34 (bucket 3) man, race 1; predicted bucket 1, woman
        e.add(0, 34, 1, new float[] {0.4f, 0.6f}, 0, onehot(1, 8), 0);
        // true: age 80 (bucket 7) man, race 1; predicted half bucket 6, half 7 -> argmax 6 (first max), expected age 70
        float[] half = new float[8];
        half[6] = 0.5f;
        half[7] = 0.5f;
        e.add(0, 80, 1, new float[] {0.9f, 0.1f}, 0, half, 0);
        // true: age 3 (bucket 0) woman, unknown race; predicted bucket 0, man
        e.add(1, 3, -1, new float[] {0.7f, 0.3f}, 0, onehot(0, 8), 0);

        Evaluation.Summary s = e.overall();
        assertEquals(4, s.n());
        assertEquals(2 / 4.0, s.genderAccuracy(), 1e-12);     // images 1 and 3 right
        assertEquals(2 / 4.0, s.ageAccuracy(), 1e-12);        // images 1 and 4 right
        assertEquals((0 + 2 + 1 + 0) / 4.0, s.aabd(), 1e-12);
        // expected ages 25, 15, 70, 5 vs 25, 34, 80, 3
        assertEquals((0 + 19 + 10 + 2) / 4.0, s.ageMae(), 1e-5);
        int[][] c = e.confusion();
        assertEquals(1, c[2][2]);
        assertEquals(1, c[3][1]);
        assertEquals(1, c[7][6]);
        assertEquals(1, c[0][0]);
        assertEquals(2, e.perRace().get(1).n());
        assertEquals(0.5, e.perRace().get(1).genderAccuracy(), 1e-12);
        assertEquals(1, e.perRace().get(5).n(), "unknown race is its own row");
        assertEquals(1.0, e.perBucket().get(2).ageAccuracy(), 1e-12);
        assertArrayEquals(new float[] {0.6f, 0.1f}, e.femaleProbabilityByGender()[0]);
        String md = e.toMarkdown("t");
        assertTrue(md.contains("| 4 | 50.00% | 50.00% | 0.750 | 7.75 |"), md);
    }
}
