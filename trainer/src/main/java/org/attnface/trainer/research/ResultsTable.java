package org.attnface.trainer.research;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import org.attnface.trainer.metrics.Evaluation;
import org.attnface.trainer.metrics.Intervals;
import org.attnface.trainer.research.TestPredictions.Metric;

/**
 * The research questions' results: each variant's metrics as mean and standard deviation over
 * the seeds, each paper claim's difference with two 95% intervals (Student's t over the seeds'
 * paired differences, and the percentile bootstrap over test images of the per-image
 * differences averaged over seeds), and a one-line answer per question.
 *
 * <p>A claim is "supported" when every interval there is lies on the claimed side of 0, "not
 * supported" when every one lies on the other side, else "inconclusive at this budget". A
 * question is supported when all its claims are, not supported when any is, else inconclusive.
 */
public final class ResultsTable {
    public static final double LEVEL = 0.95;
    static final int RESAMPLES = 4000;

    /** A paper claim: variant a does better than variant b on metric m. */
    public record Claim(String question, String text, String a, String b, Metric metric) {}

    /** The paper's claims, naming the variants of {@link Variant#all}; {@code other} is the second network's variant. */
    public static List<Claim> claims(String other) {
        String e = Variant.ENSEMBLE, base = Variant.BASE;
        return List.of(
                new Claim("RQ1", "attention helps", base, Variant.NO_ATTENTION, Metric.GENDER),
                new Claim("RQ1", "attention helps", base, Variant.NO_ATTENTION, Metric.AGE),
                new Claim("RQ2", "multi-task beats single-task (gender)", base, Variant.GENDER_ONLY, Metric.GENDER),
                new Claim("RQ2", "multi-task beats single-task (age)", base, Variant.AGE_ONLY, Metric.AGE),
                new Claim("RQ3", "feeding gender to the age head helps age", base, Variant.GENDER_NOT_FED, Metric.AGE),
                new Claim("RQ3", "feeding gender to the age head helps age", base, Variant.GENDER_NOT_FED, Metric.AABD),
                new Claim("RQ4", "the ensemble beats " + base, e, base, Metric.GENDER),
                new Claim("RQ4", "the ensemble beats " + base, e, base, Metric.AGE),
                new Claim("RQ4", "the ensemble beats " + other, e, other, Metric.GENDER),
                new Claim("RQ4", "the ensemble beats " + other, e, other, Metric.AGE));
    }

    /** A claim measured: the mean difference a - b and its intervals (NaN bounds where undefined), and the verdict. */
    public record Finding(Claim claim, int seeds, Intervals.Interval overSeeds, Intervals.Interval overImages, String verdict) {}

    public static final String SUPPORTED = "supported", NOT_SUPPORTED = "not supported", INCONCLUSIVE = "inconclusive at this budget";

    /** {@code runs.get(variant).get(k)}: the k-th seed's run (the same seeds, in the same order, for every variant). */
    public static Finding measure(Claim c, Map<String, List<RunRecord>> runs) {
        List<RunRecord> a = runs.get(c.a()), b = runs.get(c.b());
        if (a == null || b == null || a.isEmpty() || a.size() != b.size()) return null;
        int seeds = a.size(), n = a.getFirst().predictions().count();
        double[] perSeed = new double[seeds], perImage = new double[n];
        for (int s = 0; s < seeds; s++) {
            TestPredictions pa = a.get(s).predictions(), pb = b.get(s).predictions();
            if (!java.util.Arrays.equals(pa.names(), a.getFirst().predictions().names()) || !java.util.Arrays.equals(pa.names(), pb.names()))
                throw new IllegalArgumentException(c.a() + " and " + c.b() + " were tested on different images: every run must use the same split");
            double[] va = pa.perImage(c.metric()), vb = pb.perImage(c.metric());
            for (int i = 0; i < n; i++) {
                perImage[i] += (va[i] - vb[i]) / seeds;
                perSeed[s] += (va[i] - vb[i]) / n;
            }
        }
        Intervals.Interval t = Intervals.tInterval(perSeed, LEVEL);
        Intervals.Interval boot = Intervals.pairedBootstrap(perImage, RESAMPLES, LEVEL, 1 + c.metric().ordinal());
        return new Finding(c, seeds, t, boot, verdict(c.metric().higherIsBetter ? 1 : -1, t, boot));
    }

    /** {@code better}: +1 when a larger difference favours the claim. */
    static String verdict(int better, Intervals.Interval... intervals) {
        int sup = 0, against = 0, defined = 0;
        for (Intervals.Interval i : intervals) {
            if (!i.defined()) continue;
            defined++;
            if (i.sign() * better > 0) sup++;
            if (i.sign() * better < 0) against++;
        }
        return defined == 0 ? INCONCLUSIVE : sup == defined ? SUPPORTED : against == defined ? NOT_SUPPORTED : INCONCLUSIVE;
    }

    /** The question's answer from its claims' verdicts. */
    static String answer(List<Finding> fs) {
        if (fs.isEmpty()) return INCONCLUSIVE;
        if (fs.stream().anyMatch(f -> f.verdict().equals(NOT_SUPPORTED))) return NOT_SUPPORTED;
        return fs.stream().allMatch(f -> f.verdict().equals(SUPPORTED)) ? SUPPORTED : INCONCLUSIVE;
    }

    /** What the table's header states. */
    public record Setup(String budget, List<Long> seeds, long splitSeed, int limit, String recipe) {}

    private final Setup setup;
    private final List<Variant> variants;
    private final Map<String, List<RunRecord>> runs;
    private final List<Finding> findings = new ArrayList<>();

    public ResultsTable(Setup setup, List<Variant> variants, Map<String, List<RunRecord>> runs, String other) {
        this.setup = setup;
        this.variants = variants;
        this.runs = runs;
        for (Claim c : claims(other)) {
            Finding f = measure(c, runs);
            if (f != null) findings.add(f);
        }
    }

    public List<Finding> findings() { return findings; }

    private Map<String, List<Map<?, ?>>> maps = Map.of();
    private String figureSeed = "";

    /** RQ5: per network variant, each seed's rq5.json ({@link MapFaithfulness#toJson}); figures named from {@code figureSeed}'s folder. */
    public void setMaps(Map<String, List<Map<?, ?>>> maps, String figureSeed) {
        this.maps = maps;
        this.figureSeed = figureSeed;
    }

    private static double num(Object o) { return o instanceof Number n ? n.doubleValue() : Double.NaN; }

    /** Mean over seeds of maps.NAME.KEY. */
    private static double[] values(List<Map<?, ?>> seeds, String map, String key) {
        return seeds.stream().mapToDouble(j -> j.get("maps") instanceof Map<?, ?> ms && ms.get(map) instanceof Map<?, ?> m ? num(m.get(key)) : Double.NaN)
                .toArray();
    }

    private static String pctPm(double[] v) {
        double sd = Intervals.sd(v);
        return String.format(Locale.ROOT, "%.1f%%", 100 * Intervals.mean(v)) + (Double.isNaN(sd) ? "" : String.format(Locale.ROOT, " ± %.1f", 100 * sd));
    }

    /** The tasks a map is about: the region serves both, each Grad-CAM map its own class. */
    private static List<String> tasksOf(String map) {
        return map.equals(MapFaithfulness.GRADCAM_GENDER) ? List.of("gender") : map.equals(MapFaithfulness.GRADCAM_AGE) ? List.of("age")
                : List.of("gender", "age");
    }

    /** Per image, the mean over seeds of maps.MAP.KEY's list (the same sampled faces in every seed). */
    private static double[] perImage(List<Map<?, ?>> seeds, String map, String key) {
        double[] sum = null;
        for (Map<?, ?> j : seeds) {
            if (!(j.get("maps") instanceof Map<?, ?> ms && ms.get(map) instanceof Map<?, ?> m && m.get(key) instanceof List<?> l)) return new double[0];
            if (sum == null) sum = new double[l.size()];
            if (l.size() != sum.length) throw new IllegalArgumentException("RQ5: the seeds measured different numbers of faces (" + sum.length + ", " + l.size() + ")");
            for (int i = 0; i < sum.length; i++) sum[i] += num(l.get(i)) / seeds.size();
        }
        return sum == null ? new double[0] : sum;
    }

    /** The paired bootstrap of (map - random) per image for KIND_areas_TASK, sign flipped for deletion (a faithful map deletes faster). */
    private static Intervals.Interval gain(List<Map<?, ?>> seeds, String map, String kind, String task) {
        double[] m = perImage(seeds, map, kind + "_areas_" + task), r = perImage(seeds, MapFaithfulness.RANDOM, kind + "_areas_" + task);
        double[] d = new double[Math.min(m.length, r.length)];
        for (int i = 0; i < d.length; i++) d[i] = kind.equals("deletion") ? r[i] - m[i] : m[i] - r[i];
        return Intervals.pairedBootstrap(d, RESAMPLES, LEVEL, 11);
    }

    private void mapsMarkdown(StringBuilder s) {
        if (maps.isEmpty()) return;
        Map<?, ?> first = maps.values().iterator().next().getFirst();
        s.append("\n## RQ5: the attention maps\n\n");
        s.append(String.format(Locale.ROOT, "%s test faces per run (a sample fixed by the split seed, the same in every run), the best checkpoint "
                + "of each seed. Face: the ellipse centred on UTKFace's aligned crop with semi-axes %.0f%% (across) and %.0f%% (down) of its side "
                + "(eyes, nose, mouth, cheeks, chin; outside: hair, ears, neck, background), %.1f%% of the network's input. Deletion/insertion: "
                + "the input cut into 16 x 16 patches, the most salient first (random: a seeded order), set to the mean colour; each face's "
                + "area under its accuracy vs fraction (0 to 1). Gain: random's deletion area minus the map's, the map's insertion area minus "
                + "random's, per face averaged over seeds, with a paired bootstrap over the faces; both above 0 on the map's task(s) "
                + "(region: gender and age; each Grad-CAM map: its own) is faithful.%n%n",
                first.get("images"), 100 * MapFaithfulness.FACE_ELLIPSE[0], 100 * MapFaithfulness.FACE_ELLIPSE[1], 100 * num(first.get("face_share_uniform"))));
        s.append("| network | map | mass inside the face (mean ± sd over seeds) | task | deletion area (random) | insertion area (random) | deletion gain [95%] "
                + "| insertion gain [95%] | verdict |\n|---|---|---:|---|---:|---:|---:|---:|---|\n");
        List<String> lines = new ArrayList<>();
        double chance = num(first.get("face_share_uniform"));
        for (Map.Entry<String, List<Map<?, ?>>> e : maps.entrySet()) {
            List<Map<?, ?>> seeds = e.getValue();
            if (!(seeds.getFirst().get("maps") instanceof Map<?, ?> names)) continue;
            for (Object nameObj : names.keySet()) {
                String map = (String) nameObj;
                if (map.equals(MapFaithfulness.RANDOM)) continue;
                int sup = 0, against = 0, rows = 0;
                StringBuilder mapRows = new StringBuilder();
                for (String task : tasksOf(map)) {
                    Intervals.Interval del = gain(seeds, map, "deletion", task), ins = gain(seeds, map, "insertion", task);
                    for (Intervals.Interval i : List.of(del, ins)) {
                        rows++;
                        if (i.sign() > 0) sup++;
                        if (i.sign() < 0) against++;
                    }
                    if (!mapRows.isEmpty()) mapRows.append(" |\n");
                    mapRows.append("| ").append(e.getKey()).append(" | ").append(map).append(" | ").append(pctPm(values(seeds, map, "face_share"))).append(" | ")
                            .append(task);
                    for (String kind : List.of("deletion", "insertion"))
                        mapRows.append(String.format(Locale.ROOT, " | %.3f (%.3f)", Intervals.mean(values(seeds, map, kind + "_area_" + task)),
                                Intervals.mean(values(seeds, MapFaithfulness.RANDOM, kind + "_area_" + task))));
                    for (Intervals.Interval i : List.of(del, ins))
                        mapRows.append(String.format(Locale.ROOT, " | %+.3f [%.3f, %.3f]", i.mean(), i.lo(), i.hi()));
                    mapRows.append(" |");
                }
                String verdict = sup == rows ? "faithful" : against > 0 ? "not faithful" : "inconclusive at this budget";
                s.append(mapRows).append(" ").append(verdict).append(" |\n");   // on the map's last row
                lines.add(String.format(Locale.ROOT, "%s %s %s, %.0f%% of its mass on the face (uniform %.0f%%)", e.getKey(), map, verdict,
                        100 * Intervals.mean(values(seeds, map, "face_share")), 100 * chance));
            }
        }
        s.append("\n- RQ5: ").append(String.join("; ", lines)).append(".\n");
        for (Map.Entry<String, List<Map<?, ?>>> e : maps.entrySet())
            if (num(e.getValue().getFirst().get("map_cells")) <= 2)
                s.append("\n(").append(e.getKey()).append("'s Grad-CAM map has ").append((int) num(e.getValue().getFirst().get("map_cells")))
                        .append(" x ").append((int) num(e.getValue().getFirst().get("map_cells")))
                        .append(" cells: spread bilinearly over the face it is a ramp, whose share inside a centred ellipse is the uniform share "
                                + "by symmetry; only its curves say something. ResNet-18 maps have S/32 cells a side: 4 x 4 at 128x128.)\n");
        s.append("\nFigures (").append(figureSeed)
                .append("): the mean map per true gender and age bucket in RUN/rq5_MAP.png, the curves in RUN/rq5_curves.png, RUN = ")
                .append(String.join(", ", maps.keySet().stream().map(n -> figureSeed + "/" + n).toList())).append(".\n");
    }

    private static boolean scored(Variant v, Metric m) { return m.gender ? v.genderMetrics() : v.ageMetrics(); }

    private static double value(Evaluation.Summary s, Metric m) {
        return switch (m) {
            case GENDER -> s.genderAccuracy();
            case AGE -> s.ageAccuracy();
            case AABD -> s.aabd();
            case MAE -> s.ageMae();
        };
    }

    /** 100 x for the accuracies. */
    private static String fmt(Metric m, double v) {
        return m == Metric.GENDER || m == Metric.AGE ? String.format(Locale.ROOT, "%.2f", 100 * v) : String.format(Locale.ROOT, m == Metric.AABD ? "%.3f" : "%.2f", v);
    }

    private static String interval(Metric m, Intervals.Interval i) {
        return i.defined() ? "[" + fmt(m, i.lo()) + ", " + fmt(m, i.hi()) + "]" : "-";
    }

    private static String minutes(double s) { return String.format(Locale.ROOT, "%.1f min", s / 60); }

    private static String points(double v) { return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%+.2f", 100 * v); }

    public String toMarkdown() {
        StringBuilder s = new StringBuilder();
        int n = runs.values().stream().filter(l -> !l.isEmpty()).findFirst().map(l -> l.getFirst().predictions().count()).orElse(0);
        s.append("# Research questions\n\n");
        s.append(String.format(Locale.ROOT, "Test split of %d faces (split seed %d, the same for every run%s); seeds %s; budget: %s; %s.%n%n",
                n, setup.splitSeed(), setup.limit() > 0 ? ", " + setup.limit() + " images" : "", setup.seeds(), setup.budget(), setup.recipe()));
        s.append("## Variants (mean ± standard deviation over the seeds; accuracies in %)\n\n");
        s.append("| RQ | variant | what | epochs | seeds | gender accuracy | age-bucket accuracy | AABD | age MAE | val gain in the last quarter "
                + "(gender / age, points) | wall time per seed |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Variant v : variants) {
            List<RunRecord> rs = runs.getOrDefault(v.name(), List.of());
            if (rs.isEmpty()) continue;
            s.append("| ").append(v.question()).append(" | ").append(v.name()).append(" | ").append(v.what()).append(" | ")
                    .append(rs.getFirst().epochs()).append(" | ").append(rs.size());
            for (Metric m : Metric.values()) {
                if (!scored(v, m)) { s.append(" | -"); continue; }
                double[] x = rs.stream().mapToDouble(r -> value(r.predictions().evaluation().overall(), m)).toArray();
                double sd = Intervals.sd(x);
                s.append(" | ").append(fmt(m, Intervals.mean(x))).append(Double.isNaN(sd) ? "" : " ± " + fmt(m, sd));
            }
            double gg = Intervals.mean(rs.stream().mapToDouble(RunRecord::valGainGender).toArray());
            double ga = Intervals.mean(rs.stream().mapToDouble(RunRecord::valGainAge).toArray());
            s.append(" | ").append(v.trained() ? points(gg) + " / " + points(ga) : "-");
            s.append(" | ").append(minutes(Intervals.mean(rs.stream().mapToDouble(RunRecord::wallSeconds).toArray()))).append(" |\n");
        }
        double total = 0;
        for (Variant v : variants)
            if (v.trained()) for (RunRecord r : runs.getOrDefault(v.name(), List.of())) total += r.wallSeconds();
        s.append(String.format(Locale.ROOT, "%nAll runs together: %.2f h of training and validation.%n", total / 3600));
        s.append("\n(-: not trained for that task. Val gain: best validation accuracy at the end minus at 75% of the epochs; "
                + "near 0 where the curves have flattened, - under 4 epochs. Wall time: training and validation, from metrics.jsonl; "
                + "the ensemble's is its two members'.)\n\n");
        s.append("## Claims (difference a − b, 95% intervals)\n\n");
        s.append("| RQ | claim | metric | a − b | t-interval over seeds | paired bootstrap over test images | verdict |\n|---|---|---|---:|---:|---:|---|\n");
        for (Finding f : findings) {
            Metric m = f.claim().metric();
            s.append(String.format(Locale.ROOT, "| %s | %s: %s vs %s | %s%s | %s | %s | %s | %s |%n", f.claim().question(), f.claim().text(), f.claim().a(),
                    f.claim().b(), m.label, m.higherIsBetter ? "" : " (lower is better)", fmt(m, f.overSeeds().mean()),
                    interval(m, f.overSeeds()), interval(m, f.overImages()), f.verdict()));
        }
        s.append("\n(Accuracy differences in points. The t-interval needs 2 or more seeds; the bootstrap resamples the test images "
                + RESAMPLES + " times, the per-image differences averaged over seeds, so it measures the test sample's noise, not training's.)\n\n");
        s.append("## Answers\n\n");
        for (Map.Entry<String, List<Finding>> q : byQuestion().entrySet()) {
            StringBuilder detail = new StringBuilder();
            for (Finding f : q.getValue())
                detail.append(detail.isEmpty() ? "" : "; ").append(f.claim().text()).append(", ").append(f.claim().metric().label).append(" ")
                        .append(fmtSigned(f.claim().metric(), f.overSeeds().mean())).append(": ").append(f.verdict());
            s.append("- ").append(q.getKey()).append(": **").append(answer(q.getValue())).append("** (").append(detail)
                    .append(setup.seeds().size() < 2 ? "; one seed: training noise not measured" : "").append(")\n");
        }
        mapsMarkdown(s);
        s.append("\n## Per seed\n\n| variant | seed | gender accuracy | age-bucket accuracy | AABD | age MAE | epochs | wall time |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Variant v : variants) {
            List<RunRecord> rs = runs.getOrDefault(v.name(), List.of());
            for (int k = 0; k < rs.size(); k++) {
                Evaluation.Summary o = rs.get(k).predictions().evaluation().overall();
                s.append("| ").append(v.name()).append(" | ").append(setup.seeds().get(k));
                for (Metric m : Metric.values()) s.append(" | ").append(scored(v, m) ? fmt(m, value(o, m)) : "-");
                s.append(" | ").append(rs.get(k).epochs()).append(" | ").append(minutes(rs.get(k).wallSeconds())).append(" |\n");
            }
        }
        return s.toString();
    }

    private static String fmtSigned(Metric m, double v) {
        String f = fmt(m, v);
        return v >= 0 ? "+" + f : f;
    }

    private Map<String, List<Finding>> byQuestion() {
        Map<String, List<Finding>> m = new LinkedHashMap<>();
        for (Finding f : findings) m.computeIfAbsent(f.claim().question(), k -> new ArrayList<>()).add(f);
        return m;
    }

    public Map<String, Object> toJson() {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("budget", setup.budget());
        out.put("recipe", setup.recipe());
        out.put("split_seed", setup.splitSeed());
        out.put("seeds", setup.seeds());
        out.put("limit", setup.limit());
        out.put("confidence_level", LEVEL);
        List<Object> vs = new ArrayList<>();
        for (Variant v : variants) {
            List<RunRecord> rs = runs.getOrDefault(v.name(), List.of());
            if (rs.isEmpty()) continue;
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("question", v.question());
            row.put("variant", v.name());
            row.put("what", v.what());
            row.put("epochs", rs.getFirst().epochs());
            row.put("test_images", rs.getFirst().predictions().count());
            List<Object> perSeed = new ArrayList<>();
            for (int k = 0; k < rs.size(); k++) {
                Evaluation.Summary o = rs.get(k).predictions().evaluation().overall();
                Map<String, Object> p = new LinkedHashMap<>();
                p.put("seed", setup.seeds().get(k));
                for (Metric m : Metric.values()) p.put(m.key(), scored(v, m) ? value(o, m) : null);
                p.put("wall_seconds", rs.get(k).wallSeconds());
                p.put("val_gain_gender", rs.get(k).valGainGender());
                p.put("val_gain_age", rs.get(k).valGainAge());
                perSeed.add(p);
            }
            row.put("per_seed", perSeed);
            for (Metric m : Metric.values()) {
                if (!scored(v, m)) continue;
                double[] x = rs.stream().mapToDouble(r -> value(r.predictions().evaluation().overall(), m)).toArray();
                row.put(m.key() + "_mean", Intervals.mean(x));
                row.put(m.key() + "_sd", Intervals.sd(x));
            }
            row.put("wall_seconds_mean", Intervals.mean(rs.stream().mapToDouble(RunRecord::wallSeconds).toArray()));
            vs.add(row);
        }
        out.put("variants", vs);
        List<Object> cs = new ArrayList<>();
        for (Finding f : findings) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("question", f.claim().question());
            c.put("claim", f.claim().text());
            c.put("a", f.claim().a());
            c.put("b", f.claim().b());
            c.put("metric", f.claim().metric().key());
            c.put("seeds", f.seeds());
            c.put("difference", f.overSeeds().mean());
            c.put("t_interval", List.of(f.overSeeds().lo(), f.overSeeds().hi()));
            c.put("bootstrap_interval", List.of(f.overImages().lo(), f.overImages().hi()));
            c.put("verdict", f.verdict());
            cs.add(c);
        }
        out.put("claims", cs);
        Map<String, Object> answers = new LinkedHashMap<>();
        byQuestion().forEach((q, fs) -> answers.put(q, answer(fs)));
        out.put("answers", answers);
        if (!maps.isEmpty()) out.put("rq5", maps);
        return out;
    }
}
