/* Stored report bodies (docs/decisions.md, "zstd"): a raw report is kept as a
 * zstd frame in a BLOB/BYTEA column next to a codec marker, so that rows
 * written before the codec existed (plain JSON text) still read. Stored data
 * is input like any other: decoding caps its output and rejects what is not
 * one well-formed frame. */
#ifndef COLL_STORE_CODEC_H
#define COLL_STORE_CODEC_H

#include <stddef.h>

/* The codec column's values. */
enum coll_codec {
	COLL_CODEC_PLAIN = 0, /* the JSON text as the agent signed it */
	COLL_CODEC_ZSTD = 1,  /* one zstd frame of that text, no dictionary */
};
#define COLL_CODEC_ZSTD_SQL "1"

/* zstd level of stored bodies: 3 (zstd's default) compresses a report
 * within a few percent of level 19 at a tenth of its CPU. */
#define COLL_CODEC_LEVEL 3

/* The largest text a stored body decodes to: the largest request body the
 * collector can be configured to take ([server] max_body_kb's maximum). */
#define COLL_CODEC_MAX_TEXT ((size_t)65536 * 1024)

/* Compresses len bytes of body into one zstd frame (content size recorded).
 * *ret: malloc'd, owned by the caller. 0, -ENOMEM or -EIO. */
int coll_codec_compress(const char *body, size_t len, void **ret, size_t *ret_len);

/* Decodes a stored body of codec into NUL-terminated text of at most max
 * bytes. *ret: malloc'd, owned by the caller, untouched on failure.
 * 0; -EFBIG when the text would exceed max; -EBADMSG when the data is not
 * one complete frame (or plain text carries a NUL); -EPROTONOSUPPORT for an
 * unknown codec; -ENOMEM. */
int coll_codec_decode(int codec, const void *data, size_t len, size_t max, char **ret,
		      size_t *ret_len);

/* A one-line English reason for coll_codec_decode's error r. */
const char *coll_codec_strerror(int r);

#endif
