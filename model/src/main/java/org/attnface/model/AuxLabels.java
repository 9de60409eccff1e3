package org.attnface.model;

import org.attnface.engine.Tensor;

/**
 * Labels of the auxiliary heads ({@link ModelConfig#auxHeads}), one per image, class indices
 * held as floats: race in [0, 5) (UTKFace's White, Black, Asian, Indian, Others) and the age in
 * 5-year bins in [0, 17) ({@link #fineAgeBin}).
 */
public record AuxLabels(Tensor race, Tensor fineAge) {

    /** UTKFace's race classes. */
    public static final int RACES = 5;

    /** 0-4, 5-9, ..., 75-79, 80+. */
    public static final int FINE_AGE_BINS = 17;

    /**
     * The fine-age head's class: 5-year bins, twice as fine as the decades, so it separates what
     * one bucket lumps together (a baby from a 9-year-old). A classification rather than a
     * regression of the years: its gradient is bounded like the other heads' (a squared error on
     * the years diverged in the first steps at the ResNet's lr 0.05).
     */
    public static int fineAgeBin(int age) {
        return Math.min(Math.max(age, 0) / 5, FINE_AGE_BINS - 1);
    }
}
