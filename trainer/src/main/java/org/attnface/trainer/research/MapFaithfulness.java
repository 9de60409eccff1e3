package org.attnface.trainer.research;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Explanation;
import org.attnface.model.Prediction;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;

/**
 * RQ5 measured: do the attention maps point at what the network uses, and at the face?
 *
 * <p>Maps, each in the network input's pixel frame: "region", the spatial transformer's sampling
 * region (1 inside, 0 outside; attn networks only), and the Grad-CAM maps of the predicted gender
 * and age bucket. The attn network's Grad-CAM is computed on the warped image its trunk sees and
 * is carried back to the input through theta (0 where the trunk did not look); its last
 * convolution's cell j is centred on warped pixel 2j + offset (unpadded 3x3 convolutions, two
 * 2x2 pools: 6.5 at 64x64). The ResNet's map is stretched over the image (cell j covers pixels
 * [j S/T, (j+1) S/T)), as {@code explain} draws it.
 *
 * <p>Faithfulness (deletion and insertion, Petsiuk et al. 2018): the image is cut into 16 x 16
 * patches (4x4 pixels at 64x64: single pixels would compare smooth maps with salt noise) ranked
 * by the map's mean, ties and the baseline in a seeded random order. Deletion sets the top
 * fraction f of patches to 0 (the normalisation's mean colour) and measures accuracy; insertion
 * keeps only the top f. A faithful map's deletion curve falls faster than random's (smaller area)
 * and its insertion curve rises faster (larger area).
 *
 * <p>Face share: each map's mass inside {@link #FACE_ELLIPSE}, against the ellipse's share of the
 * crop (what a uniform map would give).
 */
public final class MapFaithfulness {
    private MapFaithfulness() {}

    public static final double[] FRACTIONS = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};
    /** Patches per side. */
    static final int GRID = 16;
    /**
     * The face: the ellipse centred on UTKFace's aligned 200x200 crop with semi-axes 32% (across)
     * and 42% (down) of its side, fitted by eye to the mean of 800 of its faces: it holds eyes,
     * brows, nose, mouth, cheeks and chin; outside are hair, ears, neck and background. In the
     * network's input (the centre S of the crop resized to the cache size C) its semi-axes are
     * 0.32 C and 0.42 C pixels.
     */
    public static final double[] FACE_ELLIPSE = {0.32, 0.42};

    public static final String REGION = "region", GRADCAM_GENDER = "gradcam-gender", GRADCAM_AGE = "gradcam-age", RANDOM = "random";

    /** Accuracy [task][fraction] (task 0 gender, 1 age bucket) of deleting and of inserting patches in one order. */
    public record Curves(double[][] deletion, double[][] insertion) {
        /** Trapezoid area under a curve over {@link #FRACTIONS}. */
        public static double area(double[] curve) {
            double a = 0;
            for (int k = 1; k < FRACTIONS.length; k++) a += (FRACTIONS[k] - FRACTIONS[k - 1]) * (curve[k] + curve[k - 1]) / 2;
            return a;
        }
    }

    /**
     * One network's measurements on {@code images} test faces. {@code faceShare}: mean share of
     * each map's mass in the face ellipse; {@code curves}: per map and "random";
     * {@code averageMaps.get(map)[gender][bucket]}: the mean map [S*S] of the faces of that true
     * gender and bucket ({@code counts}); {@code meanFaces} their mean RGB crop [S*S*3];
     * {@code imageAreas.get(map)[kind][task][image]}: each image's own area under its 0/1 curve
     * (kind 0 deletion, 1 insertion), what the paired bootstrap over images resamples;
     * {@code mapCells}: the Grad-CAM map's cells per side.
     */
    public record Result(int size, int images, int mapCells, double faceChance, Map<String, Double> faceShare, Map<String, Curves> curves,
                         Map<String, double[][][]> imageAreas, Map<String, double[][][]> averageMaps, int[][] counts, double[][][] meanFaces) {}

    /** The ellipse as a mask over the S x S input whose faces were cached at C x C. */
    public static boolean[] faceMask(int s, int cacheSize) {
        boolean[] m = new boolean[s * s];
        double c = (s - 1) / 2.0, ax = FACE_ELLIPSE[0] * cacheSize, ay = FACE_ELLIPSE[1] * cacheSize;
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++) {
                double dx = (x - c) / ax, dy = (y - c) / ay;
                m[y * s + x] = dx * dx + dy * dy <= 1;
            }
        return m;
    }

    /**
     * A map [T][T] of the frame the layer saw, sampled bilinearly at every input pixel: through the
     * inverse of theta when there is one (0 outside the region), with cell j centred at pixel
     * offset + stride * j, offset = (S - 1)/2 - stride (T - 1)/2.
     */
    static double[] toInputFrame(float[][] map, float[] theta, int s, double stride) {
        int t = map == null ? 1 : map.length;
        double offset = (s - 1) / 2.0 - stride * (t - 1) / 2.0;
        double[] out = new double[s * s];
        for (int py = 0; py < s; py++)
            for (int px = 0; px < s; px++) {
                double fx = px, fy = py;
                if (theta != null) {
                    double[] uv = warpedPixel(theta, px, py, s);
                    if (uv == null) continue;
                    fx = uv[0];
                    fy = uv[1];
                }
                out[py * s + px] = map == null ? 1 : bilinear(map, (fy - offset) / stride, (fx - offset) / stride);
            }
        return out;
    }

    /** The warped image's pixel (x, y) that samples input pixel (px, py), or null when it lies outside the warped frame. */
    static double[] warpedPixel(float[] theta, int px, int py, int s) {
        double x = (2.0 * px + 1) / s - 1, y = (2.0 * py + 1) / s - 1;   // align_corners = false
        double a = theta[0], b = theta[1], c = theta[3], d = theta[4], det = a * d - b * c;
        if (Math.abs(det) < 1e-12) return null;
        double rx = x - theta[2], ry = y - theta[5];
        double u = (d * rx - b * ry) / det, v = (-c * rx + a * ry) / det;
        if (Math.abs(u) > 1 || Math.abs(v) > 1) return null;
        return new double[] {((u + 1) * s - 1) / 2, ((v + 1) * s - 1) / 2};
    }

    private static double bilinear(float[][] m, double r, double c) {
        int h = m.length, w = m[0].length;
        r = Math.max(0, Math.min(h - 1, r));
        c = Math.max(0, Math.min(w - 1, c));
        int r0 = (int) r, c0 = (int) c, r1 = Math.min(h - 1, r0 + 1), c1 = Math.min(w - 1, c0 + 1);
        double fr = r - r0, fc = c - c0;
        return (1 - fr) * ((1 - fc) * m[r0][c0] + fc * m[r0][c1]) + fr * ((1 - fc) * m[r1][c0] + fc * m[r1][c1]);
    }

    /** Patch indices, highest mean of {@code map} first; ties (and a null map: the random baseline) in the order of {@code tieBreak}. */
    static int[] patchOrder(double[] map, int s, int[] tieBreak) {
        int p = patchSize(s), g = (s + p - 1) / p;
        double[] score = new double[g * g];
        if (map != null)
            for (int y = 0; y < s; y++)
                for (int x = 0; x < s; x++) score[(y / p) * g + x / p] += map[y * s + x];
        Integer[] order = new Integer[g * g];
        for (int i = 0; i < order.length; i++) order[i] = tieBreak[i];
        Arrays.sort(order, (i, j) -> Double.compare(score[j], score[i]));   // stable: ties keep tieBreak's order
        return Arrays.stream(order).mapToInt(Integer::intValue).toArray();
    }

    static int patchSize(int s) { return Math.max(1, s / GRID); }

    /**
     * The image [3*S*S] with the first {@code k} patches of {@code order} set to 0 ({@code keep}
     * false: deletion) or with only those kept ({@code keep} true: insertion).
     */
    static float[] masked(float[] image, int s, int[] order, int k, boolean keep) {
        int p = patchSize(s), g = (s + p - 1) / p;
        boolean[] chosen = new boolean[g * g];
        for (int i = 0; i < k; i++) chosen[order[i]] = true;
        float[] out = image.clone();
        for (int y = 0; y < s; y++)
            for (int x = 0; x < s; x++)
                if (chosen[(y / p) * g + x / p] != keep)
                    for (int ch = 0; ch < 3; ch++) out[ch * s * s + y * s + x] = 0f;
        return out;
    }

    /** Measures the maps of {@code model} on the images {@code indices} of the batches' set; {@code seed} fixes the random orders. */
    public static Result measure(AgeGenderModel model, Batches batches, int[] indices, AgeBuckets buckets, int cacheSize, long seed) {
        FaceSet set = batches.set();
        int s = model.config().imageSize(), nb = buckets.count(), f = FRACTIONS.length;
        int p = patchSize(s), g = (s + p - 1) / p, patches = g * g;
        boolean[] face = faceMask(s, cacheSize);
        int inFace = 0;
        for (boolean b : face) if (b) inFace++;
        List<String> names = new ArrayList<>();
        Map<String, double[][]> del = new LinkedHashMap<>(), ins = new LinkedHashMap<>();
        Map<String, double[][][]> areas = new LinkedHashMap<>();
        int cells = 0;
        Map<String, Double> share = new LinkedHashMap<>();
        Map<String, int[]> shareCount = new LinkedHashMap<>();
        Map<String, double[][][]> avg = new LinkedHashMap<>();
        int[][] counts = new int[2][nb];
        double[][][] meanFaces = new double[2][nb][s * s * 3];
        for (int n = 0; n < indices.length; n++) {
            int idx = indices[n];
            float[] image;
            Explanation ex;
            try (TensorScope scope = TensorScope.open()) {
                Tensor x = batches.images(new int[] {idx}, false, 0);
                image = x.toArray();
                ex = model.explain(x);
            }
            Map<String, double[]> maps = new LinkedHashMap<>();
            double stride = ex.theta() != null ? 2 : (double) s / ex.gradCamGender().length;
            if (ex.theta() != null) maps.put(REGION, toInputFrame(null, ex.theta(), s, 1));
            maps.put(GRADCAM_GENDER, toInputFrame(ex.gradCamGender(), ex.theta(), s, stride));
            maps.put(GRADCAM_AGE, toInputFrame(ex.gradCamAge(), ex.theta(), s, stride));
            if (names.isEmpty()) {
                names.addAll(maps.keySet());
                names.add(RANDOM);
                for (String m : names) {
                    del.put(m, new double[2][f]);
                    ins.put(m, new double[2][f]);
                    areas.put(m, new double[2][2][indices.length]);
                }
                cells = ex.gradCamGender().length;
            }
            int gender = set.genders()[idx], bucket = buckets.bucketOf(set.ages()[idx]);
            counts[gender][bucket]++;
            byte[] crop = set.centreCrop(idx, s);
            double[] meanFace = meanFaces[gender][bucket];
            for (int i = 0; i < crop.length; i++) meanFace[i] += crop[i] & 0xFF;
            for (Map.Entry<String, double[]> e : maps.entrySet()) {
                double total = 0, inside = 0;
                double[] m = e.getValue();
                for (int i = 0; i < m.length; i++) {
                    total += m[i];
                    if (face[i]) inside += m[i];
                }
                if (total > 0) {
                    share.merge(e.getKey(), inside / total, Double::sum);
                    shareCount.computeIfAbsent(e.getKey(), k -> new int[1])[0]++;
                }
                double[] a = avg.computeIfAbsent(e.getKey(), k -> new double[2][nb][s * s])[gender][bucket];
                for (int i = 0; i < m.length; i++) a[i] += m[i];
            }
            // every masked copy of this image in one batch: [original, blank, then per order: 9 deletions, 9 insertions]
            int[] tieBreak = shuffled(patches, seed ^ (0x9E3779B97F4A7C15L * (idx + 1)));
            int[] random = shuffled(patches, ~seed ^ (0xC2B2AE3D27D4EB4FL * (idx + 1)));
            List<int[]> orders = new ArrayList<>();
            for (String m : names) orders.add(m.equals(RANDOM) ? random : patchOrder(maps.get(m), s, tieBreak));
            int inner = f - 2, per = 2 * inner, batch = 2 + orders.size() * per, len = image.length;
            float[] all = new float[batch * len];
            System.arraycopy(image, 0, all, 0, len);   // the blank image is all zeros already
            for (int o = 0; o < orders.size(); o++)
                for (int k = 1; k <= inner; k++) {
                    int keepK = (int) Math.round(FRACTIONS[k] * patches);
                    System.arraycopy(masked(image, s, orders.get(o), keepK, false), 0, all, (2 + o * per + k - 1) * len, len);
                    System.arraycopy(masked(image, s, orders.get(o), keepK, true), 0, all, (2 + o * per + inner + k - 1) * len, len);
                }
            boolean[][] right = new boolean[batch][2];
            try (TensorScope scope = TensorScope.open()) {
                Prediction pr = model.predict(Tensor.of(batches.images(new int[] {idx}, false, 0).device(), all, batch, 3, s, s));
                float[] pg = pr.genderProbs().toArray(), pa = pr.ageProbs().toArray();
                for (int j = 0; j < batch; j++) {
                    right[j][0] = (pg[2 * j + 1] > pg[2 * j] ? 1 : 0) == gender;
                    int best = 0;
                    for (int k = 1; k < nb; k++) if (pa[j * nb + k] > pa[j * nb + best]) best = k;
                    right[j][1] = best == bucket;
                }
            }
            for (int o = 0; o < orders.size(); o++) {
                double[][] d = del.get(names.get(o)), in = ins.get(names.get(o));
                double[][][] area = areas.get(names.get(o));
                for (int t = 0; t < 2; t++) {
                    double[] cd = new double[f], ci = new double[f];
                    cd[0] = ci[f - 1] = right[0][t] ? 1 : 0;
                    cd[f - 1] = ci[0] = right[1][t] ? 1 : 0;
                    for (int k = 1; k <= inner; k++) {
                        cd[k] = right[2 + o * per + k - 1][t] ? 1 : 0;
                        ci[k] = right[2 + o * per + inner + k - 1][t] ? 1 : 0;
                    }
                    area[0][t][n] = Curves.area(cd);
                    area[1][t][n] = Curves.area(ci);
                    for (int k = 0; k < f; k++) {
                        d[t][k] += cd[k];
                        in[t][k] += ci[k];
                    }
                }
            }
        }
        int n = indices.length;
        Map<String, Curves> curves = new LinkedHashMap<>();
        for (String m : names) {
            double[][] d = del.get(m), in = ins.get(m);
            for (int t = 0; t < 2; t++)
                for (int k = 0; k < f; k++) {
                    d[t][k] /= n;
                    in[t][k] /= n;
                }
            curves.put(m, new Curves(d, in));
        }
        Map<String, Double> faceShare = new LinkedHashMap<>();
        share.forEach((m, v) -> faceShare.put(m, v / shareCount.get(m)[0]));
        for (double[][][] a : avg.values())
            for (int gg = 0; gg < 2; gg++)
                for (int b = 0; b < nb; b++)
                    if (counts[gg][b] > 0) for (int i = 0; i < a[gg][b].length; i++) a[gg][b][i] /= counts[gg][b];
        for (int gg = 0; gg < 2; gg++)
            for (int b = 0; b < nb; b++)
                if (counts[gg][b] > 0) for (int i = 0; i < meanFaces[gg][b].length; i++) meanFaces[gg][b][i] /= counts[gg][b];
        return new Result(s, n, cells, (double) inFace / (s * s), faceShare, curves, areas, avg, counts, meanFaces);
    }

    /** A seeded permutation of 0..n-1 (Fisher-Yates). */
    static int[] shuffled(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = p[i];
            p[i] = p[j];
            p[j] = t;
        }
        return p;
    }

    /** results.json's part: face shares, areas under the curves and the curves themselves. */
    public static Map<String, Object> toJson(Result r) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("images", r.images());
        out.put("map_cells", r.mapCells());
        out.put("face_ellipse_semi_axes_of_crop_side", List.of(FACE_ELLIPSE[0], FACE_ELLIPSE[1]));
        out.put("face_share_uniform", r.faceChance());
        out.put("fractions", Arrays.stream(FRACTIONS).boxed().toList());
        Map<String, Object> maps = new LinkedHashMap<>();
        for (Map.Entry<String, Curves> e : r.curves().entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>();
            if (r.faceShare().containsKey(e.getKey())) m.put("face_share", r.faceShare().get(e.getKey()));
            String[] task = {"gender", "age"};
            for (int t = 0; t < 2; t++) {
                m.put("deletion_area_" + task[t], Curves.area(e.getValue().deletion()[t]));
                m.put("insertion_area_" + task[t], Curves.area(e.getValue().insertion()[t]));
                m.put("deletion_" + task[t], Arrays.stream(e.getValue().deletion()[t]).boxed().toList());
                m.put("insertion_" + task[t], Arrays.stream(e.getValue().insertion()[t]).boxed().toList());
                m.put("deletion_areas_" + task[t], Arrays.stream(r.imageAreas().get(e.getKey())[0][t]).boxed().toList());
                m.put("insertion_areas_" + task[t], Arrays.stream(r.imageAreas().get(e.getKey())[1][t]).boxed().toList());
            }
            maps.put(e.getKey(), m);
        }
        out.put("maps", maps);
        return out;
    }
}
