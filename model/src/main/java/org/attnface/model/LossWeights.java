package org.attnface.model;

/**
 * Weights of the joint loss: gender CE, age-bucket CE, the expected bucket distance
 * E_p[|bucket - true bucket|], and the auxiliary heads' race CE + fine-age CE (0 unless
 * the network has them). A weight of 0 skips its term entirely (nothing is computed).
 */
public record LossWeights(float gender, float age, float distance, float aux) {

    /** The paper's joint loss with lambda = 0.5 on the bucket-distance term. */
    public static final LossWeights DEFAULT = new LossWeights(1f, 1f, 0.5f);

    /** The benchmark configuration of MODELS.md: lambda = 0. */
    public static final LossWeights BENCHMARK = new LossWeights(1f, 1f, 0f);

    public LossWeights(float gender, float age, float distance) { this(gender, age, distance, 0f); }

    public LossWeights {
        if (!(gender >= 0 && age >= 0 && distance >= 0 && aux >= 0) || !Float.isFinite(gender + age + distance + aux))
            throw new IllegalArgumentException("loss weights must be finite and >= 0, got gender " + gender + ", age " + age
                    + ", distance " + distance + ", aux " + aux);
        if (gender == 0 && age == 0 && distance == 0)
            throw new IllegalArgumentException("loss weights are all 0: nothing to train");
    }
}
