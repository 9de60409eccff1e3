package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.model.ensemble.Ensemble;
import org.junit.jupiter.api.Test;

class EnsembleAndExplainTest {

    @Test
    void ensembleProbabilitiesAreTheAverageAndItsLossTheSum() {
        Ensemble e = (Ensemble) Models.create(Fixtures.config("ensemble", 64), Device.CPU, 61);
        Tensor x = Fixtures.images(62, 3, 64), g = Fixtures.labels(63, 3, 2), a = Fixtures.labels(64, 3, 8);
        try (TensorScope scope = TensorScope.open()) {
            Prediction both = e.predict(x), pa = e.attn.predict(x), pr = e.resnet.predict(x);
            float[] eg = both.genderProbs().toArray(), ag = pa.genderProbs().toArray(), rg = pr.genderProbs().toArray();
            for (int i = 0; i < eg.length; i++) assertEquals((ag[i] + rg[i]) / 2, eg[i], 1e-6f);
            float[] ea = both.ageProbs().toArray(), aa = pa.ageProbs().toArray(), ra = pr.ageProbs().toArray();
            for (int i = 0; i < ea.length; i++) assertEquals((aa[i] + ra[i]) / 2, ea[i], 1e-6f);

            e.setAttnWeight(0.2f);
            float[] wg = e.predict(x).genderProbs().toArray();
            for (int i = 0; i < wg.length; i++) assertEquals(0.2f * ag[i] + 0.8f * rg[i], wg[i], 1e-6f);
            assertThrows(IllegalArgumentException.class, () -> e.setAttnWeight(1.5f));
            e.setAttnWeight(0.5f);

            e.eval();   // dropout off, running statistics: the three calls see the same networks
            Losses sum = e.loss(x, g, a, LossWeights.DEFAULT);
            Losses la = e.attn.loss(x, g, a, LossWeights.DEFAULT), lr = e.resnet.loss(x, g, a, LossWeights.DEFAULT);
            assertEquals(la.total().item() + lr.total().item(), sum.total().item(), 1e-5f);
            assertEquals(la.age().item() + lr.age().item(), sum.age().item(), 1e-5f);
            e.train();
        }
    }

    @Test
    void mirroredPredictionIsTheMeanOverTheImageAndItsMirror() {
        // mirror reverses each row of each channel: [1,2,2,3] -> index (c, y, 2 - x)
        float[] v = new float[12];
        for (int i = 0; i < v.length; i++) v[i] = i;
        assertArrayEquals(new float[] {2, 1, 0, 5, 4, 3, 8, 7, 6, 11, 10, 9},
                AgeGenderModel.mirror(Tensor.of(v, 1, 2, 2, 3)).toArray(), 0f);

        AgeGenderModel m = Models.create(Fixtures.config("attn", 64), Device.CPU, 81);
        Tensor x = Fixtures.images(82, 2, 64);
        try (TensorScope scope = TensorScope.open()) {
            Prediction p = m.predict(x), q = m.predict(AgeGenderModel.mirror(x)), both = m.predictMirrored(x);
            float[] pg = p.genderProbs().toArray(), qg = q.genderProbs().toArray(), bg = both.genderProbs().toArray();
            for (int i = 0; i < bg.length; i++) assertEquals((pg[i] + qg[i]) / 2, bg[i], 1e-6f);
            float[] pa = p.ageProbs().toArray(), qa = q.ageProbs().toArray(), ba = both.ageProbs().toArray();
            boolean differs = false;
            for (int i = 0; i < ba.length; i++) {
                assertEquals((pa[i] + qa[i]) / 2, ba[i], 1e-6f);
                differs |= Math.abs(pa[i] - qa[i]) > 1e-6f;
            }
            assertTrue(differs, "a random image and its mirror should give different probabilities");
        }
    }

    @Test
    void explainGivesNormalisedMapsAndLeavesTheModelAsItWas() {
        for (String arch : new String[] {"attn", "resnet", "ensemble"}) {
            AgeGenderModel m = Models.create(Fixtures.config(arch, 64), Device.CPU, 71);
            Tensor w = m.parameters().get(0);
            Explanation ex;
            try (TensorScope scope = TensorScope.open()) {
                ex = m.explain(Fixtures.images(72, 1, 64));
            }
            assertTrue(m.training(), arch + ": explain must restore training mode");
            assertNull(w.grad(), arch + ": explain must not leave gradients in the parameters");
            assertTrue(w.requiresGrad());
            if (arch.equals("resnet")) {
                assertNull(ex.theta());
                assertSize(16, ex.activation1());     // layer1: 64 / 4
                assertSize(4, ex.activation2());      // layer3: 64 / 16
                assertSize(2, ex.gradCamGender());    // layer4: 64 / 32
            } else {
                assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0}, ex.theta(), 0f);
                assertSize(62, ex.activation1());     // conv1
                assertSize(30, ex.activation2());     // conv2 + pool
                assertSize(26, ex.gradCamGender());   // conv4 + bn
                assertSize(26, ex.gradCamAge());
            }
            for (float[][] map : new float[][][] {ex.activation1(), ex.activation2(), ex.gradCamGender(), ex.gradCamAge()}) {
                float lo = 1, hi = 0;
                for (float[] row : map) for (float v : row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
                assertTrue(lo >= 0 && hi <= 1, arch + ": map values in [" + lo + ", " + hi + "]");
            }
            // activations of random images are not constant, so min-max normalisation spans [0, 1].
            assertEquals(1f, max(ex.activation1()), 1e-6f);
        }
    }

    @Test
    void explainRefusesNoGradAndBatches() throws Exception {
        AgeGenderModel m = Models.create(Fixtures.config("attn", 64), Device.CPU, 81);
        try (TensorScope scope = TensorScope.open()) {
            assertThrows(IllegalArgumentException.class, () -> m.explain(Fixtures.images(82, 2, 64)));
            try (AutoCloseable ng = Autograd.noGrad()) {
                assertThrows(IllegalStateException.class, () -> m.explain(Fixtures.images(82, 1, 64)));
            }
        }
    }

    /**
     * Grad-CAM's gradient path reaches the last convolution: relu(sum_k w_k A_k) of an
     * untrained network may be all negative (then the map is all zero, as Grad-CAM
     * defines it), but not for both tasks of three networks; a broken gradient gives
     * zero weights and all-zero maps everywhere.
     */
    @Test
    void gradCamIsNotEmptyForAnAttnModel() {
        int nonEmpty = 0;
        for (long seed = 91; seed < 94; seed++) {
            AgeGenderModel m = Models.create(Fixtures.config("attn", 64), Device.CPU, seed);
            try (TensorScope scope = TensorScope.open()) {
                Explanation ex = m.explain(Fixtures.images(seed, 1, 64));
                for (float[][] cam : new float[][][] {ex.gradCamGender(), ex.gradCamAge()}) {
                    if (max(cam) > 0) {
                        nonEmpty++;
                        assertEquals(1f, max(cam), 1e-6f, "a non-empty map is normalised to a maximum of 1");
                    }
                }
            }
        }
        assertTrue(nonEmpty > 0, "every Grad-CAM map of three networks is all zero");
    }

    private static void assertSize(int side, float[][] map) {
        assertEquals(side, map.length);
        assertEquals(side, map[0].length);
    }

    private static float max(float[][] map) {
        float hi = 0;
        for (float[] row : map) for (float v : row) hi = Math.max(hi, v);
        return hi;
    }
}
