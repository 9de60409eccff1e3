package org.attnface.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.ops.Ops;
import org.attnface.model.resnet.BasicBlock;
import org.attnface.model.resnet.ResNet;
import org.junit.jupiter.api.Test;

/** --zero-init-residual: every block's bn2 gamma is 0, so an identity-shortcut block passes its (non-negative) input through. */
class ZeroInitResidualTest {

    @Test
    void zeroesTheLastGammaOfEveryBlockAndKeepsTheFirst() {
        AgeGenderModel m = Models.create(Fixtures.config("ensemble", 64), Device.CPU, 1);
        assertEquals(8, ResNet.zeroInitResiduals(m), "ResNet-18 has 8 BasicBlocks; the attn member has none");
        int zeroed = 0;
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
            float[] v = e.getValue().toArray();
            boolean allZero = true;
            for (float f : v) allZero &= f == 0f;
            if (e.getKey().matches("resnet\\.layer\\d\\.\\d\\.bn2\\.weight")) {
                assertTrue(allZero, e.getKey());
                zeroed++;
            } else if (e.getKey().endsWith("bn1.weight")) {
                assertTrue(!allZero, e.getKey() + " must keep gamma 1");
            }
        }
        assertEquals(8, zeroed);
        assertEquals(0, ResNet.zeroInitResiduals(Models.create(Fixtures.config("attn", 64), Device.CPU, 1)));
    }

    @Test
    void anIdentityBlockStartsAsTheIdentity() {
        BasicBlock b = new BasicBlock(Device.CPU, 4, 4, 1);
        b.initialize(3);
        try (TensorScope scope = TensorScope.open()) {
            Tensor x4 = Ops.relu(Tensor.of(Device.CPU, randomish(2 * 4 * 8 * 8), 2, 4, 8, 8));
            float[] before = b.forward(x4).toArray();
            assertTrue(!java.util.Arrays.equals(before, x4.toArray()), "with gamma 1 the residual branch changes the input");
            b.zeroInitResidual();
            assertArrayEquals(x4.toArray(), b.forward(x4).toArray(), 1e-6f);
        }
    }

    private static float[] randomish(int n) {
        java.util.Random r = new java.util.Random(7);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextGaussian();
        return v;
    }
}
