package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.List;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.Backends;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.engine.optim.Sgd;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * CudaBackend.setDeterministic(true) (issue #6): training twice from the same weights on the
 * same batches gives bit-identical weights. The net has every op whose GPU backward used to
 * scatter with atomicAdd or may pick a non-deterministic cuDNN algorithm: a grid sample of the
 * input (its dx is scattered; the image is made to need a gradient, and the last step's image
 * gradient is compared too), convolutions, and an overlapping 3x3/2 max pool.
 */
class CudaDeterminismTest {

    static Sequential net() {
        Sequential net = new Sequential(
                new Conv2d(Device.CPU, 3, 16, 3, 1, 1, true), new BatchNorm2d(Device.CPU, 16), new Layers.ReLU(),
                new Layers.MaxPool2d(3, 2, 1), new Conv2d(Device.CPU, 16, 32, 3, 1, 1, false), new Layers.ReLU(),
                new Layers.GlobalAvgPool(), new Layers.Flatten(), new Linear(Device.CPU, 32, 5));
        net.initialize(11);
        net.to(Device.CUDA);
        return net;
    }

    /** Four SGD steps; returns the raw bits of every parameter afterwards and, last, of the final step's image gradient. */
    static int[][] train() {
        Sequential net = net();
        Sgd opt = new Sgd(net.parameters(), 0.05f, 0.9f, 1e-4f);
        Random r = new Random(3);
        int batch = 32, size = 40;
        float[] imageGrad = null;
        for (int step = 0; step < 4; step++) {
            float[] x = new float[batch * 3 * size * size], y = new float[batch], theta = new float[batch * 6];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int i = 0; i < batch; i++) y[i] = r.nextInt(5);
            // a zoom-in with a small shift: many output points share each input pixel, so the dx scatter collides
            for (int i = 0; i < batch; i++) System.arraycopy(new float[] {0.6f, 0.05f, 0.1f * (i % 3), -0.05f, 0.6f, 0.02f}, 0, theta, i * 6, 6);
            try (var scope = TensorScope.open()) {
                Tensor image = Tensor.of(Device.CUDA, x, batch, 3, size, size).requiresGrad(true);
                Tensor sampled = Ops.gridSample(image, Ops.affineGrid(Tensor.of(Device.CUDA, theta, batch, 2, 3), size, size));
                Tensor loss = Ops.crossEntropy(net.forward(sampled), Tensor.of(Device.CUDA, y, batch));
                opt.zeroGrad();
                loss.backward();
                opt.step();
                imageGrad = image.grad().toArray();
            }
        }
        List<Tensor> params = net.parameters();
        int[][] bits = new int[params.size() + 1][];
        for (int p = 0; p < bits.length; p++) {
            float[] v = p < params.size() ? params.get(p).toArray() : imageGrad;
            bits[p] = new int[v.length];
            for (int i = 0; i < v.length; i++) bits[p][i] = Float.floatToRawIntBits(v[i]);
        }
        return bits;
    }

    @Test
    void twoDeterministicRunsGiveBitIdenticalWeights() {
        Assumptions.assumeTrue(Backends.cudaAvailable(), "skipped: the CUDA backend is not available here (no driver, GPU, kernels or libraries)");
        boolean before = CudaBackend.deterministic();
        CudaBackend.setDeterministic(true);
        try {
            int[][] first = train(), second = train();
            for (int p = 0; p < first.length; p++) assertArrayEquals(first[p], second[p], (p < first.length - 1 ? "parameter " + p : "the image gradient") + " differs between two deterministic runs");
        } finally {
            CudaBackend.setDeterministic(before);
        }
    }
}
