package org.attnface.engine;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Owns every tensor created while it is open and hands their buffers back to the backend's
 * cache when it closes. A training step runs inside one scope, so step N+1 reuses step N's
 * buffers: no garbage on the CPU, no cuMemAlloc on the GPU, the same addresses every step
 * (which CUDA graph capture needs).
 *
 * <pre>
 * try (var step = TensorScope.open()) {
 *     Tensor loss = model.loss(batch);
 *     loss.backward();
 *     optimizer.step();
 *     lossValue = loss.item();   // read what you need before the scope closes
 * }
 * </pre>
 */
public final class TensorScope implements AutoCloseable {
    private static final ThreadLocal<ArrayDeque<TensorScope>> OPEN = ThreadLocal.withInitial(ArrayDeque::new);

    private final List<Tensor> owned = new ArrayList<>();
    private boolean closed;

    private TensorScope() {}

    public static TensorScope open() {
        TensorScope s = new TensorScope();
        OPEN.get().push(s);
        return s;
    }

    static void register(Tensor t) {
        TensorScope s = OPEN.get().peek();
        if (s != null) s.owned.add(t);
    }

    /** Number of tensors this scope will release. */
    public int size() { return owned.size(); }

    @Override public void close() {
        if (closed) return;
        ArrayDeque<TensorScope> stack = OPEN.get();
        // Checked before marking closed, so the caller can still close the scopes properly.
        if (stack.peek() != this) throw new IllegalStateException("TensorScopes must close in the reverse order they were opened");
        closed = true;
        stack.pop();
        // Release in reverse order of allocation so the caches hand buffers out again in
        // the same order next step.
        for (int i = owned.size() - 1; i >= 0; i--) owned.get(i).release();
        owned.clear();
    }
}
