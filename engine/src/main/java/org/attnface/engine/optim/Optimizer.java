package org.attnface.engine.optim;

import java.util.List;

import org.attnface.engine.Tensor;

/**
 * Base of the optimisers: packs every parameter (and its gradient) into one flat buffer, so
 * a step is one pass over memory (one kernel launch on the GPU) whatever the layer count.
 */
public abstract class Optimizer {
    protected final Tensor params, grads;
    protected float lr;
    protected int step;

    protected Optimizer(List<Tensor> parameters, float lr) {
        Tensor[] flat = Tensor.pack(parameters);
        this.params = flat[0];
        this.grads = flat[1];
        this.lr = lr;
    }

    public final void zeroGrad() { grads.backend().fill(grads, 0f); }

    /** Applies one update with the current learning rate. */
    public final void step() {
        step++;
        update();
    }

    protected abstract void update();

    public final void setLr(float lr) { this.lr = lr; }

    public final float lr() { return lr; }

    public final int steps() { return step; }

    /** All gradients as one flat tensor (for clipping and finiteness checks). */
    public final Tensor flatGrads() { return grads; }

    public final Tensor flatParams() { return params; }

    /** Optimiser state tensors by name, for checkpoints; values are restored in place. */
    public abstract java.util.Map<String, Tensor> state();

    /** Sets the step counter (restored from a checkpoint). */
    public final void setSteps(int steps) { this.step = steps; }
}
