// libjpeg and libpng report fatal errors by calling an error handler that must not return;
// their defaults call exit() (libjpeg) or longjmp to a jump buffer (libpng). Swift has no
// setjmp, so every call into those libraries that can fail goes through the functions here,
// which catch the longjmp and return a code and a message instead.
#include "image_shim.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void set_err(char *errbuf, const char *msg) {
    if (errbuf) {
        snprintf(errbuf, DETR_IMAGE_ERRLEN, "%s", msg);
    }
}

void detr_image_free(void *p) { free(p); }

// MARK: - JPEG

struct jpeg_err_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
    int truncated;
};

static void jpeg_error_exit_cb(j_common_ptr cinfo) {
    struct jpeg_err_ctx *ctx = (struct jpeg_err_ctx *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, ctx->message);
    longjmp(ctx->jump, 1);
}

static void jpeg_emit_message_cb(j_common_ptr cinfo, int level) {
    struct jpeg_err_ctx *ctx = (struct jpeg_err_ctx *)cinfo->err;
    if (level < 0) {
        // A warning. libjpeg pads a truncated stream with gray and goes on; PIL refuses such
        // files ("image file is truncated"), and so do we.
        if (cinfo->err->msg_code == JWRN_JPEG_EOF && !ctx->truncated) {
            ctx->truncated = 1;
            (*cinfo->err->format_message)(cinfo, ctx->message);
        }
        cinfo->err->num_warnings++;
    }
}

static void init_jpeg_errors(struct jpeg_err_ctx *ctx) {
    jpeg_std_error(&ctx->pub);
    ctx->pub.error_exit = jpeg_error_exit_cb;
    ctx->pub.emit_message = jpeg_emit_message_cb;
    ctx->message[0] = 0;
    ctx->truncated = 0;
}

// PIL's MULDIV255: round(a * b / 255) with integer arithmetic.
static inline unsigned muldiv255(unsigned a, unsigned b) {
    unsigned t = a * b + 128;
    return ((t >> 8) + t) >> 8;
}

int detr_jpeg_info(const uint8_t *data, size_t size, int *width, int *height, int *components,
                   char *errbuf) {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err_ctx err;
    memset(&cinfo, 0, sizeof(cinfo));
    init_jpeg_errors(&err);
    cinfo.err = &err.pub;
    if (setjmp(err.jump)) {
        set_err(errbuf, err.message);
        jpeg_destroy_decompress(&cinfo);
        return 1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    *width = (int)cinfo.image_width;
    *height = (int)cinfo.image_height;
    *components = cinfo.num_components;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int detr_jpeg_encode(const uint8_t *rgb, int width, int height, int quality, uint8_t **out,
                     size_t *outSize, char *errbuf) {
    struct jpeg_compress_struct cinfo;
    struct jpeg_err_ctx err;
    unsigned char *volatile buffer = NULL;
    unsigned long bufsize = 0;
    memset(&cinfo, 0, sizeof(cinfo));
    init_jpeg_errors(&err);
    cinfo.err = &err.pub;
    *out = NULL;
    *outSize = 0;
    if (setjmp(err.jump)) {
        set_err(errbuf, err.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return 1;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&cinfo, &buf, &bufsize);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = 3;
    cinfo.in_color_space = JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW r = (JSAMPROW)(rgb + (size_t)cinfo.next_scanline * (size_t)width * 3);
        jpeg_write_scanlines(&cinfo, &r, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = buf;
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *outSize = bufsize;
    return 0;
}

// MARK: - PNG

struct png_mem_reader {
    const uint8_t *data;
    size_t size;
    size_t offset;
};

struct png_err_ctx {
    char message[DETR_IMAGE_ERRLEN];
};

static void png_error_cb(png_structp png, png_const_charp msg) {
    struct png_err_ctx *ctx = (struct png_err_ctx *)png_get_error_ptr(png);
    if (ctx) snprintf(ctx->message, sizeof(ctx->message), "%s", msg);
    png_longjmp(png, 1);
}

static void png_warning_cb(png_structp png, png_const_charp msg) {
    (void)png;
    (void)msg;
}

static void png_read_cb(png_structp png, png_bytep dst, png_size_t length) {
    struct png_mem_reader *r = (struct png_mem_reader *)png_get_io_ptr(png);
    if (r->offset + length > r->size) {
        png_error(png, "premature end of PNG data (file is truncated)");
    }
    memcpy(dst, r->data + r->offset, length);
    r->offset += length;
}

struct png_mem_writer {
    uint8_t *data;
    size_t size;
    size_t capacity;
    int failed;
};

static void png_write_cb(png_structp png, png_bytep src, png_size_t length) {
    struct png_mem_writer *wr = (struct png_mem_writer *)png_get_io_ptr(png);
    if (wr->size + length > wr->capacity) {
        size_t cap = wr->capacity ? wr->capacity : 4096;
        while (cap < wr->size + length) cap *= 2;
        uint8_t *n = (uint8_t *)realloc(wr->data, cap);
        if (!n) {
            wr->failed = 1;
            png_error(png, "out of memory");
        }
        wr->data = n;
        wr->capacity = cap;
    }
    memcpy(wr->data + wr->size, src, length);
    wr->size += length;
}

static void png_flush_cb(png_structp png) { (void)png; }

int detr_png_encode(const uint8_t *pixels, int width, int height, int channels, uint8_t **out,
                    size_t *outSize, char *errbuf) {
    return detr_png_encode_indexed(pixels, width, height, channels, NULL, 0, out, outSize, errbuf);
}

int detr_png_encode_indexed(const uint8_t *pixels, int width, int height, int channels,
                            const uint8_t *palette, int paletteCount, uint8_t **out,
                            size_t *outSize, char *errbuf) {
    struct png_err_ctx err;
    struct png_mem_writer writer = {NULL, 0, 0, 0};
    png_structp png = NULL;
    png_infop info = NULL;
    err.message[0] = 0;
    *out = NULL;
    *outSize = 0;
    int color;
    switch (channels) {
        case 1: color = PNG_COLOR_TYPE_GRAY; break;
        case 3: color = PNG_COLOR_TYPE_RGB; break;
        case 4: color = PNG_COLOR_TYPE_RGB_ALPHA; break;
        default: set_err(errbuf, "PNG encode: channels must be 1, 3 or 4"); return 1;
    }
    if (palette) {
        if (channels != 1 || paletteCount < 1 || paletteCount > 256) {
            set_err(errbuf, "PNG encode: a palette needs 1 channel and 1 to 256 colours");
            return 1;
        }
        color = PNG_COLOR_TYPE_PALETTE;
    }
    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, png_error_cb, png_warning_cb);
    if (!png) {
        set_err(errbuf, "cannot create PNG writer");
        return 1;
    }
    info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        set_err(errbuf, "cannot create PNG writer");
        return 1;
    }
    if (setjmp(png_jmpbuf(png))) {
        set_err(errbuf, err.message[0] ? err.message : "PNG encode failed");
        png_destroy_write_struct(&png, &info);
        free(writer.data);
        return 1;
    }
    png_set_write_fn(png, &writer, png_write_cb, png_flush_cb);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, color, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette) {
        png_color colours[256];
        for (int i = 0; i < paletteCount; i++) {
            colours[i].red = palette[3 * i];
            colours[i].green = palette[3 * i + 1];
            colours[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colours, paletteCount);
    }
    png_set_compression_level(png, 6);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        png_write_row(png, (png_const_bytep)(pixels + (size_t)y * (size_t)width * (size_t)channels));
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    *out = writer.data;
    *outSize = writer.size;
    return 0;
}

// MARK: - Two-phase readers

struct detr_image_reader {
    int isPNG;
    // JPEG
    struct jpeg_decompress_struct cinfo;
    struct jpeg_err_ctx jerr;
    int cmyk;
    // PNG
    png_structp png;
    png_infop info;
    struct png_err_ctx perr;
    struct png_mem_reader pmem;
    int width, height;
    int channels;  // bytes a pixel in the output: 3 (RGB), or 1 (palette indices or gray)
};

static void reader_free(detr_image_reader *r) {
    if (!r) return;
    if (r->isPNG) {
        if (r->png) png_destroy_read_struct(&r->png, r->info ? &r->info : NULL, NULL);
    } else {
        jpeg_destroy_decompress(&r->cinfo);
    }
    free(r);
}

void detr_image_close(detr_image_reader *reader) { reader_free(reader); }

/// Creates the libpng reader of `r` over `data` (the signature already checked). On failure it
/// frees `r` and returns 1 with the message in errbuf.
static int png_reader_create(detr_image_reader *r, const uint8_t *data, size_t size, char *errbuf) {
    r->pmem.data = data;
    r->pmem.size = size;
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->perr, png_error_cb, png_warning_cb);
    if (r->png) r->info = png_create_info_struct(r->png);
    if (!r->png || !r->info) {
        set_err(errbuf, "cannot create PNG reader");
        reader_free(r);
        return 1;
    }
    return 0;
}

/// Reads the PNG header of `r`. libpng's errors jump to the caller's setjmp (which must be set:
/// a setjmp cannot live in a function that has returned).
static void png_reader_header(detr_image_reader *r, png_uint_32 *w, png_uint_32 *h, int *color, int *depth) {
    png_set_read_fn(r->png, &r->pmem, png_read_cb);
    png_read_info(r->png, r->info);
    *w = png_get_image_width(r->png, r->info);
    *h = png_get_image_height(r->png, r->info);
    *color = png_get_color_type(r->png, r->info);
    *depth = png_get_bit_depth(r->png, r->info);
}

int detr_image_open(const uint8_t *data, size_t size, int isPNG, detr_image_reader **out,
                    int *width, int *height, char *errbuf) {
    *out = NULL;
    detr_image_reader *r = (detr_image_reader *)calloc(1, sizeof(detr_image_reader));
    if (!r) {
        set_err(errbuf, "out of memory");
        return 1;
    }
    r->isPNG = isPNG;
    r->channels = 3;
    if (!isPNG) {
        init_jpeg_errors(&r->jerr);
        r->cinfo.err = &r->jerr.pub;
        if (setjmp(r->jerr.jump)) {
            set_err(errbuf, r->jerr.message);
            reader_free(r);
            return 1;
        }
        jpeg_create_decompress(&r->cinfo);
        jpeg_mem_src(&r->cinfo, data, (unsigned long)size);
        jpeg_read_header(&r->cinfo, TRUE);
        r->cmyk = (r->cinfo.jpeg_color_space == JCS_CMYK || r->cinfo.jpeg_color_space == JCS_YCCK);
        r->cinfo.out_color_space = r->cmyk ? JCS_CMYK : JCS_RGB;
        // The size without starting the decompressor: jpeg_start_decompress allocates, for a
        // progressive file, coefficient buffers for the whole image (gigabytes for a small
        // file whose header claims 65500 x 29903 pixels), so it waits for detr_image_read,
        // after the caller has checked the size.
        jpeg_calc_output_dimensions(&r->cinfo);
        r->width = (int)r->cinfo.output_width;
        r->height = (int)r->cinfo.output_height;
    } else {
        if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
            set_err(errbuf, "not a PNG file (bad signature)");
            free(r);
            return 1;
        }
        if (png_reader_create(r, data, size, errbuf)) return 1;
        if (setjmp(png_jmpbuf(r->png))) {
            set_err(errbuf, r->perr.message[0] ? r->perr.message : "corrupt PNG data");
            reader_free(r);
            return 1;
        }
        png_uint_32 w, h;
        int color, depth;
        png_reader_header(r, &w, &h, &color, &depth);
        if (depth == 16) png_set_strip_16(r->png);  // keep the high byte (PIL's RGB;16B)
        if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
        if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(r->png);
        // Alpha (and palette tRNS, which palette expansion turns into alpha) is dropped, as
        // PIL's convert('RGB') does: no compositing.
        png_set_strip_alpha(r->png);
        png_set_interlace_handling(r->png);
        png_read_update_info(r->png, r->info);
        if (png_get_channels(r->png, r->info) != 3 || png_get_rowbytes(r->png, r->info) != (size_t)w * 3) {
            png_error(r->png, "unsupported PNG layout after conversion");
        }
        r->width = (int)w;
        r->height = (int)h;
    }
    if (r->width <= 0 || r->height <= 0 || r->width > 65500 || r->height > 65500) {
        set_err(errbuf, "image has an invalid size");
        reader_free(r);
        return 1;
    }
    *width = r->width;
    *height = r->height;
    *out = r;
    return 0;
}

int detr_image_read(detr_image_reader *r, uint8_t *out, char *errbuf) {
    const size_t w = (size_t)r->width, h = (size_t)r->height;
    if (r->isPNG) {
        png_bytep *volatile rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
        if (!rows) {
            set_err(errbuf, "out of memory");
            reader_free(r);
            return 1;
        }
        if (setjmp(png_jmpbuf(r->png))) {
            set_err(errbuf, r->perr.message[0] ? r->perr.message : "corrupt PNG data");
            free(rows);
            reader_free(r);
            return 1;
        }
        for (size_t y = 0; y < h; y++) rows[y] = out + y * w * (size_t)r->channels;
        png_read_image(r->png, rows);
        png_read_end(r->png, NULL);
        free(rows);
        reader_free(r);
        return 0;
    }
    uint8_t *volatile row = NULL;
    if (setjmp(r->jerr.jump)) {
        set_err(errbuf, r->jerr.message);
        free(row);
        reader_free(r);
        return 1;
    }
    jpeg_start_decompress(&r->cinfo);
    if (r->cinfo.output_width != w || r->cinfo.output_height != h) {
        set_err(errbuf, "output size differs from the header's");
        reader_free(r);
        return 1;
    }
    if (r->cmyk) {
        row = (uint8_t *)malloc(w * 4);
        if (!row) {
            set_err(errbuf, "out of memory");
            reader_free(r);
            return 1;
        }
    }
    const int inverted = r->cinfo.saw_Adobe_marker;
    while (r->cinfo.output_scanline < h && !r->jerr.truncated) {
        const size_t y = r->cinfo.output_scanline;
        if (!r->cmyk) {
            JSAMPROW dst = out + y * w * 3;
            jpeg_read_scanlines(&r->cinfo, &dst, 1);
        } else {
            JSAMPROW src = row;
            jpeg_read_scanlines(&r->cinfo, &src, 1);
            uint8_t *dst = out + y * w * 3;
            for (size_t x = 0; x < w; x++) {
                unsigned c = row[4 * x], m = row[4 * x + 1], ye = row[4 * x + 2], k = row[4 * x + 3];
                if (inverted) {
                    c = 255 - c; m = 255 - m; ye = 255 - ye; k = 255 - k;
                }
                unsigned nk = 255 - k;
                dst[3 * x] = (uint8_t)muldiv255(255 - c, nk);
                dst[3 * x + 1] = (uint8_t)muldiv255(255 - m, nk);
                dst[3 * x + 2] = (uint8_t)muldiv255(255 - ye, nk);
            }
        }
    }
    if (!r->jerr.truncated) jpeg_finish_decompress(&r->cinfo);
    free(row);
    if (r->jerr.truncated) {
        set_err(errbuf, r->jerr.message[0] ? r->jerr.message : "premature end of JPEG data");
        reader_free(r);
        return 1;
    }
    reader_free(r);
    return 0;
}

int detr_png_open_indexed(const uint8_t *data, size_t size, detr_image_reader **out, int *width,
                          int *height, int *colorType, int *bitDepth, uint8_t *palette,
                          int *paletteCount, char *errbuf) {
    *out = NULL;
    *paletteCount = 0;
    *colorType = -1;
    *bitDepth = 0;
    if (size < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        set_err(errbuf, "not a PNG file (bad signature)");
        return 1;
    }
    detr_image_reader *r = (detr_image_reader *)calloc(1, sizeof(detr_image_reader));
    if (!r) {
        set_err(errbuf, "out of memory");
        return 1;
    }
    r->isPNG = 1;
    r->channels = 1;
    if (png_reader_create(r, data, size, errbuf)) return 1;
    if (setjmp(png_jmpbuf(r->png))) {
        set_err(errbuf, r->perr.message[0] ? r->perr.message : "corrupt PNG data");
        reader_free(r);
        return 1;
    }
    png_uint_32 w, h;
    int color, depth;
    png_reader_header(r, &w, &h, &color, &depth);
    *colorType = color;
    *bitDepth = depth;
    if (!(color == PNG_COLOR_TYPE_PALETTE || (color == PNG_COLOR_TYPE_GRAY && depth == 8))) {
        reader_free(r);
        return 2;  // not indexed: the caller names the layout
    }
    if (color == PNG_COLOR_TYPE_PALETTE) {
        png_colorp colours = NULL;
        int n = 0;
        if (png_get_PLTE(r->png, r->info, &colours, &n) == PNG_INFO_PLTE && colours) {
            for (int i = 0; i < n && i < 256; i++) {
                palette[3 * i] = colours[i].red;
                palette[3 * i + 1] = colours[i].green;
                palette[3 * i + 2] = colours[i].blue;
            }
            *paletteCount = n < 256 ? n : 256;
        }
        if (depth < 8) png_set_packing(r->png);  // one index a byte
    }
    png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->info);
    if (png_get_channels(r->png, r->info) != 1 || png_get_rowbytes(r->png, r->info) != (size_t)w) {
        png_error(r->png, "unsupported PNG layout for indices");
    }
    if (w == 0 || h == 0 || w > 65500 || h > 65500) {
        set_err(errbuf, "image has an invalid size");
        reader_free(r);
        return 1;
    }
    r->width = (int)w;
    r->height = (int)h;
    *width = r->width;
    *height = r->height;
    *out = r;
    return 0;
}
