package org.attnface.engine.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;

import org.attnface.engine.Tensor;

/**
 * Checks an engine op against a float64 reference written with plain loops in the test:
 * the forward values, and the analytic float32 gradient (backward of loss = sum(out * R)
 * with a fixed random R) against central finite differences of the float64 reference.
 *
 * <p>The finite differences are taken on the float64 reference, not on the float32 engine:
 * with eps = 1e-6 their truncation error is O(eps^2 f''') ~ 1e-12 and their rounding error
 * ~ 1e-16 |L| / eps ~ 1e-9, so the comparison measures only the engine's float32 error.
 */
final class GradCheck {
    private GradCheck() {}

    static final double EPS = 1e-6;
    /** GRADCHECK_VERBOSE=1 prints how close each comparison came to its tolerance. */
    static final boolean VERBOSE = System.getenv("GRADCHECK_VERBOSE") != null;

    /** A float64 forward over flat row-major inputs. */
    @FunctionalInterface
    interface Reference {
        double[] apply(double[][] in);
    }

    /** The engine op under test. */
    @FunctionalInterface
    interface EngineOp {
        Tensor apply(Tensor[] in);
    }

    /** One input: values (exactly representable in float32), shape, and whether its gradient is checked. */
    record Input(double[] values, int[] shape, boolean grad) {
        Input {
            long n = 1;
            for (int d : shape) n *= d;
            if (n != values.length) throw new IllegalArgumentException(values.length + " values for shape " + Arrays.toString(shape));
        }
    }

    static Input input(double[] values, int... shape) { return new Input(values, shape, true); }

    static Input constant(double[] values, int... shape) { return new Input(values, shape, false); }

    // ---- random inputs, all rounded to float32 so the reference sees the engine's exact inputs ----

    static int numel(int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** Uniform in [-scale, scale). */
    static double[] uniform(Random r, double scale, int... shape) {
        double[] v = new double[numel(shape)];
        for (int i = 0; i < v.length; i++) v[i] = (float) ((2 * r.nextDouble() - 1) * scale);
        return v;
    }

    /**
     * Values at least {@code gap} from zero (uniform in [gap, 1] with a random sign): for ops
     * with a kink at 0 (relu), where a finite difference straddling the kink is meaningless.
     */
    static double[] awayFromZero(Random r, double gap, int... shape) {
        double[] v = new double[numel(shape)];
        for (int i = 0; i < v.length; i++) {
            double m = gap + (1 - gap) * r.nextDouble();
            v[i] = (float) (r.nextBoolean() ? m : -m);
        }
        return v;
    }

    /**
     * Distinct values 0.01 apart in random order: max pooling has no ties, and a 1e-6 step
     * never changes which element is the maximum.
     */
    static double[] distinct(Random r, int... shape) {
        int n = numel(shape);
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float) (0.01 * (i - n / 2));
        for (int i = n - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            double t = v[i];
            v[i] = v[j];
            v[j] = t;
        }
        return v;
    }

    static float[] toFloat(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    // ---- the check -----------------------------------------------------------------------

    /**
     * Runs the engine op and the reference and asserts
     * |engine - reference| <= tol * (|reference| + max |reference|) per element, for the
     * forward and for each checked gradient. Callers state tol with its reason.
     */
    static void check(String what, long seed, Input[] inputs, Reference ref, EngineOp op, double forwardTol, double gradTol) {
        Tensor[] ts = new Tensor[inputs.length];
        for (int i = 0; i < inputs.length; i++)
            ts[i] = Tensor.of(toFloat(inputs[i].values()), inputs[i].shape()).requiresGrad(inputs[i].grad());
        Tensor out = op.apply(ts);
        double[][] x = new double[inputs.length][];
        for (int i = 0; i < inputs.length; i++) x[i] = inputs[i].values().clone();
        double[] expected = ref.apply(x);
        float[] got = out.toArray();
        assertEquals(expected.length, got.length, what + ": output size");
        compare(what + " forward", got, expected, forwardTol);

        double[] weights = uniform(new Random(seed ^ 0x5EEDL), 1.0, got.length);
        Tensor r = Tensor.of(toFloat(weights), out.shape());
        Ops.sum(Ops.mul(out, r)).backward();

        for (int i = 0; i < inputs.length; i++) {
            if (!inputs[i].grad()) continue;
            double[] numeric = new double[x[i].length];
            for (int j = 0; j < x[i].length; j++) {
                double keep = x[i][j];
                x[i][j] = keep + EPS;
                double plus = dot(ref.apply(x), weights);
                x[i][j] = keep - EPS;
                double minus = dot(ref.apply(x), weights);
                x[i][j] = keep;
                numeric[j] = (plus - minus) / (2 * EPS);
            }
            if (ts[i].grad() == null) fail(what + ": input " + i + " got no gradient");
            compare(what + " gradient of input " + i + " " + Arrays.toString(inputs[i].shape()), ts[i].grad().toArray(), numeric, gradTol);
        }
    }

    static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    static void compare(String what, float[] got, double[] expected, double tol) {
        double max = 0;
        for (double e : expected) max = Math.max(max, Math.abs(e));
        int worst = -1;
        double worstRatio = 0;
        for (int i = 0; i < got.length; i++) {
            double allowed = tol * (Math.abs(expected[i]) + max) + 1e-30;
            double ratio = Math.abs(got[i] - expected[i]) / allowed;
            if (!(ratio <= worstRatio)) {
                worstRatio = ratio;
                worst = i;
            }
        }
        if (VERBOSE) System.out.printf("GradCheck %-70s worst error / allowed = %.3g%n", what, worstRatio);
        if (!(worstRatio <= 1.0))
            fail(String.format("%s: element %d is %.9g, reference %.9g (error %.3g, allowed %.3g; max |reference| %.3g)",
                    what, worst, got[worst], expected[worst], Math.abs(got[worst] - expected[worst]),
                    tol * (Math.abs(expected[worst]) + max), max));
    }
}
