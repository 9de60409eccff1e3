package org.attnface.engine.ops;

import static org.attnface.engine.ops.GradCheck.awayFromZero;
import static org.attnface.engine.ops.GradCheck.check;
import static org.attnface.engine.ops.GradCheck.constant;
import static org.attnface.engine.ops.GradCheck.distinct;
import static org.attnface.engine.ops.GradCheck.input;
import static org.attnface.engine.ops.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.GradCheck.Input;
import org.junit.jupiter.api.Test;

/**
 * A gradient check for every differentiable op in {@link Ops}: the engine's float32 forward
 * and analytic gradient against a float64 reference (plain loops in {@link Ref}) and its
 * central finite differences. Shapes are deliberately awkward: batch 1, non-square images
 * (7x5), channel counts 3, 5 and 13 (not multiples of the 8- or 16-float SIMD width).
 *
 * <p>Tolerances (see {@link GradCheck#compare}: error <= tol * (|ref| + max|ref|)):
 * <ul>
 * <li>ELEMENTWISE = 1e-5: one or two float32 roundings (2^-24 ~ 6e-8 each) per value.</li>
 * <li>ACCUMULATED = 1e-4: float32 sums of up to ~1000 terms (conv with 13 channels and a
 *     7x7 kernel: 637); the worst case is ~K * 6e-8 = 4e-5 of the sum of |terms|.</li>
 * </ul>
 * A wrong gradient formula, index or boundary case gives errors of the order of the values
 * themselves, 1000x above these.
 */
class OpsGradientTest {
    static final double ELEMENTWISE = 1e-5;
    static final double ACCUMULATED = 1e-4;
    // Copies (concat, reshape, max pooling) are exact in the forward, so their forward
    // tolerance is 0; their gradients still carry the ~1e-9 rounding of the finite difference.

    // ---- elementwise with broadcasting ------------------------------------------------------

    private static void binaryCase(String name, long seed, int[] sa, int[] sb, java.util.function.DoubleBinaryOperator f,
                                   java.util.function.BinaryOperator<Tensor> op) {
        Random r = new Random(seed);
        int[] out = Ops.broadcastShape(name, sa, sb);
        check(name + " " + java.util.Arrays.toString(sa) + " " + java.util.Arrays.toString(sb), seed,
                new Input[] {input(uniform(r, 1, sa), sa), input(uniform(r, 1, sb), sb)},
                x -> Ref.broadcast(x[0], sa, x[1], sb, out, f),
                t -> op.apply(t[0], t[1]),
                // sums of broadcast gradients: up to 2x3x5 = 30 terms
                ELEMENTWISE, ACCUMULATED);
    }

    @Test
    void addSubMulWithBroadcasting() {
        int[][][] shapes = {
                {{2, 3, 5}, {2, 3, 5}},   // same shape
                {{2, 3, 5}, {5}},         // bias along the last dimension
                {{2, 3, 5}, {3, 1}},      // per-row scalar
                {{2, 1, 5}, {3, 1}},      // both sides broadcast
                {{1}, {3, 13}},           // scalar on the left
                {{13, 1, 7, 5}, {13, 1, 1}}};
        long seed = 1;
        for (int[][] s : shapes) {
            binaryCase("add", seed++, s[0], s[1], Double::sum, Ops::add);
            binaryCase("sub", seed++, s[0], s[1], (a, b) -> a - b, Ops::sub);
            binaryCase("mul", seed++, s[0], s[1], (a, b) -> a * b, Ops::mul);
        }
    }

    @Test
    void divWithBroadcasting() {
        // Divisors with |b| in [0.5, 1]: the quotient stays below 2 and its derivative -a/b^2 below 4,
        // so the finite difference sees no pole. Three roundings per gradient term (g * out / b).
        int[][][] shapes = {{{2, 3, 5}, {2, 3, 5}}, {{2, 3, 5}, {5}}, {{2, 1, 5}, {3, 1}}, {{1}, {3, 13}}, {{13, 1, 7, 5}, {13, 1, 1}}};
        long seed = 40;
        for (int[][] s : shapes) {
            int[] sa = s[0], sb = s[1];
            Random r = new Random(seed);
            int[] out = Ops.broadcastShape("div", sa, sb);
            check("div " + java.util.Arrays.toString(sa) + " " + java.util.Arrays.toString(sb), seed++,
                    new Input[] {input(uniform(r, 1, sa), sa), input(awayFromZero(r, 0.5, sb), sb)},
                    x -> Ref.broadcast(x[0], sa, x[1], sb, out, (a, b) -> a / b),
                    t -> Ops.div(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
        }
    }

    @Test
    void scale() {
        Random r = new Random(10);
        check("scale", 10, new Input[] {input(uniform(r, 1, 3, 13), 3, 13)},
                x -> java.util.Arrays.stream(x[0]).map(v -> -2.5 * v).toArray(),
                t -> Ops.scale(t[0], -2.5f), ELEMENTWISE, ELEMENTWISE);
    }

    @Test
    void relu() {
        // Inputs kept at least 0.05 from the kink at 0, where the derivative is undefined
        // and a finite difference would straddle it.
        Random r = new Random(11);
        check("relu", 11, new Input[] {input(awayFromZero(r, 0.05, 1, 5, 7, 5), 1, 5, 7, 5)},
                x -> java.util.Arrays.stream(x[0]).map(v -> Math.max(v, 0)).toArray(),
                t -> Ops.relu(t[0]), ELEMENTWISE, ELEMENTWISE);
    }

    @Test
    void sumAndMean() {
        Random r = new Random(12);
        double[] v = uniform(r, 1, 3, 13, 5);
        check("sum", 12, new Input[] {input(v, 3, 13, 5)},
                x -> new double[] {java.util.Arrays.stream(x[0]).sum()}, t -> Ops.sum(t[0]), ACCUMULATED, ELEMENTWISE);
        check("mean", 13, new Input[] {input(v, 3, 13, 5)},
                x -> new double[] {java.util.Arrays.stream(x[0]).average().orElseThrow()}, t -> Ops.mean(t[0]), ACCUMULATED, ELEMENTWISE);
    }

    @Test
    void concatAlongFirstMiddleAndLastDimension() {
        Random r = new Random(14);
        // dim 0: [1,3,5] + [2,3,5]
        double[] a0 = uniform(r, 1, 1, 3, 5), b0 = uniform(r, 1, 2, 3, 5);
        check("concat dim 0", 14, new Input[] {input(a0, 1, 3, 5), input(b0, 2, 3, 5)},
                x -> join(x[0], x[1]), t -> Ops.concat(0, t[0], t[1]), 0, ELEMENTWISE);
        // dim 1: [2,3,5] + [2,13,5] + [2,1,5]; the middle one needs no gradient
        double[] a1 = uniform(r, 1, 2, 3, 5), b1 = uniform(r, 1, 2, 13, 5), c1 = uniform(r, 1, 2, 1, 5);
        check("concat dim 1", 15, new Input[] {input(a1, 2, 3, 5), constant(b1, 2, 13, 5), input(c1, 2, 1, 5)},
                x -> concatRows(2, new double[][] {x[0], x[1], x[2]}, new int[] {15, 65, 5}),
                t -> Ops.concat(1, t[0], t[1], t[2]), 0, ELEMENTWISE);
        // last dim (-1): [3,2] + [3,5], as the age head joins features and gender probabilities
        double[] a2 = uniform(r, 1, 3, 2), b2 = uniform(r, 1, 3, 5);
        check("concat dim -1", 16, new Input[] {input(a2, 3, 2), input(b2, 3, 5)},
                x -> concatRows(3, new double[][] {x[0], x[1]}, new int[] {2, 5}),
                t -> Ops.concat(-1, t[0], t[1]), 0, ELEMENTWISE);
    }

    private static double[] join(double[] a, double[] b) {
        double[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Row r of the output is row r of each part in turn (each part has cols[i] columns). */
    private static double[] concatRows(int rows, double[][] parts, int[] cols) {
        int total = 0;
        for (int c : cols) total += c;
        double[] out = new double[rows * total];
        for (int row = 0; row < rows; row++) {
            int at = row * total;
            for (int i = 0; i < parts.length; i++) {
                System.arraycopy(parts[i], row * cols[i], out, at, cols[i]);
                at += cols[i];
            }
        }
        return out;
    }

    @Test
    void reshapeAndFlatten() {
        Random r = new Random(17);
        double[] v = uniform(r, 1, 2, 3, 7, 5);
        check("reshape", 17, new Input[] {input(v, 2, 3, 7, 5)}, x -> x[0], t -> t[0].reshape(6, -1), 0, ELEMENTWISE);
        check("flatten", 18, new Input[] {input(v, 2, 3, 7, 5)}, x -> x[0], t -> t[0].flatten(), 0, ELEMENTWISE);
    }

    @Test
    void tensorsUsedTwiceAccumulateTheirGradients() {
        // A leaf used by both inputs of one op (x * x), and an intermediate used by several
        // ops (a diamond): the gradients from every use must add up.
        Random r = new Random(19);
        double[] x = uniform(r, 1, 3, 5);
        check("x * x", 19, new Input[] {input(x, 3, 5)},
                v -> java.util.Arrays.stream(v[0]).map(a -> a * a).toArray(), t -> Ops.mul(t[0], t[0]), ELEMENTWISE, ELEMENTWISE);
        check("diamond y = 2x; y * y + y", 20, new Input[] {input(x, 3, 5)},
                v -> java.util.Arrays.stream(v[0]).map(a -> 4 * a * a + 2 * a).toArray(),
                t -> {
                    Tensor y = Ops.scale(t[0], 2f);
                    return Ops.add(Ops.mul(y, y), y);
                }, ELEMENTWISE, ELEMENTWISE);
    }

    // ---- matrix products -----------------------------------------------------------------

    @Test
    void matmul() {
        Random r = new Random(20);
        check("matmul", 20, new Input[] {input(uniform(r, 1, 3, 13), 3, 13), input(uniform(r, 1, 13, 5), 13, 5)},
                x -> Ref.matmul(x[0], x[1], 3, 13, 5), t -> Ops.matmul(t[0], t[1]), ACCUMULATED, ACCUMULATED);
        check("matmul 1xk", 21, new Input[] {input(uniform(r, 1, 1, 37), 1, 37), input(uniform(r, 1, 37, 3), 37, 3)},
                x -> Ref.matmul(x[0], x[1], 1, 37, 3), t -> Ops.matmul(t[0], t[1]), ACCUMULATED, ACCUMULATED);
    }

    @Test
    void linearWithAndWithoutBias() {
        Random r = new Random(22);
        check("linear with bias", 22,
                new Input[] {input(uniform(r, 1, 3, 13), 3, 13), input(uniform(r, 1, 5, 13), 5, 13), input(uniform(r, 1, 5), 5)},
                x -> Ref.linear(x[0], x[1], x[2], 3, 13, 5), t -> Ops.linear(t[0], t[1], t[2]), ACCUMULATED, ACCUMULATED);
        check("linear without bias, batch 1", 23,
                new Input[] {input(uniform(r, 1, 1, 13), 1, 13), input(uniform(r, 1, 2, 13), 2, 13)},
                x -> Ref.linear(x[0], x[1], null, 1, 13, 2), t -> Ops.linear(t[0], t[1], null), ACCUMULATED, ACCUMULATED);
    }

    // ---- convolution ---------------------------------------------------------------------

    /** n, c, h, w, k, kernel, stride, pad, bias. */
    private static void convCase(long seed, int n, int c, int h, int w, int k, int kernel, int stride, int pad, boolean bias) {
        Random r = new Random(seed);
        double[] x = uniform(r, 1, n, c, h, w), wt = uniform(r, 1, k, c, kernel, kernel), b = uniform(r, 1, k);
        Input[] in = bias
                ? new Input[] {input(x, n, c, h, w), input(wt, k, c, kernel, kernel), input(b, k)}
                : new Input[] {input(x, n, c, h, w), input(wt, k, c, kernel, kernel)};
        String name = String.format("conv2d x[%d,%d,%d,%d] w[%d,%d,%d,%d] stride %d pad %d %s",
                n, c, h, w, k, c, kernel, kernel, stride, pad, bias ? "bias" : "no bias");
        check(name, seed, in,
                v -> Ref.conv2d(v[0], v[1], bias ? v[2] : null, n, c, h, w, k, kernel, kernel, stride, pad),
                t -> Ops.conv2d(t[0], t[1], bias ? t[2] : null, stride, pad), ACCUMULATED, ACCUMULATED);
    }

    @Test
    void conv2dKernel1() {
        convCase(30, 2, 13, 7, 5, 5, 1, 1, 0, true);
        convCase(31, 1, 3, 7, 5, 13, 1, 2, 0, false);
    }

    @Test
    void conv2dKernel3() {
        convCase(32, 2, 3, 7, 5, 5, 3, 1, 1, false);
        convCase(33, 1, 5, 7, 5, 3, 3, 2, 1, true);
        convCase(34, 2, 5, 7, 5, 13, 3, 1, 0, true);
        convCase(35, 1, 13, 6, 9, 5, 3, 2, 0, false);
    }

    @Test
    void conv2dKernel7() {
        // The ResNet stem: 7x7, stride 2, pad 3.
        convCase(36, 1, 3, 7, 5, 5, 7, 2, 3, true);
        convCase(37, 2, 3, 9, 8, 3, 7, 1, 3, false);
    }

    // ---- batch norm ------------------------------------------------------------------------

    @Test
    void batchNormTrainingGradientsForInputGammaAndBeta() {
        Random r = new Random(40);
        int n = 2, c = 5, h = 7, w = 5;
        double[] x = uniform(r, 2, n, c, h, w);
        double[] gamma = uniform(r, 1.5, c), beta = uniform(r, 1, c);
        float eps = 1e-5f;
        // The backward subtracts per-channel sums (m * dy - sum dy - xhat * sum dy xhat) over
        // m = 70 values, cancelling to small numbers: float32 error ~ m * 6e-8 of max, so ACCUMULATED.
        check("batchNorm2d training", 40,
                new Input[] {input(x, n, c, h, w), input(gamma, c), input(beta, c)},
                v -> Ref.batchNormTrain(v[0], v[1], v[2], n, c, h * w, eps),
                t -> Ops.batchNorm2d(t[0], t[1], t[2], Tensor.zeros(org.attnface.engine.Device.CPU, c),
                        Tensor.full(org.attnface.engine.Device.CPU, 1f, c), true, 0.1f, eps),
                ACCUMULATED, ACCUMULATED);
        // Batch 1 with a 1x13 image: the statistics come from one row per channel.
        double[] x1 = uniform(new Random(41), 1, 1, 3, 1, 13);
        check("batchNorm2d training batch 1", 41,
                new Input[] {input(x1, 1, 3, 1, 13), input(uniform(r, 1, 3), 3), input(uniform(r, 1, 3), 3)},
                v -> Ref.batchNormTrain(v[0], v[1], v[2], 1, 3, 13, eps),
                t -> Ops.batchNorm2d(t[0], t[1], t[2], Tensor.zeros(org.attnface.engine.Device.CPU, 3),
                        Tensor.full(org.attnface.engine.Device.CPU, 1f, 3), true, 0.1f, eps),
                ACCUMULATED, ACCUMULATED);
    }

    @Test
    void batchNormEvalGradients() {
        // Eval mode (Grad-CAM differentiates through it): fixed running statistics, so the op is
        // a per-channel affine map of x.
        Random r = new Random(42);
        int n = 1, c = 13, h = 7, w = 5;
        double[] mean = uniform(r, 1, c), var = new double[c];
        for (int i = 0; i < c; i++) var[i] = (float) (0.2 + r.nextDouble());
        float eps = 1e-5f;
        check("batchNorm2d eval", 42,
                new Input[] {input(uniform(r, 2, n, c, h, w), n, c, h, w), input(uniform(r, 1.5, c), c), input(uniform(r, 1, c), c)},
                v -> {
                    double[] y = new double[v[0].length];
                    for (int i = 0; i < y.length; i++) {
                        int ch = (i / (h * w)) % c;
                        y[i] = (v[0][i] - mean[ch]) / Math.sqrt(var[ch] + (double) eps) * v[1][ch] + v[2][ch];
                    }
                    return y;
                },
                t -> Ops.batchNorm2d(t[0], t[1], t[2], Tensor.of(GradCheck.toFloat(mean), c), Tensor.of(GradCheck.toFloat(var), c),
                        false, 0.1f, eps),
                ELEMENTWISE, ACCUMULATED);
    }

    // ---- pooling -------------------------------------------------------------------------

    @Test
    void maxPool() {
        // distinct(): values 0.01 apart, so no window has a tie and a 1e-6 step never changes
        // the arg-max (where the max's derivative is undefined).
        Random r = new Random(50);
        double[] x = distinct(r, 2, 3, 7, 5);
        check("maxPool2d k2 s2", 50, new Input[] {input(x, 2, 3, 7, 5)},
                v -> Ref.pool(v[0], 2, 3, 7, 5, 2, 2, 2, 0, true), t -> Ops.maxPool2d(t[0], 2, 2, 0), 0, ELEMENTWISE);
        check("maxPool2d k3 s2 pad 1", 51, new Input[] {input(x, 2, 3, 7, 5)},
                v -> Ref.pool(v[0], 2, 3, 7, 5, 3, 3, 2, 1, true), t -> Ops.maxPool2d(t[0], 3, 2, 1), 0, ELEMENTWISE);
        check("maxPool2d k3 s1 pad 1 (overlapping windows)", 52, new Input[] {input(distinct(r, 1, 13, 5, 7), 1, 13, 5, 7)},
                v -> Ref.pool(v[0], 1, 13, 5, 7, 3, 3, 1, 1, true), t -> Ops.maxPool2d(t[0], 3, 1, 1), 0, ELEMENTWISE);
    }

    @Test
    void avgPoolAndGlobalAvgPool() {
        Random r = new Random(53);
        double[] x = uniform(r, 1, 2, 5, 7, 5);
        check("avgPool2d k2 s2", 53, new Input[] {input(x, 2, 5, 7, 5)},
                v -> Ref.pool(v[0], 2, 5, 7, 5, 2, 2, 2, 0, false), t -> Ops.avgPool2d(t[0], 2, 2, 0), ELEMENTWISE, ELEMENTWISE);
        check("avgPool2d k3 s2 pad 1", 54, new Input[] {input(x, 2, 5, 7, 5)},
                v -> Ref.pool(v[0], 2, 5, 7, 5, 3, 3, 2, 1, false), t -> Ops.avgPool2d(t[0], 3, 2, 1), ELEMENTWISE, ELEMENTWISE);
        check("globalAvgPool", 55, new Input[] {input(uniform(r, 1, 1, 13, 7, 5), 1, 13, 7, 5)},
                v -> Ref.pool(v[0], 1, 13, 7, 5, 7, 5, 1, 0, false), t -> Ops.globalAvgPool(t[0]), ELEMENTWISE, ELEMENTWISE);
    }

    // ---- softmax and losses ----------------------------------------------------------------

    @Test
    void softmaxAndLogSoftmax() {
        Random r = new Random(60);
        double[] x = uniform(r, 3, 3, 13);
        check("softmax", 60, new Input[] {input(x, 3, 13)}, v -> Ref.softmax(v[0], 3, 13, false), t -> Ops.softmax(t[0]),
                ELEMENTWISE, ACCUMULATED);
        check("logSoftmax", 61, new Input[] {input(x, 3, 13)}, v -> Ref.softmax(v[0], 3, 13, true), t -> Ops.logSoftmax(t[0]),
                ELEMENTWISE, ACCUMULATED);
        check("softmax batch 1, 2 classes", 62, new Input[] {input(uniform(r, 3, 1, 2), 1, 2)},
                v -> Ref.softmax(v[0], 1, 2, false), t -> Ops.softmax(t[0]), ELEMENTWISE, ACCUMULATED);
    }

    @Test
    void crossEntropyAndExpectedDistance() {
        Random r = new Random(63);
        double[] x = uniform(r, 3, 5, 8);
        double[] labels = {0, 7, 3, 3, 5};
        check("crossEntropy", 63, new Input[] {input(x, 5, 8), constant(labels, 5)},
                v -> new double[] {Ref.crossEntropy(v[0], v[1], 5, 8)}, t -> Ops.crossEntropy(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
        check("expectedDistance", 64, new Input[] {input(x, 5, 8), constant(labels, 5)},
                v -> new double[] {Ref.expectedDistance(v[0], v[1], 5, 8)}, t -> Ops.expectedDistance(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
        double[] x1 = uniform(r, 3, 1, 2);
        check("crossEntropy batch 1, 2 classes", 65, new Input[] {input(x1, 1, 2), constant(new double[] {1}, 1)},
                v -> new double[] {Ref.crossEntropy(v[0], v[1], 1, 2)}, t -> Ops.crossEntropy(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
    }

    // ---- spatial transformer ----------------------------------------------------------------

    @Test
    void affineGrid() {
        Random r = new Random(70);
        check("affineGrid 7x5", 70, new Input[] {input(uniform(r, 1, 2, 2, 3), 2, 2, 3)},
                v -> Ref.affineGrid(v[0], 2, 7, 5), t -> Ops.affineGrid(t[0], 7, 5), ELEMENTWISE, ACCUMULATED);
    }

    /**
     * Grid points in [-1.4, 1.4]: beyond [-1, 1] some bilinear taps fall outside the image
     * (zero padding) and some points lie entirely outside. Points whose pixel coordinate is
     * within 0.01 of an integer are moved: there the bilinear weights have a kink and a
     * finite difference would straddle it.
     */
    private static double[] gridPoints(Random r, int n, int p, int q, int h, int w) {
        double[] g = new double[n * p * q * 2];
        for (int i = 0; i < g.length; i++) {
            int size = i % 2 == 0 ? w : h;
            double v;
            do {
                v = (float) ((2 * r.nextDouble() - 1) * 1.4);
            } while (nearInteger(((v + 1) * size - 1) / 2));
            g[i] = v;
        }
        return g;
    }

    private static boolean nearInteger(double pixel) {
        return Math.abs(pixel - Math.rint(pixel)) < 0.01;
    }

    @Test
    void gridSampleGradientsForInputAndGrid() {
        Random r = new Random(71);
        int n = 2, c = 3, h = 7, w = 5, p = 4, q = 6;
        double[] x = uniform(r, 1, n, c, h, w), grid = gridPoints(r, n, p, q, h, w);
        int outside = 0;
        for (int i = 0; i < grid.length; i++) if (Math.abs(grid[i]) > 1) outside++;
        assertTrue(outside > 5, "the grid should have points outside the image, has " + outside);
        check("gridSample", 71, new Input[] {input(x, n, c, h, w), input(grid, n, p, q, 2)},
                v -> Ref.gridSample(v[0], v[1], n, c, h, w, p, q), t -> Ops.gridSample(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
        // batch 1, 13 channels, grid gradient only (the attention's path to theta)
        double[] x1 = uniform(r, 1, 1, 13, 5, 7), g1 = gridPoints(r, 1, 3, 3, 5, 7);
        check("gridSample grid only", 72, new Input[] {constant(x1, 1, 13, 5, 7), input(g1, 1, 3, 3, 2)},
                v -> Ref.gridSample(v[0], v[1], 1, 13, 5, 7, 3, 3), t -> Ops.gridSample(t[0], t[1]), ELEMENTWISE, ACCUMULATED);
    }

    @Test
    void affineGridThenGridSampleGradientForTheta() {
        // The spatial transformer end to end: theta -> grid -> sampled image.
        Random r = new Random(73);
        int h = 7, w = 5;
        double[] theta = {0.8, 0.1, 0.05, -0.15, 0.9, -0.1};
        double[] x = uniform(r, 1, 1, 3, h, w);
        check("affineGrid + gridSample", 73, new Input[] {input(theta, 1, 2, 3), input(x, 1, 3, h, w)},
                v -> Ref.gridSample(v[1], Ref.affineGrid(v[0], 1, 6, 4), 1, 3, h, w, 6, 4),
                t -> Ops.gridSample(t[1], Ops.affineGrid(t[0], 6, 4)), ELEMENTWISE, ACCUMULATED);
    }

    // ---- dropout ---------------------------------------------------------------------------

    @Test
    void dropout() {
        Random r = new Random(80);
        float p = 0.3f;
        long seed = 1234;
        double[] x = uniform(r, 1, 3, 13, 5);
        check("dropout", 80, new Input[] {input(x, 3, 13, 5)},
                v -> {
                    double[] y = new double[v[0].length];
                    for (int i = 0; i < y.length; i++) y[i] = Rng.uniform(seed, i) >= p ? v[0][i] / (1 - p) : 0;
                    return y;
                },
                t -> Ops.dropout(t[0], p, seed), ELEMENTWISE, ELEMENTWISE);
        // The mask drops about p of the values: 100k Bernoulli(0.3) draws have sd 0.0014.
        Tensor big = Ops.dropout(Tensor.full(org.attnface.engine.Device.CPU, 1f, 100_000), p, 99);
        int zeros = 0;
        for (float v : big.toArray()) if (v == 0f) zeros++; else assertEquals(1f / (1f - p), v, 1e-6f);
        assertEquals(0.3, zeros / 100_000.0, 0.01);
    }
}
