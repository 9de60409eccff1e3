package org.attnface.trainer.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.model.AgeBuckets;
import org.attnface.trainer.data.UtkName;

/**
 * Accumulates predictions against labels and computes the paper's metrics:
 * gender accuracy, age-bucket accuracy, AABD (mean |predicted bucket - true bucket|), the
 * age MAE of the distribution's expected age (sum_b p_b * centre(b) vs the true age), the
 * bucket confusion matrix, and the same metrics per true bucket and per race.
 */
public final class Evaluation {
    private final AgeBuckets buckets;
    private final AgeRule rule;
    private final List<int[]> truth = new ArrayList<>();      // gender, age, race, bucket
    private final List<int[]> predicted = new ArrayList<>();  // gender, bucket
    private final List<float[]> probs = new ArrayList<>();    // P(female), P(predicted bucket), expected age

    public Evaluation(AgeBuckets buckets) { this(buckets, AgeRule.ARGMAX); }

    /** {@code rule} picks each image's age bucket from its distribution (the paper's is argmax). */
    public Evaluation(AgeBuckets buckets, AgeRule rule) {
        this.buckets = buckets;
        this.rule = rule;
    }

    public AgeBuckets buckets() { return buckets; }

    /** One image: its labels and the model's two probability vectors. */
    public void add(int gender, int age, int race, float[] genderProbs, int genderOffset, float[] ageProbs, int ageOffset) {
        int b = buckets.count();
        int predGender = genderProbs[genderOffset + 1] > genderProbs[genderOffset] ? 1 : 0;
        int predBucket = rule.pick(ageProbs, ageOffset, b);
        double expectedAge = 0;
        for (int k = 0; k < b; k++) expectedAge += ageProbs[ageOffset + k] * buckets.centre(k);
        truth.add(new int[] {gender, age, race, buckets.bucketOf(age)});
        predicted.add(new int[] {predGender, predBucket});
        probs.add(new float[] {genderProbs[genderOffset + 1], ageProbs[ageOffset + predBucket], (float) expectedAge});
    }

    public int count() { return truth.size(); }

    /** Metrics of a subset of the accumulated images. */
    public record Summary(int n, double genderAccuracy, double ageAccuracy, double aabd, double ageMae) {
        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("n", n);
            m.put("gender_accuracy", genderAccuracy);
            m.put("age_bucket_accuracy", ageAccuracy);
            m.put("aabd", aabd);
            m.put("age_mae", ageMae);
            return m;
        }
    }

    private Summary summarise(java.util.function.IntPredicate include) {
        int n = 0, g = 0, a = 0;
        double dist = 0, abs = 0;
        for (int i = 0; i < truth.size(); i++) {
            if (!include.test(i)) continue;
            int[] t = truth.get(i), p = predicted.get(i);
            n++;
            if (t[0] == p[0]) g++;
            if (t[3] == p[1]) a++;
            dist += Math.abs(t[3] - p[1]);
            abs += Math.abs(t[1] - probs.get(i)[2]);
        }
        if (n == 0) return new Summary(0, Double.NaN, Double.NaN, Double.NaN, Double.NaN);
        return new Summary(n, (double) g / n, (double) a / n, dist / n, abs / n);
    }

    public Summary overall() { return summarise(i -> true); }

    /** confusion[true][predicted] over age buckets. */
    public int[][] confusion() {
        int b = buckets.count();
        int[][] c = new int[b][b];
        for (int i = 0; i < truth.size(); i++) c[truth.get(i)[3]][predicted.get(i)[1]]++;
        return c;
    }

    public List<Summary> perBucket() {
        List<Summary> out = new ArrayList<>();
        for (int b = 0; b < buckets.count(); b++) {
            int bb = b;
            out.add(summarise(i -> truth.get(i)[3] == bb));
        }
        return out;
    }

    /** Per race 0..4, then unknown race (-1) last. */
    public List<Summary> perRace() {
        List<Summary> out = new ArrayList<>();
        for (int r = 0; r <= UtkName.RACES.length; r++) {
            int rr = r == UtkName.RACES.length ? -1 : r;
            out.add(summarise(i -> truth.get(i)[2] == rr));
        }
        return out;
    }

    /** P(female) of every image, split by true gender: [0] men, [1] women. */
    public float[][] femaleProbabilityByGender() {
        int men = 0;
        for (int[] t : truth) if (t[0] == 0) men++;
        float[][] out = {new float[men], new float[truth.size() - men]};
        int m = 0, w = 0;
        for (int i = 0; i < truth.size(); i++) {
            if (truth.get(i)[0] == 0) out[0][m++] = probs.get(i)[0];
            else out[1][w++] = probs.get(i)[0];
        }
        return out;
    }

    private static String raceName(int slot) {
        return slot < UtkName.RACES.length ? UtkName.RACES[slot] : "unknown";
    }

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>(overall().toMap());
        m.put("buckets", buckets.spec());
        m.put("age_rule", rule.toString());
        List<Object> rows = new ArrayList<>();
        for (int[] r : confusion()) rows.add(r);
        m.put("confusion", rows);
        Map<String, Object> pb = new LinkedHashMap<>();
        List<Summary> per = perBucket();
        for (int b = 0; b < per.size(); b++) pb.put(buckets.label(b), per.get(b).toMap());
        m.put("per_bucket", pb);
        Map<String, Object> pr = new LinkedHashMap<>();
        List<Summary> races = perRace();
        for (int r = 0; r < races.size(); r++) if (races.get(r).n() > 0) pr.put(raceName(r), races.get(r).toMap());
        m.put("per_race", pr);
        return m;
    }

    public String toMarkdown(String title) {
        StringBuilder s = new StringBuilder();
        Summary o = overall();
        s.append("# ").append(title).append("\n\n");
        s.append(String.format(Locale.ROOT, "| images | gender accuracy | age-bucket accuracy | AABD | age MAE (years) |%n|---:|---:|---:|---:|---:|%n"));
        s.append(String.format(Locale.ROOT, "| %d | %.2f%% | %.2f%% | %.3f | %.2f |%n%n", o.n(), 100 * o.genderAccuracy(), 100 * o.ageAccuracy(), o.aabd(), o.ageMae()));
        s.append("## Age-bucket confusion matrix (rows: true, columns: predicted)\n\n| true \\ pred |");
        for (int b = 0; b < buckets.count(); b++) s.append(' ').append(buckets.label(b)).append(" |");
        s.append("\n|---|");
        for (int b = 0; b < buckets.count(); b++) s.append("---:|");
        s.append('\n');
        int[][] c = confusion();
        for (int t = 0; t < c.length; t++) {
            s.append("| ").append(buckets.label(t)).append(" |");
            for (int v : c[t]) s.append(' ').append(v).append(" |");
            s.append('\n');
        }
        s.append("\n## Per true age bucket\n\n");
        table(s, "bucket", perBucket(), k -> buckets.label(k));
        s.append("\n## Per race\n\n");
        table(s, "race", perRace(), Evaluation::raceName);
        return s.toString();
    }

    private static void table(StringBuilder s, String what, List<Summary> rows, java.util.function.IntFunction<String> name) {
        s.append("| ").append(what).append(" | images | gender accuracy | age-bucket accuracy | AABD | age MAE |\n|---|---:|---:|---:|---:|---:|\n");
        for (int k = 0; k < rows.size(); k++) {
            Summary r = rows.get(k);
            if (r.n() == 0) continue;
            s.append(String.format(Locale.ROOT, "| %s | %d | %.2f%% | %.2f%% | %.3f | %.2f |%n", name.apply(k), r.n(),
                    100 * r.genderAccuracy(), 100 * r.ageAccuracy(), r.aabd(), r.ageMae()));
        }
    }
}
