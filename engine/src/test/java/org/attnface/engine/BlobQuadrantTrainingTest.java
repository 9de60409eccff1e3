package org.attnface.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.Sgd;
import org.junit.jupiter.api.Test;

/**
 * Forward, backward and the optimiser working together: a small conv net learns from
 * scratch which quadrant of a noisy 16x16 image holds a bright blob. Chance is 25%;
 * a net whose gradients are wrong anywhere stays near it.
 */
class BlobQuadrantTrainingTest {

    static float[] images(Random r, int n, float[] labels) {
        int s = 16;
        float[] x = new float[n * s * s];
        for (int i = 0; i < n; i++) {
            int q = r.nextInt(4);
            labels[i] = q;
            for (int p = 0; p < s * s; p++) x[i * s * s + p] = (float) r.nextGaussian() * 0.3f;
            int cy = (q / 2) * 8 + 2 + r.nextInt(4), cx = (q % 2) * 8 + 2 + r.nextInt(4);
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) x[i * s * s + (cy + dy) * s + cx + dx] += 1.5f;
        }
        return x;
    }

    @Test
    void smallConvNetLearnsWhichQuadrantHoldsTheBlob() {
        Device cpu = Device.CPU;
        Sequential net = new Sequential(
                new Conv2d(cpu, 1, 8, 3, 1, 1, true), new BatchNorm2d(cpu, 8), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Conv2d(cpu, 8, 16, 3, 1, 1, true), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Layers.Flatten(), new Linear(cpu, 16 * 4 * 4, 4));
        net.initialize(7);
        Sgd opt = new Sgd(net.parameters(), 0.05f, 0.9f, 1e-4f);
        Random r = new Random(42);
        int batch = 32;
        for (int step = 0; step < 150; step++) {
            float[] y = new float[batch];
            float[] x = images(r, batch, y);
            try (TensorScope scope = TensorScope.open()) {
                Tensor loss = Ops.crossEntropy(net.forward(Tensor.of(x, batch, 1, 16, 16)), Tensor.of(y, batch));
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        net.eval();
        int n = 512, correct = 0;
        float[] y = new float[n];
        float[] x = images(new Random(99), n, y);
        try (TensorScope scope = TensorScope.open(); var ng = Autograd.noGrad()) {
            float[] logits = net.forward(Tensor.of(x, n, 1, 16, 16)).toArray();
            for (int i = 0; i < n; i++) {
                int best = 0;
                for (int k = 1; k < 4; k++) if (logits[i * 4 + k] > logits[i * 4 + best]) best = k;
                if (best == y[i]) correct++;
            }
        }
        double acc = correct / (double) n;
        System.out.printf("blob quadrant: held-out accuracy %.3f after 150 steps%n", acc);
        assertTrue(acc > 0.95, "held-out accuracy " + acc + " <= 0.95");
    }
}
