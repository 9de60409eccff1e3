package org.attnface.engine.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
 * Ops, autograd and the optimiser together on the GPU: the same small conv net with the same
 * initial weights trained for 8 SGD steps on the CPU and on CUDA gives the same loss curve,
 * and after the first steps the GPU loop allocates no device memory.
 */
class CudaTrainingStepTest {

    static Sequential net(Device d) {
        Sequential net = new Sequential(
                new Conv2d(d, 3, 8, 3, 1, 1, true), new BatchNorm2d(d, 8), new Layers.ReLU(), new Layers.MaxPool2d(2),
                new Conv2d(d, 8, 13, 3, 2, 1, false), new BatchNorm2d(d, 13), new Layers.ReLU(),
                new Layers.Flatten(), new Linear(d, 13 * 3 * 4, 5));
        net.initialize(7);
        return net;
    }

    @Test
    void eightStepsMatchTheCpuAndAllocateNothingAfterWarmUp() {
        Assumptions.assumeTrue(Backends.cudaAvailable(), "skipped: the CUDA backend is not available here (no driver, GPU, kernels or libraries)");
        ((CudaBackend) Backends.raw(Device.CUDA)).setTf32(false);
        Sequential cpuNet = net(Device.CPU), gpuNet = net(Device.CPU);
        gpuNet.to(Device.CUDA);
        Sgd cpuOpt = new Sgd(cpuNet.parameters(), 0.05f, 0.9f, 1e-4f), gpuOpt = new Sgd(gpuNet.parameters(), 0.05f, 0.9f, 1e-4f);
        Random r = new Random(5);
        int batch = 6, h = 11, w = 15;  // non-square, odd sizes
        long allocationsAfterWarmUp = -1;
        CudaBackend gpu = (CudaBackend) Backends.raw(Device.CUDA);
        for (int step = 0; step < 8; step++) {
            float[] x = new float[batch * 3 * h * w], y = new float[batch];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            for (int i = 0; i < batch; i++) y[i] = r.nextInt(5);
            float cpuLoss, gpuLoss;
            try (var scope = TensorScope.open()) {
                Tensor loss = Ops.crossEntropy(cpuNet.forward(Tensor.of(Device.CPU, x, batch, 3, h, w)), Tensor.of(Device.CPU, y, batch));
                cpuOpt.zeroGrad();
                loss.backward();
                cpuOpt.step();
                cpuLoss = loss.item();
            }
            try (var scope = TensorScope.open()) {
                Tensor loss = Ops.crossEntropy(gpuNet.forward(Tensor.of(Device.CUDA, x, batch, 3, h, w)), Tensor.of(Device.CUDA, y, batch));
                gpuOpt.zeroGrad();
                loss.backward();
                gpuOpt.step();
                gpuLoss = loss.item();
            }
            // Same arithmetic up to summation order; 8 steps of SGD amplify 1e-7 differences
            // by far less than 1e-3.
            assertEquals(cpuLoss, gpuLoss, 1e-3 * Math.abs(cpuLoss), "loss at step " + step);
            if (step == 2) allocationsAfterWarmUp = gpu.deviceAllocations();
        }
        assertEquals(allocationsAfterWarmUp, gpu.deviceAllocations(), "cuMemAlloc calls in steps 3..7");
        assertTrue(allocationsAfterWarmUp > 0);
    }
}
