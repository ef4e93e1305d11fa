/* Adoption score and customer health (collector/analysis/adoption.c) on
 * erp probe metrics shaped as the probe reports them (docs/probes-erp.md). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "collector/analysis/adoption.h"

static json_t *db(int users, int active7, const char *docs_json)
{
	json_error_t e;
	json_t *docs = json_loads(docs_json, 0, &e);
	assert_non_null(docs);
	return json_pack("{s:s, s:{s:i, s:i, s:o}}", "application", "tryton", "usage",
			 "users_enabled", users, "active_users_7d", active7, "documents_7d", docs);
}

static void test_score(void **state)
{
	struct coll_adoption_params p;
	struct coll_adoption a;
	(void)state;
	coll_adoption_params_default(&p);

	/* 7 of 10 weekly active (= the 70% target: 100), 5 of 5 modules: healthy */
	json_t *m = db(10, 7,
		       "{\"sales_orders\": 3, \"invoices\": 2, \"stock_moves\": 9, "
		       "\"purchase_orders\": 1, \"journal_entries\": 4}");
	assert_int_equal(coll_adoption_score(m, &p, &a), 0);
	assert_int_equal(a.login_score, 100);
	assert_int_equal(a.modules_score, 100);
	assert_int_equal(a.score, 100);
	assert_int_equal(a.band, COLL_ADOPTION_HEALTHY);
	json_decref(m);

	/* 2 of 10 active (20% of a 70% target: 29), 2 of 4 installed modules used
	 * (50; purchase not installed = null): (29*25 + 50*30) / 55 = 40 */
	m = db(10, 2,
	       "{\"sales_orders\": 3, \"invoices\": 0, \"stock_moves\": 0, "
	       "\"purchase_orders\": null, \"journal_entries\": 4}");
	assert_int_equal(coll_adoption_score(m, &p, &a), 0);
	assert_int_equal(a.login_score, 29);
	assert_int_equal(a.modules_score, 50);
	assert_int_equal(a.modules_available, 4);
	assert_int_equal(a.score, 40);
	assert_int_equal(a.band, COLL_ADOPTION_CHURN_WARNING);
	assert_string_equal(a.reason,
			    "2 of 10 enabled users active in 7 days (20%, full marks at 70%). 2 of "
			    "4 core modules used in 7 days (used: sales, accounting; idle: "
			    "invoicing, stock).");
	json_t *j = coll_adoption_json(&a);
	assert_string_equal(json_string_value(json_object_get(j, "band")), "churn_warning");
	json_decref(j);
	json_decref(m);

	/* logins not measurable (no enabled users): modules alone */
	m = db(0, 0, "{\"sales_orders\": 1, \"invoices\": 1, \"stock_moves\": 0}");
	assert_int_equal(coll_adoption_score(m, &p, &a), 0);
	assert_int_equal(a.login_score, -1);
	assert_int_equal(a.score, 67);
	assert_int_equal(a.band, COLL_ADOPTION_AT_RISK);
	json_decref(m);

	/* usage = no: nothing to score */
	m = json_pack("{s:s}", "application", "odoo");
	assert_int_equal(coll_adoption_score(m, &p, &a), -ENOENT);
	assert_int_equal(a.score, -1);
	json_decref(m);
}

static void test_pick(void **state)
{
	(void)state;
	json_t *r = json_pack("{s:[{s:s}, {s:s, s:{s:{s:{s:s}, s:{s:{s:i}}, s:{s:{s:i}}}}}]}",
			      "probes", "name", "disk", "name", "erp", "metrics", "databases",
			      "plain", "application", "x", "small", "usage", "users_enabled", 3,
			      "main", "usage", "users_enabled", 40);
	assert_non_null(r);
	const json_t *best = coll_adoption_pick(r);
	assert_non_null(best);
	assert_int_equal(json_integer_value(
				 json_object_get(json_object_get(best, "usage"), "users_enabled")),
			 40);
	json_decref(r);
	json_t *none = json_pack("{s:[]}", "probes");
	assert_null(coll_adoption_pick(none));
	json_decref(none);
}

static void test_trend_and_health(void **state)
{
	struct coll_health_weights w;
	(void)state;
	/* one point lost per day: -30 per 30 days */
	struct coll_sample s[10];
	for (int i = 0; i < 10; i++) {
		s[i].t = 1796601600 + (int64_t)i * 86400;
		s[i].v = 90 - i;
	}
	assert_true(fabs(coll_adoption_trend(s, 10) + 30.0) < 1e-9);
	assert_true(isnan(coll_adoption_trend(s, 1)));
	s[1].t = s[0].t;
	assert_true(isnan(coll_adoption_trend(s, 2)));

	coll_health_weights_default(&w);
	assert_int_equal(coll_customer_health(90, 40, 95, &w), 71); /* (3600+1600+1900)/100 */
	assert_int_equal(coll_customer_health(90, 40, -1, &w), 65); /* SLA unknown: 40/40 */
	assert_int_equal(coll_customer_health(-1, -1, -1, &w), -1);
	w.sla = 0;
	assert_int_equal(coll_customer_health(90, 40, 10, &w), 65);
	assert_int_equal(coll_adoption_band(85), COLL_ADOPTION_HEALTHY);
	assert_int_equal(coll_adoption_band(84), COLL_ADOPTION_AT_RISK);
	assert_int_equal(coll_adoption_band(59), COLL_ADOPTION_CHURN_WARNING);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_score),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_trend_and_health),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
