package org.attnface.model;

import java.util.List;
import java.util.function.Function;

import org.attnface.engine.Autograd;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.engine.nn.Module;
import org.attnface.engine.ops.Ops;

/**
 * A network that predicts gender (2 classes) and an age bucket from face images
 * [n, 3, S, S] (S = {@link ModelConfig#imageSize()}, ImageNet-normalised RGB).
 *
 * <p>Training: {@link #loss} inside a {@code TensorScope}, then {@code total().backward()}.
 * Inference: {@link #predict}. Explanation of one image: {@link #explain}.
 */
public abstract class AgeGenderModel extends Module {
    protected final ModelConfig config;

    protected AgeGenderModel(ModelConfig config) {
        this.config = config;
    }

    public final ModelConfig config() { return config; }

    /**
     * The training forward and the joint loss. Labels are class indices held as floats, one
     * per image: gender 0 or 1, age bucket in [0, B). Runs in whatever mode the model is in
     * (call {@code train()} first for training).
     */
    public final Losses loss(Tensor images, Tensor genderLabels, Tensor ageBucketLabels, LossWeights w) {
        return loss(images, genderLabels, ageBucketLabels, null, w);
    }

    /** {@link #loss} with the auxiliary heads' labels, which {@code w.aux() > 0} needs (null otherwise). */
    public abstract Losses loss(Tensor images, Tensor genderLabels, Tensor ageBucketLabels, AuxLabels aux, LossWeights w);

    /**
     * Class probabilities. Runs in evaluation mode (batch norm uses running statistics,
     * dropout is off) without recording gradients, and puts the model back into the mode it
     * was in. The returned tensors belong to the caller's TensorScope.
     */
    public final Prediction predict(Tensor images) {
        checkImages("predict", images);
        boolean wasTraining = training();
        eval();
        try (var ignored = Autograd.noGrad()) {
            return probabilities(images);
        } finally {
            if (wasTraining) train();
        }
    }

    /**
     * Test-time augmentation: the mean of the probabilities for the images and for their
     * left-right mirror images (training flips faces at random, so both views are in
     * distribution; the gain on UTKFace is in bench/RESULTS.md).
     */
    public final Prediction predictMirrored(Tensor images) {
        Prediction p = predict(images), m = predict(mirror(images));
        return new Prediction(Ops.scale(Ops.add(p.genderProbs(), m.genderProbs()), 0.5f),
                Ops.scale(Ops.add(p.ageProbs(), m.ageProbs()), 0.5f));
    }

    /** [n, c, h, w] with every row reversed. Through the host: evaluation calls it once per batch. */
    static Tensor mirror(Tensor images) {
        float[] v = images.toArray(), out = new float[v.length];
        int w = images.dim(3);
        for (int row = 0; row < v.length; row += w)
            for (int x = 0; x < w; x++) out[row + x] = v[row + w - 1 - x];
        return Tensor.of(images.device(), out, images.shape());
    }

    /** The probabilities of {@link #predict}; called in eval mode with gradients off. */
    protected abstract Prediction probabilities(Tensor images);

    /**
     * What the network looked at for one image [1, 3, S, S]: see {@link Explanation}. Runs in
     * evaluation mode with gradients recorded only for this computation: the parameters are
     * marked as not needing gradients while it runs, so their {@code grad()} buffers are not
     * touched, and mode and flags are restored afterwards. Must not be called inside
     * {@code Autograd.noGrad()} (Grad-CAM needs a backward pass), nor while another thread
     * trains this model. Allocates inside its own TensorScope and returns host arrays only.
     */
    public abstract Explanation explain(Tensor image);

    /** Fails with the expected and actual shapes unless images is [n, 3, S, S] on this model's terms. */
    protected final void checkImages(String call, Tensor images) {
        int s = config.imageSize();
        if (images.rank() != 4 || images.dim(1) != 3 || images.dim(2) != s || images.dim(3) != s)
            throw new IllegalArgumentException(call + ": model '" + config.arch() + "' takes images [n, 3, " + s + ", " + s
                    + "], got " + images.describe());
    }

    protected final void checkLabels(String call, Tensor images, Tensor genderLabels, Tensor ageBucketLabels) {
        int n = images.dim(0);
        if (genderLabels.numel() != n || ageBucketLabels.numel() != n)
            throw new IllegalArgumentException(call + ": " + n + " images but " + genderLabels.numel() + " gender labels and "
                    + ageBucketLabels.numel() + " age-bucket labels");
    }

    /**
     * The tensors of one traced forward that {@link #explainTraced} reads: theta [1,2,3] or
     * null, two activations [1,C,h,w], and the layer Grad-CAM differentiates to [1,C,h,w].
     */
    public record Trace(Logits logits, Tensor theta, Tensor activation1, Tensor activation2, Tensor camLayer) {}

    /**
     * Explanation of one image from a forward that exposes its intermediate tensors.
     * Grad-CAM (Selvaraju et al. 2017): for class c, weights w_k = spatial mean of
     * d logit_c / d A_k over the camLayer's channels k, map = relu(sum_k w_k A_k).
     */
    protected final Explanation explainTraced(Tensor image, Function<Tensor, Trace> tracedForward) {
        checkImages("explain", image);
        if (image.dim(0) != 1) throw new IllegalArgumentException("explain takes one image [1, 3, H, W], got " + image.describe());
        if (!Autograd.isRecording())
            throw new IllegalStateException("explain needs a backward pass for Grad-CAM: do not call it inside Autograd.noGrad()");
        boolean wasTraining = training();
        List<Tensor> params = parameters();
        boolean[] required = new boolean[params.size()];
        for (int i = 0; i < required.length; i++) {
            required[i] = params.get(i).requiresGrad();
            params.get(i).requiresGrad(false);
        }
        eval();
        try (TensorScope scope = TensorScope.open()) {
            // The graph is recorded from a copy of the image, so the parameters' gradients stay as they are.
            Tensor x = Tensor.emptyLike(image);
            x.backend().copy(image, x);
            x.requiresGrad(true);
            Trace t = tracedForward.apply(x);
            t.camLayer().retainGrad();
            int gender = argmax(t.logits().gender().toArray());
            int age = argmax(t.logits().age().toArray());
            float[][] camGender = gradCam(t.camLayer(), t.logits().gender(), gender);
            t.camLayer().zeroGrad();
            float[][] camAge = gradCam(t.camLayer(), t.logits().age(), age);
            return new Explanation(t.theta() == null ? null : t.theta().toArray(),
                    channelMeanAbs(t.activation1()), channelMeanAbs(t.activation2()), camGender, camAge);
        } finally {
            for (int i = 0; i < required.length; i++) params.get(i).requiresGrad(required[i]);
            if (wasTraining) train();
        }
    }

    private static float[][] gradCam(Tensor a, Tensor logits, int cls) {
        float[] oneHot = new float[logits.dim(1)];
        oneHot[cls] = 1f;
        Tensor selected = Ops.sum(Ops.mul(logits, Tensor.of(logits.device(), oneHot, 1, oneHot.length)));
        selected.backward();
        if (a.grad() == null) throw new IllegalStateException("Grad-CAM: no gradient reached " + a.describe());
        int c = a.dim(1), h = a.dim(2), w = a.dim(3), hw = h * w;
        float[] acts = a.toArray(), grads = a.grad().toArray();
        float[][] map = new float[h][w];
        for (int k = 0; k < c; k++) {
            double wk = 0;
            for (int i = 0; i < hw; i++) wk += grads[k * hw + i];
            float weight = (float) (wk / hw);
            for (int i = 0; i < hw; i++) map[i / w][i % w] += weight * acts[k * hw + i];
        }
        for (float[] row : map) for (int j = 0; j < w; j++) row[j] = Math.max(0f, row[j]);
        return normalise(map);
    }

    private static float[][] channelMeanAbs(Tensor a) {
        int c = a.dim(1), h = a.dim(2), w = a.dim(3), hw = h * w;
        float[] v = a.toArray();
        float[][] map = new float[h][w];
        for (int k = 0; k < c; k++)
            for (int i = 0; i < hw; i++) map[i / w][i % w] += Math.abs(v[k * hw + i]) / c;
        return normalise(map);
    }

    /** (v - min) / (max - min); all zeros when the map is constant. */
    static float[][] normalise(float[][] map) {
        float lo = Float.POSITIVE_INFINITY, hi = Float.NEGATIVE_INFINITY;
        for (float[] row : map) for (float v : row) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
        float range = hi - lo;
        for (float[] row : map)
            for (int j = 0; j < row.length; j++) row[j] = range > 0 ? (row[j] - lo) / range : 0f;
        return map;
    }

    static int argmax(float[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
        return best;
    }
}
