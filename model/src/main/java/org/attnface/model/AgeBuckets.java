package org.attnface.model;

import java.util.Arrays;
import java.util.StringJoiner;

import org.attnface.engine.io.Json;

/**
 * Age ranges as class labels: bucket b holds ages [lowerBounds[b], lowerBounds[b+1]), the last
 * bucket is open ("70+"). The default is decades capped at 70+: 8 buckets.
 *
 * @param lowerBounds first age of each bucket, starting at 0, strictly increasing
 */
public record AgeBuckets(int[] lowerBounds) {

    /** The largest bucket bound accepted (UTKFace's oldest face is 116); also caps the bucket count at 151. */
    public static final int MAX_AGE = 150;

    public AgeBuckets {
        if (lowerBounds == null || lowerBounds.length < 2)
            throw new IllegalArgumentException("age buckets need at least 2 lower bounds, got "
                    + (lowerBounds == null ? "none" : Arrays.toString(lowerBounds)));
        if (lowerBounds[0] != 0)
            throw new IllegalArgumentException("age buckets must start at 0, got " + Arrays.toString(lowerBounds));
        for (int i = 1; i < lowerBounds.length; i++)
            if (lowerBounds[i] <= lowerBounds[i - 1])
                throw new IllegalArgumentException("age bucket bounds must increase strictly, got " + Arrays.toString(lowerBounds));
        if (lowerBounds[lowerBounds.length - 1] > MAX_AGE)
            throw new IllegalArgumentException("age bucket bounds must be at most " + MAX_AGE + ", got " + lowerBounds[lowerBounds.length - 1]);
        lowerBounds = lowerBounds.clone();
    }

    /** 0-9, 10-19, ..., 60-69, 70+. */
    public static AgeBuckets decades() {
        return new AgeBuckets(new int[] {0, 10, 20, 30, 40, 50, 60, 70});
    }

    /** Parses a spec such as "0,10,20,30,40,50,60,70" (the form {@link #spec()} writes). */
    public static AgeBuckets parse(String spec) {
        if (spec == null || spec.isBlank()) throw new IllegalArgumentException("empty age bucket spec");
        String[] parts = spec.split(",");
        int[] bounds = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                bounds[i] = Integer.parseInt(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("age bucket spec '" + Json.shown(spec)
                        + "': '" + parts[i].trim() + "' is not an integer age");
            }
        }
        return new AgeBuckets(bounds);
    }

    @Override public int[] lowerBounds() { return lowerBounds.clone(); }

    /** "0,10,20,30,40,50,60,70". */
    public String spec() {
        StringJoiner j = new StringJoiner(",");
        for (int b : lowerBounds) j.add(Integer.toString(b));
        return j.toString();
    }

    public int count() { return lowerBounds.length; }

    /** The bucket holding {@code age} (ages past the last bound go to the last bucket). */
    public int bucketOf(int age) {
        if (age < 0) throw new IllegalArgumentException("negative age " + age);
        int b = 0;
        while (b + 1 < lowerBounds.length && age >= lowerBounds[b + 1]) b++;
        return b;
    }

    /** "20-29", or "70+" for the last bucket. */
    public String label(int b) {
        check(b);
        if (b == lowerBounds.length - 1) return lowerBounds[b] + "+";
        return lowerBounds[b] + "-" + (lowerBounds[b + 1] - 1);
    }

    /**
     * The age a bucket stands for when an age is estimated from the bucket distribution (MAE):
     * the middle of [lo, hi+1), e.g. 25 for "20-29"; the open last bucket uses the width of the
     * one before it (75 for "70+").
     */
    public float centre(int b) {
        check(b);
        int last = lowerBounds.length - 1;
        int width = b < last ? lowerBounds[b + 1] - lowerBounds[b] : lowerBounds[last] - lowerBounds[last - 1];
        return lowerBounds[b] + width / 2f;
    }

    private void check(int b) {
        if (b < 0 || b >= lowerBounds.length)
            throw new IndexOutOfBoundsException("age bucket " + b + " of " + lowerBounds.length + " (" + spec() + ")");
    }

    @Override public boolean equals(Object o) {
        return o instanceof AgeBuckets other && Arrays.equals(lowerBounds, other.lowerBounds);
    }

    @Override public int hashCode() { return Arrays.hashCode(lowerBounds); }

    @Override public String toString() { return "AgeBuckets[" + spec() + "]"; }
}
