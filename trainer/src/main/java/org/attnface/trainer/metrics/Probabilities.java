package org.attnface.trainer.metrics;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.attnface.engine.Autograd;
import org.attnface.engine.Tensor;
import org.attnface.engine.TensorScope;
import org.attnface.model.AgeGenderModel;
import org.attnface.model.ModelConfig;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.trainer.data.Batches;
import org.attnface.trainer.data.FaceSet;

/**
 * Class probabilities of n images, gender [n * 2] and age bucket [n * B] row by row, and the
 * metrics they give: what train's validation, {@code eval} and {@code experiments} compute.
 */
public record Probabilities(float[] gender, float[] age) {

    /** {@code model}'s probabilities on the images (centre crop), {@code batchSize} at a time, without gradients; the model's mode is restored. */
    public static Probabilities of(AgeGenderModel model, Batches batches, int[] indices, int batchSize, boolean mirrored) {
        int b = model.config().buckets().count();
        float[] gender = new float[indices.length * 2], age = new float[indices.length * b];
        boolean wasTraining = model.training();
        model.eval();
        try (var ng = Autograd.noGrad()) {
            for (int from = 0; from < indices.length; from += batchSize) {
                int[] idx = Arrays.copyOfRange(indices, from, Math.min(indices.length, from + batchSize));
                try (TensorScope s = TensorScope.open()) {
                    Tensor x = batches.images(idx, false, 0);
                    var p = mirrored ? model.predictMirrored(x) : model.predict(x);
                    System.arraycopy(p.genderProbs().toArray(), 0, gender, from * 2, idx.length * 2);
                    System.arraycopy(p.ageProbs().toArray(), 0, age, from * b, idx.length * b);
                }
            }
        } finally {
            if (wasTraining) model.train();
        }
        return new Probabilities(gender, age);
    }

    /** The metrics of {@code model} on the images {@code indices} of the batches' set, the likeliest age bucket read as its prediction. */
    public static Evaluation evaluate(AgeGenderModel model, Batches batches, int[] indices, ModelConfig mc, int batchSize) {
        return of(model, batches, indices, batchSize, false).evaluate(batches.set(), indices, mc, AgeRule.ARGMAX);
    }

    /** The metrics of these probabilities, those of the images {@code indices} of {@code set}; {@code rule} reads each age bucket. */
    public Evaluation evaluate(FaceSet set, int[] indices, ModelConfig mc, AgeRule rule) {
        Evaluation ev = new Evaluation(mc.buckets(), rule);
        int b = mc.buckets().count();
        for (int i = 0; i < indices.length; i++)
            ev.add(set.genders()[indices[i]], set.ages()[indices[i]], set.races()[indices[i]], gender, i * 2, age, i * b);
        return ev;
    }

    /** w * a + (1 - w) * b, class by class (what Ensemble computes with attnWeight w). */
    public static Probabilities mix(Probabilities a, Probabilities b, float w) {
        return new Probabilities(mix(a.gender, b.gender, w), mix(a.age, b.age, w));
    }

    private static float[] mix(float[] a, float[] b, float w) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i] * w + b[i] * (1 - w);
        return out;
    }

    /** An ensemble's two members' probabilities on the same images, each network run once (train's validation, eval). */
    public record Members(Probabilities attn, Probabilities resnet) {
        public static Members of(Ensemble e, Batches batches, int[] indices, int batchSize, boolean mirrored) {
            return new Members(Probabilities.of(e.attn, batches, indices, batchSize, mirrored),
                    Probabilities.of(e.resnet, batches, indices, batchSize, mirrored));
        }

        /** The ensemble's probabilities with attn weight w. */
        public Probabilities mix(float w) { return Probabilities.mix(attn, resnet, w); }

        /** Each member's metrics: "attn", then "resnet". */
        public Map<String, Evaluation> evaluations(FaceSet set, int[] indices, ModelConfig mc, AgeRule rule) {
            Map<String, Evaluation> m = new LinkedHashMap<>();
            m.put("attn", attn.evaluate(set, indices, mc, rule));
            m.put("resnet", resnet.evaluate(set, indices, mc, rule));
            return m;
        }
    }
}
