package org.attnface.trainer.train;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.attnface.engine.Tensor;
import org.attnface.engine.optim.AdamW;
import org.attnface.engine.optim.Optimizer;
import org.attnface.engine.optim.Sgd;

/** The optimisers {@code --optimizer} names; their lower-case names are what config.json holds. */
public enum OptimizerKind {
    /** SGD with momentum, as torch.optim.SGD; peak rate 0.01 unless --lr says otherwise. */
    SGD(0.01f),
    /** AdamW with torch's betas and eps; peak rate 0.001 unless --lr says otherwise. */
    ADAMW(1e-3f);

    /** "sgd", "adamw": the names {@link #parse} accepts. */
    public static final List<String> NAMES = Arrays.stream(values()).map(OptimizerKind::toString).toList();

    /** The peak learning rate when {@code --lr} is not given. */
    public final float defaultLr;

    OptimizerKind(float defaultLr) { this.defaultLr = defaultLr; }

    /** The exact lower-case name; anything else is an error that lists the names. */
    public static OptimizerKind parse(String name) {
        for (OptimizerKind k : values()) if (k.toString().equals(name)) return k;
        throw new IllegalArgumentException("unknown optimizer '" + name + "' (" + String.join(" or ", NAMES) + ")");
    }

    /** A new optimiser over {@code parameters}; momentum is SGD's only. */
    public Optimizer create(List<Tensor> parameters, float lr, float momentum, float weightDecay) {
        return switch (this) {
            case SGD -> new Sgd(parameters, lr, momentum, weightDecay);
            case ADAMW -> new AdamW(parameters, lr, weightDecay);
        };
    }

    @Override public String toString() { return name().toLowerCase(Locale.ROOT); }
}
