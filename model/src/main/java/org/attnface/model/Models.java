package org.attnface.model;

import org.attnface.engine.Device;
import org.attnface.model.attn.AttnCnn;
import org.attnface.model.ensemble.Ensemble;
import org.attnface.model.resnet.ResNet;

/** Builds the network a {@link ModelConfig} names. */
public final class Models {
    private Models() {}

    /**
     * A new network on {@code device}, in training mode, initialised from {@code seed} (each
     * layer's weights are a function of the seed and its full name).
     */
    public static AgeGenderModel create(ModelConfig c, Device d, long seed) {
        AgeGenderModel m = switch (c.arch()) {
            case ATTN -> new AttnCnn(c, d);
            case RESNET -> new ResNet(c, d);
            case ENSEMBLE -> new Ensemble(c, d);
        };
        m.initialize(seed);
        m.train();
        return m;
    }
}
