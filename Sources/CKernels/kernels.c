#include "kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "clones.h"

// e^x: Cody-Waite reduction and Cephes' polynomial; branch-free so that loops vectorise.
static inline float exp_poly(float x) {
    const float lo = -87.3f, hi = 88.7f;
    float xc = x < lo ? lo : (x > hi ? hi : x);
    float fx = __builtin_rintf(xc * 1.44269504088896341f);
    float r = xc - fx * 0.693359375f;
    r = r - fx * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    int32_t n = (int32_t)fx;
    int32_t bits = (n + 127) << 23;
    float p;
    memcpy(&p, &bits, 4);
    float out = y * p;
    return x < lo ? 0.0f : out;
}

DETR_CLONES
void detr_exp(const float *x, float *y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = exp_poly(x[i]);
}

DETR_CLONES
void detr_softmax_rows(const float *x, float *y, size_t rows, size_t n, int log_) {
    // Sums and maxima may be computed in any order (vector lanes): allowed here only.
#pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float m = -INFINITY;
        for (size_t j = 0; j < n; j++) m = fmaxf(m, xr[j]);
        if (m == -INFINITY) m = 0.0f;
        float s = 0.0f;
        if (log_) {
            for (size_t j = 0; j < n; j++) s += exp_poly(xr[j] - m);
            // (x - m) - log(s): subtracting m first keeps precision for large logits.
            float ls = logf(s);
            for (size_t j = 0; j < n; j++) yr[j] = (xr[j] - m) - ls;
        } else {
            for (size_t j = 0; j < n; j++) {
                float e = exp_poly(xr[j] - m);
                yr[j] = e;
                s += e;
            }
            float inv = 1.0f / s;
            for (size_t j = 0; j < n; j++) yr[j] *= inv;
        }
    }
}

DETR_CLONES
void detr_layernorm_rows(const float *x, float *y, const float *w, const float *b, float *stats,
                         size_t rows, size_t d, float eps) {
#pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * d;
        float *yr = y + r * d;
        float s = 0.0f;
        for (size_t j = 0; j < d; j++) s += xr[j];
        float mean = s / (float)d;
        float q = 0.0f;
        for (size_t j = 0; j < d; j++) {
            float c = xr[j] - mean;
            q += c * c;
        }
        float rstd = 1.0f / sqrtf(q / (float)d + eps);
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
        if (w && b) {
            for (size_t j = 0; j < d; j++) yr[j] = (xr[j] - mean) * rstd * w[j] + b[j];
        } else {
            for (size_t j = 0; j < d; j++) {
                float v = (xr[j] - mean) * rstd;
                if (w) v *= w[j];
                if (b) v += b[j];
                yr[j] = v;
            }
        }
    }
}

DETR_CLONES
void detr_softmax_backward_rows(const float *y, const float *g, float *dx, size_t rows, size_t n, int log_) {
#pragma clang fp reassociate(on)
    for (size_t r = 0; r < rows; r++) {
        const float *yr = y + r * n, *gr = g + r * n;
        float *dr = dx + r * n;
        float s = 0.0f;
        if (log_) {
            for (size_t j = 0; j < n; j++) s += gr[j];
            for (size_t j = 0; j < n; j++) dr[j] = gr[j] - exp_poly(yr[j]) * s;
        } else {
            for (size_t j = 0; j < n; j++) s += gr[j] * yr[j];
            for (size_t j = 0; j < n; j++) dr[j] = yr[j] * (gr[j] - s);
        }
    }
}
