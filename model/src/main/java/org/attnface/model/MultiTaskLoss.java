package org.attnface.model;

import org.attnface.engine.Tensor;
import org.attnface.engine.ops.Ops;

/**
 * The joint loss: w.gender * CE(gender) + w.age * CE(age bucket) + w.distance * E_p[|k - true bucket|]
 * with p = softmax(age logits), + w.aux * (CE(race) + CE(age in 5-year bins))
 * when the network has the auxiliary heads. Terms of weight 0 are not computed.
 */
public final class MultiTaskLoss {
    private MultiTaskLoss() {}

    public static Losses compute(Logits logits, Tensor genderLabels, Tensor ageBucketLabels, AuxLabels auxLabels, LossWeights w) {
        Tensor aux = null;
        if (w.aux() > 0) {
            if (logits.race() == null)
                throw new IllegalArgumentException("loss weight aux " + w.aux() + " asks for the auxiliary heads, but the network has none"
                        + " (ModelConfig.auxHeads is false)");
            if (auxLabels == null) throw new IllegalArgumentException("loss weight aux " + w.aux() + " needs race and fine-age labels");
            aux = Ops.add(Ops.crossEntropy(logits.race(), auxLabels.race()), Ops.crossEntropy(logits.fineAge(), auxLabels.fineAge()));
        }
        Tensor gender = w.gender() > 0 ? Ops.crossEntropy(logits.gender(), genderLabels) : null;
        Tensor age = w.age() > 0 ? Ops.crossEntropy(logits.age(), ageBucketLabels) : null;
        Tensor distance = w.distance() > 0 ? Ops.expectedDistance(logits.age(), ageBucketLabels) : null;
        Tensor total = null;
        total = plus(total, gender, w.gender());
        total = plus(total, age, w.age());
        total = plus(total, distance, w.distance());
        total = plus(total, aux, w.aux());
        return new Losses(total, orZero(gender, total), orZero(age, total), orZero(distance, total), orZero(aux, total));
    }

    /** Field-by-field sum of two networks' losses (the ensemble's). */
    public static Losses sum(Losses a, Losses b) {
        return new Losses(Ops.add(a.total(), b.total()), Ops.add(a.gender(), b.gender()),
                Ops.add(a.age(), b.age()), Ops.add(a.distance(), b.distance()), Ops.add(a.aux(), b.aux()));
    }

    private static Tensor plus(Tensor total, Tensor term, float weight) {
        if (term == null) return total;
        Tensor weighted = weight == 1f ? term : Ops.scale(term, weight);
        return total == null ? weighted : Ops.add(total, weighted);
    }

    private static Tensor orZero(Tensor term, Tensor like) {
        return term != null ? term : Tensor.zeros(like.device(), 1);
    }
}
