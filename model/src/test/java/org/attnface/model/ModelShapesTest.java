package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.resnet.ResNet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Output shapes, parameter counts and parameter names of every network. */
class ModelShapesTest {

    @ParameterizedTest(name = "{0} at {1}x{1}, batch {2}")
    @CsvSource({"attn,64,1", "attn,64,3", "attn,128,1", "attn,128,3", "resnet,64,1", "resnet,64,3", "ensemble,64,1", "ensemble,64,3"})
    void everyOutputHasTheDocumentedShape(String arch, int size, int batch) {
        AgeGenderModel m = Models.create(Fixtures.config(arch, size), Device.CPU, 1);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x = Fixtures.images(2, batch, size);
            // batch norm in training needs more than one value per channel: ResNet's layer4 at
            // 64x64 is 2x2, so batch 1 has 4 values per channel, enough.
            Losses l = m.loss(x, Fixtures.labels(3, batch, 2), Fixtures.labels(4, batch, 8), LossWeights.DEFAULT);
            for (Tensor t : new Tensor[] {l.total(), l.gender(), l.age(), l.distance()}) assertArrayEquals(new int[] {1}, t.shape());
            assertTrue(Float.isFinite(l.total().item()));
            Prediction p = m.predict(x);
            assertArrayEquals(new int[] {batch, 2}, p.genderProbs().shape());
            assertArrayEquals(new int[] {batch, 8}, p.ageProbs().shape());
            float[] g = p.genderProbs().toArray(), a = p.ageProbs().toArray();
            for (int i = 0; i < batch; i++) {
                assertEquals(1f, g[2 * i] + g[2 * i + 1], 1e-5f);
                float s = 0;
                for (int k = 0; k < 8; k++) s += a[8 * i + k];
                assertEquals(1f, s, 1e-5f);
            }
            if (m instanceof MultiTaskNetwork net) {
                m.train();
                Logits lg = net.logits(x);
                assertArrayEquals(new int[] {batch, 2}, lg.gender().shape());
                assertArrayEquals(new int[] {batch, 8}, lg.age().shape());
            }
            if (m instanceof AttnCnn attn) assertArrayEquals(new int[] {batch, 2, 3}, attn.theta(x).shape());
        }
        assertTrue(m.training(), "predict must put the model back into training mode");
    }

    @Test
    void flattenSizesFollowTheImageSize() {
        assertEquals(1960, AttnCnn.localizationFlatten(64));
        assertEquals(1690, AttnCnn.trunkFlatten(64, 10));
        assertEquals(9000, AttnCnn.localizationFlatten(128));
        assertEquals(8410, AttnCnn.trunkFlatten(128, 10));
        assertEquals(13456, AttnCnn.trunkFlatten(128, 16));
    }

    @Test
    void attnWidthWidensOnlyTheTrunk() {
        // Width 16 at 64x64, by hand: conv1 3*9*16+16 = 448, conv2..4 3 * (16*9*16+16) = 6,960, bn 32,
        // fc 16*13*13*50+50 = 135,250; localisation (63,904) and heads (102 + 424) as at width 10.
        ModelConfig wide = new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 16, true, true, false, 0.5f);
        assertEquals(448 + 6_960 + 32 + 135_250 + 63_904 + 102 + 424, Models.create(wide, Device.CPU, 1).parameterCount());
        try (TensorScope s = TensorScope.open()) {
            Prediction p = Models.create(wide, Device.CPU, 1).predict(Fixtures.images(5, 2, 64));
            assertArrayEquals(new int[] {2, 2}, p.genderProbs().shape());
            assertArrayEquals(new int[] {2, 8}, p.ageProbs().shape());
        }
    }

    @Test
    void parameterCountsMatchModelsMd() {
        long attn = Models.create(Fixtures.config("attn", 64), Device.CPU, 1).parameterCount();
        long resnet = Models.create(Fixtures.config("resnet", 64), Device.CPU, 1).parameterCount();
        assertEquals(152_010, attn);
        assertEquals(11_181_658, resnet);
        assertEquals(attn + resnet, Models.create(Fixtures.config("ensemble", 64), Device.CPU, 1).parameterCount());
        // RQ1: without attention the localisation network (224 + 730 + 62,752 + 198) is gone.
        ModelConfig noAttention = new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 10, false, true, false, 0.5f);
        assertEquals(152_010 - 63_904, Models.create(noAttention, Device.CPU, 1).parameterCount());
        // RQ3 off: the age head reads 50 features instead of 52: 16 weights fewer.
        ModelConfig noFeed = new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 10, true, false, false, 0.5f);
        assertEquals(152_010 - 16, Models.create(noFeed, Device.CPU, 1).parameterCount());
        // torchvision resnet34 without fc: 21,284,672 (PyTorch's count). ResNet-10 by hand: stem 9,408 + 128,
        // stages 73,984 + 230,144 + 919,040 + 3,673,088 (each: two 3x3 convs, two BNs, projection from stage 2) = 4,905,792.
        ModelConfig r34 = new ModelConfig(Arch.RESNET, 64, AgeBuckets.decades(), 34, 64, 10, true, true, false, 0f);
        assertEquals(21_284_672 + 1026 + 4120, Models.create(r34, Device.CPU, 1).parameterCount());
        ModelConfig r10 = new ModelConfig(Arch.RESNET, 64, AgeBuckets.decades(), 10, 64, 10, true, true, false, 0f);
        assertEquals(4_905_792 + 1026 + 4120, Models.create(r10, Device.CPU, 1).parameterCount());
    }

    @Test
    void parameterNamesFollowTorchvisionAndTheReference() {
        Map<String, Tensor> r = Models.create(Fixtures.config("resnet", 64), Device.CPU, 1).stateDict();
        for (String name : new String[] {"conv1.weight", "bn1.weight", "bn1.running_mean", "layer1.0.conv1.weight",
                "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var", "layer4.1.bn2.bias",
                "gender_head.weight", "gender_head.bias", "age_head.weight"})
            assertTrue(r.containsKey(name), name + " missing from " + r.keySet());
        assertTrue(!r.containsKey("conv1.bias") && !r.containsKey("layer1.0.downsample.0.weight"));
        assertArrayEquals(new int[] {8, 514}, r.get("age_head.weight").shape());
        Map<String, Tensor> a = Models.create(Fixtures.config("attn", 64), Device.CPU, 1).stateDict();
        for (String name : new String[] {"localization.0.weight", "localization.3.bias", "fc_loc.0.weight", "fc_loc.2.bias",
                "conv1.weight", "conv4.bias", "bn.running_mean", "fc.weight", "gender_head.weight", "age_head.bias"})
            assertTrue(a.containsKey(name), name + " missing from " + a.keySet());
        assertArrayEquals(new int[] {8, 52}, a.get("age_head.weight").shape());
        Map<String, Tensor> e = Models.create(Fixtures.config("ensemble", 64), Device.CPU, 1).stateDict();
        assertTrue(e.containsKey("attn.fc_loc.2.weight") && e.containsKey("resnet.layer3.1.conv2.weight"), e.keySet().toString());
    }

    @Test
    void resnetDepthsAndWidths() {
        assertArrayEquals(new int[] {3, 4, 6, 3}, ResNet.blocksPerStage(34));
        assertThrows(IllegalArgumentException.class, () -> ResNet.blocksPerStage(50));
        ModelConfig narrow = new ModelConfig(Arch.RESNET, 64, AgeBuckets.decades(), 10, 16, 10, true, true, false, 0f);
        ResNet m = (ResNet) Models.create(narrow, Device.CPU, 1);
        assertEquals(128, m.features());
        try (TensorScope scope = TensorScope.open()) {
            assertArrayEquals(new int[] {2, 8}, m.logits(Fixtures.images(5, 2, 64)).age().shape());
        }
    }

    @Test
    void wrongImageSizeIsAnErrorNamingBothShapes() {
        AgeGenderModel m = Models.create(Fixtures.config("attn", 64), Device.CPU, 1);
        try (TensorScope scope = TensorScope.open()) {
            String msg = assertThrows(IllegalArgumentException.class, () -> m.predict(Fixtures.images(1, 2, 100))).getMessage();
            assertTrue(msg.contains("[n, 3, 64, 64]") && msg.contains("[2, 3, 100, 100]"), msg);
        }
    }

    @Test
    void sameSeedSameWeights() {
        float[] a = Models.create(Fixtures.config("attn", 64), Device.CPU, 9).stateDict().get("fc.weight").toArray();
        float[] b = Models.create(Fixtures.config("attn", 64), Device.CPU, 9).stateDict().get("fc.weight").toArray();
        float[] c = Models.create(Fixtures.config("attn", 64), Device.CPU, 10).stateDict().get("fc.weight").toArray();
        assertArrayEquals(a, b);
        assertTrue(!java.util.Arrays.equals(a, c));
    }
}
