package org.attnface.engine.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import org.attnface.engine.backend.Rng;
import org.attnface.engine.backend.AugmentSpec;

/**
 * uint8 HWC images -> normalised float NCHW batch, with the training augmentations.
 * Draws per image b: u(b*8+0) crop row, u(b*8+1) crop column, u(b*8+2) flip,
 * u(b*8+3) brightness, u(b*8+4) contrast. The CUDA kernel makes the same draws.
 */
final class Augment {
    private Augment() {}

    static void batch(CpuBackend be, MemorySegment hwc, int count, int h, int w, int[] index, AugmentSpec spec, long seed,
                      float[] out, int outOffset, int[] outShape) {
        int oh = spec.outHeight(), ow = spec.outWidth();
        if (outShape.length != 4 || outShape[0] != index.length || outShape[1] != 3 || outShape[2] != oh || outShape[3] != ow)
            throw new IllegalArgumentException("augmentImages: output " + java.util.Arrays.toString(outShape)
                    + " is not [" + index.length + ", 3, " + oh + ", " + ow + "]");
        if (oh > h || ow > w)
            throw new IllegalArgumentException("augmentImages: crop " + oh + "x" + ow + " larger than stored images " + h + "x" + w);
        for (int idx : index)
            if (idx < 0 || idx >= count) throw new IndexOutOfBoundsException("augmentImages: image " + idx + " of " + count);
        be.team().range(index.length, 1, (lo, hi, chunk) -> {
            for (int b = lo; b < hi; b++) one(hwc, h, w, index[b], spec, seed, b, out, outOffset + b * 3 * oh * ow);
        });
    }

    private static void one(MemorySegment hwc, int h, int w, int img, AugmentSpec spec, long seed, int b, float[] out, int at) {
        int oh = spec.outHeight(), ow = spec.outWidth();
        int oy = (h - oh) / 2, ox = (w - ow) / 2;
        boolean flip = false;
        float brightness = 1f, contrast = 1f;
        if (spec.train()) {
            long base = (long) b * 8;
            oy = Math.min(h - oh, (int) (Rng.uniform(seed, base) * (h - oh + 1)));
            ox = Math.min(w - ow, (int) (Rng.uniform(seed, base + 1) * (w - ow + 1)));
            flip = Rng.uniform(seed, base + 2) < 0.5f;
            brightness = 1f + spec.jitter() * (2f * Rng.uniform(seed, base + 3) - 1f);
            contrast = 1f + spec.jitter() * (2f * Rng.uniform(seed, base + 4) - 1f);
        }
        long src = (long) img * h * w * 3;
        float[] mean = spec.mean(), std = spec.std();
        for (int c = 0; c < 3; c++) {
            float m = mean[c], inv = 1f / std[c];
            int plane = at + c * oh * ow;
            for (int y = 0; y < oh; y++) {
                for (int x = 0; x < ow; x++) {
                    int sx = flip ? ox + ow - 1 - x : ox + x;
                    float v = (hwc.get(ValueLayout.JAVA_BYTE, src + ((long) (oy + y) * w + sx) * 3 + c) & 0xFF) * (1f / 255f);
                    v = Math.min(1f, Math.max(0f, ((v - 0.5f) * contrast + 0.5f) * brightness));
                    out[plane + y * ow + x] = (v - m) * inv;
                }
            }
        }
    }
}
