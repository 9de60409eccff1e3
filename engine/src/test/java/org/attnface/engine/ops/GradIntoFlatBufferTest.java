package org.attnface.engine.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.List;
import java.util.Random;
import java.util.function.BiFunction;

import org.junit.jupiter.api.Test;

import org.attnface.engine.Tensor;

/**
 * Weight gradients that ops add straight into a packed parameter's slice of the flat gradient
 * buffer (GEMM with beta = 1; cuDNN's on the GPU) equal those of the temporary-plus-add path,
 * and accumulate over several backward passes as that path does.
 */
class GradIntoFlatBufferTest {
    static float[] random(Random r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextFloat() * 2 - 1;
        return v;
    }

    /**
     * The gradient of sum(op(x, w)) with respect to w after two backward passes: w packed into a
     * flat buffer and given to the op directly (the op writes into its slice), or seen by the op
     * through scale(w, 1), an exact identity that makes the op take the temporary-plus-add path.
     */
    static float[] twoPasses(BiFunction<Tensor, Tensor, Tensor> op, float[] xv, int[] xs, float[] wv, int[] ws, boolean direct) {
        Tensor x = Tensor.of(xv, xs), w = Tensor.of(wv, ws).requiresGrad(true);
        Tensor.pack(List.of(w));
        for (int pass = 0; pass < 2; pass++) Ops.sum(op.apply(x, direct ? w : Ops.scale(w, 1f))).backward();
        return w.grad().toArray();
    }

    static void check(String what, BiFunction<Tensor, Tensor, Tensor> op, int[] xs, int[] ws) {
        Random r = new Random(what.hashCode());
        float[] xv = random(r, java.util.Arrays.stream(xs).reduce(1, (a, b) -> a * b)), wv = random(r, java.util.Arrays.stream(ws).reduce(1, (a, b) -> a * b));
        float[] viaTemporary = twoPasses(op, xv, xs, wv, ws, false), direct = twoPasses(op, xv, xs, wv, ws, true);
        // The same products added in the same order (0 + a, then a + b, either way): bit-identical on the CPU.
        assertArrayEquals(viaTemporary, direct, 0f, what);
    }

    @Test
    void linearMatmulAndConvWeightGradientsAccumulateInTheFlatBuffer() {
        check("linear", (x, w) -> Ops.linear(x, w, null), new int[] {5, 7}, new int[] {3, 7});
        check("matmul", Ops::matmul, new int[] {4, 6}, new int[] {6, 5});
        check("conv2d", (x, w) -> Ops.conv2d(x, w, null, 1, 1), new int[] {2, 3, 6, 5}, new int[] {4, 3, 3, 3});
    }

    @Test
    void onlyALeafExposesItsGradientBufferCreatedZeroed() {
        Tensor w = Tensor.of(new float[] {1, 2}, 2).requiresGrad(true);
        assertArrayEquals(new float[] {0, 0}, w.leafGrad().toArray());
        assertSame(w.grad(), w.leafGrad(), "created once");
        assertNull(Ops.scale(w, 2f).leafGrad(), "an op's output is not a leaf");
    }
}
