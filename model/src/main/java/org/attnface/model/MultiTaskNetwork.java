package org.attnface.model;

import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/** One backbone with the two heads: everything follows from its {@link #logits}. */
public abstract class MultiTaskNetwork extends AgeGenderModel {

    protected MultiTaskNetwork(ModelConfig config) {
        super(config);
    }

    /** Gender and age-bucket scores for images [n, 3, S, S], in the current mode. */
    public abstract Logits logits(Tensor images);

    @Override public Losses loss(Tensor images, Tensor genderLabels, Tensor ageBucketLabels, AuxLabels aux, LossWeights w) {
        checkImages("loss", images);
        checkLabels("loss", images, genderLabels, ageBucketLabels);
        return MultiTaskLoss.compute(logits(images), genderLabels, ageBucketLabels, aux, w);
    }

    @Override protected Prediction probabilities(Tensor images) {
        Logits l = logits(images);
        return new Prediction(Ops.softmax(l.gender()), Ops.softmax(l.age()));
    }
}
