package org.attnface.trainer.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.io.AtomicFile;
import org.attnface.engine.io.Json;
import org.attnface.model.AgeBuckets;

/**
 * A seeded train/validation/test split by image name, stratified by gender x age bucket
 * so every part has the same age and gender mix. Saved as split.json in the run folder and
 * read back on resume and by {@code eval}, so the test images are never trained on.
 */
public record Split(long seed, double trainFraction, double valFraction, List<String> train, List<String> val, List<String> test) {

    public static Split stratified(FaceSet set, AgeBuckets buckets, long seed, double trainFraction, double valFraction) {
        if (trainFraction <= 0 || valFraction < 0 || trainFraction + valFraction > 1)
            throw new IllegalArgumentException("split fractions train " + trainFraction + ", val " + valFraction + " must be > 0 and sum to at most 1");
        Map<Integer, List<Integer>> strata = new TreeMap<>();
        for (int i = 0; i < set.count(); i++)
            strata.computeIfAbsent(set.genders()[i] * 1000 + buckets.bucketOf(set.ages()[i]), k -> new ArrayList<>()).add(i);
        List<String> train = new ArrayList<>(), val = new ArrayList<>(), test = new ArrayList<>();
        for (Map.Entry<Integer, List<Integer>> e : strata.entrySet()) {
            List<Integer> members = e.getValue();
            int[] order = FaceFolder.permutation(members.size(), Rng.derive(seed, e.getKey()));
            int n = members.size();
            int nTrain = (int) Math.round(n * trainFraction);
            int nVal = (int) Math.round(n * valFraction);
            if (nTrain + nVal > n) nVal = n - nTrain;
            for (int k = 0; k < n; k++) {
                String name = set.names()[members.get(order[k])];
                (k < nTrain ? train : k < nTrain + nVal ? val : test).add(name);
            }
        }
        train.sort(null);
        val.sort(null);
        test.sort(null);
        return new Split(seed, trainFraction, valFraction, train, val, test);
    }

    /** Indices into {@code set} of the given names; every name must be present. */
    public static int[] indices(FaceSet set, List<String> names, String part) {
        Map<String, Integer> byName = set.indexByName();
        int[] out = new int[names.size()];
        List<String> missing = new ArrayList<>();
        for (int i = 0; i < out.length; i++) {
            Integer k = byName.get(names.get(i));
            if (k == null) missing.add(names.get(i));
            else out[i] = k;
        }
        if (!missing.isEmpty())
            throw new IllegalArgumentException("the " + part + " split names " + missing.size() + " images that are not in the data set (first: "
                    + missing.getFirst() + "); was the run made on another folder or --limit?");
        return out;
    }

    public void save(Path file) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seed", seed);
        m.put("train_fraction", trainFraction);
        m.put("val_fraction", valFraction);
        m.put("counts", Map.of("train", train.size(), "val", val.size(), "test", test.size()));
        m.put("train", train);
        m.put("val", val);
        m.put("test", test);
        AtomicFile.writeString(file, Json.write(m) + "\n");
    }

    /**
     * Reads a split written by {@link #save}. A malformed file (wrong JSON types, fractions out of
     * range, a name listed twice) is an IOException naming the file and the key.
     */
    public static Split load(Path file) throws IOException {
        String text = Files.readString(file);
        try {
            if (!(Json.parse(text) instanceof Map<?, ?> m)) throw new IllegalArgumentException("the top level is not a JSON object");
            if (!(m.get("seed") instanceof Long seed)) throw new IllegalArgumentException("\"seed\" is " + Json.shown(m.get("seed")) + ", not an integer");
            double trainFraction = fraction(m, "train_fraction"), valFraction = fraction(m, "val_fraction");
            if (trainFraction <= 0 || trainFraction + valFraction > 1)
                throw new IllegalArgumentException("fractions train " + trainFraction + ", val " + valFraction + " must be > 0 and sum to at most 1");
            List<String> train = strings(m, "train"), val = strings(m, "val"), test = strings(m, "test");
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (List<String> part : List.of(train, val, test))
                for (String name : part)
                    if (!seen.add(name)) throw new IllegalArgumentException("image \"" + Json.shown(name) + "\" is listed twice");
            return new Split(seed, trainFraction, valFraction, train, val, test);
        } catch (IllegalArgumentException e) {
            throw new IOException("cannot read split " + file + ": " + e.getMessage(), e);
        }
    }

    private static double fraction(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof Number n) || !(n.doubleValue() >= 0 && n.doubleValue() <= 1))
            throw new IllegalArgumentException("\"" + key + "\" is " + Json.shown(m.get(key)) + ", not a number in [0, 1]");
        return n.doubleValue();
    }

    private static List<String> strings(Map<?, ?> m, String key) {
        if (!(m.get(key) instanceof List<?> list)) throw new IllegalArgumentException("\"" + key + "\" is " + Json.shown(m.get(key)) + ", not a list of names");
        List<String> out = new ArrayList<>(list.size());
        for (Object x : list) {
            if (!(x instanceof String name)) throw new IllegalArgumentException("\"" + key + "\" holds " + Json.shown(x) + ", not an image name");
            out.add(name);
        }
        return out;
    }
}
