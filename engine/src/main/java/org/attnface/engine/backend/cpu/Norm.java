package org.attnface.engine.backend.cpu;

import org.attnface.engine.Tensor;

/** Batch normalisation over (n, h, w) per channel; one channel per task, double accumulators. */
final class Norm {
    private Norm() {}

    private static int[] nchw(Tensor x) {
        int[] s = x.shape();
        if (s.length == 4) return s;
        if (s.length == 2) return new int[] {s[0], s[1], 1, 1};
        throw new IllegalArgumentException("batch norm expects [n,c,h,w] or [n,c], got " + x.describe());
    }

    static void train(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                      float momentum, float eps, Tensor y, Tensor saveMean, Tensor saveInvStd) {
        int[] s = nchw(x);
        int n = s[0], c = s[1], hw = s[2] * s[3];
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y), ga = CpuBackend.a(gamma), ba = CpuBackend.a(beta);
        float[] rm = CpuBackend.a(runningMean), rv = CpuBackend.a(runningVar), sm = CpuBackend.a(saveMean), si = CpuBackend.a(saveInvStd);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), go = CpuBackend.o(gamma), bo = CpuBackend.o(beta);
        int rmo = CpuBackend.o(runningMean), rvo = CpuBackend.o(runningVar), smo = CpuBackend.o(saveMean), sio = CpuBackend.o(saveInvStd);
        long m = (long) n * hw;
        be.team().range(c, 1, (lo, hi, chunk) -> {
            for (int ch = lo; ch < hi; ch++) {
                double sum = 0;
                for (int i = 0; i < n; i++) {
                    int base = xo + (i * c + ch) * hw;
                    for (int j = 0; j < hw; j++) sum += xa[base + j];
                }
                double mean = sum / m, ss = 0;
                for (int i = 0; i < n; i++) {
                    int base = xo + (i * c + ch) * hw;
                    for (int j = 0; j < hw; j++) {
                        double d = xa[base + j] - mean;
                        ss += d * d;
                    }
                }
                double var = ss / m;
                float inv = (float) (1.0 / Math.sqrt(var + eps));
                float scale = ga[go + ch] * inv, shift = ba[bo + ch] - (float) mean * scale;
                for (int i = 0; i < n; i++) {
                    int xb = xo + (i * c + ch) * hw, yb = yo + (i * c + ch) * hw;
                    for (int j = 0; j < hw; j++) ya[yb + j] = xa[xb + j] * scale + shift;
                }
                sm[smo + ch] = (float) mean;
                si[sio + ch] = inv;
                double unbiased = m > 1 ? ss / (m - 1) : var;
                rm[rmo + ch] = (1 - momentum) * rm[rmo + ch] + momentum * (float) mean;
                rv[rvo + ch] = (1 - momentum) * rv[rvo + ch] + momentum * (float) unbiased;
            }
        });
    }

    static void infer(CpuBackend be, Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps, Tensor y) {
        int[] s = nchw(x);
        int n = s[0], c = s[1], hw = s[2] * s[3];
        float[] xa = CpuBackend.a(x), ya = CpuBackend.a(y), ga = CpuBackend.a(gamma), ba = CpuBackend.a(beta);
        float[] rm = CpuBackend.a(runningMean), rv = CpuBackend.a(runningVar);
        int xo = CpuBackend.o(x), yo = CpuBackend.o(y), go = CpuBackend.o(gamma), bo = CpuBackend.o(beta);
        int rmo = CpuBackend.o(runningMean), rvo = CpuBackend.o(runningVar);
        be.team().range(n * c, Math.max(1, 4096 / hw), (lo, hi, chunk) -> {
            for (int row = lo; row < hi; row++) {
                int ch = row % c;
                float scale = ga[go + ch] / (float) Math.sqrt(rv[rvo + ch] + eps);
                float shift = ba[bo + ch] - rm[rmo + ch] * scale;
                int xb = xo + row * hw, yb = yo + row * hw;
                for (int j = 0; j < hw; j++) ya[yb + j] = xa[xb + j] * scale + shift;
            }
        });
    }

    static void backward(CpuBackend be, Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd,
                         Tensor dx, Tensor dgamma, Tensor dbeta) {
        int[] s = nchw(x);
        int n = s[0], c = s[1], hw = s[2] * s[3];
        float[] xa = CpuBackend.a(x), ga = CpuBackend.a(dy), gm = CpuBackend.a(gamma), sm = CpuBackend.a(saveMean), si = CpuBackend.a(saveInvStd);
        float[] da = CpuBackend.a(dx), dga = CpuBackend.a(dgamma), dba = CpuBackend.a(dbeta);
        int xo = CpuBackend.o(x), go = CpuBackend.o(dy), gmo = CpuBackend.o(gamma), smo = CpuBackend.o(saveMean), sio = CpuBackend.o(saveInvStd);
        int dxo = CpuBackend.o(dx), dgo = CpuBackend.o(dgamma), dbo = CpuBackend.o(dbeta);
        long m = (long) n * hw;
        be.team().range(c, 1, (lo, hi, chunk) -> {
            for (int ch = lo; ch < hi; ch++) {
                float mean = sm[smo + ch], inv = si[sio + ch];
                double sdy = 0, sdyx = 0;
                for (int i = 0; i < n; i++) {
                    int xb = xo + (i * c + ch) * hw, gb = go + (i * c + ch) * hw;
                    for (int j = 0; j < hw; j++) {
                        float g = ga[gb + j];
                        sdy += g;
                        sdyx += g * (xa[xb + j] - mean);
                    }
                }
                float dbet = (float) sdy, dgam = (float) (sdyx * inv);
                dba[dbo + ch] = dbet;
                dga[dgo + ch] = dgam;
                // dx = gamma * inv / m * (m * dy - dbeta - xhat * dgamma)
                float k = gm[gmo + ch] * inv / m;
                for (int i = 0; i < n; i++) {
                    int xb = xo + (i * c + ch) * hw, gb = go + (i * c + ch) * hw, db = dxo + (i * c + ch) * hw;
                    for (int j = 0; j < hw; j++) {
                        float xhat = (xa[xb + j] - mean) * inv;
                        da[db + j] = k * (m * ga[gb + j] - dbet - xhat * dgam);
                    }
                }
            }
        });
    }
}
