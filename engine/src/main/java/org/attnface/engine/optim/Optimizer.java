package org.attnface.engine.optim;

import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.attnface.engine.Tensor;

/**
 * Base of the optimisers: packs every parameter (and its gradient) into one flat buffer, so
 * a step is one pass over memory (one kernel launch on the GPU) whatever the layer count.
 */
public abstract class Optimizer {
    protected final Tensor params, grads;
    protected float lr;
    protected int step;

    /** Learning-rate multipliers by range of the flat buffer: the scale at key k holds up to the next key. */
    private final TreeMap<Integer, Float> lrScales = new TreeMap<>(Map.of(0, 1f));

    protected Optimizer(List<Tensor> parameters, float lr) {
        Tensor[] flat = Tensor.pack(parameters);
        this.params = flat[0];
        this.grads = flat[1];
        this.lr = lr;
    }

    /**
     * Multiplies the learning rate of {@code subset} by {@code scale} (torch's parameter
     * groups, for one ensemble member: the small attn network trains worse at the rate the
     * ResNet wants). The subset must be a contiguous run of the packed parameters, as a child
     * module's parameters are.
     */
    public final void scaleLr(List<Tensor> subset, float scale) {
        if (!(scale >= 0) || !Float.isFinite(scale))
            throw new IllegalArgumentException("learning-rate scale must be finite and >= 0, got " + scale);
        if (subset.isEmpty()) throw new IllegalArgumentException("scaleLr: no parameters");
        long from = Long.MAX_VALUE, to = 0, count = 0;
        for (Tensor t : subset) {
            if (t.storage() != params.storage())
                throw new IllegalArgumentException("scaleLr: " + t.describe() + " is not one of this optimiser's parameters");
            from = Math.min(from, t.offset() - params.offset());
            to = Math.max(to, t.offset() - params.offset() + t.numel());
            count += t.numel();
        }
        if (count != to - from)
            throw new IllegalArgumentException("scaleLr: the parameters are not one contiguous run of the optimiser's (" + count
                    + " elements spread over " + (to - from) + ")");
        float after = to < params.numel() ? lrScales.floorEntry((int) to).getValue() : 1f;
        lrScales.subMap((int) from, true, (int) to, false).clear();
        lrScales.put((int) from, scale);
        if (to < params.numel()) lrScales.putIfAbsent((int) to, after);
    }

    /** Calls {@code u} once per range of equal learning rate; once for the whole buffer unless {@link #scaleLr} was called. */
    protected final void forEachLrRange(RangeUpdate u) {
        Map.Entry<Integer, Float> e = lrScales.firstEntry();
        while (e != null) {
            Map.Entry<Integer, Float> next = lrScales.higherEntry(e.getKey());
            int from = e.getKey(), to = next == null ? (int) params.numel() : next.getKey();
            u.apply(part(params, from, to), part(grads, from, to), from, to, lr * e.getValue());
            e = next;
        }
    }

    /** Elements [from, to) of a flat buffer (the buffer itself when that is all of it). */
    protected static Tensor part(Tensor flat, int from, int to) { return from == 0 && to == flat.numel() ? flat : flat.slice(from, to); }

    /** The update of one range [from, to) of the flat buffer, given as views, at learning rate lr. */
    protected interface RangeUpdate {
        void apply(Tensor values, Tensor grads, int from, int to, float lr);
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
