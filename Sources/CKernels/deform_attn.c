// Multi-scale deformable attention (Zhu et al., Deformable DETR), fused: one pass over the
// sampling points per query for the forward, one per (batch entry, head) for the backward.
// The sampling rule is PyTorch's grid_sample (bilinear, zeros padding, align_corners = false)
// on each level's map, as in the official ms_deform_attn_core_pytorch; the layout and the
// per-point arithmetic follow the official CUDA kernel (ms_deform_im2col_bilinear and
// ms_deform_col2im_bilinear), except at a coordinate of exactly -1 (a location of exactly
// -0.5 / size): the CUDA kernel drops the point there, grid_sample keeps the one-sided
// derivative of its inside tap (the value is 0 either way).
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"

// The four taps of one bilinear sample: offsets (y * w + x) in the level's map, -1 outside;
// their weights and the weights' derivatives with respect to the pixel coordinates x and y.
typedef struct {
    long offset[4];
    float weight[4], dx[4], dy[4];
} taps_t;

static inline void bilinear_taps(float locx, float locy, int w, int h, taps_t *t) {
    // grid = 2 * loc - 1 unnormalised with align_corners = false: ((grid + 1) * size - 1) / 2.
    const float ix = locx * (float)w - 0.5f, iy = locy * (float)h - 0.5f;
    // Far outside (or NaN): every tap is outside (this also keeps the casts below defined).
    if (!(ix > -2.0f && iy > -2.0f && ix < (float)w + 1.0f && iy < (float)h + 1.0f)) {
        for (int k = 0; k < 4; k++) {
            t->offset[k] = -1;
            t->weight[k] = t->dx[k] = t->dy[k] = 0.0f;
        }
        return;
    }
    const float fx = floorf(ix), fy = floorf(iy);
    const float ax = ix - fx, ay = iy - fy;
    const int x0 = (int)fx, y0 = (int)fy;
    const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
    const float wx[4] = {1.0f - ax, ax, 1.0f - ax, ax}, wy[4] = {1.0f - ay, 1.0f - ay, ay, ay};
    const float sx[4] = {-1.0f, 1.0f, -1.0f, 1.0f}, sy[4] = {-1.0f, -1.0f, 1.0f, 1.0f};
    for (int k = 0; k < 4; k++) {
        const int inside = xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h;
        t->offset[k] = inside ? (long)ys[k] * w + xs[k] : -1;
        t->weight[k] = wx[k] * wy[k];
        t->dx[k] = sx[k] * wy[k];
        t->dy[k] = sy[k] * wx[k];
    }
}

// A buffer of n floats (at least one), or abort when memory is exhausted (as the tensor allocator).
static float *scratch(size_t n) {
    float *p = malloc((n ? n : 1) * sizeof(float));
    if (!p) abort();
    return p;
}

// The forward of rows [first, last) with D channels per head, each head summed in acc [D]. Inlined
// with D = 32 (Deformable DETR's and Mask2Former's 256 / 8) and acc a local array, the sum stays
// in vector registers: about 30% faster than summing into the output row.
static inline __attribute__((always_inline)) void forward_rows(const detr_msda_geometry *g, const float *value,
                                                               const float *loc, const float *attn, float *out,
                                                               size_t first, size_t last, const size_t D, float *acc) {
    const size_t H = g->heads, L = g->levels, P = g->points;
    const size_t pixel = H * D;  // stride between two positions of the value map
    for (size_t row = first; row < last; row++) {  // row = b * Q + q
        const size_t b = row / g->queries;
        for (size_t h = 0; h < H; h++) {
            for (size_t d = 0; d < D; d++) acc[d] = 0.0f;
            for (size_t l = 0; l < L; l++) {
                const int hl = g->heights[l], wl = g->widths[l];
                const float *vl = value + ((b * g->len_in + (size_t)g->starts[l]) * H + h) * D;
                size_t idx = ((row * H + h) * L + l) * P;
                for (size_t p = 0; p < P; p++, idx++) {
                    taps_t t;
                    bilinear_taps(loc[2 * idx], loc[2 * idx + 1], wl, hl, &t);
                    const float a = attn[idx];
                    for (int k = 0; k < 4; k++) {
                        if (t.offset[k] < 0) continue;
                        const float c = a * t.weight[k];
                        const float *v = vl + (size_t)t.offset[k] * pixel;
                        for (size_t d = 0; d < D; d++) acc[d] += c * v[d];
                    }
                }
            }
            memcpy(out + (row * H + h) * D, acc, D * sizeof(float));
        }
    }
}

DETR_CLONES
void detr_msda_forward(const detr_msda_geometry *g, const float *value, const float *loc, const float *attn,
                       float *out, size_t first, size_t last) {
    if (g->channels == 32) {
        float acc[32];
        forward_rows(g, value, loc, attn, out, first, last, 32, acc);
    } else {
        float *acc = scratch(g->channels);
        forward_rows(g, value, loc, attn, out, first, last, g->channels, acc);
        free(acc);
    }
}

DETR_CLONES
void detr_msda_backward(const detr_msda_geometry *g, const float *value, const float *loc, const float *attn,
                        const float *grad_out, float *grad_value, float *grad_loc, float *grad_attn,
                        size_t first, size_t last) {
    // Dot products over the channels may be summed in any order (vector lanes).
#pragma clang fp reassociate(on)
    const size_t H = g->heads, L = g->levels, P = g->points, D = g->channels, Q = g->queries, S = g->len_in;
    // One head's value map and its gradient, contiguous ([S, D]): neighbouring taps are D floats
    // apart instead of H * D, and the pair's working set fits in a core's L2 at the pixel
    // decoder's size (about 20% faster than in place on random locations).
    float *vs = scratch(S * D);
    float *gs = grad_value ? scratch(S * D) : NULL;
    for (size_t bh = first; bh < last; bh++) {
        const size_t b = bh / H, h = bh % H;
        for (size_t s = 0; s < S; s++) memcpy(vs + s * D, value + ((b * S + s) * H + h) * D, D * sizeof(float));
        if (gs) memset(gs, 0, S * D * sizeof(float));
        for (size_t q = 0; q < Q; q++) {
            const size_t row = b * Q + q;
            const float *go = grad_out + (row * H + h) * D;
            for (size_t l = 0; l < L; l++) {
                const int hl = g->heights[l], wl = g->widths[l];
                const float *vl = vs + (size_t)g->starts[l] * D;
                float *gvl = gs ? gs + (size_t)g->starts[l] * D : NULL;
                size_t idx = ((row * H + h) * L + l) * P;
                for (size_t p = 0; p < P; p++, idx++) {
                    taps_t t;
                    bilinear_taps(loc[2 * idx], loc[2 * idx + 1], wl, hl, &t);
                    const float a = attn[idx];
                    float sa = 0.0f, sx = 0.0f, sy = 0.0f;
                    for (int k = 0; k < 4; k++) {
                        if (t.offset[k] < 0) continue;
                        const float *v = vl + (size_t)t.offset[k] * D;
                        float dot = 0.0f;
                        for (size_t d = 0; d < D; d++) dot += go[d] * v[d];
                        sa += t.weight[k] * dot;
                        sx += t.dx[k] * dot;
                        sy += t.dy[k] * dot;
                        if (gvl) {
                            const float c = a * t.weight[k];
                            float *gv = gvl + (size_t)t.offset[k] * D;
                            for (size_t d = 0; d < D; d++) gv[d] += c * go[d];
                        }
                    }
                    if (grad_attn) grad_attn[idx] = sa;
                    if (grad_loc) {
                        // d ix / d loc_x = w, d iy / d loc_y = h.
                        grad_loc[2 * idx] = a * (float)wl * sx;
                        grad_loc[2 * idx + 1] = a * (float)hl * sy;
                    }
                }
            }
        }
        if (gs) {
            for (size_t s = 0; s < S; s++) memcpy(grad_value + ((b * S + s) * H + h) * D, gs + s * D, D * sizeof(float));
        }
    }
    free(vs);
    free(gs);
}
