package org.attnface.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.Backends;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Dropout;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.AdamW;
import org.junit.jupiter.api.Test;

/**
 * Tensor memory: a training step run inside a {@link TensorScope} reuses the previous step's
 * arrays, so after the first step the CPU backend creates no new tensor arrays at all
 * (no garbage per step; on the GPU the same property means no cuMemAlloc per step).
 */
class ScopeAllocationTest {

    @Test
    void aTrainingStepAllocatesNoNewArraysAfterTheFirst() {
        Device cpu = Device.CPU;
        // Every op kind the two networks use: conv, batch norm, relu, pools, the spatial
        // transformer (affineGrid + gridSample), concat, dropout, linear, both losses.
        Sequential trunk = new Sequential(
                new Conv2d(cpu, 3, 5, 3, 1, 1, false), new BatchNorm2d(cpu, 5), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Conv2d(cpu, 5, 13, 3, 2, 1, true), new Layers.ReLU(), new Layers.GlobalAvgPool(), new Dropout(0.2f));
        Linear loc = new Linear(cpu, 3 * 9 * 7, 6);
        Linear gender = new Linear(cpu, 13, 2), age = new Linear(cpu, 15, 8);
        trunk.initialize(1);
        loc.initialize(2);
        gender.initialize(3);
        age.initialize(4);
        java.util.List<Tensor> params = new java.util.ArrayList<>(trunk.parameters());
        params.addAll(loc.parameters());
        params.addAll(gender.parameters());
        params.addAll(age.parameters());
        AdamW opt = new AdamW(params, 1e-3f, 1e-4f);
        CpuBackend backend = (CpuBackend) Backends.raw(cpu);

        Random r = new Random(5);
        int n = 4;
        long afterFirst = -1;
        int scopeSize = -1;
        for (int step = 0; step < 5; step++) {
            float[] x = new float[n * 3 * 9 * 7];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            float[] g = new float[n], a = new float[n];
            for (int i = 0; i < n; i++) {
                g[i] = r.nextInt(2);
                a[i] = r.nextInt(8);
            }
            float lossValue;
            try (TensorScope scope = TensorScope.open()) {
                Tensor images = Tensor.of(x, n, 3, 9, 7);
                Tensor theta = Ops.add(Ops.scale(loc.forward(images.flatten()), 0.01f),
                        Tensor.of(new float[] {1, 0, 0, 0, 1, 0}, 1, 6));
                Tensor sampled = Ops.gridSample(images, Ops.affineGrid(theta.reshape(n, 2, 3), 9, 7));
                Tensor features = trunk.forward(sampled);
                Tensor genderLogits = gender.forward(features);
                Tensor ageLogits = age.forward(Ops.concat(1, features, Ops.softmax(genderLogits)));
                Tensor loss = Ops.add(Ops.add(Ops.crossEntropy(genderLogits, Tensor.of(g, n)), Ops.crossEntropy(ageLogits, Tensor.of(a, n))),
                        Ops.scale(Ops.expectedDistance(ageLogits, Tensor.of(a, n)), 0.5f));
                opt.zeroGrad();
                loss.backward();
                opt.step();
                lossValue = loss.item();
                if (step == 0) scopeSize = scope.size();
                else assertEquals(scopeSize, scope.size(), "every step creates the same tensors");
            }
            assertTrue(Float.isFinite(lossValue));
            if (step == 0) afterFirst = backend.freshArrays();
            else assertEquals(afterFirst, backend.freshArrays(), "step " + step + " created new arrays");
        }
        assertTrue(scopeSize > 50, "the step should own many tensors, owned " + scopeSize);
    }
}
