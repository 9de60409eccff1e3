package org.attnface.engine.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import org.attnface.engine.backend.NormShape;

/**
 * Batch normalisation over (n, h, w) per channel of x [n,c,h,w].
 *
 * <p>The team splits the channels into static chunks; a chunk's channels are one contiguous
 * span of (c1 - c0) * h * w floats in every image, so every pass is a vector loop over that span,
 * whatever the plane size (ResNet's 2x2 planes included). Sums are kept per element of the span
 * in float across the n images (n terms each), then added per channel in double, so a channel's
 * result does not depend on the thread count. Per-channel constants are spread over the span
 * into rows (mean, scale, shift) so the loops need no per-plane bookkeeping.
 *
 * <p>Bytes: training forward reads x three times (sum, squared deviations, apply) and writes y;
 * backward reads x and dy twice and writes dx. All bandwidth-bound.
 */
final class Norm {
    private Norm() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();

    /** Channels per chunk at least: chunks smaller than ~8k floats per image cost more to hand out than they save. */
    private static int grain(int hw) {
        return Math.max(1, 8192 / hw);
    }

    static void train(CpuBackend be, NormShape s, float[] xa, int xo, float[] ga, int go, float[] ba, int bo,
                      float[] rm, int rmo, float[] rv, int rvo, float momentum, float eps,
                      float[] ya, int yo, float[] sm, int smo, float[] si, int sio) {
        int n = s.n(), c = s.c(), hw = s.hw();
        long m = (long) n * hw;
        be.team().range(c, grain(hw), (lo, hi, chunk) -> {
            int span = (hi - lo) * hw;
            float[] buf = be.work(chunk, 3 * span);
            int sum = 0, sq = span, meanRow = 2 * span;
            java.util.Arrays.fill(buf, 0, 2 * span, 0f);
            for (int i = 0; i < n; i++) addInto(xa, xo + (i * c + lo) * hw, buf, sum, span);
            for (int ch = lo; ch < hi; ch++) {
                int at = (ch - lo) * hw;
                float mean = (float) (sumDouble(buf, sum + at, hw) / m);
                java.util.Arrays.fill(buf, meanRow + at, meanRow + at + hw, mean);
                sm[smo + ch] = mean;
            }
            for (int i = 0; i < n; i++) addSquaredDeviation(xa, xo + (i * c + lo) * hw, buf, meanRow, buf, sq, span);
            // The scale and shift rows replace the sums once each channel's sums are read.
            int scaleRow = sum, shiftRow = sq;
            for (int ch = lo; ch < hi; ch++) {
                int at = (ch - lo) * hw;
                double ss = sumDouble(buf, sq + at, hw), var = ss / m;
                float mean = sm[smo + ch];
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                float scale = ga[go + ch] * inv, shift = ba[bo + ch] - mean * scale;
                java.util.Arrays.fill(buf, scaleRow + at, scaleRow + at + hw, scale);
                java.util.Arrays.fill(buf, shiftRow + at, shiftRow + at + hw, shift);
                si[sio + ch] = inv;
                double unbiased = m > 1 ? ss / (m - 1) : var;
                rm[rmo + ch] = (1 - momentum) * rm[rmo + ch] + momentum * mean;
                rv[rvo + ch] = (1 - momentum) * rv[rvo + ch] + momentum * (float) unbiased;
            }
            for (int i = 0; i < n; i++) {
                int at = (i * c + lo) * hw;
                affine(xa, xo + at, buf, scaleRow, buf, shiftRow, ya, yo + at, span);
            }
        });
    }

    static void infer(CpuBackend be, NormShape s, float[] xa, int xo, float[] ga, int go, float[] ba, int bo,
                      float[] rm, int rmo, float[] rv, int rvo, float eps, float[] ya, int yo) {
        int n = s.n(), c = s.c(), hw = s.hw();
        be.team().range(c, grain(hw), (lo, hi, chunk) -> {
            int span = (hi - lo) * hw;
            float[] buf = be.work(chunk, 2 * span);
            for (int ch = lo; ch < hi; ch++) {
                int at = (ch - lo) * hw;
                float scale = ga[go + ch] / (float) Math.sqrt(rv[rvo + ch] + eps);
                float shift = ba[bo + ch] - rm[rmo + ch] * scale;
                java.util.Arrays.fill(buf, at, at + hw, scale);
                java.util.Arrays.fill(buf, span + at, span + at + hw, shift);
            }
            for (int i = 0; i < n; i++) {
                int at = (i * c + lo) * hw;
                affine(xa, xo + at, buf, 0, buf, span, ya, yo + at, span);
            }
        });
    }

    static void backward(CpuBackend be, NormShape s, float[] xa, int xo, float[] ga, int go, float[] gm, int gmo,
                         float[] sm, int smo, float[] si, int sio, float[] da, int dxo, float[] dga, int dgo, float[] dba, int dbo) {
        int n = s.n(), c = s.c(), hw = s.hw();
        long m = (long) n * hw;
        be.team().range(c, grain(hw), (lo, hi, chunk) -> {
            int span = (hi - lo) * hw;
            float[] buf = be.work(chunk, 4 * span);
            int sumDy = 0, sumDyX = span, meanRow = 2 * span, constRow = 3 * span;
            java.util.Arrays.fill(buf, 0, 2 * span, 0f);
            for (int ch = lo; ch < hi; ch++) {
                int at = (ch - lo) * hw;
                java.util.Arrays.fill(buf, meanRow + at, meanRow + at + hw, sm[smo + ch]);
            }
            for (int i = 0; i < n; i++) {
                int at = (i * c + lo) * hw;
                backwardSums(xa, xo + at, ga, go + at, buf, meanRow, buf, sumDy, buf, sumDyX, span);
            }
            // dx = gamma * inv / m * (m * dy - dbeta - xhat * dgamma), xhat = (x - mean) * inv:
            // dx = a * dy + b * (x - mean) + c with a = k m, b = -k inv dgamma, c = -k dbeta.
            int aRow = sumDy, bRow = sumDyX;
            for (int ch = lo; ch < hi; ch++) {
                int at = (ch - lo) * hw;
                float inv = si[sio + ch];
                float dbet = (float) sumDouble(buf, sumDy + at, hw), dgam = (float) (sumDouble(buf, sumDyX + at, hw) * inv);
                dba[dbo + ch] = dbet;
                dga[dgo + ch] = dgam;
                float k = gm[gmo + ch] * inv / m;
                java.util.Arrays.fill(buf, aRow + at, aRow + at + hw, k * m);
                java.util.Arrays.fill(buf, bRow + at, bRow + at + hw, -k * inv * dgam);
                java.util.Arrays.fill(buf, constRow + at, constRow + at + hw, -k * dbet);
            }
            for (int i = 0; i < n; i++) {
                int at = (i * c + lo) * hw;
                backwardApply(xa, xo + at, ga, go + at, buf, meanRow, aRow, bRow, constRow, da, dxo + at, span);
            }
        });
    }

    // ---- vector loops over one span -----------------------------------------------------------

    static void addInto(float[] x, int xo, float[] acc, int ao, int n) {
        int j = 0;
        for (int upper = F.loopBound(n); j < upper; j += L)
            FloatVector.fromArray(F, acc, ao + j).add(FloatVector.fromArray(F, x, xo + j)).intoArray(acc, ao + j);
        for (; j < n; j++) acc[ao + j] += x[xo + j];
    }

    static void addSquaredDeviation(float[] x, int xo, float[] mean, int mo, float[] acc, int ao, int n) {
        int j = 0;
        for (int upper = F.loopBound(n); j < upper; j += L) {
            FloatVector d = FloatVector.fromArray(F, x, xo + j).sub(FloatVector.fromArray(F, mean, mo + j));
            d.fma(d, FloatVector.fromArray(F, acc, ao + j)).intoArray(acc, ao + j);
        }
        for (; j < n; j++) {
            float d = x[xo + j] - mean[mo + j];
            acc[ao + j] = Math.fma(d, d, acc[ao + j]);
        }
    }

    static void affine(float[] x, int xo, float[] scale, int so, float[] shift, int sho, float[] y, int yo, int n) {
        int j = 0;
        for (int upper = F.loopBound(n); j < upper; j += L)
            FloatVector.fromArray(F, x, xo + j).fma(FloatVector.fromArray(F, scale, so + j), FloatVector.fromArray(F, shift, sho + j))
                    .intoArray(y, yo + j);
        for (; j < n; j++) y[yo + j] = Math.fma(x[xo + j], scale[so + j], shift[sho + j]);
    }

    static void backwardSums(float[] x, int xo, float[] dy, int go, float[] mean, int mo, float[] sumDy, int so, float[] sumDyX, int sxo, int n) {
        int j = 0;
        for (int upper = F.loopBound(n); j < upper; j += L) {
            FloatVector g = FloatVector.fromArray(F, dy, go + j);
            FloatVector d = FloatVector.fromArray(F, x, xo + j).sub(FloatVector.fromArray(F, mean, mo + j));
            FloatVector.fromArray(F, sumDy, so + j).add(g).intoArray(sumDy, so + j);
            g.fma(d, FloatVector.fromArray(F, sumDyX, sxo + j)).intoArray(sumDyX, sxo + j);
        }
        for (; j < n; j++) {
            float g = dy[go + j];
            sumDy[so + j] += g;
            sumDyX[sxo + j] = Math.fma(g, x[xo + j] - mean[mo + j], sumDyX[sxo + j]);
        }
    }

    static void backwardApply(float[] x, int xo, float[] dy, int go, float[] rows, int mo, int ao, int bo, int co,
                              float[] dx, int dxo, int n) {
        int j = 0;
        for (int upper = F.loopBound(n); j < upper; j += L) {
            FloatVector d = FloatVector.fromArray(F, x, xo + j).sub(FloatVector.fromArray(F, rows, mo + j));
            FloatVector t = d.fma(FloatVector.fromArray(F, rows, bo + j), FloatVector.fromArray(F, rows, co + j));
            FloatVector.fromArray(F, dy, go + j).fma(FloatVector.fromArray(F, rows, ao + j), t).intoArray(dx, dxo + j);
        }
        for (; j < n; j++) {
            float t = Math.fma(x[xo + j] - rows[mo + j], rows[bo + j], rows[co + j]);
            dx[dxo + j] = Math.fma(dy[go + j], rows[ao + j], t);
        }
    }

    /** Sum in double with four accumulators (the adds would otherwise wait on each other). */
    static double sumDouble(float[] a, int off, int n) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            s0 += a[off + j];
            s1 += a[off + j + 1];
            s2 += a[off + j + 2];
            s3 += a[off + j + 3];
        }
        for (; j < n; j++) s0 += a[off + j];
        return (s0 + s1) + (s2 + s3);
    }
}
