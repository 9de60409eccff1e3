package org.attnface.engine.optim;

import java.util.List;
import java.util.Map;

import org.attnface.engine.Tensor;

/** SGD with momentum and coupled weight decay, as torch.optim.SGD (dampening 0, no Nesterov). */
public final class Sgd extends Optimizer {
    private final Tensor momentumBuf;
    private final float momentum, weightDecay;

    public Sgd(List<Tensor> parameters, float lr, float momentum, float weightDecay) {
        super(parameters, lr);
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        this.momentumBuf = Tensor.emptyPersistent(params.device(), params.shape());
        momentumBuf.backend().fill(momentumBuf, 0f);
    }

    @Override protected void update() {
        forEachLrRange((p, g, from, to, rangeLr) -> p.backend().sgdStep(p, g, part(momentumBuf, from, to), rangeLr, momentum, weightDecay));
    }

    @Override public Map<String, Tensor> state() { return Map.of("momentum", momentumBuf); }
}
