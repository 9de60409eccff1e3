package org.attnface.engine.nn;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.Tensor;

/** Seeded weight initialisers (same numbers on every device and thread count). */
public final class Init {
    private Init() {}

    /** U(-bound, bound). */
    public static void uniform(Tensor t, float bound, long seed) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) v[i] = (2f * Rng.uniform(seed, i) - 1f) * bound;
        t.copyFrom(v);
    }

    /** N(0, std^2) by Box-Muller on the counter-based generator. */
    public static void normal(Tensor t, float std, long seed) {
        float[] v = new float[t.size()];
        for (int i = 0; i < v.length; i++) {
            double u1 = (Rng.mix(seed, 2L * i) >>> 11) * 0x1.0p-53, u2 = (Rng.mix(seed, 2L * i + 1) >>> 11) * 0x1.0p-53;
            v[i] = (float) (std * Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2));
        }
        t.copyFrom(v);
    }

    /** He et al. 2015, fan-out mode with ReLU gain (torchvision's ResNet convolutions). */
    public static void kaimingNormalFanOut(Tensor w, long seed) {
        int[] s = w.shape();
        long receptive = s.length > 2 ? w.numel() / ((long) s[0] * s[1]) : 1;
        normal(w, (float) Math.sqrt(2.0 / (s[0] * receptive)), seed);
    }

    /** PyTorch's default for Conv2d and Linear (kaiming_uniform with a = sqrt(5)): U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
    public static void defaultUniform(Tensor w, long seed) {
        uniform(w, (float) (1 / Math.sqrt(w.numel() / w.dim(0))), seed);
    }

    public static void fill(Tensor t, float value) { t.backend().fill(t, value); }
}
