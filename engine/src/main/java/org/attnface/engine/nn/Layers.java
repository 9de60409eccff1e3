package org.attnface.engine.nn;

import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/** The parameter-free layers. */
public final class Layers {
    private Layers() {}

    public static final class ReLU extends Module {
        @Override public Tensor forward(Tensor x) { return Ops.relu(x); }
    }

    public static final class MaxPool2d extends Module {
        final int kernel, stride, pad;

        public MaxPool2d(int kernel, int stride, int pad) {
            this.kernel = kernel;
            this.stride = stride;
            this.pad = pad;
        }

        public MaxPool2d(int kernel) { this(kernel, kernel, 0); }

        @Override public Tensor forward(Tensor x) { return Ops.maxPool2d(x, kernel, stride, pad); }
    }

    public static final class AvgPool2d extends Module {
        final int kernel, stride, pad;

        public AvgPool2d(int kernel, int stride, int pad) {
            this.kernel = kernel;
            this.stride = stride;
            this.pad = pad;
        }

        @Override public Tensor forward(Tensor x) { return Ops.avgPool2d(x, kernel, stride, pad); }
    }

    /** [n,c,h,w] -> [n,c]. */
    public static final class GlobalAvgPool extends Module {
        @Override public Tensor forward(Tensor x) { return Ops.globalAvgPool(x); }
    }

    /** [n, ...] -> [n, rest]. */
    public static final class Flatten extends Module {
        @Override public Tensor forward(Tensor x) { return x.flatten(); }
    }
}
