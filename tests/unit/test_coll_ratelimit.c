/* collector/http/ratelimit.c: each address keeps its own bucket (two
 * addresses sharing a slot are both limited), the global bucket, refill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "collector/http/ratelimit.h"

static int allowed(struct coll_rate *rl, const char *key, int n, int64_t now)
{
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += coll_rate_allow(rl, key, now);
	return ok;
}

/* One slot for everybody: the old limiter refilled a bucket whenever the
 * other address took the slot, so alternating addresses were never limited. */
static void test_alternating_addresses_both_limited(void **state)
{
	(void)state;
	struct coll_rate *rl;
	assert_int_equal(coll_rate_new(1, 1, 3, 0, 0, &rl), 0);
	int a = 0, b = 0;
	for (int i = 0; i < 20; i++) {
		a += coll_rate_allow(rl, "192.0.2.1", 1000);
		b += coll_rate_allow(rl, "192.0.2.2", 1000);
	}
	/* a holds the only slot while it refills: b gets nothing, a its burst */
	assert_int_equal(a, 3);
	assert_int_equal(b, 0);
	coll_rate_free(rl);

	/* enough slots: each gets exactly its burst */
	assert_int_equal(coll_rate_new(64, 1, 3, 0, 0, &rl), 0);
	a = b = 0;
	for (int i = 0; i < 20; i++) {
		a += coll_rate_allow(rl, "192.0.2.1", 1000);
		b += coll_rate_allow(rl, "192.0.2.2", 1000);
	}
	assert_int_equal(a, 3);
	assert_int_equal(b, 3);
	coll_rate_free(rl);
}

static void test_refill_and_reuse(void **state)
{
	(void)state;
	struct coll_rate *rl;
	assert_int_equal(coll_rate_new(1, 60, 2, 0, 0, &rl), 0); /* one a second */
	assert_int_equal(allowed(rl, "a", 5, 0), 2);
	assert_int_equal(allowed(rl, "a", 5, 1000), 1);
	assert_int_equal(allowed(rl, "b", 1, 1000), 0); /* a's bucket is refilling */
	/* a full again after 2 s: its slot may go to b */
	assert_int_equal(allowed(rl, "b", 5, 3000), 2);
	coll_rate_free(rl);
}

static void test_global_bucket(void **state)
{
	(void)state;
	struct coll_rate *rl;
	assert_int_equal(coll_rate_new(4096, 1, 5, 1, 4, &rl), 0);
	int ok = 0;
	char key[32];
	for (int i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "10.0.%d.%d", i / 250, i % 250);
		ok += coll_rate_allow(rl, key, 0);
	}
	assert_int_equal(ok, 4);
	coll_rate_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alternating_addresses_both_limited),
		cmocka_unit_test(test_refill_and_reuse),
		cmocka_unit_test(test_global_bucket),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
