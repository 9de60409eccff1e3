// Optimiser updates over the flat buffer of all parameters, one launch per step, with the
// same float arithmetic order as CpuBackend (no FMA contraction, so results match bit for bit
// up to sqrt/div rounding, which is IEEE-correct on both).
// Speed of light: SGD reads param, grad, momentum and writes param, momentum: 20 bytes per
// parameter; AdamW 28 bytes. ResNet-18 + Attn-CNN hold ~12M parameters: 240-340 MB, ~70-100 us
// at 3.35 TB/s, ~50-70 us at 4.8 TB/s.
#include "common.cuh"

extern "C" __global__ void sgd_step(float* param, const float* grad, float* buf, long long n, float lr,
                                    float momentum, float wd) {
    FOR_EACH(i, n) {
        float g = __fadd_rn(grad[i], __fmul_rn(wd, param[i]));
        float m = __fadd_rn(__fmul_rn(momentum, buf[i]), g);
        buf[i] = m;
        param[i] = __fsub_rn(param[i], __fmul_rn(lr, m));
    }
}

extern "C" __global__ void adamw_step(float* param, const float* grad, float* m, float* v, long long n, float lr,
                                      float beta1, float beta2, float eps, float decay, float bc1, float bc2) {
    FOR_EACH(i, n) {
        float g = grad[i];
        float mi = __fadd_rn(__fmul_rn(beta1, m[i]), __fmul_rn(1.f - beta1, g));
        float vi = __fadd_rn(__fmul_rn(beta2, v[i]), __fmul_rn(__fmul_rn(1.f - beta2, g), g));
        m[i] = mi;
        v[i] = vi;
        float step = __fdiv_rn(__fmul_rn(lr, __fdiv_rn(mi, bc1)), __fadd_rn(__fsqrt_rn(__fdiv_rn(vi, bc2)), eps));
        param[i] = __fsub_rn(__fmul_rn(param[i], decay), step);
    }
}
