package org.attnface.engine.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.attnface.engine.Autograd;
import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.junit.jupiter.api.Test;

/**
 * BatchNorm2d's running statistics follow PyTorch's update rule
 * (running = (1 - momentum) * running + momentum * batch, with the UNBIASED batch variance
 * for running_var), and eval mode normalises with them and leaves them alone.
 */
class BatchNormStatsTest {
    static final int N = 2, C = 5, H = 7, W = 3, HW = H * W;

    private static float[] batch(Random r, float shift, float spread) {
        float[] x = new float[N * C * HW];
        for (int i = 0; i < x.length; i++) x[i] = shift + spread * (float) r.nextGaussian() + (i / HW) % C;
        return x;
    }

    /** {mean, unbiased variance} of channel ch in float64. */
    private static double[] stats(float[] x, int ch) {
        double sum = 0;
        for (int i = 0; i < N; i++) for (int j = 0; j < HW; j++) sum += x[(i * C + ch) * HW + j];
        double mean = sum / (N * HW), ss = 0;
        for (int i = 0; i < N; i++)
            for (int j = 0; j < HW; j++) {
                double d = x[(i * C + ch) * HW + j] - mean;
                ss += d * d;
            }
        return new double[] {mean, ss / (N * HW - 1)};
    }

    @Test
    void runningStatisticsUseTheUnbiasedVarianceAndEvalUsesThem() throws Exception {
        BatchNorm2d bn = new BatchNorm2d(Device.CPU, C);
        bn.initialize(3);
        Random r = new Random(5);
        float[] gamma = {0.5f, 1f, 1.5f, -1f, 2f}, beta = {0f, 0.1f, -0.2f, 0.3f, 1f};
        bn.weight.copyFrom(gamma);
        bn.bias.copyFrom(beta);
        double[] rm = new double[C], rv = new double[C];
        java.util.Arrays.fill(rv, 1);
        bn.train();
        for (int step = 0; step < 3; step++) {
            float[] x = batch(r, 2f * step, 1f + step);
            bn.forward(Tensor.of(x, N, C, H, W));
            for (int ch = 0; ch < C; ch++) {
                double[] s = stats(x, ch);
                rm[ch] = 0.9 * rm[ch] + 0.1 * s[0];
                rv[ch] = 0.9 * rv[ch] + 0.1 * s[1];
            }
            // float32 running stats after 3 updates of values ~10: relative error ~1e-6
            float[] gotMean = bn.runningMean.toArray(), gotVar = bn.runningVar.toArray();
            for (int ch = 0; ch < C; ch++) {
                assertEquals(rm[ch], gotMean[ch], 1e-5 * (1 + Math.abs(rm[ch])), "running_mean[" + ch + "] after step " + step);
                assertEquals(rv[ch], gotVar[ch], 1e-5 * (1 + Math.abs(rv[ch])), "running_var[" + ch + "] after step " + step);
            }
        }

        bn.eval();
        float[] x = batch(r, -1f, 3f);
        float[] before = bn.runningMean.toArray(), beforeVar = bn.runningVar.toArray();
        float[] y;
        try (AutoCloseable ignored = Autograd.noGrad()) {
            y = bn.forward(Tensor.of(x, N, C, H, W)).toArray();
        }
        for (int i = 0; i < x.length; i++) {
            int ch = (i / HW) % C;
            double expected = (x[i] - rm[ch]) / Math.sqrt(rv[ch] + 1e-5) * gamma[ch] + beta[ch];
            assertEquals(expected, y[i], 1e-5 * (1 + Math.abs(expected)), "eval output " + i);
        }
        assertArrayEquals(before, bn.runningMean.toArray(), "eval must not update running_mean");
        assertArrayEquals(beforeVar, bn.runningVar.toArray(), "eval must not update running_var");
    }
}
