package org.attnface.trainer.research;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.attnface.model.AgeBuckets;
import org.attnface.model.Arch;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;
import org.attnface.trainer.research.TestPredictions.Metric;
import org.junit.jupiter.api.Test;

/** Claims, intervals and verdicts on made-up predictions whose accuracies are known. */
class ResultsTableTest {
    static final AgeBuckets BUCKETS = AgeBuckets.decades();
    static final int N = 600;

    /** Predictions on the same N faces: gender right with probability pGender, age bucket right with probability pAge. */
    static TestPredictions predictions(double pGender, double pAge, long seed) {
        Random labels = new Random(5), r = new Random(seed);
        int b = BUCKETS.count();
        String[] names = new String[N];
        int[] g = new int[N], a = new int[N];
        float[] pg = new float[2 * N], pa = new float[b * N];
        for (int i = 0; i < N; i++) {
            names[i] = "face" + i;
            g[i] = labels.nextInt(2);
            a[i] = labels.nextInt(80);
            int pred = r.nextDouble() < pGender ? g[i] : 1 - g[i];
            pg[2 * i + pred] = 0.8f;
            pg[2 * i + 1 - pred] = 0.2f;
            int bucket = BUCKETS.bucketOf(a[i]);
            int pb = r.nextDouble() < pAge ? bucket : (bucket + 1) % b;
            for (int k = 0; k < b; k++) pa[i * b + k] = k == pb ? 0.65f : 0.05f;
        }
        return new TestPredictions(names, g, a, new Probabilities(pg, pa), BUCKETS);
    }

    static RunRecord run(double pGender, double pAge, long seed) {
        return new RunRecord(predictions(pGender, pAge, seed), "5", 60, 0.001, 0.002);
    }

    @Test
    void perImageValuesAverageToTheEvaluationsMetrics() {
        TestPredictions p = predictions(0.9, 0.6, 1);
        Evaluation.Summary s = p.evaluation().overall();
        assertEquals(s.genderAccuracy(), mean(p.perImage(Metric.GENDER)), 1e-12);
        assertEquals(s.ageAccuracy(), mean(p.perImage(Metric.AGE)), 1e-12);
        assertEquals(s.aabd(), mean(p.perImage(Metric.AABD)), 1e-12);
        assertEquals(s.ageMae(), mean(p.perImage(Metric.MAE)), 1e-5);
    }

    @Test
    void averagingTwoRunsIsTheirMeanProbability() {
        TestPredictions a = predictions(0.9, 0.6, 1), b = predictions(0.7, 0.5, 2);
        TestPredictions e = TestPredictions.average(a, b, "test");
        for (int i = 0; i < 2 * N; i++) assertEquals((a.probs().gender()[i] + b.probs().gender()[i]) / 2, e.probs().gender()[i], 1e-7);
    }

    @Test
    void verdictsFollowTheIntervals() {
        // three seeds; base: gender 92%, age 60%; no-attention 80% / 60%: attention's 12 points of gender are supported;
        // age-only 70%: multi-task's age claim is reversed (not supported)
        Map<String, List<RunRecord>> runs = new LinkedHashMap<>();
        double[][] acc = {{0.92, 0.60}, {0.80, 0.60}, {0.92, 0}, {0, 0.70}, {0.92, 0.60}, {0.85, 0.55}};
        String[] names = {Variant.BASE, Variant.NO_ATTENTION, Variant.GENDER_ONLY, Variant.AGE_ONLY, Variant.GENDER_NOT_FED, "resnet"};
        for (int v = 0; v < names.length; v++) {
            List<RunRecord> rs = new ArrayList<>();
            for (long s = 1; s <= 3; s++) rs.add(run(acc[v][0], acc[v][1], 100 * v + s));
            runs.put(names[v], rs);
        }
        List<Variant> variants = Variant.all(Arch.ATTN);
        ResultsTable t = new ResultsTable(new ResultsTable.Setup("attn 5 epochs", List.of(1L, 2L, 3L), 1, 0, "test"), variants, runs, "resnet");
        Map<String, String> verdict = new LinkedHashMap<>();
        for (ResultsTable.Finding f : t.findings()) verdict.put(f.claim().b() + " " + f.claim().metric(), f.verdict());
        assertEquals(ResultsTable.SUPPORTED, verdict.get("no-attention GENDER"), verdict.toString());
        assertEquals(ResultsTable.NOT_SUPPORTED, verdict.get("age-only AGE"), verdict.toString());
        assertTrue(!verdict.containsKey("base GENDER"), "no ensemble runs, no ensemble claims: " + verdict);
        ResultsTable.Finding rq1 = t.findings().getFirst();
        assertEquals(3, rq1.seeds());
        assertEquals(0.12, rq1.overSeeds().mean(), 0.04, "92% - 80%");
        String md = t.toMarkdown();
        assertTrue(md.contains("- RQ2: **not supported**"), md);
        assertTrue(md.contains("| 5 | 3 |"), "epochs and seeds: " + md);
        assertTrue(md.contains("1.0 min"), "wall time per seed: " + md);
        assertTrue(md.contains("All runs together: 0.30 h"), "6 variants x 3 seeds x 60 s: " + md);
    }

    @Test
    void aClaimWithNoRealDifferenceIsInconclusive() {
        // the same accuracy in expectation, independent errors: both intervals hold 0 (about 19 times in 20)
        Map<String, List<RunRecord>> runs = new LinkedHashMap<>();
        runs.put(Variant.BASE, List.of(run(0.9, 0.6, 1), run(0.9, 0.6, 2), run(0.9, 0.6, 3)));
        runs.put(Variant.GENDER_NOT_FED, List.of(run(0.9, 0.6, 4), run(0.9, 0.6, 5), run(0.9, 0.6, 6)));
        ResultsTable t = new ResultsTable(new ResultsTable.Setup("x", List.of(1L, 2L, 3L), 1, 0, "test"), Variant.all(Arch.ATTN), runs, "resnet");
        assertEquals(2, t.findings().size(), "RQ3's age accuracy and AABD");
        for (ResultsTable.Finding f : t.findings()) assertEquals(ResultsTable.INCONCLUSIVE, f.verdict(), f.toString());
    }

    @Test
    void verdictNeedsEveryDefinedIntervalOnOneSide() {
        var above = new org.attnface.trainer.metrics.Intervals.Interval(1, 0.5, 1.5);
        var holds0 = new org.attnface.trainer.metrics.Intervals.Interval(1, -0.5, 2.5);
        var undefined = new org.attnface.trainer.metrics.Intervals.Interval(1, Double.NaN, Double.NaN);
        assertEquals(ResultsTable.SUPPORTED, ResultsTable.verdict(1, above, undefined));
        assertEquals(ResultsTable.NOT_SUPPORTED, ResultsTable.verdict(-1, above, above), "lower is better: a positive difference is against");
        assertEquals(ResultsTable.INCONCLUSIVE, ResultsTable.verdict(1, above, holds0));
    }

    static double mean(double[] v) {
        double s = 0;
        for (double x : v) s += x;
        return s / v.length;
    }
}
