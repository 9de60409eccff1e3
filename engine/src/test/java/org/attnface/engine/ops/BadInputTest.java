package org.attnface.engine.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.NumericalFault;
import org.attnface.engine.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Bad input: shape mismatches fail before any kernel runs, with a message naming both
 * shapes; with anomaly detection on, a NaN or Inf is reported by the first op (forward or
 * backward) that produced it.
 */
class BadInputTest {
    @AfterEach
    void anomalyDetectionOff() {
        Autograd.setAnomalyDetection(false);
    }

    private static Tensor t(int... shape) {
        return Tensor.zeros(Device.CPU, shape);
    }

    private static void assertNamesShapes(Executable call, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "message should contain '" + f + "': " + e.getMessage());
    }

    @Test
    void shapeMismatchesNameTheShapes() {
        assertNamesShapes(() -> Ops.linear(t(4, 10), t(5, 12), null), "linear", "[4, 10]", "[5, 12]");
        assertNamesShapes(() -> Ops.linear(t(4, 12), t(5, 12), t(6)), "linear", "bias", "[6]", "[5, 12]");
        assertNamesShapes(() -> Ops.conv2d(t(2, 3, 8, 8), t(16, 4, 3, 3), null, 1, 1), "conv2d", "[2, 3, 8, 8]", "[16, 4, 3, 3]");
        assertNamesShapes(() -> Ops.conv2d(t(2, 3, 8), t(16, 3, 3, 3), null, 1, 1), "conv2d", "[2, 3, 8]");
        assertNamesShapes(() -> Ops.conv2d(t(1, 3, 2, 2), t(4, 3, 7, 7), null, 1, 0), "kernel 7x7", "2x2");
        assertNamesShapes(() -> Ops.matmul(t(3, 4), t(5, 6)), "matmul", "[3, 4]", "[5, 6]");
        assertNamesShapes(() -> Ops.add(t(2, 3), t(4)), "add", "[2, 3]", "[4]");
        assertNamesShapes(() -> Ops.mul(t(2, 3, 5), t(3, 4)), "mul", "[2, 3, 5]", "[3, 4]");
        assertNamesShapes(() -> Ops.concat(1, t(2, 3), t(3, 3)), "concat", "[2, 3]", "[3, 3]");
        assertNamesShapes(() -> Ops.concat(0, t(2, 3), t(2, 3, 1)), "concat", "[2, 3]", "[2, 3, 1]");
        assertNamesShapes(() -> Ops.crossEntropy(t(4, 8), t(3)), "crossEntropy", "3 labels", "[4, 8]");
        assertNamesShapes(() -> Ops.crossEntropy(t(4, 8, 1), t(4)), "crossEntropy", "[4, 8, 1]");
        assertNamesShapes(() -> Ops.expectedDistance(t(4, 8), t(5)), "expectedDistance", "5 labels", "[4, 8]");
        assertNamesShapes(() -> Ops.batchNorm2d(t(2, 3, 4, 4), t(5), t(5), t(5), t(5), true, 0.1f, 1e-5f), "batchNorm2d", "[2, 3, 4, 4]", "[5]");
        assertNamesShapes(() -> Ops.maxPool2d(t(2, 3), 2, 2, 0), "maxPool2d", "[2, 3]");
        assertNamesShapes(() -> Ops.gridSample(t(2, 3, 4, 4), t(2, 5, 5, 3)), "gridSample", "[2, 3, 4, 4]", "[2, 5, 5, 3]");
        assertNamesShapes(() -> Ops.affineGrid(t(2, 2, 2), 4, 4), "affineGrid", "[2, 2, 2]");
        assertNamesShapes(() -> Tensor.zeros(Device.CPU, 2, 3).view(4, 2), "[2, 3]", "[4, 2]");
        assertNamesShapes(() -> Ops.dropout(t(2), 1.0f, 1), "dropout", "1.0");
    }

    @Test
    void labelsOutsideTheClassesAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Ops.crossEntropy(t(2, 8), Tensor.of(new float[] {3, 8}, 2)));
        assertTrue(e.getMessage().contains("label 8.0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Ops.crossEntropy(t(2, 8), Tensor.of(new float[] {0.5f, 1}, 2)));
    }

    @Test
    void extremeLogitsGiveFiniteLossesAndGradients() {
        // exp(1000) overflows float32 and float64: the kernels must subtract the row max.
        Autograd.setAnomalyDetection(true); // any Inf/NaN on the way throws
        Tensor logits = Tensor.of(new float[] {1000, -1000, -1000, 1000}, 2, 2).requiresGrad(true);
        Tensor labels = Tensor.of(new float[] {1, 1}, 2);
        Tensor ce = Ops.crossEntropy(logits, labels);
        assertEquals(1000f, ce.item(), 1e-3f, "(2000 + 0) / 2");
        ce.backward();
        float[] g = logits.grad().toArray();
        assertEquals(0.5f, g[0], 1e-6f);
        assertEquals(-0.5f, g[1], 1e-6f);
        assertEquals(0f, g[2], 1e-6f);
        assertEquals(0f, g[3], 1e-6f);
        assertEquals(0.5f, Ops.expectedDistance(logits, labels).item(), 1e-6f, "row 0 puts all mass one bucket away");
        float[] sm = Ops.softmax(logits).toArray(), ls = Ops.logSoftmax(logits).toArray();
        assertEquals(1f, sm[0], 0f);
        assertEquals(0f, sm[1], 0f);
        assertEquals(-2000f, ls[1], 1e-3f);
    }

    @Test
    void aNaNInTheInputIsReportedByTheForwardOpThatSawIt() {
        Autograd.setAnomalyDetection(true);
        Tensor w = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        Tensor x = Tensor.of(new float[] {1, Float.NaN, 3}, 1, 3);
        Tensor ok = Ops.scale(w, 2f); // finite: no fault
        NumericalFault f = assertThrows(NumericalFault.class, () -> Ops.linear(x, ok, null));
        assertEquals("forward of linear", f.where());
        assertTrue(f.getMessage().contains("forward of linear") && f.getMessage().contains("[1, 2]"), f.getMessage());
        assertTrue(f.getMessage().contains("[1, 3]"), "names the inputs: " + f.getMessage());

        NumericalFault inf = assertThrows(NumericalFault.class, () -> Ops.scale(Tensor.of(new float[] {3e38f}, 1), 10f));
        assertEquals("forward of scale", inf.where());
    }

    @Test
    void aBackwardThatOverflowsIsReportedByTheBackwardOp() {
        Autograd.setAnomalyDetection(true);
        // Forward values are finite (1e-30 * 1e30 = 1, times 1e20), but d loss / d x =
        // 1e20 * 1e30 overflows float32: the fault names the backward of mul.
        Tensor x = Tensor.of(new float[] {1e-30f, 2e-30f}, 2).requiresGrad(true);
        Tensor y = Tensor.of(new float[] {1e30f, 1e30f}, 2);
        Tensor loss = Ops.scale(Ops.sum(Ops.mul(x, y)), 1e20f);
        assertTrue(Float.isFinite(loss.item()));
        NumericalFault f = assertThrows(NumericalFault.class, loss::backward);
        assertTrue(f.where().startsWith("backward of mul"), f.where());
        assertTrue(f.getMessage().contains("[2]"), f.getMessage());
    }

    @Test
    void withoutAnomalyDetectionNaNsPassThrough() {
        Tensor y = Ops.scale(Tensor.of(new float[] {Float.NaN}, 1), 2f);
        assertTrue(Float.isNaN(y.item()));
    }
}
