package org.attnface.model.ensemble;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.Arch;
import org.attnface.model.AuxLabels;
import org.attnface.model.Explanation;
import org.attnface.model.LossWeights;
import org.attnface.model.Losses;
import org.attnface.model.ModelConfig;
import org.attnface.model.MultiTaskLoss;
import org.attnface.model.Prediction;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.resnet.ResNet;

/**
 * The attn network and the ResNet on the same input ("attn." and "resnet." names). Trained
 * jointly: the loss is the sum of the two networks' losses, which gives each network the
 * gradient it would get alone. Predicted probabilities are the averages of the two
 * networks' softmax outputs, per task, with weights attnWeight and 1 - attnWeight (0.5,
 * the paper's plain average, unless set; `eval` prints the metrics for weights 0 to 1, and
 * bench/RESULTS.md says what a weight chosen on the validation split did on the test split).
 */
public final class Ensemble extends AgeGenderModel {
    public final AttnCnn attn;
    public final ResNet resnet;
    private float attnWeight = 0.5f;

    public Ensemble(ModelConfig config, Device device) {
        super(config);
        attn = child("attn", new AttnCnn(config.withArch(Arch.ATTN), device));
        resnet = child("resnet", new ResNet(config.withArch(Arch.RESNET), device));
    }

    @Override public Losses loss(Tensor images, Tensor genderLabels, Tensor ageBucketLabels, AuxLabels aux, LossWeights w) {
        checkImages("loss", images);
        checkLabels("loss", images, genderLabels, ageBucketLabels);
        return MultiTaskLoss.sum(attn.loss(images, genderLabels, ageBucketLabels, aux, w),
                resnet.loss(images, genderLabels, ageBucketLabels, aux, w));
    }

    /** The attn network's share of the averaged probabilities, in [0, 1]; the ResNet's is 1 - w. */
    public void setAttnWeight(float w) {
        if (!(w >= 0 && w <= 1)) throw new IllegalArgumentException("ensemble attn weight must be in [0, 1], got " + w);
        attnWeight = w;
    }

    public float attnWeight() { return attnWeight; }

    @Override protected Prediction probabilities(Tensor images) {
        Prediction a = attn.predict(images), r = resnet.predict(images);
        return new Prediction(mix(a.genderProbs(), r.genderProbs()), mix(a.ageProbs(), r.ageProbs()));
    }

    private Tensor mix(Tensor a, Tensor r) {
        return Ops.add(Ops.scale(a, attnWeight), Ops.scale(r, 1 - attnWeight));
    }

    /** The attn network's explanation (it has the attention transform to show); the ResNet's is {@code resnet.explain}. */
    @Override public Explanation explain(Tensor image) {
        return attn.explain(image);
    }
}
