#ifndef DETR_KERNELS_H
#define DETR_KERNELS_H

#include <stddef.h>

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

#endif
