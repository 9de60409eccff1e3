package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.junit.jupiter.api.Test;

/** The training-only race and fine-age heads: their loss term, their gradients, and checkpoints that have them. */
class AuxHeadsTest {
    private static final ModelConfig RESNET = new ModelConfig(Arch.RESNET, 32, AgeBuckets.decades(), 10, 8, 10, true, true, false, 0f, true);

    @Test
    void auxTermIsRaceCrossEntropyPlusFineAgeCrossEntropyComputedByHand() throws Exception {
        AgeGenderModel m = Models.create(RESNET, Device.CPU, 5);
        Tensor x = Fixtures.smoothImages(6, 4, 32), g = Fixtures.labels(7, 4, 2), a = Fixtures.labels(8, 4, 8);
        float[] race = {0, 4, 2, 1}, fine = {AuxLabels.fineAgeBin(3), AuxLabels.fineAgeBin(27), AuxLabels.fineAgeBin(64), AuxLabels.fineAgeBin(116)};
        AuxLabels aux = new AuxLabels(Tensor.of(race, 4), Tensor.of(fine, 4));
        try (TensorScope s = TensorScope.open(); AutoCloseable ng = Autograd.noGrad()) {
            Logits l = ((MultiTaskNetwork) m).logits(x);
            float[] r = l.race().toArray(), f = l.fineAge().toArray();
            assertEquals(4 * AuxLabels.RACES, r.length);
            assertEquals(4 * AuxLabels.FINE_AGE_BINS, f.length);
            double expected = 0;
            for (int i = 0; i < 4; i++)
                expected += crossEntropy(r, i, AuxLabels.RACES, (int) race[i]) / 4 + crossEntropy(f, i, AuxLabels.FINE_AGE_BINS, (int) fine[i]) / 4;
            Losses with = m.loss(x, g, a, aux, new LossWeights(1, 1, 0.5f, 0.25f));
            Losses without = m.loss(x, g, a, LossWeights.DEFAULT);
            assertEquals(expected, with.aux().item(), 1e-5 * Math.max(1, expected));
            assertEquals(0f, without.aux().item());
            assertEquals(without.total().item() + 0.25 * expected, with.total().item(), 1e-4);
        }
        assertEquals(0, AuxLabels.fineAgeBin(4));
        assertEquals(1, AuxLabels.fineAgeBin(5));
        assertEquals(16, AuxLabels.fineAgeBin(80));
        assertEquals(16, AuxLabels.fineAgeBin(116), "80 and over share the last bin");
    }

    private static double crossEntropy(float[] logits, int row, int classes, int label) {
        double max = Double.NEGATIVE_INFINITY, z = 0;
        for (int k = 0; k < classes; k++) max = Math.max(max, logits[row * classes + k]);
        for (int k = 0; k < classes; k++) z += Math.exp(logits[row * classes + k] - max);
        return -(logits[row * classes + label] - max - Math.log(z));
    }

    @Test
    void auxWeightTrainsOnlyWhenAskedAndTheHeadsGetGradients() {
        AgeGenderModel m = Models.create(RESNET, Device.CPU, 5);
        Tensor x = Fixtures.smoothImages(6, 4, 32), g = Fixtures.labels(7, 4, 2), a = Fixtures.labels(8, 4, 8);
        AuxLabels aux = new AuxLabels(Fixtures.labels(9, 4, 5), Tensor.of(new float[] {0, 3, 9, 16}, 4));
        Map<String, Tensor> p = m.namedParameters();
        try (TensorScope s = TensorScope.open()) {
            m.loss(x, g, a, LossWeights.DEFAULT).total().backward();
        }
        assertNull(p.get("race_head.weight").grad(), "aux weight 0: the race head is not trained");
        try (TensorScope s = TensorScope.open()) {
            m.loss(x, g, a, aux, new LossWeights(1, 1, 0.5f, 1)).total().backward();
        }
        for (String name : new String[] {"race_head.weight", "fine_age_head.weight", "fine_age_head.bias", "gender_head.weight", "layer1.0.conv1.weight"}) {
            float[] grad = p.get(name).grad().toArray();
            double norm = 0;
            for (float v : grad) norm += v * v;
            assertTrue(norm > 0, name + " got no gradient");
        }
    }

    @Test
    void auxWeightWithoutHeadsOrLabelsIsRefusedWithWhatIsMissing() {
        AgeGenderModel plain = Models.create(RESNET.withAuxHeads(false), Device.CPU, 5);
        AgeGenderModel withHeads = Models.create(RESNET, Device.CPU, 5);
        Tensor x = Fixtures.smoothImages(6, 2, 32), g = Fixtures.labels(7, 2, 2), a = Fixtures.labels(8, 2, 8);
        AuxLabels aux = new AuxLabels(Fixtures.labels(9, 2, 5), Tensor.of(new float[] {0, 1}, 2));
        LossWeights w = new LossWeights(1, 1, 0.5f, 0.5f);
        try (TensorScope s = TensorScope.open()) {
            var e = assertThrows(IllegalArgumentException.class, () -> plain.loss(x, g, a, aux, w));
            assertTrue(e.getMessage().contains("auxiliary heads"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> withHeads.loss(x, g, a, null, w));
            assertTrue(e.getMessage().contains("labels"), e.getMessage());
        }
        assertFalse(plain.namedParameters().containsKey("race_head.weight"));
        assertNotNull(withHeads.namedParameters().get("fine_age_head.weight"));
    }

    @Test
    void ensembleHasHeadsOnBothMembersAndSumsTheirAuxTerms() throws Exception {
        ModelConfig c = new ModelConfig(Arch.ENSEMBLE, 32, AgeBuckets.decades(), 10, 8, 4, true, true, false, 0f, true);
        var e = (org.attnface.model.ensemble.Ensemble) Models.create(c, Device.CPU, 5);
        assertTrue(e.namedParameters().containsKey("attn.race_head.weight"));
        assertTrue(e.namedParameters().containsKey("resnet.fine_age_head.weight"));
        Tensor x = Fixtures.smoothImages(6, 2, 32), g = Fixtures.labels(7, 2, 2), a = Fixtures.labels(8, 2, 8);
        AuxLabels aux = new AuxLabels(Fixtures.labels(9, 2, 5), Tensor.of(new float[] {0, 1}, 2));
        LossWeights w = new LossWeights(1, 1, 0.5f, 0.5f);
        try (TensorScope s = TensorScope.open(); AutoCloseable ng = Autograd.noGrad()) {
            float sum = e.attn.loss(x, g, a, aux, w).aux().item() + e.resnet.loss(x, g, a, aux, w).aux().item();
            assertEquals(sum, e.loss(x, g, a, aux, w).aux().item(), 1e-5f * sum);
        }
    }

    @Test
    void metadataKeepsTheHeadsAndOldCheckpointsHaveNone() {
        assertTrue(ModelConfig.fromMetadata(RESNET.toMetadata()).auxHeads());
        Map<String, String> old = new java.util.HashMap<>(RESNET.toMetadata());
        old.remove("model.aux_heads");
        assertFalse(ModelConfig.fromMetadata(old).auxHeads(), "checkpoints written before aux heads existed have none");
        var e = assertThrows(IllegalArgumentException.class, () -> RESNET.checkCompatible(RESNET.withAuxHeads(false)));
        assertTrue(e.getMessage().contains("auxiliary"), e.getMessage());
    }
}
