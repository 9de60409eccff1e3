package org.attnface.model;

import org.attnface.engine.Tensor;

/**
 * One training forward's losses, each a one-element tensor. {@code total} is the weighted
 * sum that is backpropagated; {@code gender}, {@code age} and {@code distance} are the
 * unweighted terms (for logging), {@code aux} the auxiliary heads' race CE + fine-age CE; a term whose weight is 0 was not computed and holds 0.
 * For the ensemble every field is the sum over its two networks.
 */
public record Losses(Tensor total, Tensor gender, Tensor age, Tensor distance, Tensor aux) {}
