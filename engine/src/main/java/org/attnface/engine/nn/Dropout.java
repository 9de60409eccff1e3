package org.attnface.engine.nn;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/**
 * Dropout with a counter-based mask: the mask of call number t is a pure function of
 * (seed, t), so a resumed run draws the same masks as an uninterrupted one.
 */
public final class Dropout extends Module {
    public final float p;
    private long seed;
    private long calls;

    public Dropout(float p) { this.p = p; }

    @Override protected void resetParameters(long seed) {
        this.seed = seed;
        this.calls = 0;
    }

    /** Sets the call counter (the trainer sets it to the global step on resume). */
    public void setStep(long step) { this.calls = step; }

    @Override public Tensor forward(Tensor x) {
        if (!training() || p == 0f) return x;
        return Ops.dropout(x, p, Rng.derive(seed, calls++));
    }
}
