package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.Broadcast;
import org.attnface.engine.backend.Rng;

/** Elementwise loops with numpy broadcasting; bandwidth-bound, so the work is in not re-reading memory. */
final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /** out = x op y, all of n elements. */
    static void binaryFlat(CpuBackend be, BinaryOp op, float[] xa, int xo, float[] ya, int yo, float[] oa, int oo, int n) {
        be.team().range(n, 1 << 15, (lo, hi, c) -> flat(op, xa, xo + lo, ya, yo + lo, oa, oo + lo, hi - lo));
    }

    /** out = x op y over b's index space, x and y read with b's strides. */
    static void binary(CpuBackend be, BinaryOp op, Broadcast b, float[] xa, int xo, float[] ya, int yo, float[] oa, int oo, int n) {
        int[] os = b.shape(), sx = b.stridesA(), sy = b.stridesB();
        int r = os.length;
        int inner = r == 0 ? 1 : os[r - 1];
        int ix = r == 0 ? 0 : sx[r - 1], iy = r == 0 ? 0 : sy[r - 1];
        int outer = n / inner;
        be.team().range(outer, Math.max(1, (1 << 14) / inner), (lo, hi, c) -> {
            for (int row = lo; row < hi; row++) {
                int offX = xo, offY = yo, rem = row;
                for (int d = r - 2; d >= 0; d--) {
                    int i = rem % os[d];
                    rem /= os[d];
                    offX += i * sx[d];
                    offY += i * sy[d];
                }
                int base = oo + row * inner;
                if (ix == 1 && iy == 1) flat(op, xa, offX, ya, offY, oa, base, inner);
                else if (ix == 1 && iy == 0) rowScalar(op, xa, offX, ya[offY], oa, base, inner);
                else for (int j = 0; j < inner; j++) oa[base + j] = op.apply(xa[offX + j * ix], ya[offY + j * iy]);
            }
        });
    }

    private static void flat(BinaryOp op, float[] x, int xo, float[] y, int yo, float[] out, int oo, int n) {
        int i = 0;
        int upper = F.loopBound(n);
        switch (op) {
            case ADD -> { for (; i < upper; i += F.length()) FloatVector.fromArray(F, x, xo + i).add(FloatVector.fromArray(F, y, yo + i)).intoArray(out, oo + i); }
            case SUB -> { for (; i < upper; i += F.length()) FloatVector.fromArray(F, x, xo + i).sub(FloatVector.fromArray(F, y, yo + i)).intoArray(out, oo + i); }
            case MUL -> { for (; i < upper; i += F.length()) FloatVector.fromArray(F, x, xo + i).mul(FloatVector.fromArray(F, y, yo + i)).intoArray(out, oo + i); }
            case DIV -> { for (; i < upper; i += F.length()) FloatVector.fromArray(F, x, xo + i).div(FloatVector.fromArray(F, y, yo + i)).intoArray(out, oo + i); }
        }
        for (; i < n; i++) out[oo + i] = op.apply(x[xo + i], y[yo + i]);
    }

    private static void rowScalar(BinaryOp op, float[] x, int xo, float s, float[] out, int oo, int n) {
        for (int j = 0; j < n; j++) out[oo + j] = op.apply(x[xo + j], s);
    }

    /** out = x summed over b's summed dimensions (b = Broadcast.sumTo: x's index space, out's strides); xn, on: sizes. */
    static void sumTo(Broadcast b, float[] xa, int xo, int xn, float[] oa, int oo, int on) {
        int[] xs = b.shape(), so = b.stridesA();
        Arrays.fill(oa, oo, oo + on, 0f);
        int r = xs.length;
        int inner = r == 0 ? 1 : xs[r - 1];
        int io = r == 0 ? 0 : so[r - 1];
        int outer = xn / inner;
        for (int row = 0; row < outer; row++) {
            int off = oo, rem = row;
            for (int d = r - 2; d >= 0; d--) {
                int i = rem % xs[d];
                rem /= xs[d];
                off += i * so[d];
            }
            int base = xo + row * inner;
            if (io == 0) {
                float s = 0f;
                for (int j = 0; j < inner; j++) s += xa[base + j];
                oa[off] += s;
            } else {
                for (int j = 0; j < inner; j++) oa[off + j] += xa[base + j];
            }
        }
    }

    static void axpy(float alpha, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        FloatVector va = FloatVector.broadcast(F, alpha);
        for (int upper = F.loopBound(n); i < upper; i += F.length())
            FloatVector.fromArray(F, x, xo + i).fma(va, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] += alpha * x[xo + i];
    }

    static void relu(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += F.length())
            FloatVector.fromArray(F, x, xo + i).max(0f).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = Math.max(x[xo + i], 0f);
    }

    static void reluBackward(float[] y, int yo, float[] dy, int go, float[] dx, int dxo, int n) {
        int i = 0;
        FloatVector zero = FloatVector.zero(F);
        for (int upper = F.loopBound(n); i < upper; i += F.length()) {
            var pos = FloatVector.fromArray(F, y, yo + i).compare(VectorOperators.GT, 0f);
            zero.blend(FloatVector.fromArray(F, dy, go + i), pos).intoArray(dx, dxo + i);
        }
        for (; i < n; i++) dx[dxo + i] = y[yo + i] > 0f ? dy[go + i] : 0f;
    }
    static void scale(float[] x, int xo, float alpha, float[] y, int yo, int n) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += F.length())
            FloatVector.fromArray(F, x, xo + i).mul(alpha).intoArray(y, yo + i);
        for (; i < n; i++) y[yo + i] = alpha * x[xo + i];
    }

    /** Sum of n floats: two vector accumulators (n / 2L terms per lane), lanes added in double. */
    static double sum(float[] x, int xo, int n) {
        int i = 0, l = F.length();
        double s = 0;
        if (n >= 2 * l) {
            FloatVector s0 = FloatVector.zero(F), s1 = FloatVector.zero(F);
            for (int upper = n - 2 * l; i <= upper; i += 2 * l) {
                s0 = s0.add(FloatVector.fromArray(F, x, xo + i));
                s1 = s1.add(FloatVector.fromArray(F, x, xo + i + l));
            }
            FloatVector t = s0.add(s1);
            for (int j = 0; j < l; j++) s += t.lane(j);
        }
        for (; i < n; i++) s += x[xo + i];
        return s;
    }

    /** Infinities and NaNs give NaN when multiplied by zero; finite values give zero. */
    static int countNonFinite(float[] x, int xo, int n) {
        int i = 0, bad = 0;
        for (int upper = F.loopBound(n); i < upper; i += F.length()) {
            FloatVector v = FloatVector.fromArray(F, x, xo + i);
            bad += v.mul(0f).compare(VectorOperators.NE, 0f).trueCount();
        }
        for (; i < n; i++) if (!Float.isFinite(x[xo + i])) bad++;
        return bad;
    }

    /** SGD with momentum and L2 weight decay; lane for lane the same float arithmetic as the scalar tail. */
    static void sgd(float[] p, int po, float[] g, int go, float[] m, int mo, int n, float lr, float momentum, float weightDecay) {
        int i = 0;
        for (int upper = F.loopBound(n); i < upper; i += F.length()) {
            FloatVector pv = FloatVector.fromArray(F, p, po + i);
            FloatVector gi = FloatVector.fromArray(F, g, go + i).add(pv.mul(weightDecay));
            FloatVector mi = FloatVector.fromArray(F, m, mo + i).mul(momentum).add(gi);
            mi.intoArray(m, mo + i);
            pv.sub(mi.mul(lr)).intoArray(p, po + i);
        }
        for (; i < n; i++) {
            float gi = g[go + i] + weightDecay * p[po + i];
            float mi = momentum * m[mo + i] + gi;
            m[mo + i] = mi;
            p[po + i] -= lr * mi;
        }
    }

    /** AdamW (decoupled weight decay: decay = 1 - lr * wd); bc1, bc2 the bias corrections. Same float arithmetic per lane as the tail. */
    static void adamw(float[] p, int po, float[] g, int go, float[] m, int mo, float[] v, int vo, int n,
                      float lr, float beta1, float beta2, float eps, float decay, float bc1, float bc2) {
        int i = 0;
        float c1 = 1 - beta1, c2 = 1 - beta2;
        for (int upper = F.loopBound(n); i < upper; i += F.length()) {
            FloatVector gi = FloatVector.fromArray(F, g, go + i);
            FloatVector mi = FloatVector.fromArray(F, m, mo + i).mul(beta1).add(gi.mul(c1));
            FloatVector vi = FloatVector.fromArray(F, v, vo + i).mul(beta2).add(gi.mul(c2).mul(gi));
            mi.intoArray(m, mo + i);
            vi.intoArray(v, vo + i);
            FloatVector step = mi.div(bc1).mul(lr).div(vi.div(bc2).sqrt().add(eps));
            FloatVector.fromArray(F, p, po + i).mul(decay).sub(step).intoArray(p, po + i);
        }
        for (; i < n; i++) {
            float gi = g[go + i];
            float mi = beta1 * m[mo + i] + c1 * gi;
            float vi = beta2 * v[vo + i] + c2 * gi * gi;
            m[mo + i] = mi;
            v[vo + i] = vi;
            p[po + i] = p[po + i] * decay - lr * (mi / bc1) / ((float) Math.sqrt(vi / bc2) + eps);
        }
    }
    /** Dropout draws: one long lane per element, and a float species with as many lanes for the result. */
    private static final VectorSpecies<Long> LS = LongVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Float> HALF = VectorSpecies.of(float.class, VectorShape.forBitSize(LS.vectorBitSize() / 2));
    private static final long[] LANE_INDEX = new long[LS.length()];
    /**
     * The long multiply and long-to-float conversion are single instructions with AVX-512 (DQ);
     * with AVX2 the JIT leaves them to Java code that allocates (5 MB a call at [64,10,13,13],
     * measured with -XX:UseAVX=2), so narrower machines keep the scalar loop.
     */
    private static final boolean VECTOR_DROPOUT = LS.vectorBitSize() >= 512;

    static {
        for (int i = 0; i < LANE_INDEX.length; i++) LANE_INDEX[i] = i;
    }

    /**
     * y[i] = x[i] / (1 - p) where Rng.uniform(seed, first + i) >= p, else 0: {@link Rng#mix}
     * computed in long lanes (the same SplitMix64 finaliser, so the same mask as the scalar
     * tail and the CUDA kernel), with no branch on the random bit.
     */
    static void dropout(float[] x, int xo, float[] y, int yo, int n, long first, float p, long seed, float keepScale) {
        int i = 0, l = LS.length();
        LongVector lane = LongVector.fromArray(LS, LANE_INDEX, 0);
        for (int upper = VECTOR_DROPOUT ? n - l : -1; i <= upper; i += l) {
            LongVector z = lane.add(first + i + 1).mul(0x9E3779B97F4A7C15L).add(seed);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 30)).mul(0xBF58476D1CE4E5B9L);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 27)).mul(0x94D049BB133111EBL);
            z = z.lanewise(VectorOperators.XOR, z.lanewise(VectorOperators.LSHR, 31));
            FloatVector u = ((FloatVector) z.lanewise(VectorOperators.LSHR, 40).castShape(HALF, 0)).mul(0x1.0p-24f);
            VectorMask<Float> keep = u.compare(VectorOperators.GE, p);
            FloatVector.fromArray(HALF, x, xo + i).mul(keepScale).blend(0f, keep.not()).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] = Rng.uniform(seed, first + i) >= p ? x[xo + i] * keepScale : 0f;
    }
}
