package org.attnface.trainer.research;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.Json;
import org.attnface.trainer.train.TrainConfig;

/**
 * What the results table reads of one variant and seed: its test predictions, its budget in
 * epochs, its wall time (training and validation, summed over metrics.jsonl, so a resumed run
 * counts every process), and how much its validation accuracies still rose over the last
 * quarter of the epochs (best so far at the end minus best so far at 75%: near 0 where the
 * curves have flattened).
 */
public record RunRecord(TestPredictions predictions, String epochs, double wallSeconds, double valGainGender, double valGainAge) {

    public static RunRecord read(Path runDir) throws IOException {
        TestPredictions p = TestPredictions.read(runDir.resolve(TestPredictions.FILE));
        TrainConfig cfg = TrainConfig.load(runDir.resolve("config.json"));
        List<double[]> curve = new ArrayList<>();
        double wall = 0;
        Path metrics = runDir.resolve("metrics.jsonl");
        if (Files.exists(metrics))
            for (String line : Files.readAllLines(metrics)) {
                if (line.isBlank()) continue;
                if (!(Json.parse(line) instanceof Map<?, ?> m)) continue;
                wall += seconds(m.get("train_seconds")) + seconds(m.get("eval_seconds"));
                curve.add(new double[] {num(m.get("val_gender_accuracy")), num(m.get("val_age_bucket_accuracy"))});
            }
        return new RunRecord(p, Integer.toString(cfg.epochs()), wall, lastQuarterGain(curve, 0), lastQuarterGain(curve, 1));
    }

    /** The ensemble of two runs of one seed: probabilities averaged, budgets listed, wall times added. */
    public static RunRecord ensemble(RunRecord a, RunRecord b, String what) {
        double nan = Double.NaN;
        return new RunRecord(TestPredictions.average(a.predictions, b.predictions, what), a.epochs + " + " + b.epochs,
                a.wallSeconds + b.wallSeconds, nan, nan);
    }

    /** max(v[0..n-1]) - max(v[0..ceil(0.75 n)-1]) of column k; NaN for fewer than 4 epochs. */
    static double lastQuarterGain(List<double[]> curve, int k) {
        int n = curve.size();
        if (n < 4) return Double.NaN;
        int q = (int) Math.ceil(0.75 * n);
        double before = Double.NEGATIVE_INFINITY, all = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            double v = curve.get(i)[k];
            if (Double.isNaN(v)) continue;
            all = Math.max(all, v);
            if (i < q) before = Math.max(before, v);
        }
        return Double.isInfinite(all) || Double.isInfinite(before) ? Double.NaN : all - before;
    }

    private static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }

    private static double seconds(Object o) { return o instanceof Number n ? n.doubleValue() : 0; }
}
