package org.attnface.engine.backend;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;

/**
 * The primitive kernels every device implements, at the level that maps onto cuDNN and
 * cuBLAS. Everything differentiable in {@code ops} is composed from these; each backward
 * formula lives beside its forward there, not here.
 *
 * <p>Conventions: tensors are contiguous row-major views (storage + offset); outputs are
 * passed in, allocated by the caller with the right shape, and are fully overwritten
 * unless a method says it accumulates. Class labels are float tensors holding integer
 * values (exact below 2^24), so that one dtype serves every kernel and the allocator.
 * Scalars such as a loss are one-element tensors that stay on the device, so that a
 * training step needs no host synchronisation.
 */
public interface Backend {

    Device device();

    /** A short description for logs: "cpu (2 threads, AVX2 256-bit)", "cuda (NVIDIA H100, sm_90)". */
    String describe();

    // ---- memory --------------------------------------------------------------------------

    /** A buffer of at least {@code numel} floats, from this backend's cache when possible; contents undefined. */
    Storage allocate(long numel);

    /** Returns a buffer to the cache. The storage must not be used afterwards. */
    void release(Storage storage);

    /** Copies {@code dst.numel()} floats from {@code src[srcOffset..]} into {@code dst}. */
    void upload(float[] src, int srcOffset, Tensor dst);

    /** Copies all of {@code src} into {@code dst[dstOffset..]}; waits for pending work. */
    void download(Tensor src, float[] dst, int dstOffset);

    /** dst = src (same numel, any shapes). */
    void copy(Tensor src, Tensor dst);

    /** t = value everywhere. */
    void fill(Tensor t, float value);

    /** Waits until all queued work is done (no-op on the CPU). */
    void synchronize();

    // ---- elementwise and reductions -----------------------------------------------------

    /** out = a op b with numpy broadcasting; a and b broadcast to out's shape (rank up to 6). */
    void binary(BinaryOp op, Tensor a, Tensor b, Tensor out);

    /** out = sum of x over the dimensions where out has size 1 and x does not (out is x's shape with some dims reduced to 1, or fewer leading dims). */
    void sumTo(Tensor x, Tensor out);

    /** y += alpha * x (same numel). */
    void axpy(float alpha, Tensor x, Tensor y);

    /** out = alpha * x. */
    void scale(Tensor x, float alpha, Tensor out);

    /** out = alpha * x * s[0] where s is a one-element device tensor (scales by a loss gradient without reading it on the host). */
    void scaleByScalar(Tensor x, Tensor s, float alpha, Tensor out);

    /** y = max(x, 0). */
    void relu(Tensor x, Tensor y);

    /** dx = dy where y > 0, else 0. */
    void reluBackward(Tensor y, Tensor dy, Tensor dx);

    /** out[0] = sum of all elements of x. */
    void sumAll(Tensor x, Tensor out);

    /** Counts non-finite (NaN or Inf) values of x into out[0]; used by anomaly checks without copying x to the host. */
    void countNonFinite(Tensor x, Tensor out);

    /**
     * Copies a rows x cols block: dst[r*dstStride + dstCol + j] = src[r*srcStride + srcCol + j].
     * Concatenation and its backward along any dimension reduce to this.
     */
    void copy2d(Tensor src, int srcStride, int srcCol, Tensor dst, int dstStride, int dstCol, int rows, int cols);

    // ---- matrix products -----------------------------------------------------------------

    /**
     * Row-major C[m,n] = alpha * op(A) * op(B) + beta * C, op(A) is [m,k] (A stored [k,m] if transA),
     * op(B) is [k,n] (B stored [n,k] if transB). Leading dimensions are the stored row lengths.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    // ---- convolution ---------------------------------------------------------------------

    /** y[n,k,p,q] = conv(x[n,c,h,w], w[k,c,r,s]) + bias[k] (bias may be null). */
    void conv2dForward(ConvShape g, Tensor x, Tensor w, Tensor bias, Tensor y);

    /** dx = conv-transpose(dy, w). */
    void conv2dBackwardData(ConvShape g, Tensor dy, Tensor w, Tensor dx);

    /** dw = correlation of x with dy (overwrites dw). */
    void conv2dBackwardFilter(ConvShape g, Tensor x, Tensor dy, Tensor dw);

    /**
     * dw += correlation of x with dy, straight into a parameter's slice of the flat gradient
     * buffer (cuDNN's beta = 1, no temporary and no add). Returns false where a backend has no
     * such form; the caller then computes into a temporary and accumulates it.
     */
    default boolean conv2dBackwardFilterAccumulate(ConvShape g, Tensor x, Tensor dy, Tensor dw) { return false; }

    /** db[k] = sum over n,p,q of dy. */
    void conv2dBackwardBias(ConvShape g, Tensor dy, Tensor db);

    // ---- normalisation -------------------------------------------------------------------

    /**
     * Batch norm over (n,h,w) per channel, training mode: y = gamma * (x - mean) * invStd + beta.
     * Updates running stats in place: running = (1 - momentum) * running + momentum * batch,
     * with the unbiased variance for runningVar (PyTorch and cuDNN agree on this).
     * Saves the batch mean and 1/sqrt(var + eps) (biased var) for the backward.
     */
    void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
                        float momentum, float eps, Tensor y, Tensor saveMean, Tensor saveInvStd);

    /** Batch norm with the running statistics (evaluation). */
    void batchNormInfer(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps, Tensor y);

    /** Gradients of the training-mode batch norm; overwrites dx, dgamma, dbeta. */
    void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd,
                           Tensor dx, Tensor dgamma, Tensor dbeta);

    // ---- pooling -------------------------------------------------------------------------

    /** Max pooling; padded positions never win. */
    void maxPool2d(PoolShape g, Tensor x, Tensor y);

    /** Routes dy to the first position of each window that holds the maximum (recomputed from x and y). */
    void maxPool2dBackward(PoolShape g, Tensor x, Tensor y, Tensor dy, Tensor dx);

    /** Average pooling, padding counted in the divisor (count_include_pad). */
    void avgPool2d(PoolShape g, Tensor x, Tensor y);

    void avgPool2dBackward(PoolShape g, Tensor dy, Tensor dx);

    // ---- softmax and losses over [n, classes] rows ---------------------------------------

    void softmax(Tensor x, Tensor y);

    /** dx = y * (dy - sum(dy * y)) per row. */
    void softmaxBackward(Tensor y, Tensor dy, Tensor dx);

    void logSoftmax(Tensor x, Tensor y);

    /** dx = dy - exp(y) * sum(dy) per row. */
    void logSoftmaxBackward(Tensor y, Tensor dy, Tensor dx);

    /**
     * Mean cross-entropy of softmax(logits) against integer labels [n].
     * Writes probs [n,c] (kept for the backward) and loss[0].
     */
    void softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor probs, Tensor loss);

    /** dlogits = (probs - onehot(labels)) * dloss[0] / n. */
    void softmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits);

    /**
     * Expected distance between ordered classes: mean over rows of sum_k softmax(logits)_k * |k - label|.
     * Writes probs and loss[0]; differentiable, unlike the arg-max bucket difference it stands in for.
     */
    void expectedDistance(Tensor logits, Tensor labels, Tensor probs, Tensor loss);

    /** dlogits_j = p_j * (|j - label| - E) * dloss[0] / n, with E = sum_k p_k |k - label|. */
    void expectedDistanceBackward(Tensor probs, Tensor labels, Tensor dloss, Tensor dlogits);

    // ---- spatial transformer -------------------------------------------------------------

    /** grid[n,h,w,:] = theta[n] * (x_w, y_h, 1) with normalised pixel centres (align_corners = false). */
    void affineGrid(Tensor theta, Tensor grid);

    /** dtheta[n] = sum over (h,w) of dgrid[n,h,w,:] outer (x_w, y_h, 1). */
    void affineGridBackward(Tensor dgrid, Tensor dtheta);

    /** Bilinear sampling of x[n,c,h,w] at grid[n,p,q,2] (x then y in [-1,1]), zeros outside, align_corners = false. */
    void gridSample(Tensor x, Tensor grid, Tensor y);

    /** Gradients of gridSample; dx (scatter-added, zeroed first) and dgrid may each be null when not needed. */
    void gridSampleBackward(Tensor x, Tensor grid, Tensor dy, Tensor dx, Tensor dgrid);

    // ---- dropout (counter-based random numbers: no mask is stored) ----------------------

    /** y = x * keep / (1 - p), keep = Rng.uniform(seed, i) >= p for element i. */
    void dropout(Tensor x, float p, long seed, Tensor y);

    /** dx = dy * keep / (1 - p) with the same mask as the forward of that seed. */
    void dropoutBackward(Tensor dy, float p, long seed, Tensor dx);

    // ---- optimisers (one call over a flat buffer of all parameters) ---------------------

    /**
     * SGD with momentum and coupled weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
     * g = grad + wd * param; buf = momentum * buf + g; param -= lr * buf.
     */
    void sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, float lr, float momentum, float weightDecay);

    /**
     * AdamW as torch.optim.AdamW: param *= 1 - lr * wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
     */
    void adamwStep(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                   float eps, float weightDecay, int step);

    // ---- data preparation -----------------------------------------------------------------

    /** Keeps uint8 HWC RGB images on this device (the whole data set when it fits). */
    ImageStore uploadImages(byte[] hwc, int count, int height, int width);

    /**
     * Builds a normalised float NCHW batch out[b] from images[index[b]]: crop to out's size
     * (random offset when training, centred otherwise), horizontal flip with probability 1/2
     * and brightness/contrast jitter when training, then (v/255 - mean[c]) / std[c].
     * Every random draw is Rng.uniform(seed, b * 8 + j), so every backend makes the same batch.
     */
    void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, Tensor out);
}
