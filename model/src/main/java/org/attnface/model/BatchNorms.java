package org.attnface.model;

import org.attnface.engine.Autograd;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.ops.Ops;

/**
 * Batch norm that can be differentiated in evaluation mode. The engine's eval-mode batch
 * norm has no backward; Grad-CAM needs one. In eval mode batch norm is a per-channel affine
 * map, y = x * gamma / sqrt(var + eps) + (beta - mean * gamma / sqrt(var + eps)), which is
 * written here with broadcast mul and add (both differentiable) when a gradient is wanted.
 */
public final class BatchNorms {
    private BatchNorms() {}

    public static Tensor apply(BatchNorm2d bn, Tensor x) {
        if (bn.training() || !Autograd.isRecording() || !x.requiresGrad()) return bn.forward(x);
        float[] gamma = bn.weight.toArray(), beta = bn.bias.toArray();
        float[] mean = bn.runningMean.toArray(), var = bn.runningVar.toArray();
        int c = gamma.length;
        float[] scale = new float[c], shift = new float[c];
        for (int i = 0; i < c; i++) {
            scale[i] = (float) (gamma[i] / Math.sqrt(var[i] + bn.eps));
            shift[i] = beta[i] - mean[i] * scale[i];
        }
        return Ops.add(Ops.mul(x, Tensor.of(x.device(), scale, 1, c, 1, 1)), Tensor.of(x.device(), shift, 1, c, 1, 1));
    }
}
