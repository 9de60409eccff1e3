package org.attnface.engine.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;
import org.junit.jupiter.api.Test;

/**
 * Sgd and AdamW against float64 updates written from torch.optim's documented algorithms,
 * for three steps on two parameters with fixed gradients. The gradients arrive through
 * backward (loss = sum(p * G)), so accumulation into the packed gradient buffer is covered.
 * Tolerance 1e-6 absolute on values ~1: float32 rounding (6e-8) over three updates.
 */
class OptimizerTest {
    static final int[][] SHAPES = {{3, 2}, {5}};

    private static double[][] initial(Random r) {
        return new double[][] {values(r, 6), values(r, 5)};
    }

    private static double[] values(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = (float) (2 * r.nextDouble() - 1);
        return v;
    }

    private static float[] f(double[] d) {
        float[] o = new float[d.length];
        for (int i = 0; i < d.length; i++) o[i] = (float) d[i];
        return o;
    }

    private static List<Tensor> parameters(double[][] init) {
        return List.of(Tensor.emptyPersistent(Device.CPU, SHAPES[0]), Tensor.emptyPersistent(Device.CPU, SHAPES[1]))
                .stream().map(t -> t.requiresGrad(true)).toList();
    }

    /** Runs three steps of the engine optimiser and of {@code reference}, comparing after each. */
    private static void run(String what, java.util.function.Function<List<Tensor>, Optimizer> make, Reference reference) {
        Random r = new Random(what.hashCode());
        double[][] p = initial(r);
        List<Tensor> params = parameters(p);
        for (int i = 0; i < 2; i++) params.get(i).copyFrom(f(p[i]));
        Optimizer opt = make.apply(params);
        for (int step = 1; step <= 3; step++) {
            double[][] g = {values(r, 6), values(r, 5)};
            opt.zeroGrad();
            Tensor loss = Ops.add(Ops.sum(Ops.mul(params.get(0), Tensor.of(f(g[0]), SHAPES[0]))),
                    Ops.sum(Ops.mul(params.get(1), Tensor.of(f(g[1]), SHAPES[1]))));
            loss.backward();
            opt.step();
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < p[i].length; j++) g[i][j] = (float) g[i][j];
                reference.step(i, p[i], g[i], step);
                float[] got = params.get(i).toArray();
                for (int j = 0; j < got.length; j++)
                    assertEquals(p[i][j], got[j], 1e-6, what + ": parameter " + i + "[" + j + "] after step " + step);
            }
        }
        assertEquals(3, opt.steps());
    }

    @FunctionalInterface
    interface Reference {
        void step(int param, double[] p, double[] g, int t);
    }

    @Test
    void sgdWithMomentumAndWeightDecayMatchesTorch() {
        double lr = 0.1, momentum = 0.9, wd = 0.01;
        double[][] buf = {new double[6], new double[5]};
        // torch.optim.SGD (dampening 0, nesterov False): g += wd * p; buf = g on the first
        // step, then buf = momentum * buf + g; p -= lr * buf.
        run("sgd", ps -> new Sgd(ps, (float) lr, (float) momentum, (float) wd), (i, p, g, t) -> {
            for (int j = 0; j < p.length; j++) {
                double gj = g[j] + wd * p[j];
                buf[i][j] = t == 1 ? gj : momentum * buf[i][j] + gj;
                p[j] -= lr * buf[i][j];
            }
        });
    }

    @Test
    void scaledLearningRatesApplyToTheirParametersOnly() {
        double lr = 0.1, momentum = 0.9, wd = 0.01;
        double[] scale = {2, 0.25};   // both scaled by 2, then the second by 0.25: the later call wins where they overlap
        double[][] buf = {new double[6], new double[5]};
        run("sgd with lr scales", ps -> {
            Sgd o = new Sgd(ps, (float) lr, (float) momentum, (float) wd);
            o.scaleLr(ps, 2f);
            o.scaleLr(List.of(ps.get(1)), 0.25f);
            return o;
        }, (i, p, g, t) -> {
            for (int j = 0; j < p.length; j++) {
                double gj = g[j] + wd * p[j];
                buf[i][j] = t == 1 ? gj : momentum * buf[i][j] + gj;
                p[j] -= lr * scale[i] * buf[i][j];
            }
        });
        double[][] m = {new double[6], new double[5]}, v = {new double[6], new double[5]};
        run("adamw with lr scales", ps -> {
            AdamW o = new AdamW(ps, 0.01f, 0.05f);
            o.scaleLr(List.of(ps.get(0)), 0.5f);
            return o;
        }, (i, p, g, t) -> {
            double lri = i == 0 ? 0.005 : 0.01;
            for (int j = 0; j < p.length; j++) {
                p[j] *= 1 - lri * 0.05;
                m[i][j] = 0.9 * m[i][j] + 0.1 * g[j];
                v[i][j] = 0.999 * v[i][j] + (1 - 0.999) * g[j] * g[j];
                p[j] -= lri / (1 - Math.pow(0.9, t)) * m[i][j] / (Math.sqrt(v[i][j]) / Math.sqrt(1 - Math.pow(0.999, t)) + 1e-8);
            }
        });
    }

    @Test
    void scaleLrRefusesForeignOrScatteredParameters() {
        List<Tensor> ps = List.of(Tensor.emptyPersistent(Device.CPU, 2), Tensor.emptyPersistent(Device.CPU, 3), Tensor.emptyPersistent(Device.CPU, 4));
        Sgd opt = new Sgd(ps, 0.1f, 0f, 0f);
        IllegalArgumentException gap = assertThrows(IllegalArgumentException.class, () -> opt.scaleLr(List.of(ps.get(0), ps.get(2)), 0.5f));
        assertTrue(gap.getMessage().contains("not one contiguous run"), gap.getMessage());
        assertThrows(IllegalArgumentException.class, () -> opt.scaleLr(List.of(Tensor.emptyPersistent(Device.CPU, 2)), 0.5f));
        assertThrows(IllegalArgumentException.class, () -> opt.scaleLr(List.of(ps.get(1)), Float.NaN));
    }

    @Test
    void plainSgd() {
        run("plain sgd", ps -> new Sgd(ps, 0.5f, 0f, 0f), (i, p, g, t) -> {
            for (int j = 0; j < p.length; j++) p[j] -= 0.5 * g[j];
        });
    }

    @Test
    void adamwMatchesTorch() {
        double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
        double[][] m = {new double[6], new double[5]}, v = {new double[6], new double[5]};
        // torch.optim.AdamW: p *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
        // p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
        run("adamw", ps -> new AdamW(ps, (float) lr, (float) wd), (i, p, g, t) -> {
            for (int j = 0; j < p.length; j++) {
                p[j] *= 1 - lr * wd;
                m[i][j] = b1 * m[i][j] + (1 - b1) * g[j];
                v[i][j] = b2 * v[i][j] + (1 - b2) * g[j] * g[j];
                double denom = Math.sqrt(v[i][j]) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
                p[j] -= lr / (1 - Math.pow(b1, t)) * m[i][j] / denom;
            }
        });
    }

    @Test
    void adamwStateHoldsTheMoments() {
        Tensor p = Tensor.emptyPersistent(Device.CPU, 2).requiresGrad(true);
        p.copyFrom(new float[] {1f, 2f});
        AdamW opt = new AdamW(List.of(p), 0.1f, 0f);
        opt.zeroGrad();
        Ops.sum(Ops.mul(p, Tensor.of(new float[] {1f, -2f}, 2))).backward();
        opt.step();
        float[] m = opt.state().get("exp_avg").toArray(), v = opt.state().get("exp_avg_sq").toArray();
        assertEquals(0.1f, m[0], 1e-7f);
        assertEquals(-0.2f, m[1], 1e-7f);
        // 1 - 0.999f is 0.00099998713 in float32 (beta2 is held as a float), 1.3e-5 relative
        // from PyTorch's 0.001: harmless, and the reason for the 2e-5 relative tolerance.
        assertEquals(0.001f, v[0], 0.001f * 2e-5f);
        assertEquals(0.004f, v[1], 0.004f * 2e-5f);
        // First Adam step moves each parameter by lr * sign(g) (bias-corrected m / sqrt(v) = +-1).
        assertEquals(0.9f, p.toArray()[0], 1e-6f);
        assertEquals(2.1f, p.toArray()[1], 1e-6f);
    }

    @Test
    void learningRateSchedules() {
        LrSchedule c = LrSchedule.constant(0.3f);
        assertEquals(0.3f, c.lr(0));
        assertEquals(0.3f, c.lr(1000));

        // torch StepLR(step_size=3, gamma=0.5) from 0.1
        LrSchedule s = LrSchedule.step(0.1f, 3, 0.5f);
        float[] expected = {0.1f, 0.1f, 0.1f, 0.05f, 0.05f, 0.05f, 0.025f};
        for (int i = 0; i < expected.length; i++) assertEquals(expected[i], s.lr(i), 1e-8f, "step schedule at " + i);

        // Linear warm-up over 2 steps to 1.0, then torch CosineAnnealingLR(T_max = 8, eta_min = 0.1).
        LrSchedule cos = LrSchedule.cosine(1f, 2, 10, 0.1f);
        assertEquals(0.5f, cos.lr(0), 1e-7f);
        assertEquals(1.0f, cos.lr(1), 1e-7f);
        for (int step = 2; step <= 10; step++) {
            double t = (step - 2) / 8.0;
            assertEquals(0.1 + 0.45 * (1 + Math.cos(Math.PI * t)), cos.lr(step), 1e-6, "cosine at " + step);
        }
        assertEquals(0.55f, cos.lr(6), 1e-6f);
        assertEquals(0.1f, cos.lr(50), 1e-7f, "after the end the schedule stays at the minimum");

        assertThrows(IllegalArgumentException.class, () -> LrSchedule.step(0.1f, 0, 0.5f));
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.cosine(0.1f, 0, 0, 0f));
    }
}
