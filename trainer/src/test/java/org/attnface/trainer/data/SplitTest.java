package org.attnface.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import org.attnface.model.AgeBuckets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SplitTest {
    @TempDir Path tmp;

    /** 3000 labelled names with UTKFace's skew; no pixels needed (size 1). */
    static FaceSet labels(int n, long seed) {
        Random r = new Random(seed);
        String[] names = new String[n];
        int[] ages = new int[n], genders = new int[n], races = new int[n];
        byte[][] hashes = new byte[n][32];
        for (int i = 0; i < n; i++) {
            ages[i] = r.nextDouble() < 0.3 ? 20 + r.nextInt(10) : r.nextInt(100);
            genders[i] = r.nextInt(2);
            races[i] = r.nextInt(5);
            names[i] = String.format("%d_%d_%d_%017d.jpg.chip.jpg", ages[i], genders[i], races[i], i);
        }
        return new FaceSet(1, names, ages, genders, races, hashes, new byte[n * 3], List.of());
    }

    @Test
    void partsAreDisjointCompleteAndStratified() {
        FaceSet set = labels(3000, 1);
        AgeBuckets b = AgeBuckets.decades();
        Split s = Split.stratified(set, b, 42, 0.7, 0.15);
        Set<String> all = new HashSet<>();
        all.addAll(s.train());
        all.addAll(s.val());
        all.addAll(s.test());
        assertEquals(3000, all.size(), "every image in exactly one part");
        assertEquals(3000, s.train().size() + s.val().size() + s.test().size());
        // each gender x bucket stratum is split 70/15/15 up to rounding (one image per part)
        int[] idxTrain = Split.indices(set, s.train(), "train"), idxTest = Split.indices(set, s.test(), "test");
        for (int g = 0; g < 2; g++)
            for (int k = 0; k < b.count(); k++) {
                int total = count(set, null, g, k, b), tr = count(set, idxTrain, g, k, b), te = count(set, idxTest, g, k, b);
                assertEquals(Math.round(total * 0.7), tr, 0.0, "train share of stratum g" + g + " b" + k);
                assertTrue(Math.abs(te - total * 0.15) <= 1.5, "test share of stratum g" + g + " b" + k + ": " + te + " of " + total);
            }
    }

    private static int count(FaceSet set, int[] idx, int g, int k, AgeBuckets b) {
        int n = 0;
        int m = idx == null ? set.count() : idx.length;
        for (int j = 0; j < m; j++) {
            int i = idx == null ? j : idx[j];
            if (set.genders()[i] == g && b.bucketOf(set.ages()[i]) == k) n++;
        }
        return n;
    }

    @Test
    void sameSeedSameSplitOtherSeedOtherSplitAndJsonRoundTrip() throws IOException {
        FaceSet set = labels(500, 2);
        Split a = Split.stratified(set, AgeBuckets.decades(), 7, 0.7, 0.15);
        assertEquals(a, Split.stratified(set, AgeBuckets.decades(), 7, 0.7, 0.15));
        assertNotEquals(a.test(), Split.stratified(set, AgeBuckets.decades(), 8, 0.7, 0.15).test());
        a.save(tmp.resolve("split.json"));
        assertEquals(a, Split.load(tmp.resolve("split.json")));
    }
}
