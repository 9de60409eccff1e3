package org.attnface.trainer.research;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.model.AgeBuckets;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.AuxLabels;
import org.attnface.model.Explanation;
import org.attnface.model.LossWeights;
import org.attnface.model.Losses;
import org.attnface.model.ModelConfig;
import org.attnface.model.Models;
import org.attnface.model.Prediction;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;
import org.attnface.trainer.report.MapFigures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** RQ5's geometry, and a deletion test that tells a map pointing at the evidence from random patches. */
class MapFaithfulnessTest {
    @TempDir Path tmp;

    @Test
    void identityThetaSamplesEveryPixelWhereItIs() {
        float[] identity = {1, 0, 0, 0, 1, 0};
        for (int[] p : new int[][] {{0, 0}, {13, 40}, {63, 63}})
            assertArrayEquals(new double[] {p[0], p[1]}, MapFaithfulness.warpedPixel(identity, p[0], p[1], 64), 1e-9);
        double[] region = MapFaithfulness.toInputFrame(null, identity, 64, 1);
        for (double v : region) assertEquals(1, v);
        // zoomed in 2x on the centre: the region is the central 32 x 32 pixels
        double[] zoom = MapFaithfulness.toInputFrame(null, new float[] {0.5f, 0, 0, 0, 0.5f, 0}, 64, 1);
        assertEquals(32 * 32, java.util.Arrays.stream(zoom).sum(), 0);
        assertEquals(1, zoom[32 * 64 + 32]);
        assertEquals(0, zoom[5 * 64 + 5]);
    }

    @Test
    void attnGradCamCellsSitOnTheirReceptiveFieldCentres() {
        // 26 x 26 map of a 64 x 64 attn input: cell j is centred on pixel 2j + 6.5 (pixels 0-6, outside every cell's
        // centre, take the edge cell's value)
        float[][] map = new float[26][26];
        map[0][0] = 1;
        double[] m = MapFaithfulness.toInputFrame(map, new float[] {1, 0, 0, 0, 1, 0}, 64, 2);
        assertEquals(1, m[6 * 64 + 6], 1e-9);
        assertEquals(0.75 * 0.75, m[7 * 64 + 7], 1e-9, "pixel 7 is 0.25 cells from cell 0's centre");
        assertEquals(0.25 * 0.25, m[8 * 64 + 8], 1e-9);
        assertEquals(0, m[9 * 64 + 9], 1e-9);
    }

    @Test
    void theFaceEllipseCoversItsArea() {
        // semi-axes 0.32 x 72 and 0.42 x 72 pixels: pi * 23.04 * 30.24 / 64^2 = 53.4% of a 64 x 64 input, to the pixel grid's error
        boolean[] m = MapFaithfulness.faceMask(64, 72);
        int in = 0;
        for (boolean b : m) if (b) in++;
        assertEquals(Math.PI * 23.04 * 30.24 / 4096, in / 4096.0, 0.01);
        assertTrue(m[32 * 64 + 32] && !m[0] && !m[32 * 64 + 5] && m[4 * 64 + 32], "centre and top in, corners and sides out");
    }

    @Test
    void patchesAreRankedByTheMapAndMaskedWhole() {
        int s = 32, p = MapFaithfulness.patchSize(s);   // 2 x 2 pixel patches, 16 x 16 of them
        double[] map = new double[s * s];
        map[5 * s + 9] = 1;   // patch (row 2, column 4)
        int[] tie = MapFaithfulness.shuffled(256, 3);
        int[] order = MapFaithfulness.patchOrder(map, s, tie);
        assertEquals(2 * 16 + 4, order[0]);
        assertEquals(tie[0] == 36 ? tie[1] : tie[0], order[1], "the rest keep the tie-break order");
        float[] img = new float[3 * s * s];
        java.util.Arrays.fill(img, 1f);
        float[] del = MapFaithfulness.masked(img, s, order, 10, false), ins = MapFaithfulness.masked(img, s, order, 10, true);
        double sumDel = 0, sumIns = 0;
        for (int i = 0; i < img.length; i++) { sumDel += del[i]; sumIns += ins[i]; }
        assertEquals(img.length - 10 * 3 * p * p, sumDel, 0);
        assertEquals(10 * 3 * p * p, sumIns, 0);
    }

    /**
     * A network that reads gender from the left half's first channel only and whose map points
     * there: deleting by the map drops gender accuracy to 50% by f = 0.5, random patches do not
     * until all are gone; inserting by the map restores it by f = 0.5.
     */
    static final class LeftHalfModel extends AgeGenderModel {
        LeftHalfModel(int s) { super(ModelConfig.defaults(Arch.RESNET, s)); }

        @Override public Losses loss(Tensor images, Tensor g, Tensor a, AuxLabels aux, LossWeights w) { throw new UnsupportedOperationException(); }

        @Override protected Prediction probabilities(Tensor images) {
            int n = images.dim(0), s = images.dim(2), b = config().buckets().count();
            float[] x = images.toArray(), pg = new float[2 * n], pa = new float[b * n];
            for (int i = 0; i < n; i++) {
                double sum = 0;
                for (int y = 0; y < s; y++) for (int c = 0; c < s / 2; c++) sum += x[i * 3 * s * s + y * s + c];
                pg[2 * i + 1] = sum > 1e-3 ? 1 : 0;
                pg[2 * i] = 1 - pg[2 * i + 1];
                pa[i * b] = 1;
            }
            return new Prediction(Tensor.of(images.device(), pg, n, 2), Tensor.of(images.device(), pa, n, b));
        }

        @Override public Explanation explain(Tensor image) {
            float[][] m = new float[8][8];
            for (float[] row : m) java.util.Arrays.fill(row, 0, 4, 1f);
            return new Explanation(null, null, null, m, m);
        }
    }

    @Test
    void deletionByAFaithfulMapFallsFasterThanRandom() throws Exception {
        int s = 32, c = 36, n = 40;
        Random r = new Random(9);
        byte[] px = new byte[n * c * c * 3];
        int[] genders = new int[n], ages = new int[n];
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            genders[i] = i % 2;
            ages[i] = 5 + r.nextInt(70);
            names[i] = "f" + i;
            for (int y = 0; y < c; y++)
                for (int x = 0; x < c; x++)
                    for (int ch = 0; ch < 3; ch++)   // women: bright left half; men: dark; right half noise
                        px[((i * c + y) * c + x) * 3 + ch] = (byte) (x < c / 2 ? (genders[i] == 1 ? 255 : 0) : r.nextInt(256));
        }
        FaceSet set = new FaceSet(c, names, ages, genders, new int[n], new byte[n][32], px, List.of());
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        MapFaithfulness.Result res;
        try (Batches b = new Batches(set, Device.CPU, s, AgeBuckets.decades())) {
            res = MapFaithfulness.measure(new LeftHalfModel(s), b, idx, AgeBuckets.decades(), c, 1);
        }
        MapFaithfulness.Curves map = res.curves().get(MapFaithfulness.GRADCAM_GENDER), rnd = res.curves().get(MapFaithfulness.RANDOM);
        assertEquals(1.0, map.deletion()[0][0], "nothing removed: all right");
        assertEquals(0.5, map.deletion()[0][5], 1e-9, "the left half removed: only the men (predicted by default) are right");
        assertEquals(1.0, rnd.deletion()[0][5], 1e-9, "half the patches at random: the left half's mean keeps its sign");
        assertEquals(0.5, rnd.deletion()[0][10], 1e-9, "all removed");
        assertTrue(MapFaithfulness.Curves.area(map.deletion()[0]) < MapFaithfulness.Curves.area(rnd.deletion()[0]) - 0.2);
        assertEquals(1.0, map.insertion()[0][5], 1e-9, "the left half inserted first: all right");
        double[] areas = res.imageAreas().get(MapFaithfulness.GRADCAM_GENDER)[0][0];
        assertEquals(MapFaithfulness.Curves.area(map.deletion()[0]), java.util.Arrays.stream(areas).average().orElseThrow(), 1e-12,
                "the faces' own areas average to the mean curve's (the area is linear)");
        assertEquals(res.curves().get(MapFaithfulness.GRADCAM_AGE).deletion()[0][10], map.insertion()[0][0], "f = 1 deletion is f = 0 insertion");
        // the map is the left half: its mass inside the centred ellipse is about half the ellipse's, over the mass of half the image
        assertTrue(res.faceShare().get(MapFaithfulness.GRADCAM_GENDER) > 0.4 && res.faceShare().get(MapFaithfulness.GRADCAM_GENDER) < 0.65,
                res.faceShare().toString());
        assertEquals(n, java.util.Arrays.stream(res.counts()[0]).sum() + java.util.Arrays.stream(res.counts()[1]).sum());
        Path png = tmp.resolve("maps.png");
        MapFigures.averageMaps(res, MapFaithfulness.GRADCAM_GENDER, AgeBuckets.decades(), c, "test", png);
        MapFigures.curves(res, "test", tmp.resolve("curves.png"));
        assertTrue(Files.size(png) > 1000 && Files.size(tmp.resolve("curves.png")) > 1000);
    }

    @Test
    void anAttnNetworkGetsARegionMap() {
        int s = 32, c = 36, n = 3;
        byte[] px = new byte[n * c * c * 3];
        new Random(2).nextBytes(px);
        FaceSet set = new FaceSet(c, new String[] {"a", "b", "c"}, new int[] {3, 30, 60}, new int[] {0, 1, 0}, new int[n], new byte[n][32], px, List.of());
        AgeGenderModel attn = Models.create(ModelConfig.defaults(Arch.ATTN, s), Device.CPU, 4);
        try (Batches b = new Batches(set, Device.CPU, s, AgeBuckets.decades())) {
            MapFaithfulness.Result res = MapFaithfulness.measure(attn, b, new int[] {0, 1, 2}, AgeBuckets.decades(), c, 1);
            assertEquals(List.of(MapFaithfulness.REGION, MapFaithfulness.GRADCAM_GENDER, MapFaithfulness.GRADCAM_AGE, MapFaithfulness.RANDOM),
                    List.copyOf(res.curves().keySet()));
            // an untrained transformer is the identity: the region is the whole input, so its face share is the ellipse's
            assertEquals(res.faceChance(), res.faceShare().get(MapFaithfulness.REGION), 1e-9);
        }
    }
}
