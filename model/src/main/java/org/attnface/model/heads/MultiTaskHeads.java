package org.attnface.model.heads;

import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.engine.Device;
import org.attnface.engine.Tensor;
import org.attnface.engine.nn.Linear;
import org.attnface.engine.ops.Ops;
import org.attnface.model.AuxLabels;
import org.attnface.model.Logits;

/**
 * The two heads on a feature vector f [n, F]: gender = Linear(F, 2)(f), and
 * age = Linear(F + 2, B)(concat(f, softmax(gender logits))) when the gender probabilities
 * are fed (Linear(F, B)(f) otherwise); with the auxiliary heads also race = Linear(F, 5)(f)
 * and fine age = Linear(F, 17)(f) (5-year bins). The owning network registers them under
 * the names {@link #named} gives, so names stay flat ("gender_head.weight").
 */
public final class MultiTaskHeads {
    public final Linear gender, age, race, fineAge;
    private final boolean feedGender, detachGender;

    public MultiTaskHeads(Device device, int features, int buckets, boolean feedGender, boolean detachGender, boolean aux) {
        this.gender = new Linear(device, features, 2);
        this.age = new Linear(device, features + (feedGender ? 2 : 0), buckets);
        this.race = aux ? new Linear(device, features, AuxLabels.RACES) : null;
        this.fineAge = aux ? new Linear(device, features, AuxLabels.FINE_AGE_BINS) : null;
        this.feedGender = feedGender;
        this.detachGender = detachGender;
    }

    /** "gender_head", "age_head" and, with the auxiliary heads, "race_head" and "fine_age_head", in that order. */
    public Map<String, Linear> named() {
        Map<String, Linear> m = new LinkedHashMap<>();
        m.put("gender_head", gender);
        m.put("age_head", age);
        if (race != null) {
            m.put("race_head", race);
            m.put("fine_age_head", fineAge);
        }
        return m;
    }

    public Logits apply(Tensor f) {
        Tensor genderLogits = gender.forward(f), ageLogits;
        if (!feedGender) ageLogits = age.forward(f);
        else {
            // A view shares the values but has no gradient link: the softmax built on it is
            // detached, so the age loss does not train the gender path (RQ3's switch).
            Tensor source = detachGender ? genderLogits.view(genderLogits.shape()) : genderLogits;
            ageLogits = age.forward(Ops.concat(1, f, Ops.softmax(source)));
        }
        if (race == null) return new Logits(genderLogits, ageLogits);
        return new Logits(genderLogits, ageLogits, race.forward(f), fineAge.forward(f));
    }
}
