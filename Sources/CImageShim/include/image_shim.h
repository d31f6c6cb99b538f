#ifndef DETR_IMAGE_SHIM_H
#define DETR_IMAGE_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Size of the error-message buffers the functions below fill.
#define DETR_IMAGE_ERRLEN 256

/// Decodes a JPEG held in memory to 8-bit interleaved RGB (gray is replicated, CMYK/YCCK is
/// converted the way PIL's convert('RGB') does). On success returns 0 and sets *out (malloc'd,
/// width*height*3 bytes; free with detr_image_free), *width and *height. On failure returns
/// non-zero and writes a message to errbuf. A truncated stream ("premature end") is an error,
/// as in PIL; libjpeg's other recoverable warnings are ignored, as in PIL.
int detr_jpeg_decode(const uint8_t *data, size_t size, uint8_t **out, int *width, int *height,
                     char *errbuf);

/// Reads only the JPEG header: width, height and the number of components.
int detr_jpeg_info(const uint8_t *data, size_t size, int *width, int *height, int *components,
                   char *errbuf);

/// Encodes interleaved RGB to a baseline JPEG with 4:2:0 subsampling at `quality` (1..100).
int detr_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out,
                     size_t *outSize, char *errbuf);

/// Decodes a PNG held in memory to 8-bit interleaved RGB: palette expanded, gray replicated,
/// 16-bit reduced to its high byte, alpha dropped (no compositing), gamma ignored.
int detr_png_decode(const uint8_t *data, size_t size, uint8_t **out, int *width, int *height,
                    char *errbuf);

/// Encodes interleaved 8-bit data with `channels` 1 (gray), 3 (RGB) or 4 (RGBA) to PNG.
int detr_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out,
                    size_t *outSize, char *errbuf);

void detr_image_free(void *p);

#ifdef __cplusplus
}
#endif

#endif
