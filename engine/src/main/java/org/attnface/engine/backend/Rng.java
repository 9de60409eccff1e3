package org.attnface.engine.backend;

/**
 * Counter-based random numbers: the value for (seed, counter) is a pure function, so a
 * dropout mask or a crop offset needs no stored state, is the same on every thread count,
 * and the CUDA kernels (kernels/src/main/cuda/common.cuh, attnface_hash) draw the very
 * same numbers. The mixer is SplitMix64's finaliser (Steele, Lea, Flood 2014), which
 * passes BigCrush when fed a Weyl sequence as here.
 */
public final class Rng {
    private Rng() {}

    public static long mix(long seed, long counter) {
        long z = seed + (counter + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Uniform in [0, 1) with 24 random bits: exactly representable in float32. */
    public static float uniform(long seed, long counter) {
        return (mix(seed, counter) >>> 40) * 0x1.0p-24f;
    }

    /** A seed for a sub-stream (layer, step) derived from a parent seed. */
    public static long derive(long seed, long stream) {
        return mix(seed ^ 0x5DEECE66DL, stream);
    }
}
