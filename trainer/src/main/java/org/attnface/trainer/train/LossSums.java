package org.attnface.trainer.train;

import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.model.LossWeights;

/**
 * One epoch's running sums of the losses read so far (every {@code --loss-every} steps): the
 * backpropagated weighted total and the unweighted terms, each summed over the ensemble's two
 * networks; a term of weight 0 stays 0. Kept in checkpoints so that the means of an epoch cut
 * by a resume equal an uninterrupted run's.
 */
public record LossSums(long count, double total, double gender, double age, double distance, double aux) {
    public static final LossSums ZERO = new LossSums(0, 0, 0, 0, 0, 0);

    /** Adds one step's losses, in the order total, gender, age, distance, aux. */
    public LossSums plus(float[] l) {
        return new LossSums(count + 1, total + l[0], gender + l[1], age + l[2], distance + l[3], aux + l[4]);
    }

    /** sum / count, or NaN when no loss was read. */
    public double mean(double sum) { return count == 0 ? Double.NaN : sum / count; }

    /** The mean of each term that {@code w} trains, by name (gender, age, distance, aux); empty when no loss was read. */
    public Map<String, Double> termMeans(LossWeights w) {
        Map<String, Double> m = new LinkedHashMap<>();
        if (count == 0) return m;
        if (w.gender() > 0) m.put("gender", mean(gender));
        if (w.age() > 0) m.put("age", mean(age));
        if (w.distance() > 0) m.put("distance", mean(distance));
        if (w.aux() > 0) m.put("aux", mean(aux));
        return m;
    }
}
