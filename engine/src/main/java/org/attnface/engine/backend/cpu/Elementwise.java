package org.attnface.engine.backend.cpu;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import org.attnface.engine.Tensor;
import org.attnface.engine.backend.BinaryOp;

/** Elementwise loops with numpy broadcasting; bandwidth-bound, so the work is in not re-reading memory. */
final class Elementwise {
    private Elementwise() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    /**
     * Strides (in elements) for reading {@code in} while walking {@code out}'s index space:
     * 0 along broadcast dimensions. Fails with both shapes named when they do not broadcast.
     */
    static int[] broadcastStrides(int[] in, int[] out, String op) {
        int r = out.length;
        int[] strides = new int[r];
        if (in.length > r) throw new IllegalArgumentException(op + ": " + Arrays.toString(in) + " does not broadcast to " + Arrays.toString(out));
        int stride = 1;
        for (int d = r - 1; d >= 0; d--) {
            int id = d - (r - in.length);
            if (id < 0) { strides[d] = 0; continue; }
            if (in[id] == out[d]) strides[d] = in[id] == 1 ? 0 : stride;
            else if (in[id] == 1) strides[d] = 0;
            else throw new IllegalArgumentException(op + ": " + Arrays.toString(in) + " does not broadcast to " + Arrays.toString(out));
            stride *= in[id];
        }
        return strides;
    }

    static void binary(CpuBackend be, BinaryOp op, Tensor x, Tensor y, Tensor out) {
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y), oa = CpuBackend.a(out);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), oo = CpuBackend.o(out);
        int[] os = out.shape();
        int n = out.size();
        if (x.numel() == n && y.numel() == n && x.sameShape(out) && y.sameShape(out)) {
            be.team().range(n, 1 << 15, (lo, hi, c) -> flat(op, xa, xo + lo, ya, yo + lo, oa, oo + lo, hi - lo));
            return;
        }
        int[] sx = broadcastStrides(x.shape(), os, op.name().toLowerCase());
        int[] sy = broadcastStrides(y.shape(), os, op.name().toLowerCase());
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

    static void sumTo(Tensor x, Tensor out) {
        float[] xa = CpuBackend.a(x), oa = CpuBackend.a(out);
        int xo = CpuBackend.o(x), oo = CpuBackend.o(out);
        int[] xs = x.shape();
        int[] so = broadcastStrides(out.shape(), xs, "sumTo");
        Arrays.fill(oa, oo, oo + out.size(), 0f);
        int r = xs.length;
        int inner = r == 0 ? 1 : xs[r - 1];
        int io = r == 0 ? 0 : so[r - 1];
        int outer = x.size() / inner;
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
}
