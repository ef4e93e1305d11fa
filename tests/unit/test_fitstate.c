/* The forecasts' fit state as a binary row (collector/analysis/fitstate.c):
 * what is written is what is read back, number for number, and a row that
 * is not whole, not of this version, or whose counts or bounds are wrong is
 * refused (the caller then refits) rather than read past its end. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/fitstate.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define HEAD_BYTES 24 /* magic, entries, updated_at, interval */

/* A state with one entry of each type, numbers that text would not keep
 * exactly (a NaN, an infinity, a subnormal, -0). */
static void sample_state(struct coll_fit_state *fs)
{
	double lin[COLL_FIT_L_COUNT], spike[3 * COLL_FIT_S_COUNT],
		sec[COLL_FIT_U_COUNT] = {1764000000, 12};
	for (size_t i = 0; i < COLL_FIT_L_COUNT; i++)
		lin[i] = 1.0 / 3 + (double)i * 1e9;
	lin[COLL_FIT_L_DROP] = NAN;
	lin[COLL_FIT_L_SVV] = INFINITY;
	lin[COLL_FIT_L_V0] = 4.9e-324;
	lin[COLL_FIT_L_ST] = -0.0;
	for (size_t i = 0; i < EP_ARRAY_SIZE(spike); i++)
		spike[i] = (double)i - 0.125;
	*fs = (struct coll_fit_state){.updated_at = 1764003600, .interval = 86400};
	assert_int_equal(coll_fit_state_put(fs, "disk_usage:/data", COLL_FIT_LINEAR, 1764003000,
					    lin, COLL_FIT_L_COUNT),
			 0);
	assert_int_equal(coll_fit_state_put(fs, "log_errors:odoo.log", COLL_FIT_SPIKE, 1764003300,
					    spike, EP_ARRAY_SIZE(spike)),
			 0);
	assert_int_equal(coll_fit_state_put(fs, "security_updates:apt", COLL_FIT_SECURITY, 0, sec,
					    COLL_FIT_U_COUNT),
			 0);
}

static void assert_same(const struct coll_fit_state *a, const struct coll_fit_state *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->updated_at, b->updated_at);
	assert_int_equal(a->interval, b->interval);
	for (size_t i = 0; i < a->n; i++) {
		const struct coll_fit_entry *x = &a->e[i];
		const struct coll_fit_entry *y = coll_fit_state_get(b, a->names + x->name, x->type);
		assert_non_null(y);
		assert_int_equal(x->last_t, y->last_t);
		assert_int_equal(x->n, y->n);
		/* bit for bit: NaN, infinity, -0 and subnormals included */
		assert_memory_equal(coll_fit_nums(a, x), coll_fit_nums(b, y),
				    x->n * sizeof(double));
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	struct coll_fit_state fs, back = {0}, again = {0};
	unsigned char *b, *b2;
	size_t len, len2;
	sample_state(&fs);
	/* a series put twice keeps its last numbers only, even when their
	 * count changes */
	double one[COLL_FIT_S_COUNT] = {1, 0, 0, 5, 1, 10};
	assert_int_equal(coll_fit_state_put(&fs, "log_errors:odoo.log", COLL_FIT_SPIKE, 7, one,
					    COLL_FIT_S_COUNT),
			 0);
	assert_int_equal(fs.n, 3);
	assert_int_equal(coll_fit_state_encode(&fs, &b, &len), 0);
	assert_int_equal(coll_fit_state_decode(b, len, &back), 0);
	assert_same(&fs, &back);
	const struct coll_fit_entry *e =
		coll_fit_state_get(&back, "log_errors:odoo.log", COLL_FIT_SPIKE);
	assert_int_equal(e->n, COLL_FIT_S_COUNT);
	assert_int_equal(e->last_t, 7);
	/* a name is found with its type only */
	assert_null(coll_fit_state_get(&back, "disk_usage:/data", COLL_FIT_SPIKE));
	assert_null(coll_fit_state_get(&back, "disk_usage:/dat", COLL_FIT_LINEAR));
	/* encoding what was decoded gives the same bytes */
	assert_int_equal(coll_fit_state_encode(&back, &b2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(b, b2, len);
	/* the linear numbers give back the forecast they were made of */
	struct coll_forecast fc;
	const struct coll_fit_entry *le =
		coll_fit_state_get(&back, "disk_usage:/data", COLL_FIT_LINEAR);
	coll_fit_nums(&back, le)[COLL_FIT_L_SVV] = 2.5;
	assert_int_equal(coll_fit_linear_from(&back, le, &fc), 0);
	double x[COLL_FIT_L_COUNT];
	coll_fit_linear_nums(&fc, x);
	x[COLL_FIT_L_SUM_T] = coll_fit_nums(&back, le)[COLL_FIT_L_SUM_T];
	x[COLL_FIT_L_STEP] = coll_fit_nums(&back, le)[COLL_FIT_L_STEP]; /* a flag: > 0 */
	x[COLL_FIT_L_FROM] = coll_fit_nums(&back, le)[COLL_FIT_L_FROM]; /* an integer time */
	x[COLL_FIT_L_T0] = coll_fit_nums(&back, le)[COLL_FIT_L_T0];
	assert_memory_equal(x, coll_fit_nums(&back, le), sizeof(x));
	/* a series named after the longest object a report may carry */
	size_t long_len = 2 * EP_REPORT_MAX_STRING + 2;
	char *name = malloc(long_len + 2);
	assert_non_null(name);
	memset(name, 'x', long_len + 1);
	name[long_len] = '\0';
	double u[COLL_FIT_U_COUNT] = {5, 6};
	assert_int_equal(coll_fit_state_put(&back, name, COLL_FIT_SECURITY, 3, u, 2), 0);
	free(b);
	assert_int_equal(coll_fit_state_encode(&back, &b, &len), 0);
	assert_int_equal(coll_fit_state_decode(b, len, &again), 0);
	assert_int_equal(again.n, 4);
	assert_non_null(coll_fit_state_get(&again, name, COLL_FIT_SECURITY));
	/* one byte more does not fit a row: the caller keeps none */
	name[long_len] = 'x';
	name[long_len + 1] = '\0';
	assert_int_equal(coll_fit_state_put(&back, name, COLL_FIT_SECURITY, 3, u, 2), 0);
	free(b2);
	assert_int_equal(coll_fit_state_encode(&back, &b2, &len2), -E2BIG);
	b2 = NULL;
	free(name);
	coll_fit_state_free(&again);
	/* an empty state too */
	struct coll_fit_state empty = {.interval = 3600};
	free(b);
	assert_int_equal(coll_fit_state_encode(&empty, &b, &len), 0);
	assert_int_equal(coll_fit_state_decode(b, len, &again), 0);
	assert_int_equal(again.n, 0);
	assert_int_equal(again.interval, 3600);
	free(b);
	free(b2);
	coll_fit_state_free(&fs);
	coll_fit_state_free(&back);
	coll_fit_state_free(&again);
}

/* Every shorter prefix, every single flipped bit, a byte more: refused,
 * and the state left empty. */
static void test_truncated_or_corrupt(void **state)
{
	(void)state;
	struct coll_fit_state fs, back = {0};
	unsigned char *b;
	size_t len;
	sample_state(&fs);
	assert_int_equal(coll_fit_state_encode(&fs, &b, &len), 0);
	unsigned char *copy = malloc(len + 1);
	assert_non_null(copy);
	for (size_t cut = 0; cut < len; cut++) {
		/* a copy of exactly cut bytes: a read past it is ASan's */
		unsigned char *p = malloc(cut ? cut : 1);
		assert_non_null(p);
		memcpy(p, b, cut);
		assert_int_equal(coll_fit_state_decode(p, cut, &back), -EINVAL);
		assert_int_equal(back.n, 0);
		free(p);
	}
	for (size_t i = 0; i < len; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(copy, b, len);
			copy[i] ^= (unsigned char)(1u << bit);
			assert_int_equal(coll_fit_state_decode(copy, len, &back), -EINVAL);
			assert_int_equal(back.n, 0);
		}
	memcpy(copy, b, len);
	copy[len] = 0;
	assert_int_equal(coll_fit_state_decode(copy, len + 1, &back), -EINVAL);
	/* the old JSON text of migration 13 is not a row of this version */
	const char *json = "{\"v\":2,\"u\":1764003600,\"i\":86400,\"s\":{}}";
	assert_int_equal(coll_fit_state_decode(json, strlen(json), &back), -EINVAL);
	free(copy);
	free(b);
	coll_fit_state_free(&fs);
}

/* The checksum is the row's own: a row rebuilt with a valid checksum but
 * wrong counts or bounds is refused all the same. */

static void test_bounds_behind_checksum(void **state)
{
	(void)state;
	struct coll_fit_state fs = {.interval = 86400}, back = {0};
	unsigned char *b;
	size_t len;
	double v[COLL_FIT_L_COUNT] = {90};
	assert_int_equal(
		coll_fit_state_put(&fs, "disk_usage:/", COLL_FIT_LINEAR, 1, v, COLL_FIT_L_COUNT),
		0);
	assert_int_equal(coll_fit_state_encode(&fs, &b, &len), 0);
	coll_fit_state_seal(b, len);
	assert_int_equal(coll_fit_state_decode(b, len, &back), 0); /* the key matches */
	unsigned char *c = malloc(len);
	assert_non_null(c);
	/* more entries than there are */
	memcpy(c, b, len);
	c[4] = 2;
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	/* a name longer than the row */
	memcpy(c, b, len);
	c[HEAD_BYTES + 2] = 0xff;
	c[HEAD_BYTES + 3] = 0x03;
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	/* a number count a linear entry cannot have */
	memcpy(c, b, len);
	c[HEAD_BYTES + 4] = COLL_FIT_L_COUNT - 1;
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	/* an unknown type */
	memcpy(c, b, len);
	c[HEAD_BYTES] = 'x';
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	/* another version */
	memcpy(c, b, len);
	c[3]++;
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	/* a NUL inside the name */
	memcpy(c, b, len);
	c[HEAD_BYTES + 16 + 4] = '\0';
	coll_fit_state_seal(c, len);
	assert_int_equal(coll_fit_state_decode(c, len, &back), -EINVAL);
	assert_int_equal(back.n, 0);
	/* a spike entry of no bucket, or of more than are ever kept */
	double many[(COLL_FIT_SPIKE_BUCKETS + 1) * COLL_FIT_S_COUNT] = {0};
	struct coll_fit_state sp = {.interval = 3600};
	for (size_t n = 0; n <= EP_ARRAY_SIZE(many); n += COLL_FIT_S_COUNT) {
		unsigned char *s;
		size_t slen;
		coll_fit_state_free(&sp);
		sp.interval = 3600;
		assert_int_equal(
			coll_fit_state_put(&sp, "log_errors:x", COLL_FIT_SPIKE, 1, many, n), 0);
		assert_int_equal(coll_fit_state_encode(&sp, &s, &slen), 0);
		bool ok = n > 0 && n <= COLL_FIT_SPIKE_BUCKETS * COLL_FIT_S_COUNT;
		assert_int_equal(coll_fit_state_decode(s, slen, &back), ok ? 0 : -EINVAL);
		free(s);
	}
	coll_fit_state_free(&sp);
	coll_fit_state_free(&back);
	free(c);
	free(b);
	coll_fit_state_free(&fs);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_or_corrupt),
		cmocka_unit_test(test_bounds_behind_checksum),
	};
	return cmocka_run_group_tests_name("fitstate", tests, NULL, NULL);
}
