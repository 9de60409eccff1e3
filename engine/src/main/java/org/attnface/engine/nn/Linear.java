package org.attnface.engine.nn;

import org.attnface.engine.Device;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/** y = x W^T + b, W [out, in]. */
public final class Linear extends Module {
    public final Tensor weight, bias;

    public Linear(Device device, int in, int out, boolean bias) {
        this.weight = parameter("weight", device, out, in);
        this.bias = bias ? parameter("bias", device, out) : null;
    }

    public Linear(Device device, int in, int out) { this(device, in, out, true); }

    @Override protected void resetParameters(long seed) {
        Init.defaultUniform(weight, seed);
        if (bias != null) Init.uniform(bias, (float) (1 / Math.sqrt(weight.dim(1))), Rng.derive(seed, 1));
    }

    @Override public Tensor forward(Tensor x) { return Ops.linear(x, weight, bias); }
}
