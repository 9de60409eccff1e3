package org.attnface.engine.backend;

/**
 * How a batch is cut from stored images. {@code train} enables the random crop, the flip and
 * the colour jitter; {@code jitter} is the largest relative change of brightness and
 * contrast (0.1 = up to 10%). mean and std are per RGB channel on the 0..1 scale.
 */
public record AugmentSpec(int outHeight, int outWidth, boolean train, float jitter, float[] mean, float[] std) {
    public AugmentSpec {
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("mean and std need 3 channels");
    }

    /** Faces are normalised with ImageNet's statistics, as the PyTorch reference does. */
    public static AugmentSpec of(int size, boolean train) {
        return new AugmentSpec(size, size, train, train ? 0.1f : 0f,
                new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f});
    }
}
