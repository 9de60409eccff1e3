package org.attnface.model;

import org.attnface.engine.Tensor;

/** Raw scores of one forward: gender [n, 2] and age bucket [n, B]. */
public record Logits(Tensor gender, Tensor age) {}
