/* Stored report bodies (collector/store/codec.h): the round trip, the cap on
 * what a stored body may decode to, and damaged data answered with an
 * error, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "collector/store/codec.h"

static const char report[] =
	"{\"agent_id\":\"0123456789abcdef\",\"generated_at\":\"2026-12-06T16:00:00Z\","
	"\"host\":{\"hostname\":\"erp01\",\"os\":\"Debian GNU/Linux 12 (bookworm)\"},"
	"\"interval_s\":300,\"probes\":[{\"name\":\"disk\",\"status\":\"ok\",\"findings\":"
	"[{\"kind\":\"disk_usage\",\"object\":\"/\",\"value\":41.5}]}],\"seq\":42}";

/* the report compressed; *ret_len its size */
static void *compressed(size_t *ret_len)
{
	void *z = NULL;
	assert_int_equal(coll_codec_compress(report, strlen(report), &z, ret_len), 0);
	return z;
}

static void test_round_trip(void **state)
{
	(void)state;
	size_t zn = 0, len = 0;
	void *z = compressed(&zn);
	char *text = NULL;
	assert_true(zn < strlen(report));
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, zn, 1 << 20, &text, &len), 0);
	assert_int_equal(len, strlen(report));
	assert_string_equal(text, report);
	free(text);
	/* exactly the cap is fine, one byte less is not */
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, zn, strlen(report), &text, &len), 0);
	free(text);
	text = NULL;
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, zn, strlen(report) - 1, &text, &len),
			 -EFBIG);
	assert_null(text);
	free(z);
	/* the empty body */
	assert_int_equal(coll_codec_compress("", 0, &z, &zn), 0);
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, zn, 16, &text, &len), 0);
	assert_int_equal(len, 0);
	assert_string_equal(text, "");
	free(text);
	free(z);
}

static void test_plain(void **state)
{
	(void)state;
	char *text = NULL;
	size_t len = 0;
	/* a row written before the codec: the text as it is */
	assert_int_equal(
		coll_codec_decode(COLL_CODEC_PLAIN, report, strlen(report), 1 << 20, &text, &len),
		0);
	assert_string_equal(text, report);
	free(text);
	text = NULL;
	assert_int_equal(
		coll_codec_decode(COLL_CODEC_PLAIN, report, strlen(report), 10, &text, &len),
		-EFBIG);
	assert_int_equal(coll_codec_decode(COLL_CODEC_PLAIN, "a\0b", 3, 10, &text, &len), -EBADMSG);
	assert_int_equal(coll_codec_decode(7, report, strlen(report), 1 << 20, &text, &len),
			 -EPROTONOSUPPORT);
	assert_null(text);
	assert_non_null(strstr(coll_codec_strerror(-EPROTONOSUPPORT), "unknown codec"));
}

/* A frame without a content size (streamed) that expands past the cap: the
 * decoder stops at the cap instead of allocating what the frame asks. */
static void test_bomb(void **state)
{
	(void)state;
	size_t big = 8 << 20; /* 8 MiB of spaces compress to a few hundred bytes */
	char *plain = malloc(big);
	assert_non_null(plain);
	memset(plain, ' ', big);
	size_t cap = ZSTD_compressBound(big);
	char *z = malloc(cap);
	ZSTD_CCtx *c = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
	ZSTD_inBuffer in = {plain, big, 0};
	ZSTD_outBuffer out = {z, cap, 0};
	assert_int_equal(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0);
	ZSTD_freeCCtx(c);
	assert_true(out.pos < 4096);
	assert_true(ZSTD_getFrameContentSize(z, out.pos) == ZSTD_CONTENTSIZE_UNKNOWN);
	char *text = NULL;
	size_t len = 0;
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, out.pos, 1 << 20, &text, &len),
			 -EFBIG);
	assert_null(text);
	/* and with room enough it decodes */
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, out.pos, big, &text, &len), 0);
	assert_int_equal(len, big);
	free(text);
	/* a frame that declares a size above the cap is refused before work */
	void *zz = NULL;
	size_t zn = 0;
	assert_int_equal(coll_codec_compress(plain, big, &zz, &zn), 0);
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, zz, zn, 1 << 20, &text, &len), -EFBIG);
	free(zz);
	free(z);
	free(plain);
}

static void test_corrupt(void **state)
{
	(void)state;
	size_t zn = 0, len = 0;
	void *z = compressed(&zn);
	char *text = NULL;
	unsigned char *b = malloc(zn + 8);
	/* cut short at every length */
	for (size_t n = 0; n < zn; n++)
		assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, n, 1 << 20, &text, &len),
				 -EBADMSG);
	/* trailing bytes, a second frame */
	memcpy(b, z, zn);
	memcpy(b + zn, "garbage!", 8);
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, b, zn + 8, 1 << 20, &text, &len),
			 -EBADMSG);
	/* every single byte flipped: an error or (checksum-less data) text of
	 * the same length -- never a crash */
	for (size_t i = 0; i < zn; i++) {
		memcpy(b, z, zn);
		b[i] ^= 0x5a;
		int r = coll_codec_decode(COLL_CODEC_ZSTD, b, zn, 1 << 20, &text, &len);
		assert_true(r == -EBADMSG || r == -EFBIG || r == 0);
		if (r == 0) {
			assert_int_equal(strlen(text), len);
			free(text);
		}
		text = NULL;
	}
	/* plain JSON handed to the zstd decoder (a codec marker gone wrong) */
	assert_int_equal(
		coll_codec_decode(COLL_CODEC_ZSTD, report, strlen(report), 1 << 20, &text, &len),
		-EBADMSG);
	assert_null(text);
	free(b);
	free(z);
}

/* With a trained dictionary: smaller, and only readable with it. */
static void test_dictionary(void **state)
{
	(void)state;
	char *samples[200];
	size_t lens[200];
	for (int i = 0; i < 200; i++) {
		samples[i] = malloc(sizeof(report) + 32);
		lens[i] = (size_t)snprintf(samples[i], sizeof(report) + 32, "%.*s,\"n\":%d}",
					   (int)strlen(report) - 1, report, i * 7919);
	}
	void *raw = NULL;
	size_t raw_len = 0;
	assert_int_equal(coll_codec_dict_train((const char *const *)samples, lens, 200, 4096, &raw,
					       &raw_len),
			 0);
	struct coll_codec_dict *d = NULL;
	assert_int_equal(coll_codec_dict_new(raw, raw_len, &d), 0);
	assert_int_equal(
		coll_codec_dict_new("not a dictionary", 16, &(struct coll_codec_dict *){0}),
		-EINVAL);
	size_t plain_len = 0, zn = 0, len = 0;
	void *plain = compressed(&plain_len);
	coll_codec_set_current(d);
	void *z = compressed(&zn);
	assert_true(zn < plain_len);
	assert_int_equal(coll_codec_frame_dict(z, zn), coll_codec_dict_id(d));
	char *text = NULL;
	assert_int_equal(coll_codec_decode_dict(COLL_CODEC_ZSTD, z, zn, 1 << 20, d, &text, &len),
			 0);
	assert_string_equal(text, report);
	free(text);
	text = NULL;
	assert_int_equal(coll_codec_decode(COLL_CODEC_ZSTD, z, zn, 1 << 20, &text, &len), -ENOKEY);
	assert_null(text);
	struct coll_codec_dict *k = coll_codec_known(coll_codec_dict_id(d));
	assert_ptr_equal(k, d);
	coll_codec_dict_unref(k);
	coll_codec_forget_all();
	assert_null(coll_codec_current());
	coll_codec_dict_unref(d);
	free(z);
	free(plain);
	free(raw);
	for (int i = 0; i < 200; i++)
		free(samples[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip), cmocka_unit_test(test_plain),
		cmocka_unit_test(test_bomb),       cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_dictionary),
	};
	return cmocka_run_group_tests_name("codec", tests, NULL, NULL);
}
