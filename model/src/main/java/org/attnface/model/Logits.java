package org.attnface.model;

import org.attnface.engine.Tensor;

/**
 * Raw scores of one forward: gender [n, 2] and age bucket [n, B]; with the auxiliary heads
 * also race [n, 5] and the age in 5-year bins [n, 17] (null without them).
 */
public record Logits(Tensor gender, Tensor age, Tensor race, Tensor fineAge) {

    public Logits(Tensor gender, Tensor age) { this(gender, age, null, null); }
}
