package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.junit.jupiter.api.Test;

/**
 * The whole attn network's wiring, checked end to end: for each layer, the element with the
 * largest analytic gradient of the joint loss agrees with a central difference. The ops
 * are gradient-checked one by one in the engine; this catches a wrong connection (a
 * missing or doubled path, a detached tensor) between them.
 */
class ModelGradientTest {

    @Test
    void attnLossGradientMatchesCentralDifferences() throws Exception {
        // dropout 0 and batch statistics: the loss is a deterministic function of the weights.
        ModelConfig c = new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 10, true, true, false, 0f);
        AgeGenderModel m = Models.create(c, Device.CPU, 21);
        Map<String, Tensor> p = m.namedParameters();
        // Off the identity: there every sample sits exactly on a pixel centre, where bilinear
        // sampling has a kink and the analytic gradient (like PyTorch's) is one-sided.
        p.get("fc_loc.2.bias").copyFrom(new float[] {0.9f, 0.05f, 0.02f, -0.03f, 0.95f, 0.01f});
        Tensor x = Fixtures.smoothImages(22, 4, 64), g = Fixtures.labels(23, 4, 2), a = Fixtures.labels(24, 4, 8);
        try (TensorScope s = TensorScope.open()) {
            m.loss(x, g, a, LossWeights.DEFAULT).total().backward();
        }
        for (String name : new String[] {"fc_loc.2.weight", "conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight",
                "bn.weight", "fc.weight", "gender_head.weight", "age_head.weight"}) {
            Tensor t = p.get(name);
            float[] v = t.toArray(), grad = t.grad().toArray();
            int i = 0;
            for (int j = 1; j < v.length; j++) if (Math.abs(grad[j]) > Math.abs(grad[i])) i = j;
            float h = 1e-3f, old = v[i];
            v[i] = old + h;
            t.copyFrom(v);
            float plus = loss(m, x, g, a);
            v[i] = old - h;
            t.copyFrom(v);
            float minus = loss(m, x, g, a);
            v[i] = old;
            t.copyFrom(v);
            float numeric = (plus - minus) / (2 * h);
            // float32 loss (~4) rounds to ~5e-7, i.e. ~3e-4 in the difference quotient; relu and
            // max-pool kinks crossed within +-h move it by up to ~1.5% here: 3% of the value.
            assertEquals(grad[i], numeric, 0.03f * Math.abs(grad[i]) + 3e-4f, name + "[" + i + "]");
        }
    }

    private static float loss(AgeGenderModel m, Tensor x, Tensor g, Tensor a) throws Exception {
        try (TensorScope s = TensorScope.open(); AutoCloseable ng = Autograd.noGrad()) {
            return m.loss(x, g, a, LossWeights.DEFAULT).total().item();
        }
    }
}
