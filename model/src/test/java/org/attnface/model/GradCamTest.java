package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.ops.Ops;
import org.attnface.model.heads.MultiTaskHeads;
import org.junit.jupiter.api.Test;

/**
 * Grad-CAM against a closed form. In a network whose features are the global average of
 * A = relu(conv1x1(x)) and whose gender head is linear, d logit_c / d A_kij = W[c,k] / hw,
 * so the Grad-CAM weights are w_k = W[c,k] / hw and the map is relu(sum_k W[c,k] A_k) / hw,
 * then normalised by min-max.
 */
class GradCamTest {

    static final class TinyNet extends MultiTaskNetwork {
        final Conv2d conv;
        final MultiTaskHeads heads;

        TinyNet(Device d) {
            super(new ModelConfig(Arch.ATTN, 32, AgeBuckets.decades(), 18, 64, 10, true, false, false, 0f));
            conv = child("conv", new Conv2d(d, 3, 4, 1, 1, 0, false));
            heads = new MultiTaskHeads(d, 4, 8, false, false, false);
            child("gender_head", heads.gender);
            child("age_head", heads.age);
        }

        Trace traced(Tensor x) {
            Tensor a = Ops.relu(conv.forward(x));
            return new Trace(heads.apply(Ops.globalAvgPool(a)), null, a, a, a);
        }

        @Override public Logits logits(Tensor images) { return traced(images).logits(); }

        @Override public Explanation explain(Tensor image) { return explainTraced(image, this::traced); }
    }

    @Test
    void gradCamMatchesTheClosedFormOfALinearHeadOnPooledFeatures() {
        TinyNet m = new TinyNet(Device.CPU);
        m.initialize(5);
        Tensor image = Fixtures.images(6, 1, 32);
        float[] a, logits;
        Explanation ex;
        try (TensorScope scope = TensorScope.open()) {
            ex = m.explain(image);
            Tensor act = Ops.relu(m.conv.forward(image));
            a = act.toArray();
            logits = m.heads.gender.forward(Ops.globalAvgPool(act)).toArray();
        }
        int c = logits[1] > logits[0] ? 1 : 0, hw = 32 * 32;
        float[] w = m.heads.gender.weight.toArray();   // [2, 4]
        float[][] expected = new float[32][32];
        for (int k = 0; k < 4; k++)
            for (int i = 0; i < hw; i++) expected[i / 32][i % 32] += w[c * 4 + k] * a[k * hw + i] / hw;
        for (float[] row : expected) for (int j = 0; j < 32; j++) row[j] = Math.max(0, row[j]);
        AgeGenderModel.normalise(expected);
        float worst = 0, top = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 32; x++) {
                worst = Math.max(worst, Math.abs(expected[y][x] - ex.gradCamGender()[y][x]));
                top = Math.max(top, expected[y][x]);
            }
        assertEquals(1f, top, 0f, "seed gives a non-empty map, otherwise the test proves nothing");
        // float32 sums of 4 products of size ~1/hw, then a division by the range: ~1e-6 relative.
        assertTrue(worst < 1e-4f, "largest difference from the closed form " + worst);
    }
}
