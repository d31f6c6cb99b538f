#ifndef DETR_CLONES_H
#define DETR_CLONES_H

// Each kernel marked DETR_CLONES is compiled three times (AVX-512, AVX2, baseline) and the
// widest one the CPU has is picked at load time.
#if defined(__x86_64__) && defined(__clang__) && !defined(__APPLE__)
#define DETR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define DETR_CLONES
#endif

#endif
