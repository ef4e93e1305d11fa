/* Stored report bodies (docs/decisions.md, "zstd"): a raw report is kept as a
 * zstd frame in a BLOB/BYTEA column next to a codec marker, so that rows
 * written before the codec existed (plain JSON text) still read. Stored data
 * is input like any other: decoding caps its output and rejects what is not
 * one well-formed frame. */
#ifndef COLL_STORE_CODEC_H
#define COLL_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* The codec column's values. */
enum coll_codec {
	COLL_CODEC_PLAIN = 0, /* the JSON text as the agent signed it */
	COLL_CODEC_ZSTD = 1,  /* one zstd frame of that text (dictionary: its dictID) */
};
#define COLL_CODEC_ZSTD_SQL "1"

/* zstd level of stored bodies: 3 (zstd's default) compresses a report
 * within a few percent of level 19 at a tenth of its CPU. */
#define COLL_CODEC_LEVEL 3

/* The largest text a stored body decodes to: the largest request body the
 * collector can be configured to take ([server] max_body_kb's maximum). */
#define COLL_CODEC_MAX_TEXT ((size_t)65536 * 1024)

/* A zstd dictionary trained on the store's own reports (table codec_dicts):
 * reports of one fleet share their keys, messages and object names, which a
 * frame of its own cannot exploit. A frame names its dictionary by id (the
 * zstd frame header's dictID). Shared, reference-counted, thread-safe. */
struct coll_codec_dict;

/* A dictionary from its bytes (ZDICT format, id taken from them). *ret:
 * one reference. 0, -EINVAL (not a dictionary, or id 0), -ENOMEM. */
int coll_codec_dict_new(const void *data, size_t len, struct coll_codec_dict **ret);
uint32_t coll_codec_dict_id(const struct coll_codec_dict *d);
void coll_codec_dict_unref(struct coll_codec_dict *d);
/* Trains a dictionary of at most cap bytes on n samples. *ret: malloc'd.
 * 0, -EINVAL (too few or too uniform samples), -ENOMEM. */
int coll_codec_dict_train(const char *const *samples, const size_t *lens, size_t n, size_t cap,
			  void **ret, size_t *ret_len);

/* The process's dictionaries: the one new bodies are compressed with (set
 * by the maintenance, NULL = none), and those seen, by id, for decoding.
 * coll_codec_current and coll_codec_known return a reference (or NULL). */
void coll_codec_set_current(struct coll_codec_dict *d);
struct coll_codec_dict *coll_codec_current(void);
void coll_codec_remember(struct coll_codec_dict *d);
struct coll_codec_dict *coll_codec_known(uint32_t id);
/* Forgets every dictionary (tests: a fresh process). */
void coll_codec_forget_all(void);

/* The dictionary id a stored zstd body needs (0 = none). */
uint32_t coll_codec_frame_dict(const void *data, size_t len);

/* Compresses len bytes of body into one zstd frame (content size recorded),
 * with the current dictionary when there is one. *ret: malloc'd, owned by
 * the caller. 0, -EINVAL, -ENOMEM or -EIO. */
int coll_codec_compress(const char *body, size_t len, void **ret, size_t *ret_len);

/* Decodes a stored body of codec into NUL-terminated text of at most max
 * bytes; dict (may be NULL) is the dictionary the frame names. *ret:
 * malloc'd, owned by the caller, untouched on failure. 0; -EFBIG when the
 * text would exceed max; -EBADMSG when the data is not one complete frame
 * (or plain text carries a NUL); -ENOKEY when the frame needs a dictionary
 * other than dict; -EPROTONOSUPPORT for an unknown codec; -ENOMEM. */
int coll_codec_decode_dict(int codec, const void *data, size_t len, size_t max,
			   const struct coll_codec_dict *dict, char **ret, size_t *ret_len);
/* coll_codec_decode_dict without a dictionary. */
int coll_codec_decode(int codec, const void *data, size_t len, size_t max, char **ret,
		      size_t *ret_len);

/* A one-line English reason for coll_codec_decode's error r. */
const char *coll_codec_strerror(int r);

#endif
