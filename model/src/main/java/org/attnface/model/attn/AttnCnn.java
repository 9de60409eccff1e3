package org.attnface.model.attn;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.BatchNorm2d;
import org.attnface.engine.nn.Conv2d;
import org.attnface.engine.nn.Dropout;
import org.attnface.engine.nn.Layers;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.nn.Sequential;
import org.attnface.engine.ops.Ops;
import org.attnface.model.Explanation;
import org.attnface.model.Logits;
import org.attnface.model.ModelConfig;
import org.attnface.model.MultiTaskNetwork;
import org.attnface.model.heads.MultiTaskHeads;

/**
 * The attentional CNN of MODELS.md (Deep-Emotion lineage): a spatial transformer warps the
 * input image, a small convolutional trunk (unpadded 3x3 convolutions) makes 50 features,
 * and the multi-task heads classify them. 152,010 parameters at 64x64. The trunk has W = 10
 * channels (MODELS.md); {@link ModelConfig#attnWidth} widens it (16: about twice the attn
 * network's compute at 128x128; what it buys is in bench/RESULTS.md).
 *
 * <pre>
 * localization: conv 3->8, maxpool 2, relu, conv 8->10, maxpool 2, relu    10 x 14 x 14 at 64
 * fc_loc:       linear 1960->32, relu, linear 32->6 (starts at identity)    theta [n, 2, 3]
 * attention:    affineGrid(theta) + bilinear gridSample of the input, zero padding
 * trunk:        conv1 3->W, relu, conv2 W->W, maxpool 2, relu,
 *               conv3 W->W, relu, conv4 W->W, bn, relu, maxpool 2       (= MODELS.md's bn, maxpool, relu)
 *               dropout, fc W*13*13->50, relu                               f [n, 50]
 * </pre>
 *
 * Parameter names match bench/reference/models.py's AttnCNN ("localization.0.weight",
 * "fc_loc.2.bias", "conv1.weight", "bn.running_mean", "fc.weight") plus the flat heads.
 */
public final class AttnCnn extends MultiTaskNetwork {
    public static final int FEATURES = 50;

    private final Sequential localization, fcLoc;   // null without attention
    private final Conv2d conv1, conv2, conv3, conv4;
    private final BatchNorm2d bn;
    private final Dropout dropout;
    private final Linear fc;
    private final MultiTaskHeads heads;

    public AttnCnn(ModelConfig config, Device device) {
        super(config);
        int s = config.imageSize();
        if (config.attention()) {
            localization = child("localization", new Sequential(
                    new Conv2d(device, 3, 8, 3, 1, 0, true), new Layers.MaxPool2d(2), new Layers.ReLU(),
                    new Conv2d(device, 8, 10, 3, 1, 0, true), new Layers.MaxPool2d(2), new Layers.ReLU()));
            fcLoc = child("fc_loc", new Sequential(
                    new Linear(device, localizationFlatten(s), 32), new Layers.ReLU(), new IdentityTransformLinear(device, 32)));
        } else {
            localization = null;
            fcLoc = null;
        }
        int w = config.attnWidth();
        conv1 = child("conv1", new Conv2d(device, 3, w, 3, 1, 0, true));
        conv2 = child("conv2", new Conv2d(device, w, w, 3, 1, 0, true));
        conv3 = child("conv3", new Conv2d(device, w, w, 3, 1, 0, true));
        conv4 = child("conv4", new Conv2d(device, w, w, 3, 1, 0, true));
        bn = child("bn", new BatchNorm2d(device, w));
        dropout = child("dropout", new Dropout(config.dropout()));
        fc = child("fc", new Linear(device, trunkFlatten(s, w), FEATURES));
        heads = new MultiTaskHeads(device, FEATURES, config.buckets().count(), config.feedGender(), config.detachGender(), config.auxHeads());
        heads.named().forEach(this::child);
    }

    /** 10 x L x L after conv, pool, conv, pool: 1960 at 64x64, 9000 at 128x128. */
    public static int localizationFlatten(int imageSize) {
        int l = ((imageSize - 2) / 2 - 2) / 2;
        return 10 * l * l;
    }

    /** width x T x T after conv, conv, pool, conv, conv, pool: 1690 at 64x64, 8410 at 128x128 (width 10). */
    public static int trunkFlatten(int imageSize, int width) {
        int t = ((imageSize - 4) / 2 - 4) / 2;
        return width * t * t;
    }

    /**
     * Share of the sampling grid that lands inside the input image, over n transforms theta
     * [n * 6] (9 x 9 points spread over each output square). The localisation net can move the
     * region off the image; then the trunk sees only zero padding, no gradient brings it back,
     * and the network predicts the majority class. Seen at 128x128, lr 0.01: by epoch 13 theta's
     * translation was (1.23, 2.82) in grid units (the image spans -1..1) and the member was at
     * 52% gender accuracy.
     */
    public static double insideFraction(float[] theta) {
        int n = theta.length / 6, inside = 0;
        for (int i = 0; i < n; i++) {
            for (int gy = 0; gy < 9; gy++) {
                for (int gx = 0; gx < 9; gx++) {
                    double u = gx / 4.0 - 1, v = gy / 4.0 - 1;
                    double x = theta[6 * i] * u + theta[6 * i + 1] * v + theta[6 * i + 2];
                    double y = theta[6 * i + 3] * u + theta[6 * i + 4] * v + theta[6 * i + 5];
                    if (Math.abs(x) <= 1 && Math.abs(y) <= 1) inside++;
                }
            }
        }
        return n == 0 ? Double.NaN : inside / (81.0 * n);
    }

    /** The spatial transformer's affine transforms [n, 2, 3] for images [n, 3, S, S]. */
    public Tensor theta(Tensor images) {
        if (localization == null) throw new IllegalStateException("this AttnCnn was built without attention (attention = false)");
        Tensor loc = localization.forward(images).flatten();
        return fcLoc.forward(loc).reshape(images.dim(0), 2, 3);
    }

    @Override public Logits logits(Tensor images) {
        checkImages("logits", images);
        return traced(images).logits();
    }

    private Trace traced(Tensor x) {
        Tensor theta = null;
        if (localization != null) {
            theta = theta(x);
            x = Ops.gridSample(x, Ops.affineGrid(theta, x.dim(2), x.dim(3)));
        }
        Tensor a1 = Ops.relu(conv1.forward(x));
        Tensor a2 = Ops.relu(Ops.maxPool2d(conv2.forward(a1), 2, 2, 0));
        Tensor a3 = Ops.relu(conv3.forward(a2));
        // relu(maxpool(y)) == maxpool(relu(y)); relu first gives Grad-CAM the rectified
        // last-convolution maps it is defined on, at 26x26 instead of 13x13 (64x64 input).
        Tensor last = Ops.relu(bn.forward(conv4.forward(a3)));
        Tensor a4 = Ops.maxPool2d(last, 2, 2, 0);
        Tensor f = Ops.relu(fc.forward(dropout.forward(a4).flatten()));
        return new Trace(heads.apply(f), theta, a1, a2, last);
    }

    /**
     * theta; activations after conv1 (relu) and after conv2 (pool, relu); Grad-CAM at the
     * last convolution (conv4, batch norm, relu: 26x26 at 64x64). The maps are in the frame of
     * the image the trunk saw, i.e. the attended (warped) image; theta maps that frame onto
     * the input.
     */
    @Override public Explanation explain(Tensor image) {
        return explainTraced(image, this::traced);
    }
}
