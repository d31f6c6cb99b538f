#ifndef DETR_IMAGE_SHIM_H
#define DETR_IMAGE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Size of the error-message buffers the functions below fill.
#define DETR_IMAGE_ERRLEN 256

/// Decoding (JPEG or PNG held in memory) to 8-bit interleaved RGB. JPEG: gray is replicated,
/// CMYK/YCCK converted as PIL's convert('RGB') does; a truncated stream ("premature end") is an
/// error, as in PIL, while libjpeg's other recoverable warnings are ignored, as in PIL.
/// PNG: palette expanded, gray replicated, 16-bit reduced to its high byte, alpha dropped (no
/// compositing), gamma ignored. Errors are returned as non-zero codes with a message in errbuf.
///
/// Two-phase decoding straight into a caller-owned buffer (no intermediate copy):
/// `open` reads the header and gives the size; `read` decodes w*h*3 RGB bytes into `out` and
/// frees the reader (whatever it returns); `close` frees a reader that will not be read.
typedef struct detr_image_reader detr_image_reader;
int detr_image_open(const uint8_t *data, size_t size, int isPNG, detr_image_reader **reader,
                    int *width, int *height, char *errbuf);
int detr_image_read(detr_image_reader *reader, uint8_t *out, char *errbuf);
void detr_image_close(detr_image_reader *reader);

/// Reads only the JPEG header: width, height and the number of components.
int detr_jpeg_info(const uint8_t *data, size_t size, int *width, int *height, int *components,
                   char *errbuf);

/// Encodes interleaved RGB to a baseline JPEG with 4:2:0 subsampling at `quality` (1..100).
int detr_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out,
                     size_t *outSize, char *errbuf);

/// Encodes interleaved 8-bit data with `channels` 1 (gray), 3 (RGB) or 4 (RGBA) to PNG.
int detr_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out,
                    size_t *outSize, char *errbuf);

/// As detr_png_encode, with `palette` (paletteCount RGB triples, 1..256) when not NULL:
/// `pixels` (channels 1) are palette indices, written as an 8-bit palette PNG.
int detr_png_encode_indexed(const uint8_t *pixels, int width, int height, int channels,
                            const uint8_t *palette, int paletteCount, uint8_t **out,
                            size_t *outSize, char *errbuf);

/// Opens a palette PNG (any bit depth; indices unpacked to one byte each, not expanded to RGB)
/// or an 8-bit gray PNG (its values as indices, PIL's mode 'L') for detr_image_read, which then
/// writes w*h bytes. `palette` (room for 768 bytes) receives the PLTE colours and
/// `paletteCount` their number (0 for gray). Returns 0, 1 on an error (message in errbuf), or
/// 2 when the PNG is neither (then colorType and bitDepth say what it is).
int detr_png_open_indexed(const uint8_t *data, size_t size, detr_image_reader **reader, int *width,
                          int *height, int *colorType, int *bitDepth, uint8_t *palette,
                          int *paletteCount, char *errbuf);

/// Fast path (png_fast.c) for 8-bit non-interlaced gray, RGB and RGBA PNGs: libdeflate inflates
/// the IDAT stream in one call and the rows are unfiltered here, with the pixels libpng gives.
/// `info` returns 0 and the size when the IHDR allows the fast path, -1 otherwise. `decode`
/// writes mode 0: w*h*3 RGB bytes (as detr_image_read), mode 1: w*h uint32 segment ids
/// (R + 256 G + 65536 B, the gray value for gray files); it returns -1 for anything irregular
/// (bad CRC, unknown critical chunk, wrong amount of image data, ...): decode such files with
/// detr_image_open/read, which reports errors as before. Setting DETR_PNG_LIBPNG_ONLY=1 in the
/// environment turns the fast path off (for comparisons).
int detr_png_fast_info(const uint8_t *data, size_t size, int *width, int *height);
int detr_png_fast_decode(const uint8_t *data, size_t size, int mode, void *out);

/// The fast path a row at a time (for consumers that need no whole image, such as the panoptic
/// evaluation's pixel-pair counts): a state keeps its buffers between images.
/// `detr_png_rows_begin` inflates a PNG (0, or -1 where the fast path does not apply: then
/// decode the file otherwise); `detr_png_rows_next_ids` unfilters the next row and writes its
/// `width` segment ids (R + 256 G + 256^2 B, or the gray value), -1 on a bad filter type or
/// past the last row.
typedef struct detr_png_rows detr_png_rows;
detr_png_rows *detr_png_rows_create(void);
void detr_png_rows_destroy(detr_png_rows *rows);
int detr_png_rows_begin(detr_png_rows *rows, const uint8_t *data, size_t size, int *width, int *height);
int detr_png_rows_next_ids(detr_png_rows *rows, uint32_t *ids);
/// Unfilters the next row of two PNGs of the same width and writes the runs of equal
/// (id in `g`, id in `p`) pairs along it, left to right: `keys[i]` = g id << 32 | p id,
/// `lens[i]` its pixels (room for `width` runs is needed). The run count, or -1 as next_ids.
long detr_png_rows_next_pair_runs(detr_png_rows *g, detr_png_rows *p, uint64_t *keys, uint32_t *lens);

void detr_image_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
