#ifndef DETR_KERNELS_H
#define DETR_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// Row kernels of the tensor engine, written in C so that the compiler vectorises them and
// picks the widest vector unit at run time (AVX-512, AVX2 or SSE clones of each function).
// Threads are handled by the caller: each call covers a range of rows.

/// Softmax (log_ = 0) or log-softmax (log_ = 1) of `rows` contiguous rows of length n.
void detr_softmax_rows(const float *x, float *y, size_t rows, size_t n, int log_);

/// Gradient of softmax (log_ = 0: dx = y * (g - sum(g * y))) or log-softmax (log_ = 1:
/// dx = g - e^y * sum(g)) over rows of length n, given the forward output y.
void detr_softmax_backward_rows(const float *y, const float *g, float *dx, size_t rows, size_t n, int log_);

/// Layer norm of `rows` rows of length d: y = (x - mean) * rstd * w + b (w, b may be NULL);
/// stats receives (mean, rstd) per row.
void detr_layernorm_rows(const float *x, float *y, const float *w, const float *b, float *stats,
                         size_t rows, size_t d, float eps);

/// y = e^x elementwise (relative error about 2e-7; below -87.3 gives 0).
void detr_exp(const float *x, float *y, size_t n);

/// The sizes of a multi-scale deformable attention call (Deformable DETR): value [B, S, H, D]
/// with S = sum of h_l * w_l (levels flattened one after the other, level l starting at
/// starts[l]), sampling locations [B, Q, H, L, P, 2] as (x, y) in [0, 1], attention weights
/// [B, Q, H, L, P], output [B, Q, H * D].
typedef struct {
    size_t batch, queries, heads, levels, points, channels, len_in;
    const int32_t *heights, *widths, *starts;
} detr_msda_geometry;

/// Forward for rows [first, last) of the B * Q (batch entry, query) rows: each output row is
/// the attention-weighted sum of each head's bilinear samples (grid_sample's rule,
/// align_corners = false, zeros outside the map: pixel x of a level of width w sits at
/// (x + 0.5) / w).
void detr_msda_forward(const detr_msda_geometry *g, const float *value, const float *loc, const float *attn,
                       float *out, size_t first, size_t last);

/// Backward for the (batch entry, head) pairs [first, last) of the B * H pairs, given the
/// output gradient grad_out [B, Q, H * D]: writes the pairs' slices of grad_value (disjoint),
/// and their entries of grad_loc and grad_attn. Any of the three may be NULL. At a coordinate exactly on a pixel centre the derivative is the one-sided one of
/// floor(), as in PyTorch's grid_sample.
void detr_msda_backward(const detr_msda_geometry *g, const float *value, const float *loc, const float *attn,
                        const float *grad_out, float *grad_value, float *grad_loc, float *grad_attn,
                        size_t first, size_t last);

#endif
