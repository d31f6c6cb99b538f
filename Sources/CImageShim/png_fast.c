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

/// Bytewise a + b of the 3 or 4 bytes packed in each word (no carry between bytes).
static inline uint32_t add_bytes(uint32_t a, uint32_t b) {
    return ((a & 0x7F7F7F7Fu) + (b & 0x7F7F7F7Fu)) ^ ((a ^ b) & 0x80808080u);
}

/// Stores the low 3 (as 2 + 1 bytes) or 4 bytes of `v` at `p`.
static inline __attribute__((always_inline)) void store_px(uint8_t *p, uint32_t v, int bpp) {
    if (bpp == 3) {
        const uint16_t lo = (uint16_t)v;
        memcpy(p, &lo, 2);
        p[2] = (uint8_t)(v >> 16);
    } else {
        memcpy(p, &v, 4);
    }
}

/// Paeth for 3 or 4 bytes per pixel, a pixel at a time with the left (a) and upper-left (c)
/// pixels carried in registers. Where the pixel above equals the one above-left (b == c, flat
/// areas: most pixels of segment maps) the predictor is a; otherwise it is computed per byte in
/// 16-bit lanes, each byte's predictor as the scalar code picks it. Pixels are read as 4-byte
/// words (the byte after a row is the next row's filter type or the buffer's slack) and a 3-byte
/// pixel is stored as 2 + 1 bytes, so that no read waits on a partly overlapping store.
static inline __attribute__((always_inline)) void paeth_px(uint8_t *cur, const uint8_t *prev, size_t n, int bpp) {
    const uint32_t mask = bpp == 3 ? 0xFFFFFFu : 0xFFFFFFFFu;
    const __m128i zero = _mm_setzero_si128();
    uint32_t a = 0, c = 0;
    for (size_t x = 0; x < n; x += (size_t)bpp) {
        uint32_t b, r;
        memcpy(&b, prev + x, 4);
        memcpy(&r, cur + x, 4);
        b &= mask;
        r &= mask;
        uint32_t pred;
        if (b == c) {
            if (r == 0) {
                // Flat: the pixel repeats the left one (no add on the carried chain).
                store_px(cur + x, a, bpp);
                c = b;
                continue;
            }
            pred = a;
        } else {
            const __m128i va = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)a), zero);
            const __m128i vb = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)b), zero);
            const __m128i vc = _mm_unpacklo_epi8(_mm_cvtsi32_si128((int)c), zero);
            const __m128i bc = _mm_sub_epi16(vb, vc), ac = _mm_sub_epi16(va, vc);
            const __m128i abc = _mm_add_epi16(ac, bc);
            const __m128i pa = _mm_max_epi16(bc, _mm_sub_epi16(zero, bc));
            const __m128i pb = _mm_max_epi16(ac, _mm_sub_epi16(zero, ac));
            const __m128i pc = _mm_max_epi16(abc, _mm_sub_epi16(zero, abc));
            const __m128i smallest = _mm_min_epi16(pa, _mm_min_epi16(pb, pc));
            const __m128i useA = _mm_cmpeq_epi16(pa, smallest), useB = _mm_cmpeq_epi16(pb, smallest);
            __m128i vp = _mm_or_si128(_mm_and_si128(useB, vb), _mm_andnot_si128(useB, vc));
            vp = _mm_or_si128(_mm_and_si128(useA, va), _mm_andnot_si128(useA, vp));
            pred = (uint32_t)_mm_cvtsi128_si32(_mm_packus_epi16(vp, vp)) & mask;
        }
        const uint32_t out = add_bytes(r, pred) & mask;
        store_px(cur + x, out, bpp);
        a = out;
        c = b;
    }
}
#endif

/// Sub filter: each byte plus the byte one pixel to the left, the left pixel carried in
/// registers (`cur[x] += cur[x - bpp]` through memory waits on the store of the byte before).
static inline __attribute__((always_inline)) void sub_px(uint8_t *cur, size_t n, int bpp) {
    uint8_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t x = 0;
    if (bpp == 3) {
        for (; x + 3 <= n; x += 3) {
            a0 = (uint8_t)(a0 + cur[x]); cur[x] = a0;
            a1 = (uint8_t)(a1 + cur[x + 1]); cur[x + 1] = a1;
            a2 = (uint8_t)(a2 + cur[x + 2]); cur[x + 2] = a2;
        }
    } else if (bpp == 4) {
        for (; x + 4 <= n; x += 4) {
            a0 = (uint8_t)(a0 + cur[x]); cur[x] = a0;
            a1 = (uint8_t)(a1 + cur[x + 1]); cur[x + 1] = a1;
            a2 = (uint8_t)(a2 + cur[x + 2]); cur[x + 2] = a2;
            a3 = (uint8_t)(a3 + cur[x + 3]); cur[x + 3] = a3;
        }
    } else {
        for (; x < n; x++) { a0 = (uint8_t)(a0 + cur[x]); cur[x] = a0; }
    }
}

/// The Sub filter with a constant bpp per loop.
static void sub_row(uint8_t *cur, size_t n, int bpp) {
    if (bpp == 3) sub_px(cur, n, 3);
    else if (bpp == 4) sub_px(cur, n, 4);
    else sub_px(cur, n, 1);
}

/// Up filter: each byte plus the byte above, 16 at a time.
static inline void up_row(uint8_t *cur, const uint8_t *prev, size_t n) {
    size_t x = 0;
#if defined(__SSE2__)
    for (; x + 16 <= n; x += 16) {
        const __m128i c = _mm_loadu_si128((const __m128i *)(cur + x));
        const __m128i p = _mm_loadu_si128((const __m128i *)(prev + x));
        _mm_storeu_si128((__m128i *)(cur + x), _mm_add_epi8(c, p));
    }
#endif
    for (; x < n; x++) cur[x] = (uint8_t)(cur[x] + prev[x]);
}

/// Unfilters one row in place; `prev` is the previous unfiltered row or NULL for the first.
static int unfilter_row(uint8_t *cur, const uint8_t *prev, size_t n, int bpp, uint8_t type) {
    size_t x;
    switch (type) {
    case 0:
        return 0;
    case 1:
        sub_row(cur, n, bpp);
        return 0;
    case 2:
        if (prev) up_row(cur, prev, n);
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
            sub_row(cur, n, bpp);
        }
        return 0;
    default:
        return -1;
    }
}

/// A decoding in progress: the inflated stream (kept between images: fresh megabyte-sized
/// allocations are mmapped and page-faulted anew every time) and the next row to unfilter.
struct detr_png_rows {
    uint8_t *raw;
    size_t capacity;
    struct libdeflate_decompressor *dec;
    uint32_t width, height;
    int bpp;
    uint32_t row;          // the next row to unfilter
};

/// Bytes after the inflated stream, so that a 4-byte load of the last RGB pixel stays inside.
#define RAW_SLACK 16

/// Walks the chunks (CRCs, IDAT runs, critical chunks, IEND) and inflates the IDAT stream into
/// `st->raw`. 0, or -1 where the fast path does not apply.
static int png_inflate(struct detr_png_rows *st, const uint8_t *data, size_t size) {
    // No rows until this image has inflated (next_row after a failed begin returns NULL).
    st->height = 0;
    st->row = 0;
    uint32_t w, h;
    const int bpp = fast_layout(data, size, &w, &h);
    if (!bpp) return -1;

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

    const size_t rawSize = (size_t)h * ((size_t)w * (size_t)bpp + 1);
    if (st->capacity < rawSize + RAW_SLACK) {
        free(st->raw);
        st->raw = (uint8_t *)malloc(rawSize + RAW_SLACK);
        st->capacity = st->raw ? rawSize + RAW_SLACK : 0;
    }
    if (!st->dec) st->dec = libdeflate_alloc_decompressor();
    int rc = -1;
    if (st->raw && st->dec) {
        size_t got = 0;
        if (libdeflate_zlib_decompress(st->dec, idat, idatTotal, st->raw, rawSize, &got) == LIBDEFLATE_SUCCESS && got == rawSize) {
            memset(st->raw + rawSize, 0, RAW_SLACK);
            st->width = w;
            st->height = h;
            st->bpp = bpp;
            st->row = 0;
            rc = 0;
        }
    }
    free(joined);
    return rc;
}

/// Unfilters the next row in place; its pixels, or NULL on a bad filter type or past the end.
static const uint8_t *png_next_row(struct detr_png_rows *st) {
    if (st->row >= st->height) return NULL;
    const size_t stride = (size_t)st->width * (size_t)st->bpp + 1;
    uint8_t *cur = st->raw + (size_t)st->row * stride + 1;
    const uint8_t *prev = st->row > 0 ? cur - stride : NULL;
    if (unfilter_row(cur, prev, stride - 1, st->bpp, cur[-1]) != 0) return NULL;
    st->row++;
    return cur;
}

/// The segment id of pixel `x` of an unfiltered row: R + 256 G + 256^2 B, or the gray value.
/// RGB pixels are read as 4-byte words with the fourth byte masked off (the last pixel's fourth
/// byte is the next row's filter type or the buffer's slack).
static inline __attribute__((always_inline)) uint32_t pixel_id(const uint8_t *row, size_t x, int bpp) {
    uint32_t v;
    if (bpp == 1) return row[x];
    memcpy(&v, row + x * (size_t)bpp, 4);
    return v & 0xFFFFFFu;
}

/// Segment ids of one unfiltered row (the loop per constant bpp).
static void row_ids(const uint8_t *cur, uint32_t w, int bpp, uint32_t *o) {
    if (bpp == 3) {
        for (size_t x = 0; x < w; x++) o[x] = pixel_id(cur, x, 3);
    } else if (bpp == 4) {
        for (size_t x = 0; x < w; x++) o[x] = pixel_id(cur, x, 4);
    } else {
        for (size_t x = 0; x < w; x++) o[x] = pixel_id(cur, x, 1);
    }
}

/// Runs of equal (id in g, id in p) along one row pair, bpp constant per instantiation.
static inline __attribute__((always_inline)) long pair_runs(const uint8_t *g, int gb, const uint8_t *p, int pb,
                                                             size_t w, uint64_t *keys, uint32_t *lens) {
    long n = 0;
    uint32_t cg = pixel_id(g, 0, gb), cp = pixel_id(p, 0, pb);
    size_t start = 0;
    for (size_t x = 1; x < w; x++) {
#if defined(__SSE2__)
        if (gb == 3 && pb == 3) {
            // Five RGB pixels at a time while both rows repeat the pixel to the left: bytes
            // 3x..3x+14 against 3x-3..3x+11 (the loads reach byte 3x+15 <= 3w, the byte after
            // the row, which the buffer has).
            while (x + 5 <= w) {
                const __m128i ga = _mm_loadu_si128((const __m128i *)(g + 3 * x));
                const __m128i gl = _mm_loadu_si128((const __m128i *)(g + 3 * x - 3));
                const __m128i pa = _mm_loadu_si128((const __m128i *)(p + 3 * x));
                const __m128i pl = _mm_loadu_si128((const __m128i *)(p + 3 * x - 3));
                const int same = _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(ga, gl), _mm_cmpeq_epi8(pa, pl)));
                if ((same & 0x7FFF) != 0x7FFF) break;
                x += 5;
            }
            if (x >= w) break;
        }
#endif
        const uint32_t vg = pixel_id(g, x, gb), vp = pixel_id(p, x, pb);
        if ((vg ^ cg) | (vp ^ cp)) {
            keys[n] = (uint64_t)cg << 32 | cp;
            lens[n] = (uint32_t)(x - start);
            n++;
            cg = vg;
            cp = vp;
            start = x;
        }
    }
    keys[n] = (uint64_t)cg << 32 | cp;
    lens[n] = (uint32_t)(w - start);
    return n + 1;
}

long detr_png_rows_next_pair_runs(detr_png_rows *g, detr_png_rows *p, uint64_t *keys, uint32_t *lens) {
    if (!g || !p || g->width != p->width) return -1;
    const uint8_t *gr = png_next_row(g);
    const uint8_t *pr = png_next_row(p);
    if (!gr || !pr) return -1;
    const size_t w = g->width;
    if (g->bpp == 3 && p->bpp == 3) return pair_runs(gr, 3, pr, 3, w, keys, lens);
    return pair_runs(gr, g->bpp, pr, p->bpp, w, keys, lens);
}

detr_png_rows *detr_png_rows_create(void) {
    return (detr_png_rows *)calloc(1, sizeof(struct detr_png_rows));
}

void detr_png_rows_destroy(detr_png_rows *st) {
    if (!st) return;
    free(st->raw);
    if (st->dec) libdeflate_free_decompressor(st->dec);
    free(st);
}

int detr_png_rows_begin(detr_png_rows *st, const uint8_t *data, size_t size, int *width, int *height) {
    if (!st || png_inflate(st, data, size) != 0) return -1;
    *width = (int)st->width;
    *height = (int)st->height;
    return 0;
}

int detr_png_rows_next_ids(detr_png_rows *st, uint32_t *ids) {
    const uint8_t *cur = png_next_row(st);
    if (!cur) return -1;
    row_ids(cur, st->width, st->bpp, ids);
    return 0;
}

int detr_png_fast_decode(const uint8_t *data, size_t size, int mode, void *out) {
    if (mode != 0 && mode != 1) return -1;
    // One kept state per thread; a large image's buffer is not kept.
    static __thread struct detr_png_rows kept = {0};
    const size_t keepLimit = (size_t)16 << 20;
    struct detr_png_rows *st = &kept;
    int rc = png_inflate(st, data, size);
    const uint32_t w = st->width, h = rc == 0 ? st->height : 0;
    const int bpp = st->bpp;
    const size_t rowBytes = (size_t)w * (size_t)bpp;
    for (size_t y = 0; y < h; y++) {
        const uint8_t *cur = png_next_row(st);
        if (!cur) {
            rc = -1;
            break;
        }
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
            row_ids(cur, w, bpp, (uint32_t *)out + y * (size_t)w);
        }
    }
    // Also after a failed inflate (a header may claim a huge image).
    if (st->capacity > keepLimit) {
        free(st->raw);
        st->raw = NULL;
        st->capacity = 0;
    }
    return rc;
}
