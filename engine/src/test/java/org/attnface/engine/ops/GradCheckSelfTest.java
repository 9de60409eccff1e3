package org.attnface.engine.ops;

import static org.attnface.engine.ops.GradCheck.check;
import static org.attnface.engine.ops.GradCheck.input;
import static org.attnface.engine.ops.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.Autograd;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.GradCheck.Input;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The gradient check can fail: a forward or a backward that is off by 0.05% is caught. */
class GradCheckSelfTest {

    /** 2x forward whose backward multiplies by {@code backwardFactor}. */
    private static Tensor doubled(Tensor x, float backwardFactor) {
        Tensor out = Tensor.emptyLike(x);
        x.backend().scale(x, 2f, out);
        Autograd.record("doubled", out, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().scale(g, backwardFactor, gx);
            x.accumulateGrad(gx);
        }, x);
        return out;
    }

    @Test
    void aCorrectOpPasses() {
        double[] x = uniform(new Random(1), 1, 3, 5);
        check("doubled", 1, new Input[] {input(x, 3, 5)}, v -> Arrays.stream(v[0]).map(a -> 2 * a).toArray(),
                t -> doubled(t[0], 2f), 1e-5, 1e-5);
    }

    @Test
    void aWrongBackwardFails() {
        double[] x = uniform(new Random(2), 1, 3, 5);
        assertThrows(AssertionFailedError.class, () -> check("doubled", 2, new Input[] {input(x, 3, 5)},
                v -> Arrays.stream(v[0]).map(a -> 2 * a).toArray(), t -> doubled(t[0], 2.001f), 1e-5, 1e-4));
    }

    @Test
    void aWrongForwardFails() {
        double[] x = uniform(new Random(3), 1, 3, 5);
        assertThrows(AssertionFailedError.class, () -> check("doubled", 3, new Input[] {input(x, 3, 5)},
                v -> Arrays.stream(v[0]).map(a -> 2.001 * a).toArray(), t -> doubled(t[0], 2f), 1e-4, 1e-2));
    }
}
