package org.attnface.engine.dist;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.backend.Rng;
import org.attnface.engine.ops.Ops;
import org.junit.jupiter.api.Test;

/** The parts of data-parallel training that need no second process: the gradient-ready hook and the bucket layout. */
class GradientReducerTest {
    private static Tensor param(String name, long seed, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Rng.uniform(seed, i) - 0.5f;
        return Tensor.of(v, shape).requiresGrad(true).name(name);
    }

    @Test void theHookSeesEachLeafOnceWithItsFinalGradient() throws Exception {
        // w is used by two matmuls and b by one add: w's hook must come after both backward closures.
        Tensor w = param("w", 1, 4, 3), b = param("b", 2, 3), x = Tensor.of(new float[] {1, 2, 3, 4, -1, 0.5f, 2, 1}, 2, 4);
        Map<Tensor, float[]> atHook = new IdentityHashMap<>();
        try (TensorScope s = TensorScope.open(); AutoCloseable h = Autograd.onGradientReady(t -> {
            if (atHook.put(t, t.grad() == null ? null : t.grad().toArray()) != null) throw new AssertionError(t.describe() + " reported twice");
        })) {
            Tensor y = Ops.add(Ops.matmul(x, w), b);
            Tensor z = Ops.matmul(Ops.relu(y), Ops.scale(w, 0.5f).reshape(3, 4));
            Ops.sum(Ops.mul(z, z)).backward();
            assertEquals(2, atHook.size(), "the hook fires for the two leaves that need a gradient, and only them");
            assertArrayEquals(w.grad().toArray(), atHook.get(w), "w's gradient was final when its hook ran");
            assertArrayEquals(b.grad().toArray(), atHook.get(b));
        }
        Tensor v = param("v", 3, 2);
        try (TensorScope s = TensorScope.open()) {
            Ops.sum(Ops.mul(v, v)).backward();
        }
        assertEquals(2, atHook.size(), "the hook is gone once its scope closed");
    }

    @Test void bucketsRunFromTheLastParameterBackAndHoldWholeParameters() {
        List<Tensor> ps = new ArrayList<>();
        int[] sizes = {100, 300, 50, 500, 20, 20};   // floats
        for (int i = 0; i < sizes.length; i++) ps.add(param("p" + i, i, sizes[i]));
        Tensor[] flat = Tensor.pack(ps);
        // First bucket cap 100 floats (400 bytes), then 600 floats.
        try (GradientReducer r = new GradientReducer(World.get(), ps, flat[1], 400, 2400, true)) {
            // from the back: 20+20+500 >= 100 -> 540; then 50+300 = 350 < 600, +100 = 450: the rest.
            assertArrayEquals(new int[] {540, 450}, r.bucketSizes());
        }
        List<Tensor> shuffled = new ArrayList<>(ps);
        java.util.Collections.swap(shuffled, 1, 2);
        assertThrows(IllegalArgumentException.class, () -> new GradientReducer(World.get(), shuffled, flat[1], 400, 2400, true),
                "parameters out of packing order");
    }
}
