/* collector/ingest.c: the signature, parse and identity checks of a report,
 * plus the outbox backoff and the metrics text (collector/outbox.c,
 * collector/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/ingest.h"
#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"

#define AID "0123456789abcdef0123456789abcdef"

static struct ep_keypair kp, other;

static char *make_body(const char *aid, int64_t seq, size_t *len)
{
	json_t *host = json_pack("{s:s,s:s,s:s,s:I}", "hostname", "erp01", "os", "Debian", "kernel",
				 "6.1", "uptime_s", (json_int_t)1);
	json_t *r = ep_report_new(aid, seq, time(NULL), 300, host, 0);
	ep_report_add_probe(r, "disk", "/", EP_STATUS_OK, NULL, 1, NULL, NULL);
	char *s = ep_report_serialize(r, len);
	json_decref(r);
	return s;
}

static void sign_b64(const struct ep_keypair *k, const char *body, size_t len, char *out)
{
	unsigned char sig[EP_SIGNATURE_BYTES];
	ep_sign(k, body, len, sig);
	assert_int_equal(ep_base64_encode(sig, sizeof(sig), out, EP_SIGNATURE_B64_SIZE), 0);
}

static enum coll_check check(const char *sig, const char *body, size_t len, size_t max)
{
	char err[256];
	json_t *rep = NULL;
	int64_t seq = 0;
	enum coll_check c = coll_ingest_check(kp.public_key, AID, sig, body, len, max, &rep, &seq,
					      err, sizeof(err));
	if (c == COLL_CHECK_OK) {
		assert_non_null(rep);
		assert_int_equal(seq, 7);
		json_decref(rep);
	} else {
		assert_null(rep);
		assert_true(err[0] != '\0');
	}
	return c;
}

static void test_agent_id(void **state)
{
	(void)state;
	assert_true(coll_agent_id_valid(AID));
	assert_true(coll_agent_id_valid("a"));
	assert_false(coll_agent_id_valid(""));
	assert_false(coll_agent_id_valid(NULL));
	assert_false(coll_agent_id_valid("0123ABCD"));
	assert_false(coll_agent_id_valid("../etc"));
	assert_false(coll_agent_id_valid("' OR 1=1 --"));
	char longid[80];
	memset(longid, 'a', 65);
	longid[65] = '\0';
	assert_false(coll_agent_id_valid(longid));
}

static void test_valid_and_forged(void **state)
{
	(void)state;
	size_t len;
	char *body = make_body(AID, 7, &len), sig[EP_SIGNATURE_B64_SIZE];
	sign_b64(&kp, body, len, sig);
	assert_int_equal(check(sig, body, len, 1 << 20), COLL_CHECK_OK);
	/* one flipped byte */
	body[10] ^= 1;
	assert_int_equal(check(sig, body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	body[10] ^= 1;
	/* truncated body, truncated signature, another key, no signature */
	assert_int_equal(check(sig, body, len - 1, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	char shortsig[EP_SIGNATURE_B64_SIZE];
	memcpy(shortsig, sig, 40);
	shortsig[40] = '\0';
	assert_int_equal(check(shortsig, body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	char osig[EP_SIGNATURE_B64_SIZE];
	sign_b64(&other, body, len, osig);
	assert_int_equal(check(osig, body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	assert_int_equal(check(NULL, body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	assert_int_equal(check("", body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	assert_int_equal(check("not base64 at all!", body, len, 1 << 20), COLL_CHECK_UNAUTHORIZED);
	/* too large is decided before anything else */
	assert_int_equal(check(sig, body, len, len - 1), COLL_CHECK_TOO_LARGE);
	free(body);
}

static void test_signed_but_bad(void **state)
{
	(void)state;
	char sig[EP_SIGNATURE_B64_SIZE];
	static const char *const bodies[] = {
		"", "{", "[]", "null", "{\"a\":1,\"a\":2}", "\"\xff\"", "{\"schema\":1}",
	};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t len = strlen(bodies[i]);
		sign_b64(&kp, bodies[i], len, sig);
		assert_int_equal(check(sig, bodies[i], len, 1 << 20), COLL_CHECK_BAD_REQUEST);
	}
	/* another agent's id in a genuinely signed body */
	size_t len;
	char *body = make_body("ffffffffffffffffffffffffffffffff", 7, &len);
	sign_b64(&kp, body, len, sig);
	assert_int_equal(check(sig, body, len, 1 << 20), COLL_CHECK_BAD_REQUEST);
	free(body);
	/* deep nesting */
	char deep[4001];
	memset(deep, '[', 2000);
	memset(deep + 2000, ']', 2000);
	deep[4000] = '\0';
	sign_b64(&kp, deep, 4000, sig);
	assert_int_equal(check(sig, deep, 4000, 1 << 20), COLL_CHECK_BAD_REQUEST);
}

static void test_backoff(void **state)
{
	(void)state;
	for (int a = 0; a < 40; a++) {
		int64_t d = coll_outbox_backoff(a, 3600);
		int64_t full = a >= 12 ? 3600 : (1LL << a) > 3600 ? 3600 : (1LL << a);
		assert_true(d >= 1);
		assert_true(d <= full);
		assert_true(d >= full / 2);
	}
}

static void test_metrics_text(void **state)
{
	(void)state;
	struct ep_buf b;
	ep_buf_init(&b, 1 << 20);
	coll_metrics_accepted();
	coll_metrics_reject(COLL_REJECT_REVOKED);
	coll_metrics_observe(COLL_HIST_INGEST, 3);
	coll_metrics_observe(COLL_HIST_INGEST, 100000);
	assert_int_equal(coll_metrics_render(&b), 0);
	assert_non_null(strstr(b.data, "erpulse_reports_accepted_total 1\n"));
	assert_non_null(strstr(b.data, "erpulse_reports_rejected_total{reason=\"revoked\"} 1\n"));
	assert_non_null(strstr(b.data, "erpulse_ingest_seconds_bucket{le=\"0.005\"} 1\n"));
	assert_non_null(strstr(b.data, "erpulse_ingest_seconds_bucket{le=\"5\"} 1\n"));
	assert_non_null(strstr(b.data, "erpulse_ingest_seconds_bucket{le=\"+Inf\"} 2\n"));
	assert_non_null(strstr(b.data, "erpulse_ingest_seconds_count 2\n"));
	ep_buf_free(&b);
}

int main(void)
{
	ep_crypto_init();
	ep_key_generate(&kp);
	ep_key_generate(&other);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_id),       cmocka_unit_test(test_valid_and_forged),
		cmocka_unit_test(test_signed_but_bad), cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_metrics_text),
	};
	return cmocka_run_group_tests_name("coll_ingest", tests, NULL, NULL);
}
