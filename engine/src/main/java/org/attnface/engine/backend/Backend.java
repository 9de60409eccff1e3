package org.attnface.engine.backend;

/**
 * The primitive kernels every device implements, at the level that maps onto cuDNN and
 * cuBLAS. Everything differentiable in {@code ops} is composed from these; each backward
 * formula lives beside its forward there, not here.
 *
 * <p>Conventions: tensors arrive as {@link View}s, contiguous row-major (storage + offset); outputs are
 * passed in, allocated by the caller with the right shape, and are fully overwritten
 * unless a method says it accumulates. Class labels are float tensors holding integer
 * values (exact below 2^24), so that one dtype serves every kernel and the allocator.
 * Scalars such as a loss are one-element tensors that stay on the device, so that a
 * training step needs no host synchronisation.
 *
 * <p>A new primitive needs, and touches nothing else:
 * <ol>
 * <li>here: a method named for what it computes, whose doc states the contract (shapes,
 *     overwrite or accumulate, which arguments may be null); shape checks both backends need
 *     go in a record beside {@link ConvShape} ({@link Broadcast}, {@link SampleShape}, ...);</li>
 * <li>the CPU kernel: a static method in a class of {@code backend.cpu} taking arrays, offsets
 *     and sizes, and the adapter method in {@code CpuBackend} that unpacks the views for it;</li>
 * <li>the CUDA kernel: a {@code __global__} function in {@code kernels/src/main/cuda/<family>.cu}
 *     and the {@code CudaBackend} method that launches it;</li>
 * <li>{@code ops.Ops}: the differentiable op that calls it, with its backward beside it;</li>
 * <li>tests: the op's gradient check in {@code OpsGradientTest} (float64 reference in
 *     {@code Ref}), the CPU kernel against a reference, the CUDA kernel against the CPU one in
 *     {@code CudaVsCpuTest}.</li>
 * </ol>
 * The profiler times it unasked (a proxy over this interface). Only if its FLOPs or bytes are
 * not the size of its View arguments, or its shape column should show other arguments than the
 * first View, does it need an entry in {@code profile.Profiler.RULES}.
 */
public interface Backend {

    /** A short description for logs: "cpu (2 threads, AVX2 256-bit)", "cuda (NVIDIA H100, sm_90)". */
    String describe();

    // ---- memory --------------------------------------------------------------------------

    /** A buffer of at least {@code numel} floats, from this backend's cache when possible; contents undefined. */
    Storage allocate(long numel);

    /** Returns a buffer to the cache. The storage must not be used afterwards. */
    void release(Storage storage);

    /** Copies {@code dst.numel()} floats from {@code src[srcOffset..]} into {@code dst}. */
    void upload(float[] src, int srcOffset, View dst);

    /** Copies all of {@code src} into {@code dst[dstOffset..]}; waits for pending work. */
    void download(View src, float[] dst, int dstOffset);

    /** dst = src (same numel, any shapes). */
    void copy(View src, View dst);

    /** t = value everywhere. */
    void fill(View t, float value);

    /** Waits until all queued work is done (no-op on the CPU). */
    void synchronize();

    // ---- elementwise and reductions -----------------------------------------------------

    /** out = a op b with numpy broadcasting; a and b broadcast to out's shape (rank up to 6). */
    void binary(BinaryOp op, View a, View b, View out);

    /** out = sum of x over the dimensions where out has size 1 and x does not (out is x's shape with some dims reduced to 1, or fewer leading dims). */
    void sumTo(View x, View out);

    /** y += alpha * x (same numel). */
    void axpy(float alpha, View x, View y);

    /** out = alpha * x. */
    void scale(View x, float alpha, View out);

    /** out = alpha * x * s[0] where s is a one-element device tensor (scales by a loss gradient without reading it on the host). */
    void scaleByScalar(View x, View s, float alpha, View out);

    /** y = max(x, 0). */
    void relu(View x, View y);

    /** dx = dy where y > 0, else 0. */
    void reluBackward(View y, View dy, View dx);

    /** out[0] = sum of all elements of x. */
    void sumAll(View x, View out);

    /** Counts non-finite (NaN or Inf) values of x into out[0]; used by anomaly checks without copying x to the host. */
    void countNonFinite(View x, View out);

    /**
     * Copies a rows x cols block: dst[r*dstStride + dstCol + j] = src[r*srcStride + srcCol + j].
     * Concatenation and its backward along any dimension reduce to this.
     */
    void copy2d(View src, int srcStride, int srcCol, View dst, int dstStride, int dstCol, int rows, int cols);

    // ---- matrix products -----------------------------------------------------------------

    /**
     * Row-major C[m,n] = alpha * op(A) * op(B) + beta * C, op(A) is [m,k] (A stored [k,m] if transA),
     * op(B) is [k,n] (B stored [n,k] if transB). Leading dimensions are the stored row lengths.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha, View a, View b, float beta, View c);

    // ---- convolution ---------------------------------------------------------------------

    /** y[n,k,p,q] = conv(x[n,c,h,w], w[k,c,r,s]) + bias[k] (bias may be null). */
    void conv2dForward(ConvShape g, View x, View w, View bias, View y);

    /** dx = conv-transpose(dy, w). */
    void conv2dBackwardData(ConvShape g, View dy, View w, View dx);

    /** dw = correlation of x with dy (overwrites dw). */
    void conv2dBackwardFilter(ConvShape g, View x, View dy, View dw);

    /**
     * dw += correlation of x with dy, straight into a parameter's slice of the flat gradient
     * buffer (cuDNN's beta = 1, no temporary and no add). Returns false where a backend has no
     * such form; the caller then computes into a temporary and accumulates it.
     */
    default boolean conv2dBackwardFilterAccumulate(ConvShape g, View x, View dy, View dw) { return false; }

    /** db[k] = sum over n,p,q of dy. */
    void conv2dBackwardBias(ConvShape g, View dy, View db);

    // ---- normalisation -------------------------------------------------------------------

    /**
     * Batch norm over (n,h,w) per channel, training mode: y = gamma * (x - mean) * invStd + beta.
     * Updates running stats in place: running = (1 - momentum) * running + momentum * batch,
     * with the unbiased variance for runningVar (PyTorch and cuDNN agree on this).
     * Saves the batch mean and 1/sqrt(var + eps) (biased var) for the backward.
     */
    void batchNormTrain(View x, View gamma, View beta, View runningMean, View runningVar,
                        float momentum, float eps, View y, View saveMean, View saveInvStd);

    /** Batch norm with the running statistics (evaluation). */
    void batchNormInfer(View x, View gamma, View beta, View runningMean, View runningVar, float eps, View y);

    /** Gradients of the training-mode batch norm; overwrites dx, dgamma, dbeta. */
    void batchNormBackward(View x, View dy, View gamma, View saveMean, View saveInvStd,
                           View dx, View dgamma, View dbeta);

    // ---- pooling -------------------------------------------------------------------------

    /** Max pooling; padded positions never win. */
    void maxPool2d(PoolShape g, View x, View y);

    /** Routes dy to the first position of each window that holds the maximum (recomputed from x and y). */
    void maxPool2dBackward(PoolShape g, View x, View y, View dy, View dx);

    /** Average pooling, padding counted in the divisor (count_include_pad). */
    void avgPool2d(PoolShape g, View x, View y);

    void avgPool2dBackward(PoolShape g, View dy, View dx);

    // ---- softmax and losses over [n, classes] rows ---------------------------------------

    void softmax(View x, View y);

    /** dx = y * (dy - sum(dy * y)) per row. */
    void softmaxBackward(View y, View dy, View dx);

    void logSoftmax(View x, View y);

    /** dx = dy - exp(y) * sum(dy) per row. */
    void logSoftmaxBackward(View y, View dy, View dx);

    /**
     * Mean cross-entropy of softmax(logits) against integer labels [n].
     * Writes probs [n,c] (kept for the backward) and loss[0].
     */
    void softmaxCrossEntropy(View logits, View labels, View probs, View loss);

    /** dlogits = (probs - onehot(labels)) * dloss[0] / n. */
    void softmaxCrossEntropyBackward(View probs, View labels, View dloss, View dlogits);

    /**
     * Expected distance between ordered classes: mean over rows of sum_k softmax(logits)_k * |k - label|.
     * Writes probs and loss[0]; differentiable, unlike the arg-max bucket difference it stands in for.
     */
    void expectedDistance(View logits, View labels, View probs, View loss);

    /** dlogits_j = p_j * (|j - label| - E) * dloss[0] / n, with E = sum_k p_k |k - label|. */
    void expectedDistanceBackward(View probs, View labels, View dloss, View dlogits);

    // ---- spatial transformer -------------------------------------------------------------

    /** grid[n,h,w,:] = theta[n] * (x_w, y_h, 1) with normalised pixel centres (align_corners = false). */
    void affineGrid(View theta, View grid);

    /** dtheta[n] = sum over (h,w) of dgrid[n,h,w,:] outer (x_w, y_h, 1). */
    void affineGridBackward(View dgrid, View dtheta);

    /** Bilinear sampling of x[n,c,h,w] at grid[n,p,q,2] (x then y in [-1,1]), zeros outside, align_corners = false. */
    void gridSample(View x, View grid, View y);

    /** Gradients of gridSample; dx (scatter-added, zeroed first) and dgrid may each be null when not needed. */
    void gridSampleBackward(View x, View grid, View dy, View dx, View dgrid);

    // ---- dropout (counter-based random numbers: no mask is stored) ----------------------

    /** y = x * keep / (1 - p), keep = Rng.uniform(seed, i) >= p for element i. */
    void dropout(View x, float p, long seed, View y);

    /** dx = dy * keep / (1 - p) with the same mask as the forward of that seed. */
    void dropoutBackward(View dy, float p, long seed, View dx);

    // ---- optimisers (one call over a flat buffer of all parameters) ---------------------

    /**
     * SGD with momentum and coupled weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
     * g = grad + wd * param; buf = momentum * buf + g; param -= lr * buf.
     */
    void sgdStep(View param, View grad, View momentumBuf, float lr, float momentum, float weightDecay);

    /**
     * AdamW as torch.optim.AdamW: param *= 1 - lr * wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
     * param -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps).
     */
    void adamwStep(View param, View grad, View m, View v, float lr, float beta1, float beta2,
                   float eps, float weightDecay, int step);

    // ---- data preparation -----------------------------------------------------------------

    /**
     * Keeps uint8 HWC RGB images on this device (the whole data set when it fits). {@code hwc} may
     * be a file mapped into memory: the CPU backend reads it in place, so the processes of a
     * multi-rank job on one machine share one copy of the data set (the page cache's).
     */
    ImageStore uploadImages(java.lang.foreign.MemorySegment hwc, int count, int height, int width);

    /** {@link #uploadImages(java.lang.foreign.MemorySegment, int, int, int)} of a Java array. */
    default ImageStore uploadImages(byte[] hwc, int count, int height, int width) {
        return uploadImages(java.lang.foreign.MemorySegment.ofArray(hwc), count, height, width);
    }

    /**
     * Builds a normalised float NCHW batch out[b] from images[index[b]]: crop to out's size
     * (random offset when training, centred otherwise), horizontal flip with probability 1/2
     * and brightness/contrast jitter when training, then (v/255 - mean[c]) / std[c].
     * Every random draw is Rng.uniform(seed, b * 8 + j), so every backend makes the same batch.
     */
    void augmentImages(ImageStore images, int[] index, AugmentSpec spec, long seed, View out);
}
