package org.attnface.trainer.research;

import java.util.List;

import org.attnface.model.Arch;

/**
 * One arm of the research questions: the network and the switches it trains with, and which
 * tasks it is scored on. The ensemble trains nothing: it averages the probabilities of two
 * trained variants of the same seed ({@code members}), i.e. of separately trained networks,
 * as in the paper.
 */
public record Variant(String name, String question, String what, Arch arch, boolean attention, boolean feedGender, float[] weights,
                      boolean genderMetrics, boolean ageMetrics, List<String> members) {

    public static final String BASE = "base", NO_ATTENTION = "no-attention", GENDER_ONLY = "gender-only", AGE_ONLY = "age-only",
            GENDER_NOT_FED = "gender-not-fed", ENSEMBLE = "ensemble";

    public boolean trained() { return members.isEmpty(); }

    /** RQ1-RQ4 with {@code base} (attn or resnet) as the network of RQ1-RQ3; the other network and the ensemble for RQ4. */
    public static List<Variant> all(Arch base) {
        if (base == Arch.ENSEMBLE) throw new IllegalArgumentException("--model: attn or resnet (the ensemble is a variant of its own)");
        Arch other = base == Arch.ATTN ? Arch.RESNET : Arch.ATTN;
        float[] joint = {1, 1, 0.5f};
        List<String> none = List.of();
        return List.of(
                new Variant(BASE, "all", base + ": attention, multi-task, gender fed", base, true, true, joint, true, true, none),
                new Variant(NO_ATTENTION, "RQ1", base + " without the spatial transformer", base, false, true, joint, true, true, none),
                new Variant(GENDER_ONLY, "RQ2", "single task: gender loss only (1,0,0)", base, true, true, new float[] {1, 0, 0}, true, false, none),
                new Variant(AGE_ONLY, "RQ2", "single task: age loss only (0,1,0), gender not fed", base, true, false, new float[] {0, 1, 0}, false, true, none),
                new Variant(GENDER_NOT_FED, "RQ3", "age head without the gender probabilities", base, true, false, joint, true, true, none),
                new Variant(other.toString(), "RQ4", "the other single network", other, true, true, joint, true, true, none),
                new Variant(ENSEMBLE, "RQ4", BASE + " + " + other + " of the same seed, probabilities averaged", Arch.ENSEMBLE, true, true, joint,
                        true, true, List.of(BASE, other.toString())));
    }
}
