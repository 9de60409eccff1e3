package org.attnface.engine.nn;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/** Batch norm per channel with running statistics; PyTorch's defaults (momentum 0.1, eps 1e-5). */
public final class BatchNorm2d extends Module {
    public final Tensor weight, bias, runningMean, runningVar;
    public final float momentum, eps;

    public BatchNorm2d(Device device, int channels) {
        this.weight = parameter("weight", device, channels);
        this.bias = parameter("bias", device, channels);
        this.runningMean = buffer("running_mean", device, 0f, channels);
        this.runningVar = buffer("running_var", device, 1f, channels);
        this.momentum = 0.1f;
        this.eps = 1e-5f;
        Init.fill(weight, 1f);
    }

    @Override protected void resetParameters(long seed) {
        Init.fill(weight, 1f);
        Init.fill(bias, 0f);
        Init.fill(runningMean, 0f);
        Init.fill(runningVar, 1f);
    }

    @Override public Tensor forward(Tensor x) {
        return Ops.batchNorm2d(x, weight, bias, runningMean, runningVar, training(), momentum, eps);
    }
}
