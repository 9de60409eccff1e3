package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.optim.Sgd;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Loss, gradient flow and a few optimiser steps. */
class TrainingTest {

    /**
     * SGD (lr 0.01, momentum 0.9, as MODELS.md's benchmark recipe) on one fixed batch of 8:
     * the loss falls below 80% of the first. The first loss is ~ln 2 + ln 8 + 0.5 * 2.6 = 4.1
     * and a network that can fit 8 images drops well below it; a wrong gradient anywhere does
     * not. Smooth images: see {@link Fixtures#smoothImages}.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"attn", "resnet", "ensemble"})
    void sgdStepsOnAFixedBatchReduceTheLoss(String arch) {
        AgeGenderModel m = Models.create(Fixtures.config(arch, 64), Device.CPU, 21);
        Sgd opt = new Sgd(m.parameters(), 0.01f, 0.9f, 0f);
        Tensor x = Fixtures.smoothImages(22, 8, 64), g = Fixtures.labels(23, 8, 2), a = Fixtures.labels(24, 8, 8);
        float first = 0, last = 0;
        int steps = 8;
        for (int step = 0; step < steps; step++) {
            try (TensorScope scope = TensorScope.open()) {
                Losses l = m.loss(x, g, a, LossWeights.DEFAULT);
                opt.zeroGrad();
                l.total().backward();
                opt.step();
                last = l.total().item();
                if (step == 0) first = last;
            }
        }
        System.out.printf("%s: loss %.4f -> %.4f after %d SGD steps%n", arch, first, last, steps);
        assertTrue(last < 0.8f * first, arch + ": loss " + first + " -> " + last);
    }

    @Test
    void zeroWeightsSkipTheirTermsAndTotalIsTheWeightedSum() {
        AgeGenderModel m = Models.create(Fixtures.config("attn", 64), Device.CPU, 31);
        m.eval();   // no dropout: both calls see the same network
        Tensor x = Fixtures.images(32, 3, 64), g = Fixtures.labels(33, 3, 2), a = Fixtures.labels(34, 3, 8);
        try (TensorScope scope = TensorScope.open()) {
            Losses all = m.loss(x, g, a, new LossWeights(0.5f, 2f, 0.25f));
            float expected = 0.5f * all.gender().item() + 2f * all.age().item() + 0.25f * all.distance().item();
            assertEquals(expected, all.total().item(), 1e-5f * Math.abs(expected));
            Losses genderOnly = m.loss(x, g, a, new LossWeights(1f, 0f, 0f));
            assertEquals(all.gender().item(), genderOnly.total().item(), 0f);
            assertEquals(0f, genderOnly.age().item(), 0f);
            assertEquals(0f, genderOnly.distance().item(), 0f);
            assertTrue(all.distance().item() > 0 && all.distance().item() < 7);
        }
    }

    /** RQ3's switch: with detachGender the age loss sends no gradient into the gender head. */
    @Test
    void detachGenderCutsTheAgeLossFromTheGenderHead() {
        for (boolean detach : new boolean[] {false, true}) {
            ModelConfig c = new ModelConfig(Arch.ATTN, 64, AgeBuckets.decades(), 18, 64, 10, true, true, detach, 0.5f);
            AgeGenderModel m = Models.create(c, Device.CPU, 41);
            Tensor w = m.namedParameters().get("gender_head.weight");
            try (TensorScope scope = TensorScope.open()) {
                m.loss(Fixtures.images(42, 4, 64), Fixtures.labels(43, 4, 2), Fixtures.labels(44, 4, 8),
                        new LossWeights(0f, 1f, 0f)).total().backward();
            }
            if (detach) {
                assertNull(w.grad(), "detached: the age loss must not reach gender_head.weight");
            } else {
                assertNotNull(w.grad());
                float norm = 0;
                for (float v : w.grad().toArray()) norm += v * v;
                assertTrue(norm > 0, "not detached: the age loss trains the gender head too");
            }
        }
    }

    /** A training step inside a TensorScope allocates the same tensors every time: the buffers are reused. */
    @Test
    void resnetStepInAScopeAllocatesTheSameEveryTime() {
        AgeGenderModel m = Models.create(Fixtures.config("resnet", 64), Device.CPU, 51);
        Tensor x = Fixtures.images(52, 2, 64), g = Fixtures.labels(53, 2, 2), a = Fixtures.labels(54, 2, 8);
        int[] allocations = new int[2];
        Map<String, Tensor> params = m.namedParameters();
        for (int step = 0; step < 2; step++) {
            try (TensorScope scope = TensorScope.open()) {
                m.zeroGrad();
                Losses l = m.loss(x, g, a, LossWeights.DEFAULT);
                l.total().backward();
                assertTrue(Float.isFinite(l.total().item()));
                allocations[step] = scope.size();
            }
        }
        assertTrue(allocations[0] > 100, "a ResNet-18 step makes hundreds of tensors, counted " + allocations[0]);
        assertArrayEquals(new int[] {allocations[0], allocations[0]}, allocations);
        assertNotNull(params.get("layer4.1.conv2.weight").grad());
    }
}
