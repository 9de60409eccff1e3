package org.attnface.engine.optim;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.attnface.engine.Tensor;

/** AdamW (Loshchilov and Hutter 2019) as torch.optim.AdamW: decoupled weight decay. */
public final class AdamW extends Optimizer {
    private final Tensor m, v;
    private final float beta1, beta2, eps, weightDecay;

    public AdamW(List<Tensor> parameters, float lr, float beta1, float beta2, float eps, float weightDecay) {
        super(parameters, lr);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = Tensor.emptyPersistent(params.device(), params.shape());
        this.v = Tensor.emptyPersistent(params.device(), params.shape());
        m.backend().fill(m, 0f);
        v.backend().fill(v, 0f);
    }

    public AdamW(List<Tensor> parameters, float lr, float weightDecay) {
        this(parameters, lr, 0.9f, 0.999f, 1e-8f, weightDecay);
    }

    @Override protected void update() {
        forEachLrRange((p, g, from, to, rangeLr) -> p.backend().adamwStep(p, g, part(m, from, to), part(v, from, to), rangeLr,
                beta1, beta2, eps, weightDecay, step));
    }

    @Override public Map<String, Tensor> state() {
        Map<String, Tensor> s = new LinkedHashMap<>();
        s.put("exp_avg", m);
        s.put("exp_avg_sq", v);
        return s;
    }
}
