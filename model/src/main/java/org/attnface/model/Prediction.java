package org.attnface.model;

import org.attnface.engine.Tensor;

/** Class probabilities: gender [n, 2] (index 0 and 1 as in the UTKFace file names) and age bucket [n, B]. */
public record Prediction(Tensor genderProbs, Tensor ageProbs) {}
