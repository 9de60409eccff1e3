package org.attnface.model.attn;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.Init;
import org.attnface.engine.nn.Module;
import org.attnface.engine.ops.Ops;

/**
 * The localisation network's last layer, Linear(in, 6), initialised to output the identity
 * transform [1, 0, 0, 0, 1, 0] for every input (weights 0, bias = identity), so training
 * starts from the untransformed image (Jaderberg et al. 2015).
 */
final class IdentityTransformLinear extends Module {
    static final float[] IDENTITY = {1, 0, 0, 0, 1, 0};

    final Tensor weight, bias;

    IdentityTransformLinear(Device device, int in) {
        this.weight = parameter("weight", device, 6, in);
        this.bias = parameter("bias", device, 6);
        bias.copyFrom(IDENTITY);
    }

    @Override protected void resetParameters(long seed) {
        Init.fill(weight, 0f);
        bias.copyFrom(IDENTITY);
    }

    @Override public Tensor forward(Tensor x) { return Ops.linear(x, weight, bias); }
}
