package org.attnface.engine.backend.cpu;

import java.util.Random;

/** What the CPU kernel tests share: Gaussian inputs and Higham's float32 error factor. */
final class TestFloats {
    private TestFloats() {}

    /** size independent standard normal floats. */
    static float[] random(Random rnd, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = (float) rnd.nextGaussian();
        return v;
    }

    /** gamma_n = n u / (1 - n u), u the float32 unit roundoff: a sum of n products errs by at most gamma_n * sum |products|. */
    static double gamma(int n) {
        double u = Math.ulp(1f) / 2;
        return n * u / (1 - n * u);
    }
}
