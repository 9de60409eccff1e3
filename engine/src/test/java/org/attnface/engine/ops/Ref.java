package org.attnface.engine.ops;

/**
 * Float64 references of the ops, written as plain loops straight from their definitions
 * (PyTorch's semantics), for the gradient checks. Slow and obvious on purpose.
 */
final class Ref {
    private Ref() {}

    /** numpy broadcasting of a binary function over two flat arrays. */
    static double[] broadcast(double[] a, int[] sa, double[] b, int[] sb, int[] out, java.util.function.DoubleBinaryOperator f) {
        int n = GradCheck.numel(out);
        double[] y = new double[n];
        int r = out.length;
        for (int i = 0; i < n; i++) {
            int rem = i, ia = 0, ib = 0, strideA = 1, strideB = 1;
            for (int d = r - 1; d >= 0; d--) {
                int idx = rem % out[d];
                rem /= out[d];
                int da = d - (r - sa.length), db = d - (r - sb.length);
                if (da >= 0) {
                    if (sa[da] != 1) ia += idx * strideA;
                    strideA *= sa[da];
                }
                if (db >= 0) {
                    if (sb[db] != 1) ib += idx * strideB;
                    strideB *= sb[db];
                }
            }
            y[i] = f.applyAsDouble(a[ia], b[ib]);
        }
        return y;
    }

    /** x [n,in] W[out,in]^T + b. */
    static double[] linear(double[] x, double[] w, double[] b, int n, int in, int out) {
        double[] y = new double[n * out];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int k = 0; k < in; k++) s += x[i * in + k] * w[o * in + k];
                y[i * out + o] = s;
            }
        return y;
    }

    static double[] matmul(double[] a, double[] b, int m, int k, int n) {
        double[] c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int l = 0; l < k; l++) s += a[i * k + l] * b[l * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    /** Cross-correlation with zero padding, as torch.nn.functional.conv2d. */
    static double[] conv2d(double[] x, double[] w, double[] b, int n, int c, int h, int wd, int k, int r, int s, int stride, int pad) {
        int p = (h + 2 * pad - r) / stride + 1, q = (wd + 2 * pad - s) / stride + 1;
        double[] y = new double[n * k * p * q];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < k; o++)
                for (int oy = 0; oy < p; oy++)
                    for (int ox = 0; ox < q; ox++) {
                        double sum = b == null ? 0 : b[o];
                        for (int ch = 0; ch < c; ch++)
                            for (int ky = 0; ky < r; ky++)
                                for (int kx = 0; kx < s; kx++) {
                                    int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    sum += x[((i * c + ch) * h + iy) * wd + ix] * w[((o * c + ch) * r + ky) * s + kx];
                                }
                        y[((i * k + o) * p + oy) * q + ox] = sum;
                    }
        return y;
    }

    /** Training-mode batch norm: batch mean and biased batch variance per channel. */
    static double[] batchNormTrain(double[] x, double[] gamma, double[] beta, int n, int c, int hw, double eps) {
        double[] y = new double[x.length];
        for (int ch = 0; ch < c; ch++) {
            double[] mv = channelMeanVar(x, n, c, hw, ch);
            double inv = 1 / Math.sqrt(mv[1] + eps);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < hw; j++) {
                    int at = (i * c + ch) * hw + j;
                    y[at] = (x[at] - mv[0]) * inv * gamma[ch] + beta[ch];
                }
        }
        return y;
    }

    /** {mean, biased variance, unbiased variance} of one channel. */
    static double[] channelMeanVar(double[] x, int n, int c, int hw, int ch) {
        double sum = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) sum += x[(i * c + ch) * hw + j];
        int m = n * hw;
        double mean = sum / m, ss = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < hw; j++) {
                double d = x[(i * c + ch) * hw + j] - mean;
                ss += d * d;
            }
        return new double[] {mean, ss / m, ss / (m - 1)};
    }

    /** Max or average (count_include_pad = true, PyTorch's default) pooling; padding never wins a max. */
    static double[] pool(double[] x, int n, int c, int h, int w, int kh, int kw, int stride, int pad, boolean max) {
        int p = (h + 2 * pad - kh) / stride + 1, q = (w + 2 * pad - kw) / stride + 1;
        double[] y = new double[n * c * p * q];
        for (int plane = 0; plane < n * c; plane++)
            for (int oy = 0; oy < p; oy++)
                for (int ox = 0; ox < q; ox++) {
                    double acc = max ? Double.NEGATIVE_INFINITY : 0;
                    for (int ky = 0; ky < kh; ky++)
                        for (int kx = 0; kx < kw; kx++) {
                            int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            double v = x[(plane * h + iy) * w + ix];
                            acc = max ? Math.max(acc, v) : acc + v;
                        }
                    y[(plane * p + oy) * q + ox] = max ? acc : acc / (kh * kw);
                }
        return y;
    }

    static double[] softmax(double[] x, int n, int c, boolean log) {
        double[] y = new double[x.length];
        for (int i = 0; i < n; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) max = Math.max(max, x[i * c + j]);
            double sum = 0;
            for (int j = 0; j < c; j++) sum += Math.exp(x[i * c + j] - max);
            for (int j = 0; j < c; j++) {
                double ls = x[i * c + j] - max - Math.log(sum);
                y[i * c + j] = log ? ls : Math.exp(ls);
            }
        }
        return y;
    }

    /** mean_i -log softmax(x_i)[label_i]. */
    static double crossEntropy(double[] x, double[] labels, int n, int c) {
        double[] ls = softmax(x, n, c, true);
        double total = 0;
        for (int i = 0; i < n; i++) total -= ls[i * c + (int) labels[i]];
        return total / n;
    }

    /** mean_i sum_k softmax(x_i)[k] |k - label_i|. */
    static double expectedDistance(double[] x, double[] labels, int n, int c) {
        double[] p = softmax(x, n, c, false);
        double total = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++) total += p[i * c + k] * Math.abs(k - labels[i]);
        return total / n;
    }

    /** torch.nn.functional.affine_grid with align_corners = false: [n,2,3] -> [n,h,w,2]. */
    static double[] affineGrid(double[] theta, int n, int h, int w) {
        double[] g = new double[n * h * w * 2];
        for (int i = 0; i < n; i++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    double nx = (2.0 * x + 1) / w - 1, ny = (2.0 * y + 1) / h - 1;
                    int at = ((i * h + y) * w + x) * 2;
                    double[] t = java.util.Arrays.copyOfRange(theta, i * 6, i * 6 + 6);
                    g[at] = t[0] * nx + t[1] * ny + t[2];
                    g[at + 1] = t[3] * nx + t[4] * ny + t[5];
                }
        return g;
    }

    /** torch.nn.functional.grid_sample, bilinear, zero padding, align_corners = false. */
    static double[] gridSample(double[] x, double[] grid, int n, int c, int h, int w, int p, int q) {
        double[] y = new double[n * c * p * q];
        for (int i = 0; i < n; i++)
            for (int at = 0; at < p * q; at++) {
                double gx = grid[(i * p * q + at) * 2], gy = grid[(i * p * q + at) * 2 + 1];
                double ix = ((gx + 1) * w - 1) / 2, iy = ((gy + 1) * h - 1) / 2;
                int x0 = (int) Math.floor(ix), y0 = (int) Math.floor(iy);
                double fx = ix - x0, fy = iy - y0;
                for (int ch = 0; ch < c; ch++) {
                    double v = 0;
                    for (int dy = 0; dy <= 1; dy++)
                        for (int dx = 0; dx <= 1; dx++) {
                            int yy = y0 + dy, xx = x0 + dx;
                            if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                            double wgt = (dy == 0 ? 1 - fy : fy) * (dx == 0 ? 1 - fx : fx);
                            v += wgt * x[((i * c + ch) * h + yy) * w + xx];
                        }
                    y[(i * c + ch) * p * q + at] = v;
                }
            }
        return y;
    }
}
