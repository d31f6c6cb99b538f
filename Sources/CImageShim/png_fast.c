// Fast PNG decoding for the common case of 8-bit, non-interlaced gray, RGB and RGBA files
// (segment-id PNGs, most data-set PNGs): the chunks are walked here (every chunk's CRC is
// checked), the concatenated IDAT stream is inflated by libdeflate in one call (zlib's inflate,
// which libpng drives, is 10-20x slower on the long overlapping matches that flat images
// compress to; libdeflate checks the adler32) and the rows are unfiltered here.
//
// Anything irregular (another layout, a bad CRC, an unknown critical chunk, IDAT chunks that are
// not consecutive, a missing IEND, a stream that does not inflate to exactly the image size, a
// bad filter type) makes these functions return -1, and the caller decodes the file with
// libpng instead, which reports errors (or accepts oddities) as before. The pixels of a file
// taken by this path are those libpng gives with the shim's settings (gamma ignored, alpha
// dropped, tRNS ignored, gray replicated).
#include "image_shim.h"

#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

static uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static int fast_disabled(void) {
    static int state = -1;  // racy but idempotent
    if (state < 0) {
        const char *v = getenv("DETR_PNG_LIBPNG_ONLY");
        state = (v && v[0] && v[0] != '0') ? 1 : 0;
    }
    return state;
}

static const uint8_t png_signature[8] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};

/// IHDR check; the bytes per pixel (1, 3 or 4) or 0 when the fast path does not apply.
static int fast_layout(const uint8_t *data, size_t size, uint32_t *w, uint32_t *h) {
    if (fast_disabled()) return 0;
    if (size < 8 + 25 || memcmp(data, png_signature, 8) != 0) return 0;
    if (be32(data + 8) != 13 || memcmp(data + 12, "IHDR", 4) != 0) return 0;
    const uint8_t *ihdr = data + 16;
    *w = be32(ihdr);
    *h = be32(ihdr + 4);
    const uint8_t depth = ihdr[8], color = ihdr[9], compression = ihdr[10], filter = ihdr[11], interlace = ihdr[12];
    if (*w == 0 || *h == 0 || *w > 65500 || *h > 65500) return 0;
    if (depth != 8 || compression != 0 || filter != 0 || interlace != 0) return 0;
    switch (color) {
    case 0: return 1;
    case 2: return 3;
    case 6: return 4;
    default: return 0;
    }
}

int detr_png_fast_info(const uint8_t *data, size_t size, int *width, int *height) {
    uint32_t w, h;
    if (!fast_layout(data, size, &w, &h)) return -1;
    *width = (int)w;
    *height = (int)h;
    return 0;
}

static inline uint8_t paeth(int a, int b, int c) {
    const int pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c);
    return (uint8_t)((pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c));
}

#if defined(__SSE2__)
#include <emmintrin.h>

static inline __attribute__((always_inline)) __m128i load_px(const uint8_t *p, int bpp) {
    uint32_t v = 0;
    memcpy(&v, p, (size_t)bpp);
    return _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)v), _mm_setzero_si128());
}

/// Paeth for 3 or 4 bytes per pixel, one pixel at a time in 16-bit lanes (the predictor of
/// each byte as the scalar code picks it). Where the pixel above equals the one above-left
/// (b == c, flat areas), the predictor is a and the rest is skipped.
static inline __attribute__((always_inline)) void paeth_px(uint8_t *cur, const uint8_t *prev, size_t n, int bpp) {
    const __m128i zero = _mm_setzero_si128(), low = _mm_set1_epi16(0xFF);
    __m128i a = zero, c = zero;
    for (size_t x = 0; x < n; x += (size_t)bpp) {
        const __m128i b = load_px(prev + x, bpp);
        const __m128i r = load_px(cur + x, bpp);
        __m128i pred;
        if (x >= (size_t)bpp && memcmp(prev + x, prev + x - bpp, (size_t)bpp) == 0) {
            pred = a;
        } else {
            const __m128i bc = _mm_sub_epi16(b, c), ac = _mm_sub_epi16(a, c);
            const __m128i abc = _mm_add_epi16(ac, bc);
            const __m128i pa = _mm_max_epi16(bc, _mm_sub_epi16(zero, bc));
            const __m128i pb = _mm_max_epi16(ac, _mm_sub_epi16(zero, ac));
            const __m128i pc = _mm_max_epi16(abc, _mm_sub_epi16(zero, abc));
            const __m128i smallest = _mm_min_epi16(pa, _mm_min_epi16(pb, pc));
            const __m128i useA = _mm_cmpeq_epi16(pa, smallest), useB = _mm_cmpeq_epi16(pb, smallest);
            pred = _mm_or_si128(_mm_and_si128(useB, b), _mm_andnot_si128(useB, c));
            pred = _mm_or_si128(_mm_and_si128(useA, a), _mm_andnot_si128(useA, pred));
        }
        const __m128i out = _mm_and_si128(_mm_add_epi16(r, pred), low);
        const uint32_t v = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(out, out));
        memcpy(cur + x, &v, (size_t)bpp);
        a = out;
        c = b;
    }
}
#endif

/// Unfilters one row in place; `prev` is the previous unfiltered row or NULL for the first.
static int unfilter_row(uint8_t *cur, const uint8_t *prev, size_t n, int bpp, uint8_t type) {
    size_t x;
    switch (type) {
    case 0:
        return 0;
    case 1:
        for (x = (size_t)bpp; x < n; x++) cur[x] = (uint8_t)(cur[x] + cur[x - bpp]);
        return 0;
    case 2:
        if (prev)
            for (x = 0; x < n; x++) cur[x] = (uint8_t)(cur[x] + prev[x]);
        return 0;
    case 3:
        if (prev) {
            for (x = 0; x < (size_t)bpp; x++) cur[x] = (uint8_t)(cur[x] + (prev[x] >> 1));
            for (; x < n; x++) cur[x] = (uint8_t)(cur[x] + ((cur[x - bpp] + prev[x]) >> 1));
        } else {
            for (x = (size_t)bpp; x < n; x++) cur[x] = (uint8_t)(cur[x] + (cur[x - bpp] >> 1));
        }
        return 0;
    case 4:
        if (prev) {
#if defined(__SSE2__)
            // Constant bpp, so that the 3- and 4-byte copies and compares are inlined.
            if (bpp == 3) {
                paeth_px(cur, prev, n, 3);
                return 0;
            }
            if (bpp == 4) {
                paeth_px(cur, prev, n, 4);
                return 0;
            }
#endif
            for (x = 0; x < (size_t)bpp; x++) cur[x] = (uint8_t)(cur[x] + prev[x]);
            for (; x < n; x++) cur[x] = (uint8_t)(cur[x] + paeth(cur[x - bpp], prev[x], prev[x - bpp]));
        } else {
            // Paeth with b = c = 0 predicts a: the Sub filter.
            for (x = (size_t)bpp; x < n; x++) cur[x] = (uint8_t)(cur[x] + cur[x - bpp]);
        }
        return 0;
    default:
        return -1;
    }
}

int detr_png_fast_decode(const uint8_t *data, size_t size, int mode, void *out) {
    uint32_t w, h;
    const int bpp = fast_layout(data, size, &w, &h);
    if (!bpp || (mode != 0 && mode != 1)) return -1;

    // Walk the chunks: CRCs, IDAT runs, critical chunks, IEND.
    const uint8_t *idat = NULL;   // the single IDAT's data, or NULL when concatenated
    size_t idatTotal = 0, idatCount = 0;
    int idatState = 0;            // 0 none yet, 1 in the run, 2 after the run
    int sawEnd = 0;
    size_t pos = 8;
    while (pos + 12 <= size) {
        const uint32_t len = be32(data + pos);
        if (len > 0x7FFFFFFFu || (size_t)len > size - pos - 12) return -1;
        const uint8_t *type = data + pos + 4;
        for (int i = 0; i < 4; i++) {
            const uint8_t c = type[i];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return -1;
        }
        if ((uint32_t)libdeflate_crc32(0, type, (size_t)len + 4) != be32(data + pos + 8 + len)) return -1;
        const int isIDAT = memcmp(type, "IDAT", 4) == 0;
        if (isIDAT) {
            if (idatState == 2) return -1;
            idatState = 1;
            if (idatCount == 0) idat = data + pos + 8;
            idatCount++;
            idatTotal += len;
        } else {
            if (idatState == 1) idatState = 2;
            if (memcmp(type, "IEND", 4) == 0) {
                sawEnd = 1;
                break;
            }
            if (pos == 8) {
                // IHDR (checked by fast_layout)
            } else if (memcmp(type, "IHDR", 4) == 0) {
                return -1;
            } else if (memcmp(type, "PLTE", 4) == 0) {
                if (bpp == 1 || idatState != 0) return -1;
            } else if (!(type[0] & 0x20)) {
                return -1;  // unknown critical chunk
            }
        }
        pos += (size_t)len + 12;
    }
    if (!sawEnd || idatCount == 0) return -1;

    uint8_t *joined = NULL;
    if (idatCount > 1) {
        joined = (uint8_t *)malloc(idatTotal ? idatTotal : 1);
        if (!joined) return -1;
        size_t p = 8, k = 0;
        while (k < idatTotal) {
            const uint32_t len = be32(data + p);
            if (memcmp(data + p + 4, "IDAT", 4) == 0) {
                memcpy(joined + k, data + p + 8, len);
                k += len;
            }
            p += (size_t)len + 12;
        }
        idat = joined;
    }

    const size_t rowBytes = (size_t)w * (size_t)bpp;
    const size_t rawSize = (size_t)h * (rowBytes + 1);
    // The inflated stream goes to a per-thread buffer that is kept between calls when small
    // (fresh large allocations are mmapped and page-faulted anew on every call).
    static __thread uint8_t *keptRaw = NULL;
    static __thread size_t keptSize = 0;
    static __thread struct libdeflate_decompressor *keptDec = NULL;
    const size_t keepLimit = (size_t)16 << 20;
    uint8_t *raw;
    if (rawSize <= keepLimit) {
        if (keptSize < rawSize) {
            free(keptRaw);
            keptRaw = (uint8_t *)malloc(rawSize);
            keptSize = keptRaw ? rawSize : 0;
        }
        raw = keptRaw;
    } else {
        raw = (uint8_t *)malloc(rawSize);
    }
    if (!keptDec) keptDec = libdeflate_alloc_decompressor();
    struct libdeflate_decompressor *dec = keptDec;
    int rc = -1;
    if (raw && dec) {
        size_t got = 0;
        if (libdeflate_zlib_decompress(dec, idat, idatTotal, raw, rawSize, &got) == LIBDEFLATE_SUCCESS && got == rawSize) {
            rc = 0;
            const uint8_t *prev = NULL;
            for (size_t y = 0; y < h && rc == 0; y++) {
                uint8_t *cur = raw + y * (rowBytes + 1) + 1;
                if (unfilter_row(cur, prev, rowBytes, bpp, cur[-1]) != 0) {
                    rc = -1;
                    break;
                }
                prev = cur;
                if (mode == 0) {
                    uint8_t *o = (uint8_t *)out + y * (size_t)w * 3;
                    if (bpp == 3) {
                        memcpy(o, cur, rowBytes);
                    } else if (bpp == 4) {
                        for (size_t x = 0; x < w; x++) {
                            o[3 * x] = cur[4 * x];
                            o[3 * x + 1] = cur[4 * x + 1];
                            o[3 * x + 2] = cur[4 * x + 2];
                        }
                    } else {
                        for (size_t x = 0; x < w; x++) o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = cur[x];
                    }
                } else {
                    uint32_t *o = (uint32_t *)out + y * (size_t)w;
                    if (bpp == 3) {
                        for (size_t x = 0; x < w; x++)
                            o[x] = (uint32_t)cur[3 * x] | ((uint32_t)cur[3 * x + 1] << 8) | ((uint32_t)cur[3 * x + 2] << 16);
                    } else if (bpp == 4) {
                        for (size_t x = 0; x < w; x++)
                            o[x] = (uint32_t)cur[4 * x] | ((uint32_t)cur[4 * x + 1] << 8) | ((uint32_t)cur[4 * x + 2] << 16);
                    } else {
                        for (size_t x = 0; x < w; x++) o[x] = cur[x];
                    }
                }
            }
        }
    }
    if (raw != keptRaw) free(raw);
    free(joined);
    return rc;
}
