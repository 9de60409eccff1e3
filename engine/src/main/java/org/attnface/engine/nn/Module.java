package org.attnface.engine.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;

/**
 * A layer or a network: named parameters (trained), named buffers (running statistics),
 * and named child modules. Full names follow PyTorch's state_dict ("layer1.0.conv1.weight"),
 * so a checkpoint maps one-to-one onto the PyTorch reference model.
 *
 * <p>Initialisation is seeded by name: {@link #initialize(long)} gives every module a seed
 * derived from the root seed and its full name, so adding a layer does not change the
 * initial weights of the others.
 */
public abstract class Module {
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** Single-input forward; networks with several outputs add their own methods. */
    public Tensor forward(Tensor x) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no single-input forward");
    }

    protected final Tensor parameter(String name, Device device, int... shape) {
        Tensor t = Tensor.emptyPersistent(device, shape).requiresGrad(true).name(name);
        t.backend().fill(t, 0f);
        params.put(name, t);
        return t;
    }

    protected final Tensor buffer(String name, Device device, float value, int... shape) {
        Tensor t = Tensor.emptyPersistent(device, shape).name(name);
        t.backend().fill(t, value);
        buffers.put(name, t);
        return t;
    }

    protected final <M extends Module> M child(String name, M m) {
        children.put(name, m);
        return m;
    }

    /** Sets this module's own parameters from a seed (layers override; containers need not). */
    protected void resetParameters(long seed) {}

    /** Re-initialises every module in the tree with a seed derived from {@code seed} and its full name. */
    public final void initialize(long seed) {
        for (Map.Entry<String, Module> e : namedModules().entrySet())
            e.getValue().resetParameters(Rng.derive(seed, e.getKey().hashCode()));
    }

    /** This module and all below it by full name ("" is this one). */
    public final Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out);
        return out;
    }

    private void collectModules(String prefix, Map<String, Module> out) {
        out.put(prefix, this);
        for (Map.Entry<String, Module> c : children.entrySet()) c.getValue().collectModules(join(prefix, c.getKey()), out);
    }

    /** Trainable tensors by full name, in registration order. */
    public final Map<String, Tensor> namedParameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> m : namedModules().entrySet())
            for (Map.Entry<String, Tensor> p : m.getValue().params.entrySet()) out.put(join(m.getKey(), p.getKey()), p.getValue());
        return out;
    }

    public final List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Parameters and buffers by full name: what a checkpoint holds (PyTorch's state_dict, minus num_batches_tracked). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> m : namedModules().entrySet()) {
            for (Map.Entry<String, Tensor> p : m.getValue().params.entrySet()) out.put(join(m.getKey(), p.getKey()), p.getValue());
            for (Map.Entry<String, Tensor> b : m.getValue().buffers.entrySet()) out.put(join(m.getKey(), b.getKey()), b.getValue());
        }
        return out;
    }

    /** Number of trainable values. */
    public final long parameterCount() {
        long n = 0;
        for (Tensor t : namedParameters().values()) n += t.numel();
        return n;
    }

    public final boolean training() { return training; }

    /** Training mode (batch statistics, dropout on) for the whole tree. */
    public final Module train() { return setTraining(true); }

    /** Evaluation mode (running statistics, dropout off) for the whole tree. */
    public final Module eval() { return setTraining(false); }

    private Module setTraining(boolean on) {
        for (Module m : namedModules().values()) m.training = on;
        return this;
    }

    /** Moves every parameter and buffer to the device (before building an optimiser). */
    public final Module to(Device device) {
        for (Tensor t : stateDict().values()) t.moveTo(device);
        return this;
    }

    /** Sets every parameter's gradient to zero. */
    public final void zeroGrad() {
        for (Tensor t : namedParameters().values()) t.zeroGrad();
    }

    private static String join(String prefix, String name) {
        return prefix.isEmpty() ? name : prefix + "." + name;
    }
}
