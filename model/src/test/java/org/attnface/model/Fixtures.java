package org.attnface.model;

import java.util.Random;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;

/** Seeded random inputs for the model tests. */
final class Fixtures {
    private Fixtures() {}

    /** Images [n, 3, s, s] of N(0, 1) values: the scale of ImageNet-normalised pixels. */
    static Tensor images(long seed, int n, int s) {
        Random r = new Random(seed);
        float[] v = new float[n * 3 * s * s];
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextGaussian();
        return Tensor.of(Device.CPU, v, n, 3, s, s);
    }

    /**
     * Images [n, 3, s, s] that vary smoothly like photographs: per channel, an 8x8 grid of
     * N(0, 1) values bilinearly upsampled. White noise is a poor stand-in for faces when the
     * spatial transformer trains: its gradient with respect to theta is ~20x larger (every
     * sub-pixel shift changes every pixel), and SGD at lr 0.01 throws the transform off.
     */
    static Tensor smoothImages(long seed, int n, int s) {
        Random r = new Random(seed);
        int c = 8;
        float[] v = new float[n * 3 * s * s];
        for (int plane = 0; plane < n * 3; plane++) {
            float[] g = new float[(c + 1) * (c + 1)];
            for (int i = 0; i < g.length; i++) g[i] = (float) r.nextGaussian();
            for (int y = 0; y < s; y++)
                for (int x = 0; x < s; x++) {
                    float fy = y * c / (float) s, fx = x * c / (float) s;
                    int iy = (int) fy, ix = (int) fx;
                    float dy = fy - iy, dx = fx - ix;
                    v[plane * s * s + y * s + x] = (1 - dy) * ((1 - dx) * g[iy * (c + 1) + ix] + dx * g[iy * (c + 1) + ix + 1])
                            + dy * ((1 - dx) * g[(iy + 1) * (c + 1) + ix] + dx * g[(iy + 1) * (c + 1) + ix + 1]);
                }
        }
        return Tensor.of(Device.CPU, v, n, 3, s, s);
    }

    /** n labels in [0, classes), as floats. */
    static Tensor labels(long seed, int n, int classes) {
        Random r = new Random(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(classes);
        return Tensor.of(Device.CPU, v, n);
    }

    static ModelConfig config(String arch, int size) {
        return ModelConfig.defaults(Arch.parse(arch), size);
    }
}
