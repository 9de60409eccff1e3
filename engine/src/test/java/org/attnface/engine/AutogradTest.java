package org.attnface.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attnface.engine.ops.Ops;
import org.junit.jupiter.api.Test;

/** The autograd bookkeeping around the ops: accumulation, zeroing, noGrad, retained gradients, scopes. */
class AutogradTest {

    @Test
    void leafGradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        Tensor x = Tensor.emptyPersistent(Device.CPU, 3).requiresGrad(true);
        x.copyFrom(new float[] {1, -2, 3});
        Ops.sum(Ops.scale(x, 3f)).backward();
        assertArrayEquals(new float[] {3, 3, 3}, x.grad().toArray());
        Ops.sum(Ops.mul(x, x)).backward();
        assertArrayEquals(new float[] {5, -1, 9}, x.grad().toArray(), "3 + 2x");
        x.zeroGrad();
        assertArrayEquals(new float[] {0, 0, 0}, x.grad().toArray());
    }

    @Test
    void intermediateGradientsAreDroppedUnlessRetained() {
        Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
        Tensor kept = Ops.scale(x, 2f).retainGrad();
        Tensor dropped = Ops.scale(kept, 3f);
        Ops.sum(dropped).backward();
        assertArrayEquals(new float[] {3, 3}, kept.grad().toArray());
        assertNull(dropped.grad());
        assertArrayEquals(new float[] {6, 6}, x.grad().toArray());
    }

    @Test
    void noGradRecordsNothing() throws Exception {
        Tensor x = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
        AutoCloseable outer = Autograd.noGrad(), inner = Autograd.noGrad();
        assertTrue(!Autograd.isRecording());
        Tensor y = Ops.sum(Ops.scale(x, 2f));
        inner.close();
        inner.close(); // a second close must not undo the outer scope
        assertTrue(!Autograd.isRecording());
        outer.close();
        assertTrue(Autograd.isRecording());
        assertNull(y.gradFn());
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("does not depend on anything that requires a gradient"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Ops.scale(x, 2f).backward(), "backward needs a one-element loss");
    }

    @Test
    void aTensorUsedAfterItsScopeClosedFailsClearly() {
        Tensor leaked;
        TensorScope scope = TensorScope.open();
        leaked = Tensor.of(new float[] {1, 2, 3}, 3);
        assertTrue(scope.size() == 1);
        scope.close();
        IllegalStateException e = assertThrows(IllegalStateException.class, leaked::toArray);
        assertTrue(e.getMessage().contains("after its TensorScope closed") && e.getMessage().contains("[3]"), e.getMessage());
    }

    @Test
    void scopesCloseInReverseOrderAndAWrongCloseCanBeRepaired() {
        TensorScope outer = TensorScope.open();
        Tensor a = Tensor.of(new float[] {1}, 1);
        TensorScope inner = TensorScope.open();
        assertThrows(IllegalStateException.class, outer::close);
        inner.close();
        outer.close(); // the failed close must not have marked it closed: it releases now
        assertThrows(IllegalStateException.class, a::toArray, "outer's tensors are released");
        try (TensorScope s = TensorScope.open()) {
            assertTrue(s.size() == 0);
        }
        Tensor b = Tensor.of(new float[] {2}, 1); // no scope is open any more: b lives on
        assertArrayEquals(new float[] {2}, b.toArray());
    }
}
