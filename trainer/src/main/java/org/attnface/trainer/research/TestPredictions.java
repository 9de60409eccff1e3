package org.attnface.trainer.research;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.metrics.AgeRule;
import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Probabilities;

/**
 * One run's probabilities on the test split, image by image with its labels
 * (test_predictions.json in the run folder): what the results table, the paired bootstrap over
 * test images and the ensemble (two runs' probabilities averaged) are computed from, without
 * the images or the network.
 */
public record TestPredictions(String[] names, int[] genders, int[] ages, Probabilities probs, AgeBuckets buckets) {
    public static final String FILE = "test_predictions.json";

    public static TestPredictions of(FaceSet set, int[] test, Probabilities p, AgeBuckets buckets) {
        String[] names = new String[test.length];
        int[] g = new int[test.length], a = new int[test.length];
        for (int i = 0; i < test.length; i++) {
            names[i] = set.names()[test[i]];
            g[i] = set.genders()[test[i]];
            a[i] = set.ages()[test[i]];
        }
        return new TestPredictions(names, g, a, p, buckets);
    }

    public int count() { return names.length; }

    /** Per-image values whose mean is the metric (argmax rule, as Evaluation reads them). */
    public enum Metric {
        GENDER("gender accuracy", true, true), AGE("age-bucket accuracy", true, false), AABD("AABD", false, false), MAE("age MAE", false, false);

        public final String label;
        public final boolean higherIsBetter, gender;

        Metric(String label, boolean higherIsBetter, boolean gender) {
            this.label = label;
            this.higherIsBetter = higherIsBetter;
            this.gender = gender;
        }

        public String key() { return name().toLowerCase(java.util.Locale.ROOT); }
    }

    /** Image i's value of m: 1/0 correct for the accuracies, |predicted - true bucket| for AABD, |expected age - age| for MAE. */
    public double[] perImage(Metric m) {
        int b = buckets.count();
        double[] v = new double[count()];
        for (int i = 0; i < v.length; i++) {
            float[] pg = probs.gender(), pa = probs.age();
            int bucket = buckets.bucketOf(ages[i]), pred = AgeRule.ARGMAX.pick(pa, i * b, b);
            v[i] = switch (m) {
                case GENDER -> ((pg[2 * i + 1] > pg[2 * i]) ? 1 : 0) == genders[i] ? 1 : 0;
                case AGE -> pred == bucket ? 1 : 0;
                case AABD -> Math.abs(pred - bucket);
                case MAE -> {
                    double e = 0;
                    for (int k = 0; k < b; k++) e += pa[i * b + k] * buckets.centre(k);
                    yield Math.abs(e - ages[i]);
                }
            };
        }
        return v;
    }

    public Evaluation evaluation() {
        Evaluation ev = new Evaluation(buckets, AgeRule.ARGMAX);
        for (int i = 0; i < count(); i++) ev.add(genders[i], ages[i], -1, probs.gender(), i * 2, probs.age(), i * buckets.count());
        return ev;
    }

    /** The paper's ensemble of two runs: their probabilities averaged; both must hold the same test images in the same order. */
    public static TestPredictions average(TestPredictions a, TestPredictions b, String what) {
        if (!Arrays.equals(a.names, b.names))
            throw new IllegalArgumentException(what + ": the two runs were tested on different images (" + a.count() + " and " + b.count()
                    + "); were they trained on different splits?");
        if (!a.buckets.spec().equals(b.buckets.spec()))
            throw new IllegalArgumentException(what + ": age buckets " + a.buckets.spec() + " and " + b.buckets.spec() + " differ");
        return new TestPredictions(a.names, a.genders, a.ages, Probabilities.mix(a.probs, b.probs, 0.5f), a.buckets);
    }

    public void write(Path file) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("buckets", buckets.spec());
        m.put("names", List.of(names));
        m.put("genders", genders);
        m.put("ages", ages);
        m.put("gender_probabilities", floats(probs.gender()));
        m.put("age_probabilities", floats(probs.age()));
        AtomicFile.writeString(file, Json.write(m) + "\n");
    }

    private static List<Float> floats(float[] v) {
        List<Float> l = new ArrayList<>(v.length);
        for (float x : v) l.add(x);
        return l;
    }

    /** Reads {@link #write}'s file; a malformed one is an IOException naming the file and the key. */
    public static TestPredictions read(Path file) throws IOException {
        try {
            if (!(Json.parse(Files.readString(file)) instanceof Map<?, ?> m)) throw new IllegalArgumentException("the top level is not a JSON object");
            if (!(m.get("buckets") instanceof String spec)) throw new IllegalArgumentException("\"buckets\" is not a string");
            AgeBuckets buckets = AgeBuckets.parse(spec);
            List<?> names = list(m, "names");
            int n = names.size();
            String[] nm = new String[n];
            for (int i = 0; i < n; i++) nm[i] = String.valueOf(names.get(i));
            int[] g = ints(list(m, "genders"), n, "genders"), a = ints(list(m, "ages"), n, "ages");
            float[] pg = floats(list(m, "gender_probabilities"), 2 * n, "gender_probabilities");
            float[] pa = floats(list(m, "age_probabilities"), n * buckets.count(), "age_probabilities");
            return new TestPredictions(nm, g, a, new Probabilities(pg, pa), buckets);
        } catch (IllegalArgumentException | ClassCastException e) {
            throw new IOException("cannot read test predictions " + file + ": " + e.getMessage(), e);
        }
    }

    private static List<?> list(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof List<?> l)) throw new IllegalArgumentException("\"" + key + "\" is not a list");
        return l;
    }

    private static int[] ints(List<?> l, int n, String key) {
        if (l.size() != n) throw new IllegalArgumentException("\"" + key + "\" has " + l.size() + " values, not " + n);
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = ((Number) l.get(i)).intValue();
        return v;
    }

    private static float[] floats(List<?> l, int n, String key) {
        if (l.size() != n) throw new IllegalArgumentException("\"" + key + "\" has " + l.size() + " values, not " + n);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = ((Number) l.get(i)).floatValue();
        return v;
    }
}
