// Host emulation of the attnface kernels (hostemu.h) against plain reference loops: checks the
// index math of broadcasting, reductions, pooling, batch norm, the sampler and the losses on a
// machine without a GPU. It says nothing about the driver, launches or the bindings.
//   bash kernels/src/test/host/run.sh
#include "hostemu.h"
#include "elementwise.cu"
#include "pool.cu"
#include "norm.cu"
#include "sampler.cu"
#include "softmax.cu"
#include "augment.cu"
static int fails = 0;
static unsigned rng = 12345;
static float rnd() { rng = rng * 1664525u + 1013904223u; return ((rng >> 8) & 0xFFFFFF) / 16777216.0f * 2 - 1; }
static std::vector<float> randv(size_t n) { std::vector<float> v(n); for (auto& x : v) x = rnd(); return v; }
static void check(const char* what, const std::vector<float>& want, const std::vector<float>& got, double tol = 1e-5) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); i++) { double d = got[i] - want[i]; num += d * d; den += (double)want[i] * want[i]; }
    double rel = std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
    bool ok = rel <= tol && want.size() == got.size();
    if (!ok) fails++;
    printf("%-40s %s rel %.2g\n", what, ok ? "ok  " : "FAIL", rel);
}
// Java's broadcastStrides
static std::vector<int> bstrides(std::vector<int> in, std::vector<int> out) {
    int r = out.size(); std::vector<int> s(r, 0); int stride = 1;
    for (int d = r - 1; d >= 0; d--) { int id = d - (r - (int)in.size()); if (id < 0) continue;
        s[d] = in[id] == out[d] ? (in[id] == 1 ? 0 : stride) : 0; stride *= in[id]; }
    return s;
}
static long numel(const std::vector<int>& s) { long n = 1; for (int d : s) n *= d; return n; }
static void testBinary(std::vector<int> as, std::vector<int> bs, std::vector<int> os) {
    auto a = randv(numel(as)), b = randv(numel(bs)); std::vector<float> out(numel(os)), want(numel(os));
    Shape6 g{}; g.rank = os.size(); auto sa = bstrides(as, os), sb = bstrides(bs, os);
    for (size_t d = 0; d < os.size(); d++) { g.dims[d] = os[d]; g.stride_a[d] = sa[d]; g.stride_b[d] = sb[d]; }
    long n = numel(os);
    run(3, 32, false, [&] { binary_bcast(1, a.data(), b.data(), out.data(), n, g); });
    // reference: multi-index, broadcast by clamping to size-1 dims
    int r = os.size();
    for (long i = 0; i < n; i++) {
        std::vector<int> idx(r); long rem = i; for (int d = r - 1; d >= 0; d--) { idx[d] = rem % os[d]; rem /= os[d]; }
        auto at = [&](const std::vector<int>& s) { long off = 0; int k = s.size();
            for (int d = 0; d < k; d++) { int od = d + r - k; off = off * s[d] + (s[d] == 1 ? 0 : idx[od]); } return off; };
        want[i] = a[at(as)] - b[at(bs)];
    }
    check("binary_bcast sub", want, out, 0);
}
static void testSumTo(std::vector<int> xs, std::vector<int> os) {
    auto x = randv(numel(xs)); std::vector<float> out(numel(os)), want(numel(os), 0.f);
    Shape6 g{}; int r = xs.size(); g.rank = r;
    for (int d = 0; d < r; d++) { int id = d - (r - (int)os.size()); int od = id < 0 ? 1 : os[id];
        g.dims[d] = xs[d]; g.stride_b[d] = od == 1 && xs[d] > 1 ? 1 : 0; }
    long outN = numel(os), reduced = numel(xs) / outN;
    run(std::min<long>(outN, 7), 64, true, [&] { sum_to(x.data(), out.data(), (int)outN, reduced, g); });
    auto so = bstrides(os, xs);
    for (long i = 0; i < numel(xs); i++) { long rem = i, off = 0; for (int d = r - 1; d >= 0; d--) { off += (rem % xs[d]) * so[d]; rem /= xs[d]; } want[off] += x[i]; }
    check("sum_to", want, out);
}
static void testPool(int n, int c, int h, int w, int kh, int kw, int st, int pad) {
    PoolGeo g{n, c, h, w, kh, kw, st, pad, (h + 2 * pad - kh) / st + 1, (w + 2 * pad - kw) / st + 1};
    int p = g.p, q = g.q; auto x = randv((long)n * c * h * w), dy = randv((long)n * c * p * q);
    std::vector<float> y(n * c * p * q), wy(y.size()), dx(x.size(), 0.f), wdx(x.size(), 0.f), adx(x.size()), wadx(x.size(), 0.f);
    run(2, 32, false, [&] { max_pool_fwd(x.data(), y.data(), g); });
    run(2, 32, false, [&] { max_pool_bwd(x.data(), y.data(), dy.data(), dx.data(), g); });
    run(2, 32, false, [&] { avg_pool_bwd(dy.data(), adx.data(), g); });
    std::vector<float> odx(x.size(), 0.f);
    run(2, 32, false, [&] { max_pool_bwd_ordered(x.data(), y.data(), dy.data(), odx.data(), g); });
    for (int pl = 0; pl < n * c; pl++) for (int op = 0; op < p; op++) for (int oq = 0; oq < q; oq++) {
        int h0 = op * st - pad, w0 = oq * st - pad; float m = -INFINITY; int mi = -1;
        for (int ih = max(h0, 0); ih < min(h0 + kh, h); ih++) for (int iw = max(w0, 0); iw < min(w0 + kw, w); iw++) {
            float v = x[(long)pl * h * w + ih * w + iw]; if (v > m) { m = v; mi = ih * w + iw; }
            wadx[(long)pl * h * w + ih * w + iw] += dy[(long)pl * p * q + op * q + oq] / (kh * kw); }
        wy[(long)pl * p * q + op * q + oq] = m; wdx[(long)pl * h * w + mi] += dy[(long)pl * p * q + op * q + oq];
    }
    check("max_pool_fwd", wy, y, 0); check("max_pool_bwd", wdx, dx); check("avg_pool_bwd", wadx, adx);
    check("max_pool_bwd_ordered", wdx, odx);
}
static void testBn(int n, int c, int hw) {
    NormGeo g{n, c, hw}; long m = (long)n * hw; auto x = randv(n * c * hw), dy = randv(n * c * hw), gam = randv(c), bet = randv(c);
    for (auto& v : x) v = v * 3 + 1;
    int slices = 3; std::vector<double> part(2 * c * slices); std::vector<float> rm(c, 0.f), rv(c, 1.f), sm(c), si(c), ss(2 * c), y(x.size());
    run(c * slices, 256, true, [&] { channel_partials(x.data(), nullptr, nullptr, part.data(), g, slices, 0); });
    run(1, 32, false, [&] { bn_finalize_train(part.data(), slices, gam.data(), bet.data(), rm.data(), rv.data(), 0.1f, 1e-5f, sm.data(), si.data(), ss.data(), c, m); });
    run(2, 32, false, [&] { bn_apply(x.data(), y.data(), ss.data(), g); });
    std::vector<float> wy(x.size()), wsm(c), wsi(c), wrv(c), wdx(x.size()), wdg(c), wdb(c);
    for (int ch = 0; ch < c; ch++) { double s = 0, s2 = 0; for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) s += x[(i * c + ch) * hw + j];
        double mean = s / m; for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) { double d = x[(i * c + ch) * hw + j] - mean; s2 += d * d; }
        float inv = 1 / std::sqrt(s2 / m + 1e-5); wsm[ch] = mean; wsi[ch] = inv; wrv[ch] = 0.9f + 0.1f * (float)(s2 / (m - 1));
        for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) { int k = (i * c + ch) * hw + j; wy[k] = (x[k] - mean) * inv * gam[ch] + bet[ch]; }
        double sdy = 0, sdyx = 0; for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) { int k = (i * c + ch) * hw + j; sdy += dy[k]; sdyx += dy[k] * (x[k] - (float)mean); }
        wdb[ch] = sdy; wdg[ch] = sdyx * inv;
        for (int i = 0; i < n; i++) for (int j = 0; j < hw; j++) { int k = (i * c + ch) * hw + j; float xh = (x[k] - (float)mean) * inv;
            wdx[k] = gam[ch] * inv / m * (m * dy[k] - wdb[ch] - xh * wdg[ch]); }
    }
    check("bn y", wy, y); check("bn saveMean", wsm, sm); check("bn saveInvStd", wsi, si); check("bn runningVar", wrv, rv);
    std::vector<float> coef(3 * c), dx(x.size()), dg(c), db(c);
    run(c * slices, 256, true, [&] { channel_partials(dy.data(), x.data(), sm.data(), part.data(), g, slices, 1); });
    run(1, 32, false, [&] { bn_finalize_backward(part.data(), slices, gam.data(), si.data(), dg.data(), db.data(), coef.data(), c, m); });
    run(2, 32, false, [&] { bn_backward_apply(x.data(), dy.data(), sm.data(), si.data(), coef.data(), dx.data(), g, (float)m); });
    check("bn dx", wdx, dx, 1e-4); check("bn dgamma", wdg, dg); check("bn dbeta", wdb, db);
    std::vector<float> cb(c);
    run(c * slices, 256, true, [&] { channel_partials(dy.data(), nullptr, nullptr, part.data(), g, slices, 2); });
    run(1, 32, false, [&] { channel_sum_finalize(part.data(), slices, cb.data(), c); });
    check("conv bias grad", wdb, cb);
}
static void testSampler(int n, int c, int h, int w, int p, int q) {
    std::vector<float> th(6 * n); for (int i = 0; i < n; i++) { float t[6] = {1.2f, 0.1f, 0.05f, -0.1f, 0.9f, -0.1f}; for (int j = 0; j < 6; j++) th[i * 6 + j] = t[j] + 0.1f * rnd(); }
    std::vector<float> grid(n * p * q * 2), wgrid(grid.size());
    run(2, 32, false, [&] { affine_grid_fwd(th.data(), grid.data(), n, p, q); });
    for (int i = 0; i < n; i++) for (int y = 0; y < p; y++) for (int x = 0; x < q; x++) {
        float ny = (2.f * y + 1) / p - 1, nx = (2.f * x + 1) / q - 1; int at = ((i * p + y) * q + x) * 2;
        wgrid[at] = th[i * 6] * nx + th[i * 6 + 1] * ny + th[i * 6 + 2]; wgrid[at + 1] = th[i * 6 + 3] * nx + th[i * 6 + 4] * ny + th[i * 6 + 5]; }
    check("affine_grid_fwd", wgrid, grid, 0);
    auto dg = randv(grid.size()); std::vector<float> dth(6 * n), wdth(6 * n, 0.f);
    run(n, 256, true, [&] { affine_grid_bwd(dg.data(), dth.data(), p, q); });
    for (int i = 0; i < n; i++) for (int y = 0; y < p; y++) for (int x = 0; x < q; x++) {
        double ny = (2.0 * y + 1) / p - 1, nx = (2.0 * x + 1) / q - 1; int at = ((i * p + y) * q + x) * 2;
        double t[6] = {dg[at] * nx, dg[at] * ny, dg[at], dg[at + 1] * nx, dg[at + 1] * ny, dg[at + 1]}; for (int j = 0; j < 6; j++) wdth[i * 6 + j] += t[j]; }
    check("affine_grid_bwd", wdth, dth);
    auto x = randv((long)n * c * h * w), dy = randv((long)n * c * p * q);
    std::vector<float> y(n * c * p * q), wy(y.size()), dx(x.size(), 0.f), wdx(x.size(), 0.f), dgr(grid.size()), wdgr(grid.size());
    run(3, 32, false, [&] { grid_sample_fwd(x.data(), grid.data(), y.data(), n, c, h, w, p * q); });
    run(3, 32, false, [&] { grid_sample_bwd(x.data(), grid.data(), dy.data(), dx.data(), dgr.data(), n, c, h, w, p * q); });
    std::vector<float> odx(dx.size(), 0.f);
    run(3, 32, false, [&] { grid_sample_bwd_dx_ordered(grid.data(), dy.data(), odx.data(), n, c, h, w, p * q); });
    // reference by finite differences-free direct formula with explicit corner list
    for (int i = 0; i < n; i++) for (int pq = 0; pq < p * q; pq++) {
        float gx = grid[(i * p * q + pq) * 2], gy = grid[(i * p * q + pq) * 2 + 1];
        float ix = ((gx + 1) * w - 1) * 0.5f, iy = ((gy + 1) * h - 1) * 0.5f; int x0 = (int)std::floor(ix), y0 = (int)std::floor(iy);
        float gix = 0, giy = 0;
        for (int ch = 0; ch < c; ch++) {
            const float* xb = &x[((long)i * c + ch) * h * w]; float g = dy[((long)i * c + ch) * p * q + pq]; float v = 0;
            auto X = [&](int yy, int xx) { return yy >= 0 && yy < h && xx >= 0 && xx < w ? xb[yy * w + xx] : 0.f; };
            for (int dyy = 0; dyy < 2; dyy++) for (int dxx = 0; dxx < 2; dxx++) {
                float wt = (dyy ? iy - y0 : 1 - (iy - y0)) * (dxx ? ix - x0 : 1 - (ix - x0)); int yy = y0 + dyy, xx = x0 + dxx;
                v += X(yy, xx) * wt; if (yy >= 0 && yy < h && xx >= 0 && xx < w) wdx[((long)i * c + ch) * h * w + yy * w + xx] += g * wt; }
            wy[((long)i * c + ch) * p * q + pq] = v;
            gix += g * ((X(y0, x0 + 1) - X(y0, x0)) * (1 - (iy - y0)) + (X(y0 + 1, x0 + 1) - X(y0 + 1, x0)) * (iy - y0));
            giy += g * ((X(y0 + 1, x0) - X(y0, x0)) * (1 - (ix - x0)) + (X(y0 + 1, x0 + 1) - X(y0, x0 + 1)) * (ix - x0));
        }
        wdgr[(i * p * q + pq) * 2] = gix * w * 0.5f; wdgr[(i * p * q + pq) * 2 + 1] = giy * h * 0.5f;
    }
    check("grid_sample_fwd", wy, y); check("grid_sample_bwd dx", wdx, dx); check("grid_sample_bwd_dx_ordered", wdx, odx); check("grid_sample_bwd dgrid", wdgr, dgr);
}
static void testCe(int n, int c) {
    auto x = randv(n * c); std::vector<float> lab(n); for (int i = 0; i < n; i++) lab[i] = i % c;
    std::vector<float> pr(n * c), loss(1), dl{0.7f}, dx(n * c), wdx(n * c); double wl = 0;
    run(1, 256, true, [&] { cross_entropy_fwd(x.data(), lab.data(), pr.data(), loss.data(), n, c); });
    run(2, 32, false, [&] { cross_entropy_bwd(pr.data(), lab.data(), dl.data(), dx.data(), n, c); });
    for (int i = 0; i < n; i++) { double s = 0; for (int j = 0; j < c; j++) s += std::exp((double)x[i * c + j]);
        wl += std::log(s) - x[i * c + (int)lab[i]]; for (int j = 0; j < c; j++) wdx[i * c + j] = (std::exp(x[i * c + j]) / s - (j == lab[i])) * 0.7 / n; }
    check("cross_entropy loss", {(float)(wl / n)}, loss); check("cross_entropy_bwd", wdx, dx);
}
// The two-stage grid reductions: partials over a grid-strided share, then the fixed-order finalize;
// against a double loop (sum, sum of squares with the clip factor, count of NaN/Inf planted at
// random places), for grids of 1, 7 and more blocks than elements.
static void testReductions(long n, unsigned blocks) {
    auto x = randv(n);
    int planted = 0;
    for (long i = 0; i < n; i += 1 + (long)(std::fabs(rnd()) * 97)) { x[i] = planted % 2 ? NAN : INFINITY; planted++; }
    std::vector<double> part(blocks);
    std::vector<float> out(2);
    double want = 0, wantSq = 0;
    for (float v : x) if (std::isfinite(v)) { want += v; wantSq += (double)v * v; }
    run(blocks, 256, true, [&] { nonfinite_partials(x.data(), n, part.data()); });
    run(1, 256, true, [&] { reduce_finalize(part.data(), blocks, 0.f, out.data()); });
    check("nonfinite count", {(float)planted}, {out[0]}, 0);
    for (long i = 0; i < n; i++) if (!std::isfinite(x[i])) x[i] = 0;
    run(blocks, 256, true, [&] { sum_partials(x.data(), n, part.data()); });
    run(1, 256, true, [&] { reduce_finalize(part.data(), blocks, 0.f, out.data()); });
    check("sum (two stages)", {(float)want}, {out[0]}, 1e-6);
    float maxNorm = (float)std::sqrt(wantSq) / 3;  // clips by 1/3
    run(blocks, 256, true, [&] { sum_squares_partials(x.data(), n, part.data()); });
    run(1, 256, true, [&] { reduce_finalize(part.data(), blocks, maxNorm, out.data()); });
    check("L2 norm and clip factor", {(float)std::sqrt(wantSq), (float)(maxNorm / std::sqrt(wantSq))}, out, 1e-6);
    run(1, 256, true, [&] { reduce_finalize(part.data(), blocks, 2 * (float)std::sqrt(wantSq), out.data()); });
    check("no clip below the maximum", {1.f}, {out[1]}, 0);
}

int main() {
    testBinary({5, 13}, {13}, {5, 13}); testBinary({2, 3, 4, 5}, {3, 1, 5}, {2, 3, 4, 5}); testBinary({4, 1}, {1, 6}, {4, 6});
    testBinary({1, 3, 1, 1}, {2, 3, 5, 5}, {2, 3, 5, 5}); testBinary({1}, {3, 7}, {3, 7});
    testSumTo({5, 13}, {13}); testSumTo({5, 13}, {5, 1}); testSumTo({2, 3, 4, 5}, {1, 3, 1, 1}); testSumTo({2, 3, 4, 5}, {3, 1, 1});
    testSumTo({2, 1, 700}, {1}); testSumTo({3, 4}, {3, 4}); testSumTo({2, 3, 4, 5}, {2, 1, 4, 1});
    testPool(2, 5, 9, 7, 3, 3, 2, 1); testPool(1, 3, 8, 6, 2, 2, 2, 0); testPool(2, 3, 5, 5, 3, 3, 1, 1); testPool(1, 2, 7, 5, 7, 5, 1, 0);
    testBn(3, 5, 24); testBn(6, 5, 1); testBn(2, 3, 1);
    testSampler(2, 3, 9, 7, 5, 6); testSampler(1, 5, 4, 3, 12, 9);
    testCe(7, 8); testCe(300, 2);
    testReductions(1000, 1); testReductions(12345, 7); testReductions(5, 9);
    printf("%s (%d failures)\n", fails ? "FAILED" : "all passed", fails);
    return fails != 0;
}
