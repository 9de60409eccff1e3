package org.attnface.model.heads;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.ops.Ops;
import org.attnface.model.Logits;

/**
 * The two heads on a feature vector f [n, F]: gender = Linear(F, 2)(f), and
 * age = Linear(F + 2, B)(concat(f, softmax(gender logits))) when the gender probabilities
 * are fed (Linear(F, B)(f) otherwise). The two Linear layers are registered by the owning
 * network as "gender_head" and "age_head", so names stay flat ("gender_head.weight").
 */
public final class MultiTaskHeads {
    public final Linear gender, age;
    private final boolean feedGender, detachGender;

    public MultiTaskHeads(Device device, int features, int buckets, boolean feedGender, boolean detachGender) {
        this.gender = new Linear(device, features, 2);
        this.age = new Linear(device, features + (feedGender ? 2 : 0), buckets);
        this.feedGender = feedGender;
        this.detachGender = detachGender;
    }

    public Logits apply(Tensor f) {
        Tensor genderLogits = gender.forward(f);
        if (!feedGender) return new Logits(genderLogits, age.forward(f));
        // A view shares the values but has no gradient link: the softmax built on it is
        // detached, so the age loss does not train the gender path (RQ3's switch).
        Tensor source = detachGender ? genderLogits.view(genderLogits.shape()) : genderLogits;
        Tensor ageInput = Ops.concat(1, f, Ops.softmax(source));
        return new Logits(genderLogits, age.forward(ageInput));
    }
}
