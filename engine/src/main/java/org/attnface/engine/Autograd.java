package org.attnface.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Define-by-run reverse-mode differentiation, micrograd's design: each op records a
 * {@link GradFn} on its output; {@link #backward} orders the graph topologically and runs
 * the closures from the loss back to the leaves.
 */
public final class Autograd {
    private Autograd() {}

    private static final ThreadLocal<int[]> NO_GRAD_DEPTH = ThreadLocal.withInitial(() -> new int[1]);
    private static volatile boolean anomalyDetection;
    private static final ThreadLocal<java.util.function.Consumer<Tensor>> GRADIENT_READY = new ThreadLocal<>();

    /** A scope in which ops record nothing (evaluation, optimiser updates): {@code try (var ng = Autograd.noGrad()) {...}}. */
    public static NoGrad noGrad() {
        int[] depth = NO_GRAD_DEPTH.get();
        depth[0]++;
        return new NoGrad(depth);
    }

    /** The scope {@link #noGrad} returns; closing it twice is harmless, and close() throws nothing. */
    public static final class NoGrad implements AutoCloseable {
        private final int[] depth;
        private boolean closed;

        private NoGrad(int[] depth) { this.depth = depth; }

        @Override public void close() {
            if (!closed) { closed = true; depth[0]--; }
        }
    }

    public static boolean isRecording() { return NO_GRAD_DEPTH.get()[0] == 0; }

    /**
     * A scope in which {@link #backward} calls {@code hook} with each leaf (parameter) as soon as
     * its gradient is final: the leaf's turn in the reverse topological order comes after every op
     * that uses it. Data-parallel training starts a gradient bucket's all-reduce from here, while
     * the rest of the backward pass still runs (PyTorch DDP's autograd hooks).
     */
    public static Scope onGradientReady(java.util.function.Consumer<Tensor> hook) {
        java.util.function.Consumer<Tensor> before = GRADIENT_READY.get();
        GRADIENT_READY.set(hook);
        return () -> GRADIENT_READY.set(before);
    }

    /** A try-with-resources scope whose close() throws nothing. */
    public interface Scope extends AutoCloseable {
        @Override void close();
    }

    /**
     * When on, every op's output and every gradient is checked for NaN/Inf as it is made,
     * and the first one found throws a {@link NumericalFault} naming the op. Costs a device
     * round trip per op: the trainer turns it on only to re-run a step whose loss went bad.
     */
    public static void setAnomalyDetection(boolean on) { anomalyDetection = on; }

    public static boolean anomalyDetection() { return anomalyDetection; }

    /**
     * Called by every op after its forward. Records the backward closure when gradients are
     * on and an input needs one.
     */
    public static void record(String op, Tensor out, GradFn.Backward backward, Tensor... inputs) {
        if (anomalyDetection) checkFinite(out, "forward of " + op, inputs);
        if (!isRecording()) return;
        for (Tensor in : inputs) {
            if (in != null && in.requiresGrad()) {
                out.setGradFn(new GradFn(op, inputs, backward));
                return;
            }
        }
    }

    /** Backpropagates from a one-element tensor, seeding its gradient with 1. */
    public static void backward(Tensor root) {
        if (root.numel() != 1)
            throw new IllegalArgumentException("backward() starts from a one-element loss, got " + root.describe());
        if (!root.requiresGrad())
            throw new IllegalStateException("backward(): " + root.describe() + " does not depend on anything that requires a gradient");
        backward(root, Tensor.full(root.device(), 1f, root.shape()));
    }

    /** Backpropagates {@code seed} (the gradient of some scalar with respect to {@code root}). */
    public static void backward(Tensor root, Tensor seed) {
        List<Tensor> order = topologicalOrder(root);
        root.accumulateGrad(seed);
        java.util.function.Consumer<Tensor> ready = GRADIENT_READY.get();
        for (int i = order.size() - 1; i >= 0; i--) {
            Tensor t = order.get(i);
            GradFn fn = t.gradFn();
            if (fn == null && ready != null) ready.accept(t);
            Tensor g = t.grad();
            if (fn == null || g == null) continue;
            fn.backward().apply(g);
            if (anomalyDetection) {
                for (int j = 0; j < fn.inputs().length; j++) {
                    Tensor in = fn.inputs()[j];
                    if (in != null && in.grad() != null)
                        checkFinite(in.grad(), "backward of " + fn.op() + " (gradient of input " + j + ", " + in.describe() + ")", fn.inputs());
                }
            }
            if (!t.retainsGrad()) t.clearGrad();
        }
    }

    private static List<Tensor> topologicalOrder(Tensor root) {
        // Iterative post-order DFS: ResNet graphs are a few hundred nodes deep, recursion
        // would work, but a user's deeper net should not overflow the stack.
        List<Tensor> order = new ArrayList<>();
        Set<Tensor> visited = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[] {root, 0});
        visited.add(root);
        while (!stack.isEmpty()) {
            Object[] frame = stack.peek();
            Tensor t = (Tensor) frame[0];
            int next = (Integer) frame[1];
            Tensor[] inputs = t.gradFn() == null ? new Tensor[0] : t.gradFn().inputs();
            if (next < inputs.length) {
                frame[1] = next + 1;
                Tensor in = inputs[next];
                if (in != null && in.requiresGrad() && visited.add(in)) stack.push(new Object[] {in, 0});
            } else {
                stack.pop();
                order.add(t);
            }
        }
        return order;
    }

    private static void checkFinite(Tensor t, String where, Tensor[] inputs) {
        try (NoGrad ignored = noGrad()) {
            Tensor count = Tensor.emptyPersistent(t.device(), 1);
            t.backend().countNonFinite(t, count);
            float bad = count.item();
            if (bad > 0) {
                StringBuilder in = new StringBuilder();
                for (Tensor i : inputs) if (i != null) in.append(in.isEmpty() ? "" : ", ").append(i.describe());
                throw new NumericalFault(where + " produced " + (long) bad + " non-finite value(s) in "
                        + Arrays.toString(t.shape()) + " from inputs [" + in + "]", where);
            }
        }
    }
}
