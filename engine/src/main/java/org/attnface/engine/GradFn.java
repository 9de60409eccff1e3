package org.attnface.engine;

/**
 * The autograd node of a tensor made by an op: the op's name, the tensors it read, and
 * the closure that turns the output's gradient into gradients of those inputs (written
 * beside the forward, in {@code ops}).
 */
public record GradFn(String op, Tensor[] inputs, Backward backward) {

    @FunctionalInterface
    public interface Backward {
        /** Receives the gradient of the op's output and calls {@code accumulateGrad} on the inputs that need one. */
        void apply(Tensor gradOutput);
    }
}
