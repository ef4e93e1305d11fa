/* Stored report bodies: zstd frames with a bounded decoder (codec.h). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zdict.h>
#include <zstd_errors.h>

#include "collector/store/codec.h"

struct coll_codec_dict {
	atomic_int refs;
	uint32_t id;
	ZSTD_CDict *cdict;
	ZSTD_DDict *ddict;
	struct coll_codec_dict *next; /* the known list */
};

int coll_codec_dict_new(const void *data, size_t len, struct coll_codec_dict **ret)
{
	uint32_t id = (uint32_t)ZDICT_getDictID(data, len);
	if (id == 0)
		return -EINVAL;
	struct coll_codec_dict *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	atomic_init(&d->refs, 1);
	d->id = id;
	d->cdict = ZSTD_createCDict(data, len, COLL_CODEC_LEVEL);
	d->ddict = ZSTD_createDDict(data, len);
	if (!d->cdict || !d->ddict) {
		coll_codec_dict_unref(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

uint32_t coll_codec_dict_id(const struct coll_codec_dict *d)
{
	return d ? d->id : 0;
}

void coll_codec_dict_unref(struct coll_codec_dict *d)
{
	if (!d || atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	ZSTD_freeCDict(d->cdict);
	ZSTD_freeDDict(d->ddict);
	free(d);
}

static struct coll_codec_dict *ref(struct coll_codec_dict *d)
{
	if (d)
		atomic_fetch_add(&d->refs, 1);
	return d;
}

int coll_codec_dict_train(const char *const *samples, const size_t *lens, size_t n, size_t cap,
			  void **ret, size_t *ret_len)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++)
		total += lens[i];
	char *flat = malloc(total ? total : 1);
	size_t *sizes = calloc(n ? n : 1, sizeof(*sizes));
	void *dict = malloc(cap);
	int r = 0;
	if (!flat || !sizes || !dict) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, o = 0; i < n; o += lens[i], i++) {
		memcpy(flat + o, samples[i], lens[i]);
		sizes[i] = lens[i];
	}
	size_t got = ZDICT_trainFromBuffer(dict, cap, flat, sizes, (unsigned)n);
	if (ZDICT_isError(got)) {
		r = -EINVAL;
		goto out;
	}
	*ret = dict;
	*ret_len = got;
	dict = NULL;
out:
	free(flat);
	free(sizes);
	free(dict);
	return r;
}

static pthread_mutex_t dict_lock = PTHREAD_MUTEX_INITIALIZER;
static struct coll_codec_dict *current, *known;

void coll_codec_set_current(struct coll_codec_dict *d)
{
	coll_codec_remember(d);
	pthread_mutex_lock(&dict_lock);
	struct coll_codec_dict *old = current;
	current = ref(d);
	pthread_mutex_unlock(&dict_lock);
	coll_codec_dict_unref(old);
}

struct coll_codec_dict *coll_codec_current(void)
{
	pthread_mutex_lock(&dict_lock);
	struct coll_codec_dict *d = ref(current);
	pthread_mutex_unlock(&dict_lock);
	return d;
}

void coll_codec_remember(struct coll_codec_dict *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&dict_lock);
	bool have = false;
	for (struct coll_codec_dict *k = known; k; k = k->next)
		have |= k == d || k->id == d->id;
	if (!have) {
		d->next = known;
		known = ref(d);
	}
	pthread_mutex_unlock(&dict_lock);
}

struct coll_codec_dict *coll_codec_known(uint32_t id)
{
	struct coll_codec_dict *d = NULL;
	pthread_mutex_lock(&dict_lock);
	for (struct coll_codec_dict *k = known; k && !d; k = k->next)
		if (k->id == id)
			d = ref(k);
	pthread_mutex_unlock(&dict_lock);
	return d;
}

void coll_codec_forget_all(void)
{
	pthread_mutex_lock(&dict_lock);
	struct coll_codec_dict *c = current, *k = known;
	current = known = NULL;
	pthread_mutex_unlock(&dict_lock);
	coll_codec_dict_unref(c);
	while (k) {
		struct coll_codec_dict *next = k->next;
		coll_codec_dict_unref(k);
		k = next;
	}
}

uint32_t coll_codec_frame_dict(const void *data, size_t len)
{
	return (uint32_t)ZSTD_getDictID_fromFrame(data, len);
}

int coll_codec_compress(const char *body, size_t len, void **ret, size_t *ret_len)
{
	if (!body)
		return -EINVAL;
	size_t cap = ZSTD_compressBound(len);
	void *out = malloc(cap ? cap : 1);
	if (!out)
		return -ENOMEM;
	/* one context per thread: ingest runs on several batcher threads */
	static _Thread_local ZSTD_CCtx *cctx;
	if (!cctx && !(cctx = ZSTD_createCCtx())) {
		free(out);
		return -ENOMEM;
	}
	struct coll_codec_dict *d = coll_codec_current();
	size_t n = d ? ZSTD_compress_usingCDict(cctx, out, cap, body, len, d->cdict)
		     : ZSTD_compressCCtx(cctx, out, cap, body, len, COLL_CODEC_LEVEL);
	coll_codec_dict_unref(d);
	if (ZSTD_isError(n)) {
		free(out);
		return -EIO;
	}
	*ret = out;
	*ret_len = n;
	return 0;
}

/* Streams the frame into a buffer that never grows past max + 1 bytes, so
 * that a frame which lies about (or omits) its content size still cannot
 * make us allocate more than the cap. */
static int zstd_decode(const void *data, size_t len, size_t max, const struct coll_codec_dict *dict,
		       char **ret, size_t *ret_len)
{
	unsigned long long declared = ZSTD_getFrameContentSize(data, len);
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return -EBADMSG;
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max)
		return -EFBIG;
	size_t frame = ZSTD_findFrameCompressedSize(data, len);
	if (ZSTD_isError(frame) || frame != len)
		return -EBADMSG; /* cut short, or trailing bytes / a second frame */
	uint32_t want = coll_codec_frame_dict(data, len);
	if (want && (!dict || dict->id != want))
		return -ENOKEY;
	size_t cap = declared != ZSTD_CONTENTSIZE_UNKNOWN ? (size_t)declared : 4096;
	if (cap > max)
		cap = max;
	char *out = malloc(cap + 1);
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	int r = 0;
	if (!out || !dctx) {
		r = -ENOMEM;
		goto out;
	}
	/* no window larger than the cap: refuses frames that ask for more
	 * memory than the text they may produce */
	unsigned wlog = 10;
	while (wlog < 31 && ((size_t)1 << wlog) < max)
		wlog++;
	ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, (int)wlog);
	if (want && ZSTD_isError(ZSTD_DCtx_refDDict(dctx, dict->ddict))) {
		r = -ENOMEM;
		goto out;
	}
	ZSTD_inBuffer in = {data, len, 0};
	ZSTD_outBuffer o = {out, cap, 0};
	for (;;) {
		size_t rc = ZSTD_decompressStream(dctx, &o, &in);
		if (ZSTD_isError(rc)) {
			/* a window larger than the cap: it means to say more */
			r = ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge
				    ? -EFBIG
				    : -EBADMSG;
			goto out;
		}
		if (rc == 0)
			break; /* the frame is complete */
		if (o.pos == o.size) {
			if (o.size >= max) {
				/* the cap is full and the frame goes on: one more
				 * byte tells "exactly max" from "more" */
				char probe;
				ZSTD_outBuffer p = {&probe, 1, 0};
				do {
					size_t before = in.pos;
					rc = ZSTD_decompressStream(dctx, &p, &in);
					if (!ZSTD_isError(rc) && rc && !p.pos && in.pos == before)
						rc = (size_t)-1; /* stuck: input used up (an error
								    code) */
				} while (!ZSTD_isError(rc) && rc && !p.pos);
				r = ZSTD_isError(rc) ? -EBADMSG : p.pos ? -EFBIG : 0;
				if (r < 0)
					goto out;
				break;
			}
			size_t ncap = o.size * 2 > max ? max : o.size * 2;
			char *n = realloc(out, ncap + 1);
			if (!n) {
				r = -ENOMEM;
				goto out;
			}
			out = n;
			o.dst = out;
			o.size = ncap;
		} else if (in.pos == in.size) {
			r = -EBADMSG; /* input used up before the frame ended */
			goto out;
		}
	}
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && o.pos != declared) {
		r = -EBADMSG;
		goto out;
	}
	if (memchr(out, '\0', o.pos)) {
		r = -EBADMSG; /* a report is JSON text: no NUL */
		goto out;
	}
	out[o.pos] = '\0';
	*ret = out;
	*ret_len = o.pos;
	out = NULL;
out:
	free(out);
	ZSTD_freeDCtx(dctx);
	return r;
}

int coll_codec_decode(int codec, const void *data, size_t len, size_t max, char **ret,
		      size_t *ret_len)
{
	return coll_codec_decode_dict(codec, data, len, max, NULL, ret, ret_len);
}

int coll_codec_decode_dict(int codec, const void *data, size_t len, size_t max,
			   const struct coll_codec_dict *dict, char **ret, size_t *ret_len)
{
	if (codec == COLL_CODEC_ZSTD)
		return zstd_decode(data, len, max, dict, ret, ret_len);
	if (codec != COLL_CODEC_PLAIN)
		return -EPROTONOSUPPORT;
	if (len > max)
		return -EFBIG;
	if (memchr(data, '\0', len))
		return -EBADMSG;
	char *out = malloc(len + 1);
	if (!out)
		return -ENOMEM;
	memcpy(out, data, len);
	out[len] = '\0';
	*ret = out;
	*ret_len = len;
	return 0;
}

const char *coll_codec_strerror(int r)
{
	switch (r) {
	case -EFBIG:
		return "stored report body larger than the report size limit";
	case -EBADMSG:
		return "stored report body is corrupt (not one complete zstd frame of text)";
	case -ENOKEY:
		return "stored report body needs a compression dictionary the store does not have";
	case -EPROTONOSUPPORT:
		return "stored report body has an unknown codec (written by a newer collector?)";
	case -ENOMEM:
		return "out of memory";
	default:
		return "stored report body cannot be read";
	}
}
