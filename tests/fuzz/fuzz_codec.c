/* libFuzzer target: the decoder of stored report bodies
 * (collector/store/codec.c). What the store hands back is input too: a
 * damaged page, a row written by hand or by a newer collector must give a
 * clear error, never a crash, an overread, or more than the cap allocated.
 * Input: the first byte selects the mode, the rest is the data.
 *   0: the bytes are a stored zstd body, decoded with a 4 KiB cap: on
 *      success the text is at most the cap, NUL-terminated, without a NUL;
 *      a frame that names a dictionary is refused (-ENOKEY).
 *   1: the bytes are a report body: compressed, it decodes back to the same
 *      bytes (or -EBADMSG when they hold a NUL), and with a cap one byte
 *      short it is refused with -EFBIG.
 *   2: the bytes are a stored plain body (codec 0), same checks as 0. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096

static void check_text(int r, const char *text, size_t len)
{
	if (r != 0)
		return;
	if (len > CAP || text[len] != '\0' || memchr(text, '\0', len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int mode = data[0] % 3;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (mode == 0 || mode == 2) {
		r = coll_codec_decode(mode == 0 ? COLL_CODEC_ZSTD : COLL_CODEC_PLAIN, p, n, CAP,
				      &text, &len);
		/* -ENOKEY: a frame naming a dictionary (none is given here) */
		if (r != 0 && r != -EBADMSG && r != -EFBIG && r != -ENOKEY && r != -ENOMEM)
			abort();
		check_text(r, text, len);
		free(text);
		return 0;
	}
	void *z = NULL;
	size_t zn = 0;
	if (coll_codec_compress(p, n, &z, &zn) < 0)
		return 0;
	bool nul = memchr(p, '\0', n) != NULL;
	r = coll_codec_decode(COLL_CODEC_ZSTD, z, zn, n, &text, &len);
	if (nul ? r != -EBADMSG : (r != 0 || len != n || memcmp(text, p, n) != 0))
		abort();
	free(text);
	text = NULL;
	if (n > 0 && coll_codec_decode(COLL_CODEC_ZSTD, z, zn, n - 1, &text, &len) != -EFBIG)
		abort();
	free(text);
	free(z);
	return 0;
}
