/* Stored report bodies: zstd frames with a bounded decoder (codec.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "collector/store/codec.h"

int coll_codec_compress(const char *body, size_t len, void **ret, size_t *ret_len)
{
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
	size_t n = ZSTD_compressCCtx(cctx, out, cap, body, len, COLL_CODEC_LEVEL);
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
static int zstd_decode(const void *data, size_t len, size_t max, char **ret, size_t *ret_len)
{
	unsigned long long declared = ZSTD_getFrameContentSize(data, len);
	if (declared == ZSTD_CONTENTSIZE_ERROR)
		return -EBADMSG;
	if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > max)
		return -EFBIG;
	size_t frame = ZSTD_findFrameCompressedSize(data, len);
	if (ZSTD_isError(frame) || frame != len)
		return -EBADMSG; /* cut short, or trailing bytes / a second frame */
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
	if (codec == COLL_CODEC_ZSTD)
		return zstd_decode(data, len, max, ret, ret_len);
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
	case -EPROTONOSUPPORT:
		return "stored report body has an unknown codec (written by a newer collector?)";
	case -ENOMEM:
		return "out of memory";
	default:
		return "stored report body cannot be read";
	}
}
