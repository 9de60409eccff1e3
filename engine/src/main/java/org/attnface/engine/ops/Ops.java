package org.attnface.engine.ops;

import java.util.Arrays;

import org.attnface.engine.Autograd;
import org.attnface.engine.Tensor;
import org.attnface.engine.backend.Backend;
import org.attnface.engine.backend.BinaryOp;
import org.attnface.engine.backend.ConvShape;
import org.attnface.engine.backend.PoolShape;

/**
 * Every differentiable op, its forward and, right beside it, its backward (the idea of
 * PyTorch's derivatives.yaml). Each op checks its shapes, calls backend primitives to make
 * its output, and records a closure that turns the output gradient into input gradients.
 * Inputs that need no gradient (images, labels, the first layer's input) cost nothing in
 * the backward.
 */
public final class Ops {
    private Ops() {}

    // ---- elementwise with broadcasting -------------------------------------------------

    public static Tensor add(Tensor a, Tensor b) { return binary(BinaryOp.ADD, "add", a, b); }

    public static Tensor sub(Tensor a, Tensor b) { return binary(BinaryOp.SUB, "sub", a, b); }

    public static Tensor mul(Tensor a, Tensor b) { return binary(BinaryOp.MUL, "mul", a, b); }

    public static Tensor div(Tensor a, Tensor b) { return binary(BinaryOp.DIV, "div", a, b); }

    private static Tensor binary(BinaryOp op, String name, Tensor a, Tensor b) {
        sameDevice(name, a, b);
        Tensor out = Tensor.empty(a.device(), broadcastShape(name, a.shape(), b.shape()));
        a.backend().binary(op, a, b, out);
        Autograd.record(name, out, g -> {
            if (a.requiresGrad()) {
                Tensor ga = switch (op) {
                    case ADD, SUB -> g;
                    case MUL -> product(g, b, out.shape());
                    case DIV -> apply(BinaryOp.DIV, g, b, out.shape());                                // g / b
                };
                a.accumulateGrad(reduceTo(ga, a));
            }
            if (b.requiresGrad()) {
                Tensor gb = switch (op) {
                    case ADD -> g;
                    case SUB -> negate(g);
                    case MUL -> product(g, a, out.shape());
                    case DIV -> negate(apply(BinaryOp.DIV, product(g, out, out.shape()), b, out.shape())); // -g a / b^2 = -g out / b
                };
                b.accumulateGrad(reduceTo(gb, b));
            }
        }, a, b);
        return out;
    }

    private static Tensor product(Tensor g, Tensor other, int[] shape) {
        return apply(BinaryOp.MUL, g, other, shape);
    }

    private static Tensor apply(BinaryOp op, Tensor g, Tensor other, int[] shape) {
        Tensor t = Tensor.empty(g.device(), shape);
        g.backend().binary(op, g, other, t);
        return t;
    }

    private static Tensor negate(Tensor g) {
        Tensor t = Tensor.emptyLike(g);
        g.backend().scale(g, -1f, t);
        return t;
    }

    /** Sums a broadcast gradient back to the shape of the input it came from. */
    private static Tensor reduceTo(Tensor g, Tensor input) {
        if (g.sameShape(input)) return g;
        Tensor t = Tensor.empty(g.device(), input.shape());
        g.backend().sumTo(g, t);
        return t;
    }

    /** numpy broadcasting of two shapes, or an error naming both. */
    public static int[] broadcastShape(String op, int[] a, int[] b) {
        int r = Math.max(a.length, b.length);
        int[] s = new int[r];
        for (int i = 0; i < r; i++) {
            int da = i < r - a.length ? 1 : a[i - (r - a.length)];
            int db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException(op + ": shapes " + Arrays.toString(a) + " and " + Arrays.toString(b) + " do not broadcast");
            s[i] = Math.max(da, db);
        }
        return s;
    }

    /** alpha * x. */
    public static Tensor scale(Tensor x, float alpha) {
        Tensor out = Tensor.emptyLike(x);
        x.backend().scale(x, alpha, out);
        Autograd.record("scale", out, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().scale(g, alpha, gx);
            x.accumulateGrad(gx);
        }, x);
        return out;
    }

    public static Tensor relu(Tensor x) {
        Tensor out = Tensor.emptyLike(x);
        x.backend().relu(x, out);
        Autograd.record("relu", out, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().reluBackward(out, g, gx);
            x.accumulateGrad(gx);
        }, x);
        return out;
    }

    /** Sum of all elements, as a one-element tensor. */
    public static Tensor sum(Tensor x) {
        Tensor out = Tensor.empty(x.device(), 1);
        x.backend().sumAll(x, out);
        Autograd.record("sum", out, g -> x.accumulateGrad(broadcastScalar(g, x, 1f)), x);
        return out;
    }

    /** Mean of all elements. */
    public static Tensor mean(Tensor x) {
        Tensor out = Tensor.empty(x.device(), 1);
        Backend be = x.backend();
        be.sumAll(x, out);
        be.scale(out, 1f / x.numel(), out);
        Autograd.record("mean", out, g -> x.accumulateGrad(broadcastScalar(g, x, 1f / x.numel())), x);
        return out;
    }

    /** A tensor shaped like x filled with alpha * g[0], without reading g on the host. */
    private static Tensor broadcastScalar(Tensor g, Tensor like, float alpha) {
        Tensor ones = Tensor.full(like.device(), 1f, like.shape());
        Tensor out = Tensor.emptyLike(like);
        g.backend().scaleByScalar(ones, g, alpha, out);
        return out;
    }

    /**
     * Concatenates along {@code dim}; all other dimensions must agree. The copy and its
     * backward are row-block copies (copy2d), one per input.
     */
    public static Tensor concat(int dim, Tensor... xs) {
        if (xs.length == 0) throw new IllegalArgumentException("concat: no tensors");
        int[] s0 = xs[0].shape();
        int d = dim < 0 ? s0.length + dim : dim;
        int[] out = s0.clone();
        out[d] = 0;
        for (Tensor x : xs) {
            int[] s = x.shape();
            boolean ok = s.length == s0.length;
            for (int i = 0; ok && i < s.length; i++) ok = i == d || s[i] == s0[i];
            if (!ok) throw new IllegalArgumentException("concat along " + d + ": " + x.describe() + " does not match " + xs[0].describe());
            sameDevice("concat", xs[0], x);
            out[d] += s[d];
        }
        int rows = 1;
        for (int i = 0; i < d; i++) rows *= out[i];
        int in = 1;
        for (int i = d + 1; i < out.length; i++) in *= out[i];
        final int inner = in;
        int outCols = out[d] * inner;
        Tensor y = Tensor.empty(xs[0].device(), out);
        int col = 0;
        int[] starts = new int[xs.length];
        for (int i = 0; i < xs.length; i++) {
            int cols = xs[i].dim(d) * inner;
            starts[i] = col;
            y.backend().copy2d(xs[i], cols, 0, y, outCols, col, rows, cols);
            col += cols;
        }
        int r = rows;
        Autograd.record("concat", y, g -> {
            for (int i = 0; i < xs.length; i++) {
                if (!xs[i].requiresGrad()) continue;
                int cols = xs[i].dim(d) * inner;
                Tensor gi = Tensor.emptyLike(xs[i]);
                g.backend().copy2d(g, outCols, starts[i], gi, cols, 0, r, cols);
                xs[i].accumulateGrad(gi);
            }
        }, xs);
        return y;
    }

    // ---- matrix products ------------------------------------------------------------------

    /** [m,k] x [k,n] -> [m,n]. */
    public static Tensor matmul(Tensor a, Tensor b) {
        if (a.rank() != 2 || b.rank() != 2 || a.dim(1) != b.dim(0))
            throw new IllegalArgumentException("matmul: " + a.describe() + " x " + b.describe() + " (want [m,k] x [k,n])");
        sameDevice("matmul", a, b);
        int m = a.dim(0), k = a.dim(1), n = b.dim(1);
        Tensor c = Tensor.empty(a.device(), m, n);
        a.backend().gemm(false, false, m, n, k, 1f, a, b, 0f, c);
        Autograd.record("matmul", c, g -> {
            if (a.requiresGrad()) {
                Tensor ga = Tensor.emptyLike(a);
                g.backend().gemm(false, true, m, k, n, 1f, g, b, 0f, ga);
                a.accumulateGrad(ga);
            }
            if (b.requiresGrad()) {
                Tensor into = b.leafGrad();  // beta = 1: straight into the flat gradient buffer
                if (into != null) {
                    g.backend().gemm(true, false, k, n, m, 1f, a, g, 1f, into);
                } else {
                    Tensor gb = Tensor.emptyLike(b);
                    g.backend().gemm(true, false, k, n, m, 1f, a, g, 0f, gb);
                    b.accumulateGrad(gb);
                }
            }
        }, a, b);
        return c;
    }

    /** y = x W^T + b with W [out, in] (PyTorch's layout); bias may be null. */
    public static Tensor linear(Tensor x, Tensor w, Tensor bias) {
        if (x.rank() != 2 || w.rank() != 2 || x.dim(1) != w.dim(1))
            throw new IllegalArgumentException("linear: input " + x.describe() + " does not fit weight " + w.describe()
                    + " (want [n, " + (w.rank() == 2 ? w.dim(1) : "?") + "])");
        if (bias != null && bias.numel() != w.dim(0))
            throw new IllegalArgumentException("linear: bias " + bias.describe() + " does not fit weight " + w.describe());
        sameDevice("linear", x, w);
        int n = x.dim(0), in = x.dim(1), outF = w.dim(0);
        Tensor y = Tensor.empty(x.device(), n, outF);
        Backend be = x.backend();
        be.gemm(false, true, n, outF, in, 1f, x, w, 0f, y);
        if (bias != null) be.binary(BinaryOp.ADD, y, bias, y);
        Autograd.record("linear", y, g -> {
            if (x.requiresGrad()) {
                Tensor gx = Tensor.emptyLike(x);
                g.backend().gemm(false, false, n, in, outF, 1f, g, w, 0f, gx);
                x.accumulateGrad(gx);
            }
            if (w.requiresGrad()) {
                Tensor into = w.leafGrad();  // beta = 1: straight into the flat gradient buffer
                if (into != null) {
                    g.backend().gemm(true, false, outF, in, n, 1f, g, x, 1f, into);
                } else {
                    Tensor gw = Tensor.emptyLike(w);
                    g.backend().gemm(true, false, outF, in, n, 1f, g, x, 0f, gw);
                    w.accumulateGrad(gw);
                }
            }
            if (bias != null && bias.requiresGrad()) {
                Tensor gb = Tensor.emptyLike(bias);
                g.backend().sumTo(g, gb.view(1, outF));
                bias.accumulateGrad(gb);
            }
        }, x, w, bias);
        return y;
    }

    // ---- convolution ---------------------------------------------------------------------

    /** 2-D convolution of x [n,c,h,w] with w [k,c,r,s], square stride and zero padding; bias [k] may be null. */
    public static Tensor conv2d(Tensor x, Tensor w, Tensor bias, int stride, int pad) {
        if (x.rank() != 4 || w.rank() != 4 || x.dim(1) != w.dim(1))
            throw new IllegalArgumentException("conv2d: input " + x.describe() + " does not fit weight " + w.describe()
                    + " (want [n, " + (w.rank() == 4 ? w.dim(1) : "?") + ", h, w])");
        if (bias != null && bias.numel() != w.dim(0))
            throw new IllegalArgumentException("conv2d: bias " + bias.describe() + " does not fit weight " + w.describe());
        sameDevice("conv2d", x, w);
        ConvShape cs = new ConvShape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3), stride, pad);
        Tensor y = Tensor.empty(x.device(), cs.n(), cs.k(), cs.p(), cs.q());
        x.backend().conv2dForward(cs, x, w, bias, y);
        Autograd.record("conv2d", y, g -> {
            Backend be = g.backend();
            if (x.requiresGrad()) {
                Tensor gx = Tensor.emptyLike(x);
                be.conv2dBackwardData(cs, g, w, gx);
                x.accumulateGrad(gx);
            }
            if (w.requiresGrad()) {
                Tensor into = w.leafGrad();
                if (into == null || !be.conv2dBackwardFilterAccumulate(cs, x, g, into)) {
                    Tensor gw = Tensor.emptyLike(w);
                    be.conv2dBackwardFilter(cs, x, g, gw);
                    w.accumulateGrad(gw);
                }
            }
            if (bias != null && bias.requiresGrad()) {
                Tensor gb = Tensor.emptyLike(bias);
                be.conv2dBackwardBias(cs, g, gb);
                bias.accumulateGrad(gb);
            }
        }, x, w, bias);
        return y;
    }

    // ---- batch norm ------------------------------------------------------------------------

    /**
     * Batch norm over (n, h, w) per channel of x [n,c,h,w]. In training the batch statistics
     * normalise and the running statistics are updated in place; in evaluation the running
     * statistics normalise.
     */
    public static Tensor batchNorm2d(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                                     boolean training, float momentum, float eps) {
        if (x.rank() != 4 || gamma.numel() != x.dim(1) || beta.numel() != x.dim(1)
                || runningMean.numel() != x.dim(1) || runningVar.numel() != x.dim(1))
            throw new IllegalArgumentException("batchNorm2d: input " + x.describe() + " does not fit " + x.dim(Math.min(1, x.rank() - 1))
                    + "-channel parameters " + gamma.describe());
        Tensor y = Tensor.emptyLike(x);
        Backend be = x.backend();
        if (!training) {
            be.batchNormInfer(x, gamma, beta, runningMean, runningVar, eps, y);
            // In eval mode batch norm is a per-channel affine map with fixed statistics:
            // dx = dy * gamma / sqrt(var + eps), dgamma = sum(dy * xhat), dbeta = sum(dy), all
            // sums over (n, h, w). Grad-CAM differentiates through it. The scalings reuse
            // batchNormInfer (with zero mean/shift, or unit gamma) so every backend has them.
            int ch = x.dim(1);
            Autograd.record("batchNorm2d(eval)", y, g -> {
                Backend gb = g.backend();
                Tensor zeros = Tensor.zeros(x.device(), ch);
                if (x.requiresGrad()) {
                    Tensor gx = Tensor.emptyLike(x);
                    gb.batchNormInfer(g, gamma, zeros, zeros, runningVar, eps, gx);
                    x.accumulateGrad(gx);
                }
                if (gamma.requiresGrad()) {
                    Tensor xhat = Tensor.emptyLike(x);
                    gb.batchNormInfer(x, Tensor.full(x.device(), 1f, ch), zeros, runningMean, runningVar, eps, xhat);
                    gb.binary(BinaryOp.MUL, xhat, g, xhat);
                    Tensor gg = Tensor.empty(x.device(), 1, ch, 1, 1);
                    gb.sumTo(xhat, gg);
                    gamma.accumulateGrad(gg);
                }
                if (beta.requiresGrad()) {
                    Tensor gbeta = Tensor.empty(x.device(), 1, ch, 1, 1);
                    gb.sumTo(g, gbeta);
                    beta.accumulateGrad(gbeta);
                }
            }, x, gamma, beta);
            return y;
        }
        if ((long) x.dim(0) * x.dim(2) * x.dim(3) < 2)
            throw new IllegalArgumentException("batchNorm2d in training needs more than one value per channel, got " + x.describe());
        int c = x.dim(1);
        Tensor saveMean = Tensor.empty(x.device(), c), saveInvStd = Tensor.empty(x.device(), c);
        be.batchNormTrain(x, gamma, beta, runningMean, runningVar, momentum, eps, y, saveMean, saveInvStd);
        Autograd.record("batchNorm2d", y, g -> {
            Tensor gx = Tensor.emptyLike(x), gg = Tensor.emptyLike(gamma), gb = Tensor.emptyLike(beta);
            g.backend().batchNormBackward(x, g, gamma, saveMean, saveInvStd, gx, gg, gb);
            if (x.requiresGrad()) x.accumulateGrad(gx);
            if (gamma.requiresGrad()) gamma.accumulateGrad(gg);
            if (beta.requiresGrad()) beta.accumulateGrad(gb);
        }, x, gamma, beta);
        return y;
    }

    // ---- pooling -------------------------------------------------------------------------

    public static Tensor maxPool2d(Tensor x, int kernel, int stride, int pad) {
        PoolShape ps = pool("maxPool2d", x, kernel, kernel, stride, pad);
        Tensor y = Tensor.empty(x.device(), ps.n(), ps.c(), ps.p(), ps.q());
        x.backend().maxPool2d(ps, x, y);
        Autograd.record("maxPool2d", y, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().maxPool2dBackward(ps, x, y, g, gx);
            x.accumulateGrad(gx);
        }, x);
        return y;
    }

    public static Tensor avgPool2d(Tensor x, int kernel, int stride, int pad) {
        return avgPool(x, kernel, kernel, stride, pad);
    }

    /** Mean over h and w: [n,c,h,w] -> [n,c]. */
    public static Tensor globalAvgPool(Tensor x) {
        if (x.rank() != 4) throw new IllegalArgumentException("globalAvgPool: want [n,c,h,w], got " + x.describe());
        return avgPool(x, x.dim(2), x.dim(3), 1, 0).reshape(x.dim(0), x.dim(1));
    }

    private static Tensor avgPool(Tensor x, int kh, int kw, int stride, int pad) {
        PoolShape ps = pool("avgPool2d", x, kh, kw, stride, pad);
        Tensor y = Tensor.empty(x.device(), ps.n(), ps.c(), ps.p(), ps.q());
        x.backend().avgPool2d(ps, x, y);
        Autograd.record("avgPool2d", y, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().avgPool2dBackward(ps, g, gx);
            x.accumulateGrad(gx);
        }, x);
        return y;
    }

    private static PoolShape pool(String op, Tensor x, int kh, int kw, int stride, int pad) {
        if (x.rank() != 4) throw new IllegalArgumentException(op + ": want [n,c,h,w], got " + x.describe());
        try {
            return new PoolShape(x.dim(0), x.dim(1), x.dim(2), x.dim(3), kh, kw, stride, pad);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op + " on " + x.describe() + ": " + e.getMessage(), e);
        }
    }

    // ---- softmax and losses over [n, classes] ----------------------------------------------

    public static Tensor softmax(Tensor x) {
        rows2d("softmax", x);
        Tensor y = Tensor.emptyLike(x);
        x.backend().softmax(x, y);
        Autograd.record("softmax", y, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().softmaxBackward(y, g, gx);
            x.accumulateGrad(gx);
        }, x);
        return y;
    }

    public static Tensor logSoftmax(Tensor x) {
        rows2d("logSoftmax", x);
        Tensor y = Tensor.emptyLike(x);
        x.backend().logSoftmax(x, y);
        Autograd.record("logSoftmax", y, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().logSoftmaxBackward(y, g, gx);
            x.accumulateGrad(gx);
        }, x);
        return y;
    }

    /** Mean cross-entropy of softmax(logits [n,c]) against class indices [n] (held as floats). */
    public static Tensor crossEntropy(Tensor logits, Tensor labels) {
        checkLabels("crossEntropy", logits, labels);
        Tensor probs = Tensor.emptyLike(logits), loss = Tensor.empty(logits.device(), 1);
        logits.backend().softmaxCrossEntropy(logits, labels, probs, loss);
        Autograd.record("crossEntropy", loss, g -> {
            Tensor gx = Tensor.emptyLike(logits);
            g.backend().softmaxCrossEntropyBackward(probs, labels, g, gx);
            logits.accumulateGrad(gx);
        }, logits);
        return loss;
    }

    /**
     * Mean over rows of E_p[|k - label|] with p = softmax(logits): a differentiable stand-in
     * for the absolute bucket difference of the arg-max (AABD).
     */
    public static Tensor expectedDistance(Tensor logits, Tensor labels) {
        checkLabels("expectedDistance", logits, labels);
        Tensor probs = Tensor.emptyLike(logits), loss = Tensor.empty(logits.device(), 1);
        logits.backend().expectedDistance(logits, labels, probs, loss);
        Autograd.record("expectedDistance", loss, g -> {
            Tensor gx = Tensor.emptyLike(logits);
            g.backend().expectedDistanceBackward(probs, labels, g, gx);
            logits.accumulateGrad(gx);
        }, logits);
        return loss;
    }

    private static void rows2d(String op, Tensor x) {
        if (x.rank() != 2) throw new IllegalArgumentException(op + ": want [n, classes], got " + x.describe());
    }

    private static void checkLabels(String op, Tensor logits, Tensor labels) {
        rows2d(op, logits);
        if (labels.numel() != logits.dim(0))
            throw new IllegalArgumentException(op + ": " + labels.numel() + " labels for logits " + logits.describe());
        sameDevice(op, logits, labels);
    }

    // ---- spatial transformer ----------------------------------------------------------------

    /** theta [n,2,3] -> sampling grid [n,h,w,2] over an h x w output (align_corners = false). */
    public static Tensor affineGrid(Tensor theta, int h, int w) {
        if (theta.numel() % 6 != 0 || theta.dim(0) * 6L != theta.numel())
            throw new IllegalArgumentException("affineGrid: theta " + theta.describe() + " is not [n, 2, 3]");
        int n = theta.dim(0);
        Tensor grid = Tensor.empty(theta.device(), n, h, w, 2);
        theta.backend().affineGrid(theta, grid);
        Autograd.record("affineGrid", grid, g -> {
            Tensor gt = Tensor.emptyLike(theta);
            g.backend().affineGridBackward(g, gt);
            theta.accumulateGrad(gt);
        }, theta);
        return grid;
    }

    /** Bilinear sampling of x [n,c,h,w] at grid [n,p,q,2], zero padding: [n,c,p,q]. */
    public static Tensor gridSample(Tensor x, Tensor grid) {
        if (x.rank() != 4 || grid.rank() != 4 || grid.dim(3) != 2 || grid.dim(0) != x.dim(0))
            throw new IllegalArgumentException("gridSample: input " + x.describe() + " and grid " + grid.describe()
                    + " do not agree (want [n,c,h,w] and [n,p,q,2])");
        sameDevice("gridSample", x, grid);
        Tensor y = Tensor.empty(x.device(), x.dim(0), x.dim(1), grid.dim(1), grid.dim(2));
        x.backend().gridSample(x, grid, y);
        Autograd.record("gridSample", y, g -> {
            Tensor gx = x.requiresGrad() ? Tensor.emptyLike(x) : null;
            Tensor gg = grid.requiresGrad() ? Tensor.emptyLike(grid) : null;
            g.backend().gridSampleBackward(x, grid, g, gx, gg);
            if (gx != null) x.accumulateGrad(gx);
            if (gg != null) grid.accumulateGrad(gg);
        }, x, grid);
        return y;
    }

    // ---- dropout ---------------------------------------------------------------------------

    /** Zeroes each element with probability p and scales the rest by 1/(1-p); the mask is a function of seed. */
    public static Tensor dropout(Tensor x, float p, long seed) {
        if (!(p >= 0f && p < 1f)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        if (p == 0f) return x;
        Tensor y = Tensor.emptyLike(x);
        x.backend().dropout(x, p, seed, y);
        Autograd.record("dropout", y, g -> {
            Tensor gx = Tensor.emptyLike(x);
            g.backend().dropoutBackward(g, p, seed, gx);
            x.accumulateGrad(gx);
        }, x);
        return y;
    }

    // ---- helpers -------------------------------------------------------------------------

    private static void sameDevice(String op, Tensor a, Tensor b) {
        if (a.device() != b.device())
            throw new IllegalArgumentException(op + ": " + a.describe() + " and " + b.describe() + " are on different devices");
    }
}
