package org.attnface.engine.nn;

import org.attnface.engine.Device;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/** 2-D convolution with square kernel, stride and zero padding; weight [out, in, k, k]. */
public final class Conv2d extends Module {
    public final Tensor weight, bias;
    public final int stride, pad;
    private boolean heInit;

    public Conv2d(Device device, int in, int out, int kernel, int stride, int pad, boolean bias) {
        this.weight = parameter("weight", device, out, in, kernel, kernel);
        this.bias = bias ? parameter("bias", device, out) : null;
        this.stride = stride;
        this.pad = pad;
    }

    /** Use Kaiming-normal (fan-out) weights, as torchvision's ResNet does, instead of PyTorch's default. */
    public Conv2d heInit() {
        heInit = true;
        return this;
    }

    @Override protected void resetParameters(long seed) {
        if (heInit) Init.kaimingNormalFanOut(weight, seed);
        else Init.defaultUniform(weight, seed);
        if (bias != null) Init.uniform(bias, (float) (1 / Math.sqrt(weight.numel() / weight.dim(0))), Rng.derive(seed, 1));
    }

    @Override public Tensor forward(Tensor x) { return Ops.conv2d(x, weight, bias, stride, pad); }
}
