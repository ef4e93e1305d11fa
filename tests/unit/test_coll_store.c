/* The store suite (collector/store.h), run against SQLite in a temp file
 * and, when ERPULSE_TEST_PG_URL names a PostgreSQL database (set by
 * tests/integration/41-store-pg.sh, which starts a real server), against
 * PostgreSQL with exactly the same cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/analysis/analysis.h"
#include "collector/store/adoption.h"
#include "collector/store/codec.h"
#include "collector/store/dayparts.h"
#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

static char url[4096];
static char tmpdir[256];

static struct coll_store *open_fresh(void)
{
	struct coll_store *s = NULL;
	char err[512] = "";
	struct coll_db_opts o = {.statement_timeout_ms = 5000, .busy_timeout_ms = 5000};
	int r = coll_store_open(url, &o, &s, err, sizeof(err));
	if (r < 0)
		fail_msg("open %s: %s", url, err);
	if (coll_db_kind(s->db) == COLL_DB_PG) {
		/* a clean schema per test */
		assert_int_equal(coll_db_exec(s->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA "
						     "public"),
				 0);
	}
	assert_int_equal(coll_store_migrate(s), 0);
	return s;
}

static int setup(void **state)
{
	const char *pg = getenv("ERPULSE_TEST_PG_URL");
	if (pg && *pg) {
		snprintf(url, sizeof(url), "%s", pg);
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_coll_store.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
		static int n;
		snprintf(url, sizeof(url), "sqlite://%s/store%d.db", tmpdir, n++);
	}
	*state = open_fresh();
	return 0;
}

static int teardown(void **state)
{
	coll_store_close(*state);
	if (tmpdir[0]) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "%s/store0.db", tmpdir);
		/* remove every file of this test's directory */
		for (int i = 0; i < 64; i++) {
			const char *suffix[] = {"", "-wal", "-shm"};
			for (int k = 0; k < 3; k++) {
				snprintf(cmd, sizeof(cmd), "%s/store%d.db%s", tmpdir, i, suffix[k]);
				unlink(cmd);
			}
		}
		rmdir(tmpdir);
		tmpdir[0] = '\0';
	}
	return 0;
}

static int64_t now_s(void)
{
	return ep_wall_ms() / 1000;
}

/* a customer with one enrolled agent; returns the agent id */
static void make_agent(struct coll_store *s, const char *customer, char cid[COLL_ID_SIZE],
		       char aid[COLL_ID_SIZE], struct ep_keypair *kp)
{
	char hash[65], token[64], pk[EP_PUBLIC_KEY_B64_SIZE], got_cid[COLL_ID_SIZE];
	int r = coll_store_customer_find(s, customer, cid);
	if (r == -ENOENT)
		assert_int_equal(coll_store_customer_add(s, customer, now_s(), cid), 0);
	snprintf(token, sizeof(token), "ept_%s_%d", customer, rand());
	ep_hash_secret(token, hash);
	assert_int_equal(coll_store_token_add(s, cid, hash, 1, now_s() + 3600, now_s()), 0);
	ep_key_generate(kp);
	ep_base64_encode(kp->public_key, 32, pk, sizeof(pk));
	struct coll_enroll e = {hash, "erp01", pk, "0.1.0", now_s(), 300};
	assert_int_equal(coll_store_enroll(s, &e, aid, got_cid), 0);
	assert_string_equal(got_cid, cid);
}

static json_t *report(const char *aid, int64_t seq, json_t *findings, const char *hostname)
{
	json_t *host = json_pack("{s:s,s:s,s:s,s:I}", "hostname", hostname, "os", "Debian",
				 "kernel", "6.1", "uptime_s", (json_int_t)100);
	json_t *r = ep_report_new(aid, seq, time(NULL), 300, host, 0);
	assert_non_null(r);
	assert_int_equal(
		ep_report_add_probe(r, "postgres", "odoo", EP_STATUS_OK, NULL, 5, NULL, findings),
		0);
	return r;
}

static json_t *frag(const char *object, double value)
{
	struct ep_finding f = {.kind = "index_fragmentation",
			       .object = object,
			       .value = value,
			       .unit = "%",
			       .threshold = 30,
			       .severity = value > 30 ? EP_SEV_WARNING : EP_SEV_INFO,
			       .method = "pgstatindex",
			       .message = "wasted leaf space",
			       .remediation = "REINDEX INDEX CONCURRENTLY x;"};
	json_t *j = ep_finding_json(&f);
	json_object_set_new(j, "pages", json_integer(5000));
	return json_pack("[o]", j);
}

/* ingest one report received at `at` (its own batch); returns the item's
 * result */
/* An ingest item for rep of agent aid received at at; its body (*ret_body)
 * is the caller's to free. */
static void item_of(struct coll_store *s, const char *aid, json_t *rep, int64_t at,
		    struct coll_ingest *it, char **ret_body)
{
	size_t len;
	*it = (struct coll_ingest){0};
	*ret_body = ep_report_serialize(rep, &len);
	assert_int_equal(coll_store_agent_get(s, aid, &it->agent), 0);
	it->report = rep;
	it->body = *ret_body;
	it->len = len;
	it->seq = json_integer_value(json_object_get(rep, "seq"));
	it->received_at = at;
}

static enum coll_ingest_result ingest_rep_at(struct coll_store *s, const struct coll_analysis *an,
					     const char *aid, json_t *rep, int64_t at,
					     int64_t *ret_last)
{
	struct coll_ingest it;
	char *body;
	item_of(s, aid, rep, at, &it, &body);
	struct coll_ingest *items[] = {&it};
	assert_int_equal(coll_store_ingest(s, items, 1, an), 0);
	free(body);
	if (ret_last)
		*ret_last = it.last_seq;
	return it.result;
}

static enum coll_ingest_result ingest(struct coll_store *s, const struct coll_analysis *an,
				      const char *aid, json_t *rep, int64_t *ret_last)
{
	return ingest_rep_at(s, an, aid, rep, now_s(), ret_last);
}

static int64_t count(struct coll_store *s, const char *sql)
{
	struct coll_db_res res;
	assert_int_equal(coll_db_query(s->db, sql, NULL, 0, &res), 0);
	int64_t v = 0;
	ep_parse_int64(coll_db_val(&res, 0, 0), 0, INT64_MAX, &v);
	coll_db_res_free(&res);
	return v;
}

/* ---- cases ----------------------------------------------------------------------- */

static void test_migrate_idempotent(void **state)
{
	struct coll_store *s = *state;
	int v = 0;
	assert_int_equal(coll_store_schema_version(s, &v), 0);
	assert_int_equal(v, COLL_SCHEMA_VERSION);
	assert_int_equal(coll_store_migrate(s), 0);
	assert_int_equal(coll_store_schema_version(s, &v), 0);
	assert_int_equal(v, COLL_SCHEMA_VERSION);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM schema_version"), COLL_SCHEMA_VERSION);
	assert_int_equal(coll_store_ping(s), 0);
}

static void test_customers(void **state)
{
	struct coll_store *s = *state;
	char id[COLL_ID_SIZE], id2[COLL_ID_SIZE];
	assert_int_equal(coll_store_customer_add(s, "Acme", now_s(), id), 0);
	assert_int_equal(strlen(id), 16);
	assert_int_equal(coll_store_customer_add(s, "Acme", now_s(), id2), -EEXIST);
	assert_int_equal(coll_store_customer_find(s, "Acme", id2), 0);
	assert_string_equal(id, id2);
	assert_int_equal(coll_store_customer_find(s, id, id2), 0);
	assert_string_equal(id, id2);
	assert_int_equal(coll_store_customer_find(s, "nobody", id2), -ENOENT);
	json_t *list = NULL;
	struct coll_scope all = {.customer_id = NULL};
	assert_int_equal(coll_store_customers(s, &all, &list), 0);
	assert_int_equal(json_array_size(list), 1);
	json_decref(list);
	assert_int_equal(coll_store_customers(s, NULL, &list), -EINVAL);
}

static void test_enroll_tokens(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE], got[COLL_ID_SIZE], hash[65], pk[64];
	struct ep_keypair kp;
	ep_key_generate(&kp);
	ep_base64_encode(kp.public_key, 32, pk, sizeof(pk));
	assert_int_equal(coll_store_customer_add(s, "Acme", now_s(), cid), 0);
	ep_hash_secret("ept_two_uses", hash);
	assert_int_equal(coll_store_token_add(s, cid, hash, 2, now_s() + 60, now_s()), 0);
	struct coll_enroll e = {hash, "erp01", pk, "0.1.0", now_s(), 300};
	assert_int_equal(coll_store_enroll(s, &e, aid, got), 0);
	assert_int_equal(strlen(aid), 32);
	assert_int_equal(coll_store_enroll(s, &e, aid, got), 0);
	assert_int_equal(coll_store_enroll(s, &e, aid, got), -EUSERS);
	char unknown[65];
	ep_hash_secret("ept_unknown", unknown);
	e.token_hash = unknown;
	assert_int_equal(coll_store_enroll(s, &e, aid, got), -ENOENT);
	char old[65];
	ep_hash_secret("ept_expired", old);
	assert_int_equal(coll_store_token_add(s, cid, old, 5, now_s() - 1, now_s() - 100), 0);
	e.token_hash = old;
	assert_int_equal(coll_store_enroll(s, &e, aid, got), -EKEYEXPIRED);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agents"), 2);
	/* only hashes are stored */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM enroll_tokens WHERE hash LIKE 'ept_%'"), 0);
}

static void test_agents_revoke(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_agent a;
	make_agent(s, "Acme", cid, aid, &kp);
	assert_int_equal(coll_store_agent_get(s, aid, &a), 0);
	assert_memory_equal(a.public_key, kp.public_key, 32);
	assert_false(a.revoked);
	assert_int_equal(a.last_seq, 0);
	assert_int_equal(coll_store_agent_get(s, "00000000000000000000000000000000", &a), -ENOENT);
	assert_int_equal(coll_store_agent_revoke(s, aid, now_s()), 0);
	assert_int_equal(coll_store_agent_get(s, aid, &a), 0);
	assert_true(a.revoked);
	assert_int_equal(coll_store_agent_revoke(s, "ffff", now_s()), -ENOENT);
	int64_t states[4];
	assert_int_equal(coll_store_agent_states(s, now_s(), states), 0);
	assert_int_equal(states[2], 1); /* revoked */
}

static void test_ingest_seq(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	int64_t last = 0;
	make_agent(s, "Acme", cid, aid, &kp);
	json_t *r1 = report(aid, 1, frag("odoo/public.a_idx", 10), "erp01");
	json_t *r5 = report(aid, 5, NULL, "erp01");
	assert_int_equal(ingest(s, NULL, aid, r1, &last), COLL_INGEST_ACCEPTED);
	assert_int_equal(ingest(s, NULL, aid, r1, &last), COLL_INGEST_DUPLICATE);
	assert_int_equal(last, 1);
	assert_int_equal(ingest(s, NULL, aid, r5, &last), COLL_INGEST_ACCEPTED);
	/* an older seq after a newer one: duplicate, flagged as a rewind */
	assert_int_equal(ingest(s, NULL, aid, r1, &last), COLL_INGEST_DUPLICATE);
	assert_int_equal(last, 5);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 2);
	assert_int_equal(count(s, "SELECT seq_rewinds FROM agents"), 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind = 'agent_seq_rewind'"),
			 1);
	/* the findings are the latest report's: r5 has none */
	struct coll_db_res res;
	assert_int_equal(
		coll_db_query(s->db, "SELECT findings FROM current_findings", NULL, 0, &res), 0);
	assert_int_equal(res.rows, 1);
	assert_string_equal(coll_db_val(&res, 0, 0), "[]");
	coll_db_res_free(&res);
	json_decref(r1);
	json_decref(r5);
}

static void test_ingest_metacharacters(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	static const char evil[] = "x'); DROP TABLE reports; -- \"\\ ? $1 %s \xe2\x80\x94 `;";
	make_agent(s, "O'Brien; DROP TABLE customers;--", cid, aid, &kp);
	json_t *r = report(aid, 1, frag(evil, 42), evil);
	assert_int_equal(ingest(s, NULL, aid, r, NULL), COLL_INGEST_ACCEPTED);
	struct coll_db_res res;
	assert_int_equal(
		coll_db_query(s->db, "SELECT findings FROM current_findings", NULL, 0, &res), 0);
	json_t *fj = json_loads(coll_db_val(&res, 0, 0), 0, NULL);
	coll_db_res_free(&res);
	assert_string_equal(json_string_value(json_object_get(json_array_get(fj, 0), "object")),
			    evil);
	assert_string_equal(json_string_value(json_object_get(json_array_get(fj, 0), "probe")),
			    "postgres");
	json_decref(fj);
	assert_int_equal(coll_db_query(s->db, "SELECT hostname FROM agents", NULL, 0, &res), 0);
	assert_string_equal(coll_db_val(&res, 0, 0), evil);
	coll_db_res_free(&res);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM customers"), 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 1);
	char got[COLL_ID_SIZE];
	assert_int_equal(coll_store_customer_find(s, "O'Brien; DROP TABLE customers;--", got), 0);
	json_decref(r);
}

static void test_batch_isolation(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a1[COLL_ID_SIZE], a2[COLL_ID_SIZE];
	struct ep_keypair kp;
	make_agent(s, "Acme", cid, a1, &kp);
	make_agent(s, "Acme", cid, a2, &kp);
	struct coll_ingest it[2] = {0};
	json_t *r1 = report(a1, 1, NULL, "h1"), *r2 = report(a2, 1, NULL, "h2");
	char *b1 = ep_report_serialize(r1, &it[0].len), *b2 = ep_report_serialize(r2, &it[1].len);
	assert_int_equal(coll_store_agent_get(s, a1, &it[0].agent), 0);
	assert_int_equal(coll_store_agent_get(s, a2, &it[1].agent), 0);
	/* a2 is revoked after its lookup: it fails alone */
	assert_int_equal(coll_store_agent_revoke(s, a2, now_s()), 0);
	it[0].report = r1, it[0].body = b1, it[0].seq = 1, it[0].received_at = now_s();
	it[1].report = r2, it[1].body = b2, it[1].seq = 1, it[1].received_at = now_s();
	struct coll_ingest *items[] = {&it[0], &it[1]};
	assert_int_equal(coll_store_ingest(s, items, 2, NULL), 0);
	assert_int_equal(it[0].result, COLL_INGEST_ACCEPTED);
	assert_int_equal(it[1].result, COLL_INGEST_FAILED);
	assert_int_equal(it[1].error, -EPERM);
	assert_int_equal(s->ingest_reruns, 0); /* revoked: fails before any write */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 1);
	free(b1);
	free(b2);
	json_decref(r1);
	json_decref(r2);
}

/* A report that fails after the batch may have written (here: no body)
 * rolls the batch back and reruns it with savepoints: the good reports,
 * their findings, alerts and notices are stored once; the bad one and a
 * revoked agent's report fail alone. */
static void test_batch_rerun(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[4][COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_ingest it[4] = {0};
	json_t *rep[4];
	char *body[4];
	struct coll_analysis an = {.forecast_window_s = 30 * 86400,
				   .sample_interval_s = 300,
				   .max_forecasts = 64,
				   .webhook_url = "http://127.0.0.1:9/hook"};

	for (int i = 0; i < 4; i++)
		make_agent(s, "Acme", cid, aid[i], &kp);
	for (int i = 0; i < 4; i++) {
		rep[i] = report(aid[i], 1, frag("odoo/public.x_idx", 60.0), "h");
		body[i] = ep_report_serialize(rep[i], &it[i].len);
		assert_int_equal(coll_store_agent_get(s, aid[i], &it[i].agent), 0);
		it[i].report = rep[i];
		it[i].body = i == 1 ? NULL : body[i];
		it[i].seq = 1;
		it[i].received_at = now_s();
	}
	/* agent 3 is revoked after its lookup */
	assert_int_equal(coll_store_agent_revoke(s, aid[3], now_s()), 0);
	struct coll_ingest *items[] = {&it[0], &it[1], &it[2], &it[3]};
	assert_int_equal(coll_store_ingest(s, items, 4, &an), 0);
	assert_int_equal(it[0].result, COLL_INGEST_ACCEPTED);
	assert_int_equal(it[1].result, COLL_INGEST_FAILED);
	assert_int_equal(it[1].error, -EINVAL);
	assert_int_equal(it[2].result, COLL_INGEST_ACCEPTED);
	assert_int_equal(it[3].result, COLL_INGEST_FAILED);
	assert_int_equal(it[3].error, -EPERM);
	assert_int_equal(s->ingest_reruns, 1); /* the bad body: once more, per report */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 2);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agents WHERE last_seq = 1"), 2);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings"), 2);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts"), 2);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM outbox"), 2);
	for (int i = 0; i < 4; i++) {
		free(body[i]);
		json_decref(rep[i]);
	}
}

/* ---- batches: PostgreSQL runs them set-based, in rounds (store/reports.c);
 * SQLite per report. Both must give each report the result it would get
 * alone, in arrival order. ---- */

struct item {
	struct coll_ingest it;
	json_t *rep;
	char *body;
};

static void item_init(struct coll_store *s, struct item *x, const char *aid, int64_t seq,
		      json_t *findings, const char *host)
{
	memset(x, 0, sizeof(*x));
	x->rep = report(aid, seq, findings, host);
	x->body = ep_report_serialize(x->rep, &x->it.len);
	assert_int_equal(coll_store_agent_get(s, aid, &x->it.agent), 0);
	x->it.report = x->rep;
	x->it.body = x->body;
	x->it.seq = seq;
	x->it.received_at = now_s();
}

static void item_free(struct item *x)
{
	free(x->body);
	json_decref(x->rep);
}

static const struct coll_analysis batch_an = {
	.forecast_window_s = 30 * 86400, .sample_interval_s = 300, .max_forecasts = 64};

static int64_t count1(struct coll_store *s, const char *sql, const char *param)
{
	struct coll_db_res res;
	const char *params[] = {param};
	assert_int_equal(coll_db_query(s->db, sql, params, 1, &res), 0);
	int64_t v = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return v;
}

/* Three reports of one agent and one of another in one batch: one round each
 * on PostgreSQL (an upsert touches a row once per statement), every one
 * stored, and each report's analysis saw the one before it. A newer seq
 * before an older one in a batch: the older is a conflict, as it would be
 * alone after it. */
static void test_batch_same_agent(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], b[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct item x[4];
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, b, &kp);
	item_init(s, &x[0], a, 1, frag("odoo/public.a_idx", 10), "h1");
	item_init(s, &x[1], b, 1, NULL, "hb");
	item_init(s, &x[2], a, 2, frag("odoo/public.a_idx", 45), "h2");
	item_init(s, &x[3], a, 3, NULL, "h3");
	struct coll_ingest *items[] = {&x[0].it, &x[1].it, &x[2].it, &x[3].it};
	assert_int_equal(coll_store_ingest(s, items, 4, &batch_an), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(x[i].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(s->ingest_reruns, 0); /* in one go, not report by report */
	assert_int_equal(count1(s, "SELECT last_seq FROM agents WHERE id = ?", a), 3);
	assert_int_equal(
		count1(s, "SELECT COUNT(*) FROM agents WHERE id = ? AND hostname = 'h3'", a), 1);
	assert_int_equal(count1(s, "SELECT COUNT(*) FROM reports WHERE agent_id = ?", a), 3);
	assert_int_equal(count1(s, "SELECT COUNT(*) FROM reports WHERE agent_id = ?", b), 1);
	/* the last report's findings (none) and instance state */
	assert_int_equal(count1(s,
				"SELECT COUNT(*) FROM current_findings WHERE agent_id = ? AND"
				" seq = 3 AND findings = '[]'",
				a),
			 1);
	assert_int_equal(count1(s,
				"SELECT COUNT(*) FROM agent_analysis WHERE agent_id = ? AND"
				" instances LIKE '%\"seq\":3%'",
				a),
			 1);
	/* one row per hour (three reports, the same hour) */
	assert_int_equal(count1(s, "SELECT COUNT(*) FROM score_history WHERE agent_id = ?", a), 1);
	assert_int_equal(count1(s, "SELECT COUNT(*) FROM score_history WHERE agent_id = ?", b), 1);
	for (int i = 0; i < 4; i++)
		item_free(&x[i]);

	item_init(s, &x[0], a, 5, NULL, "h5");
	item_init(s, &x[1], a, 4, NULL, "h4");
	assert_int_equal(coll_store_ingest(s, items, 2, &batch_an), 0);
	assert_int_equal(x[0].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(x[1].it.result, COLL_INGEST_CONFLICT);
	assert_int_equal(x[1].it.error, -EEXIST);
	assert_int_equal(x[1].it.last_seq, 5);
	assert_int_equal(s->ingest_reruns, 0);
	assert_int_equal(count1(s, "SELECT seq_rewinds FROM agents WHERE id = ?", a), 1);
	assert_int_equal(count1(s, "SELECT COUNT(*) FROM reports WHERE agent_id = ?", a), 4);
	item_free(&x[0]);
	item_free(&x[1]);
}

/* The fit state read with the round's analysis state
 * (coll_store_round_fits, PostgreSQL): an agent's reports in consecutive
 * rounds of one batch each see the row the round before wrote (the first
 * report refits, the next ones take the cached path: fitted_at stays its
 * time), the same row as when each report comes in a batch of its own.
 * Outside a round the caller reads the row itself. */
static void test_batch_fit_state(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], b[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct item x[3];
	const int64_t t0 = now_s();
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, b, &kp);
	for (int k = 0; k < 3; k++) {
		item_init(s, &x[k], a, k + 1, frag("odoo/public.a_idx", 10 + 10 * k), "h");
		x[k].it.received_at = t0 + 300 * k;
	}
	struct coll_ingest *items[] = {&x[0].it, &x[1].it, &x[2].it};
	assert_int_equal(coll_store_ingest(s, items, 3, &batch_an), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(x[k].it.result, COLL_INGEST_ACCEPTED);
		item_free(&x[k]);
	}
	assert_int_equal(s->ingest_reruns, 0);
	for (int k = 0; k < 3; k++) { /* b: one report per batch */
		item_init(s, &x[k], b, k + 1, frag("odoo/public.a_idx", 10 + 10 * k), "h");
		x[k].it.received_at = t0 + 300 * k;
		assert_int_equal(coll_store_ingest(s, &items[k], 1, &batch_an), 0);
		assert_int_equal(x[k].it.result, COLL_INGEST_ACCEPTED);
		item_free(&x[k]);
	}
	const char *sql =
		"SELECT fitted_at, sampled_at, state FROM forecast_fits WHERE agent_id = ?";
	struct coll_db_res ra, rb;
	assert_int_equal(COLL_Q(s, sql, &ra, a), 0);
	assert_int_equal(COLL_Q(s, sql, &rb, b), 0);
	assert_int_equal(ra.rows, 1);
	assert_int_equal(rb.rows, 1);
	assert_int_equal(coll_s2i(coll_db_val(&ra, 0, 0)), t0);
	assert_int_equal(coll_s2i(coll_db_val(&rb, 0, 0)), t0);
	assert_string_equal(coll_db_val(&ra, 0, 1), coll_db_val(&rb, 0, 1));
	assert_int_equal(coll_db_len(&ra, 0, 2), coll_db_len(&rb, 0, 2));
	assert_memory_equal(coll_db_val(&ra, 0, 2), coll_db_val(&rb, 0, 2), coll_db_len(&ra, 0, 2));
	coll_db_res_free(&ra);
	coll_db_res_free(&rb);
	assert_int_equal(coll_store_round_fits(s, a, &ra), -ENOTSUP);
}

/* A resend, a conflict and new reports in one batch: each gets its own
 * result (the set-based seq gate tells them apart per report). */
static void test_batch_duplicate_conflict(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[3][COLL_ID_SIZE];
	struct ep_keypair kp;
	struct item x[4], first[2];
	for (int i = 0; i < 3; i++)
		make_agent(s, "Acme", cid, a[i], &kp);
	item_init(s, &first[0], a[0], 1, NULL, "h0");
	item_init(s, &first[1], a[1], 1, NULL, "h1");
	struct coll_ingest *pre[] = {&first[0].it, &first[1].it};
	assert_int_equal(coll_store_ingest(s, pre, 2, &batch_an), 0);
	assert_int_equal(first[0].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(first[1].it.result, COLL_INGEST_ACCEPTED);

	item_init(s, &x[0], a[0], 1, NULL, "h0");
	free(x[0].body); /* the very body stored: a resend */
	x[0].body = ep_report_serialize(first[0].rep, &x[0].it.len);
	x[0].it.body = x[0].body;
	item_init(s, &x[1], a[1], 1, NULL, "another body"); /* same seq, other body */
	item_init(s, &x[2], a[2], 1, frag("odoo/public.c_idx", 10), "h2");
	item_init(s, &x[3], a[0], 2, NULL, "h0");
	struct coll_ingest *items[] = {&x[0].it, &x[1].it, &x[2].it, &x[3].it};
	assert_int_equal(coll_store_ingest(s, items, 4, &batch_an), 0);
	assert_int_equal(x[0].it.result, COLL_INGEST_DUPLICATE);
	assert_int_equal(x[0].it.last_seq, 1);
	assert_int_equal(x[1].it.result, COLL_INGEST_CONFLICT);
	assert_int_equal(x[1].it.error, -EEXIST);
	assert_int_equal(x[2].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(x[3].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(s->ingest_reruns, 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 4);
	assert_int_equal(count1(s, "SELECT last_seq FROM agents WHERE id = ?", a[0]), 2);
	assert_int_equal(count1(s, "SELECT last_seq FROM agents WHERE id = ?", a[1]), 1);
	assert_int_equal(
		count1(s, "SELECT COUNT(*) FROM agents WHERE id = ? AND hostname = 'h1'", a[1]), 1);
	/* the conflict is flagged; a plain resend of the last report is not */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM events WHERE kind = 'agent_seq_rewind'"),
			 1);
	assert_int_equal(count1(s, "SELECT seq_rewinds FROM agents WHERE id = ?", a[1]), 1);
	for (int i = 0; i < 4; i++)
		item_free(&x[i]);
	item_free(&first[0]);
	item_free(&first[1]);
}

static struct coll_store *open_other(void)
{
	struct coll_store *s = NULL;
	char err[512] = "";
	struct coll_db_opts o = {.statement_timeout_ms = 10000, .busy_timeout_ms = 10000};
	if (coll_store_open(url, &o, &s, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", url, err);
	return s;
}

/* Two collectors racing for the same report (PostgreSQL): collector A has
 * passed the seq gate and holds the agent's row; B's batch (the same report
 * and another agent's) waits on that row lock, and once A commits finds the
 * seq taken: B's copy is a duplicate, B's other report is stored. */
struct racer {
	struct coll_store *s;
	struct coll_ingest **items;
	size_t n;
	bool hold; /* A: wait in the hook until released */
	int rc;
};
static pthread_mutex_t race_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t race_cv = PTHREAD_COND_INITIALIZER;
static int race_stage;

static int race_hook(void *ctx, struct coll_store *s, const struct coll_ingest *it)
{
	(void)ctx;
	(void)s;
	(void)it;
	pthread_mutex_lock(&race_mu);
	race_stage = 1;
	pthread_cond_broadcast(&race_cv);
	while (race_stage < 2)
		pthread_cond_wait(&race_cv, &race_mu);
	pthread_mutex_unlock(&race_mu);
	return 0;
}

static void *race_run(void *arg)
{
	struct racer *r = arg;
	r->rc = coll_store_ingest_batch(r->s, r->items, r->n, r->hold ? race_hook : NULL, NULL);
	return NULL;
}

static void test_batch_race(void **state)
{
	struct coll_store *s = *state;
	if (coll_db_kind(s->db) != COLL_DB_PG)
		skip(); /* SQLite: one writer at a time, no race */
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], c[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct item x, y, other;
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, c, &kp);
	item_init(s, &x, a, 1, NULL, "h");
	y = x; /* the same report, received by the other collector */
	y.it.result = COLL_INGEST_PENDING;
	item_init(s, &other, c, 1, NULL, "hc");
	struct coll_store *s2 = open_other(), *watch = open_other();
	struct coll_ingest *ia[] = {&x.it}, *ib[] = {&other.it, &y.it};
	struct racer ra = {.s = s, .items = ia, .n = 1, .hold = true},
		     rb = {.s = s2, .items = ib, .n = 2};
	pthread_t ta, tb;
	race_stage = 0;
	assert_int_equal(pthread_create(&ta, NULL, race_run, &ra), 0);
	pthread_mutex_lock(&race_mu);
	while (race_stage < 1)
		pthread_cond_wait(&race_cv, &race_mu);
	pthread_mutex_unlock(&race_mu);
	assert_int_equal(pthread_create(&tb, NULL, race_run, &rb), 0);
	/* B is waiting for A's row lock: then A goes on */
	int64_t until = ep_mono_ms() + 10000, waiting = 0;
	while (waiting == 0 && ep_mono_ms() < until)
		waiting = count(watch, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname ="
				       " current_database() AND wait_event_type = 'Lock'");
	pthread_mutex_lock(&race_mu);
	race_stage = 2;
	pthread_cond_broadcast(&race_cv);
	pthread_mutex_unlock(&race_mu);
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(waiting, 1);
	assert_int_equal(ra.rc, 0);
	assert_int_equal(rb.rc, 0);
	assert_int_equal(s->ingest_reruns + s2->ingest_reruns, 0);
	assert_int_equal(x.it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(y.it.result, COLL_INGEST_DUPLICATE);
	assert_int_equal(y.it.last_seq, 1);
	assert_int_equal(other.it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(count(watch, "SELECT COUNT(*) FROM reports"), 2);
	assert_int_equal(count(watch, "SELECT COUNT(*) FROM events"), 0);
	coll_store_close(s2);
	coll_store_close(watch);
	item_free(&x);
	item_free(&other);
}

/* The connection is killed in the middle of a batch (PostgreSQL): the
 * transaction is gone, so no report of it may be acknowledged; run again,
 * every one is stored once. */
struct killer {
	struct coll_store *other;
	const char *pid;
	int calls;
};

static int kill_hook(void *ctx, struct coll_store *s, const struct coll_ingest *it)
{
	struct killer *k = ctx;
	(void)s;
	(void)it;
	if (k->calls++ != 1)
		return 0;
	const char *params[] = {k->pid};
	struct coll_db_res res;
	int r = coll_db_query(k->other->db,
			      "SELECT pg_terminate_backend(CAST(? AS INTEGER), 10000)", params, 1,
			      &res);
	if (r == 0)
		coll_db_res_free(&res);
	return r;
}

static void test_batch_conn_killed(void **state)
{
	struct coll_store *s = *state;
	if (coll_db_kind(s->db) != COLL_DB_PG)
		skip();
	char cid[COLL_ID_SIZE], a[4][COLL_ID_SIZE];
	struct ep_keypair kp;
	struct item x[4];
	for (int i = 0; i < 4; i++)
		make_agent(s, "Acme", cid, a[i], &kp);
	for (int i = 0; i < 4; i++)
		item_init(s, &x[i], a[i < 3 ? i : 0], i < 3 ? 1 : 2, NULL, "h");
	struct coll_db_res res;
	assert_int_equal(coll_db_query(s->db, "SELECT pg_backend_pid()", NULL, 0, &res), 0);
	struct coll_store *other = open_other();
	struct killer k = {.other = other, .pid = coll_db_val(&res, 0, 0)};
	struct coll_ingest *items[] = {&x[0].it, &x[1].it, &x[2].it, &x[3].it};
	int rc = coll_store_ingest_batch(s, items, 4, kill_hook, &k);
	coll_db_res_free(&res);
	assert_true(k.calls >= 2);
	/* whatever the batch says, what it acknowledged is stored */
	int64_t acked = 0;
	for (int i = 0; i < 4; i++) {
		char seq[8];
		snprintf(seq, sizeof(seq), "%lld", (long long)x[i].it.seq);
		const char *params[] = {x[i].it.agent.id, seq};
		struct coll_db_res got;
		assert_int_equal(coll_db_query(other->db,
					       "SELECT COUNT(*) FROM reports WHERE agent_id = ? AND"
					       " seq = CAST(? AS BIGINT)",
					       params, 2, &got),
				 0);
		int64_t stored = coll_s2i(coll_db_val(&got, 0, 0));
		coll_db_res_free(&got);
		bool ok = x[i].it.result == COLL_INGEST_ACCEPTED;
		assert_int_equal(stored, ok ? 1 : 0);
		acked += ok;
	}
	/* the session died under the transaction: nothing of it committed */
	assert_true(rc < 0);
	assert_int_equal(acked, 0);
	assert_int_equal(count(other, "SELECT COUNT(*) FROM reports"), 0);
	/* the agent resends: the store reconnects and takes them all */
	assert_int_equal(coll_store_ingest_batch(s, items, 4, NULL, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(x[i].it.result, COLL_INGEST_ACCEPTED);
	assert_int_equal(count(other, "SELECT COUNT(*) FROM reports"), 4);
	coll_store_close(other);
	for (int i = 0; i < 4; i++)
		item_free(&x[i]);
}

static json_t *security(double count)
{
	struct ep_finding f = {.kind = "security_updates",
			       .object = "erp01",
			       .value = count,
			       .unit = "count",
			       .threshold = 1,
			       .severity = count > 0 ? EP_SEV_WARNING : EP_SEV_INFO,
			       .method = "apt-get -s dist-upgrade",
			       .message = "security updates pending"};
	return json_pack("[o]", ep_finding_json(&f));
}

static enum coll_ingest_result ingest_at(struct coll_store *s, const struct coll_analysis *an,
					 const char *aid, int64_t seq, json_t *findings, int64_t at)
{
	struct coll_ingest it = {0};
	json_t *rep = report(aid, seq, findings, "erp01");
	char *body = ep_report_serialize(rep, &it.len);
	assert_int_equal(coll_store_agent_get(s, aid, &it.agent), 0);
	it.report = rep;
	it.body = body;
	it.seq = seq;
	it.received_at = at;
	struct coll_ingest *items[] = {&it};
	assert_int_equal(coll_store_ingest(s, items, 1, an), 0);
	free(body);
	json_decref(rep);
	return it.result;
}

/* "Security updates pending for more than 7 days": a report carries only
 * today's count; the age comes from the host's own history of it. */
static void test_security_pending(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.webhook_url = "http://127.0.0.1:9/hook",
				   .forecast_window_s = 30 * 86400,
				   .sample_interval_s = 300,
				   .max_forecasts = 64};
	const char *open_sql = "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL AND rule ="
			       " 'security_updates'";
	int64_t now = now_s();
	make_agent(s, "Acme", cid, aid, &kp);

	assert_int_equal(ingest_at(s, &an, aid, 1, security(3), now - 8 * 86400),
			 COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, open_sql), 0); /* pending for 0 days */
	assert_int_equal(ingest_at(s, &an, aid, 2, security(3), now - 4 * 86400),
			 COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, open_sql), 0); /* 4 days */
	assert_int_equal(ingest_at(s, &an, aid, 3, security(5), now), COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, open_sql), 1); /* 8 days: raised */
	/* installed: cleared, and a new batch of updates starts a new age */
	assert_int_equal(ingest_at(s, &an, aid, 4, security(0), now + 600), COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, open_sql), 0);
	assert_int_equal(ingest_at(s, &an, aid, 5, security(2), now + 1200), COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, open_sql), 0);
}

static void test_alerts_outbox(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.webhook_url = "http://127.0.0.1:9/hook",
		.webhook_format = COLL_WEBHOOK_GENERIC,
		.forecast_window_s = 30 * 86400,
		.max_forecasts = 64,
	};
	make_agent(s, "Acme", cid, aid, &kp);
	json_t *r;
	r = report(aid, 1, frag("odoo/public.a_idx", 41.2), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL AND rule ="
				  " 'index_fragmentation' AND severity = 'warning'"),
			 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM outbox"), 1);
	/* the same value again: no new notice */
	r = report(aid, 2, frag("odoo/public.a_idx", 41.5), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM outbox"), 1);
	/* hysteresis: 27% stays open, 20% clears */
	r = report(aid, 3, frag("odoo/public.a_idx", 27), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL"), 1);
	r = report(aid, 4, frag("odoo/public.a_idx", 20), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL"), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM outbox"), 2);
	/* the score and its explanation were stored */
	json_t *host = NULL;
	struct coll_scope all = {.customer_id = NULL};
	assert_int_equal(coll_store_host(s, &all, aid, now_s(), &host), 0);
	assert_true(json_is_integer(json_object_get(host, "score")));
	assert_true(json_is_object(json_object_get(host, "explanation")));
	assert_true(json_is_object(json_object_get(host, "report")));
	json_decref(host);

	/* outbox claim / lease / retry / sent */
	struct coll_outbox_row *rows = NULL;
	size_t n = 0;
	int64_t now = now_s(), depth = 0;
	assert_int_equal(coll_store_outbox_claim(s, "w1", now, 60, 10, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].channel, "webhook");
	assert_non_null(strstr(rows[0].payload, "index_fragmentation"));
	int64_t id0 = rows[0].id, id1 = rows[1].id;
	coll_outbox_rows_free(rows, n);
	assert_int_equal(coll_store_outbox_claim(s, "w2", now, 60, 10, &rows, &n), 0);
	assert_int_equal(n, 0); /* leased */
	assert_int_equal(coll_store_outbox_sent(s, id0, "w1", now), 0);
	assert_int_equal(coll_store_outbox_failed(s, id1, "w1", now + 30, false, "HTTP 503"), 0);
	assert_int_equal(coll_store_outbox_depth(s, &depth), 0);
	assert_int_equal(depth, 1);
	assert_int_equal(coll_store_outbox_claim(s, "w2", now + 10, 60, 10, &rows, &n), 0);
	assert_int_equal(n, 0); /* not due yet */
	assert_int_equal(coll_store_outbox_claim(s, "w2", now + 31, 60, 10, &rows, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attempts, 2);
	coll_outbox_rows_free(rows, n);
	/* w1's late answer does not touch w2's claim */
	assert_int_equal(coll_store_outbox_sent(s, id1, "w1", now), 0);
	assert_int_equal(coll_store_outbox_depth(s, &depth), 0);
	assert_int_equal(depth, 1);
	assert_int_equal(coll_store_outbox_failed(s, id1, "w2", now + 40, true, "gone"), 0);
	assert_int_equal(coll_store_outbox_depth(s, &depth), 0);
	assert_int_equal(depth, 0);
}

static void test_deadman(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.webhook_url = "http://127.0.0.1:9/hook",
				   .forecast_window_s = 86400,
				   .max_forecasts = 8};
	make_agent(s, "Acme", cid, aid, &kp);
	json_t *r = report(aid, 1, NULL, "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(coll_analysis_deadman(&an, s, now_s() + 60), 0);
	int raised = coll_analysis_deadman(&an, s, now_s() + 3600);
	assert_int_equal(raised, 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts WHERE rule = 'agent_silent' AND"
				  " closed_at IS NULL"),
			 1);
	int64_t outbox = count(s, "SELECT COUNT(*) FROM outbox");
	assert_int_equal(outbox, 1);
	/* silence is never health: unknown, liveness lost, stale since the report */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agents WHERE band = 'unknown' AND"
				  " score <= 85 AND stale_since = last_report_at AND (SELECT"
				  " score_json FROM agent_analysis WHERE agent_id = agents.id) LIKE"
				  " '%report_age%'"),
			 1);
	/* the next report clears it */
	r = report(aid, 2, NULL, "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM alerts WHERE closed_at IS NULL"), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agents WHERE band <> 'unknown'"), 1);
}

static void test_scope(void **state)
{
	struct coll_store *s = *state;
	char ca[COLL_ID_SIZE], cb[COLL_ID_SIZE], aa[COLL_ID_SIZE], ab[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	make_agent(s, "A", ca, aa, &kp);
	make_agent(s, "B", cb, ab, &kp);
	json_t *r = report(aa, 1, frag("a/x", 60), "host-a");
	assert_int_equal(ingest(s, &an, aa, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	r = report(ab, 1, frag("b/x", 60), "host-b");
	assert_int_equal(ingest(s, &an, ab, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	struct coll_scope all = {.customer_id = NULL}, only_a = {.customer_id = ca};
	json_t *j = NULL;
	assert_int_equal(coll_store_hosts(s, &all, now_s(), &j), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	assert_int_equal(coll_store_hosts(s, &only_a, now_s(), &j), 0);
	assert_int_equal(json_array_size(j), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(j, 0), "id")), aa);
	json_decref(j);
	assert_int_equal(coll_store_host(s, &only_a, aa, now_s(), &j), 0);
	json_decref(j);
	assert_int_equal(coll_store_host(s, &only_a, ab, now_s(), &j), -ENOENT);
	assert_int_equal(coll_store_host(s, &only_a, "0123", now_s(), &j), -ENOENT);
	assert_int_equal(coll_store_alerts(s, &all, true, &j), 0);
	assert_int_equal(json_array_size(j), 2);
	json_decref(j);
	assert_int_equal(coll_store_alerts(s, &only_a, false, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	assert_int_equal(coll_store_customers(s, &only_a, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	assert_int_equal(coll_store_hosts(s, NULL, now_s(), &j), -EINVAL);
	/* paging */
	struct coll_scope page1 = {.limit = 1}, page2 = {.limit = 1, .offset = 1},
			  page3 = {.limit = 1, .offset = 2};
	json_t *p1 = NULL, *p2 = NULL, *p3 = NULL;
	assert_int_equal(coll_store_hosts(s, &page1, now_s(), &p1), 0);
	assert_int_equal(coll_store_hosts(s, &page2, now_s(), &p2), 0);
	assert_int_equal(coll_store_hosts(s, &page3, now_s(), &p3), 0);
	assert_int_equal(json_array_size(p1), 1);
	assert_int_equal(json_array_size(p2), 1);
	assert_int_equal(json_array_size(p3), 0);
	assert_string_not_equal(json_string_value(json_object_get(json_array_get(p1, 0), "id")),
				json_string_value(json_object_get(json_array_get(p2, 0), "id")));
	json_decref(p1);
	json_decref(p2);
	json_decref(p3);
	assert_int_equal(coll_store_alerts(s, &page1, true, &j), 0);
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);

	/* users */
	char h1[65], h2[65];
	struct coll_user u;
	ep_hash_secret("epa_vendor", h1);
	ep_hash_secret("epa_viewer", h2);
	assert_int_equal(coll_store_user_add(s, "vera", COLL_ROLE_VENDOR, NULL, h1, now_s()), 0);
	assert_int_equal(coll_store_user_add(s, "vic", COLL_ROLE_VIEWER, cb, h2, now_s()), 0);
	assert_int_equal(coll_store_user_add(s, "vic", COLL_ROLE_VIEWER, cb, h1, now_s()), -EEXIST);
	assert_int_equal(coll_store_user_by_token(s, h1, &u), 0);
	assert_int_equal(u.role, COLL_ROLE_VENDOR);
	assert_int_equal(coll_store_user_by_token(s, h2, &u), 0);
	assert_int_equal(u.role, COLL_ROLE_VIEWER);
	assert_string_equal(u.customer_id, cb);
	ep_hash_secret("epa_nobody", h1);
	assert_int_equal(coll_store_user_by_token(s, h1, &u), -ENOENT);
}

static void test_retention(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	make_agent(s, "Acme", cid, aid, &kp);
	for (int i = 1; i <= 3; i++) {
		json_t *r = report(aid, i, frag("odoo/public.a_idx", 10 + i), "erp01");
		assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
		json_decref(r);
	}
	/* age the first two reports and samples by 40 days */
	assert_int_equal(coll_db_exec(s->db, "UPDATE reports SET received_at = received_at - "
					     "3456000 WHERE seq < 3"),
			 0);
	int64_t n_samples = count(s, "SELECT COUNT(*) FROM samples");
	assert_true(n_samples >= 1);
	assert_int_equal(coll_db_exec(s->db, "UPDATE samples SET ts = ts - 3456000"), 0);
	int64_t keep = 30 * 86400;
	assert_int_equal(coll_store_retention(s, now_s(), keep, 400 * 86400), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples"), 0);
	assert_true(count(s, "SELECT COUNT(*) FROM rollups") >= 1);
	assert_int_equal(count(s, "SELECT SUM(n) FROM rollups"), n_samples);

	/* many chunks: 12000 old samples, 7000 of them sharing one timestamp */
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM rollups"), 0);
	char sql[768];
	int64_t base = now_s() - 40 * 86400;
	/* (series s1 .. s12000 of agent 'a', samples keyed by their ids) */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO series (agent_id, name)"
		 " WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE"
		 " x < 12000) SELECT 'a', 's' || CAST(x AS TEXT) FROM c;"
		 "INSERT INTO samples (series_id, ts, value) SELECT id, CASE WHEN"
		 " CAST(substr(name, 2) AS INTEGER) <= 7000 THEN %lld ELSE %lld +"
		 " CAST(substr(name, 2) AS INTEGER) END, 1.5 FROM series WHERE agent_id = 'a'",
		 (long long)base, (long long)base);
	assert_int_equal(coll_db_exec(s->db, sql), 0);
	int64_t recent = count(s, "SELECT COUNT(*) FROM samples") - 12000;
	assert_int_equal(coll_store_retention(s, now_s(), keep, 400 * 86400), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples"), recent);
	assert_int_equal(count(s, "SELECT SUM(n) FROM rollups"), 12000);
}

/* The values of the host's chart of series name (one point per sample:
 * step 600 from t0), as "v,v,...". */
static void chart(struct coll_store *s, const char *aid, const char *name, int64_t t0, char *out,
		  size_t len)
{
	struct coll_scope all = {.customer_id = NULL};
	const char *names[] = {name};
	struct coll_series_query q = {t0 - 7200, t0 + 3600, 600, names, 1};
	json_t *ret = NULL, *v;
	size_t i, at = 0;
	assert_int_equal(coll_store_host_series(s, &all, aid, &q, &ret), 0);
	out[0] = '\0';
	json_array_foreach(json_object_get(json_array_get(json_object_get(ret, "series"), 0), "v"),
			   i, v)
	{
		at += (size_t)snprintf(out + at, len - at, "%s%g", i ? "," : "",
				       json_number_value(v));
		assert_true(at < len);
	}
	json_decref(ret);
}

/* Samples keyed by series id (migration 12): the write path makes each
 * (agent, name) series once, also 17 new ones in one report and the same
 * name on two hosts; a sample again at its time replaces the value; the
 * chart reads raw samples and hourly rollups by the host's series; the
 * host's names are the series that have history. */
static void test_samples_series(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a1[COLL_ID_SIZE], a2[COLL_ID_SIZE], got[256], sql[512];
	struct ep_keypair kp;
	make_agent(s, "Acme", cid, a1, &kp);
	make_agent(s, "Acme", cid, a2, &kp);
	int64_t t0 = now_s() - now_s() % 3600;
	const char *two[] = {"disk_usage:/", "index_fragmentation:db/public.\"x\" 引号"};
	const double v1[] = {10, 20}, v2[] = {12, 22}, v3[] = {14}, v9[] = {99};
	assert_int_equal(coll_store_samples_add(s, a1, t0, two, v1, 2), 0);
	assert_int_equal(coll_store_samples_add(s, a1, t0 + 600, two, v2, 2), 0);
	assert_int_equal(coll_store_samples_add(s, a1, t0 + 600, two, v3, 1), 0); /* replaced */
	assert_int_equal(coll_store_samples_add(s, a2, t0, two, v9, 1), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM series"), 3);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples"), 5);

	const char *many[17];
	char names[17][32];
	double vals[17];
	for (int i = 0; i < 17; i++) {
		snprintf(names[i], sizeof(names[i]), "log_errors:s%02d", i);
		many[i] = names[i];
		vals[i] = i;
	}
	assert_int_equal(coll_store_samples_add(s, a1, t0 + 1200, many, vals, 17), 0);
	assert_int_equal(coll_store_samples_add(s, a1, t0 + 1800, many, vals, 17), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM series"), 20);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples"), 5 + 34);
	assert_int_equal(count(s, "SELECT COUNT(DISTINCT agent_id || name) FROM series"), 20);

	/* an hour before: a rollup of 2 samples, mean 5 */
	snprintf(
		sql, sizeof(sql),
		"INSERT INTO rollups (series_id, hour, n, vsum, vmin, vmax) SELECT id, %lld, 2, 10,"
		" 4, 6 FROM series WHERE agent_id = '%s' AND name = 'disk_usage:/'",
		(long long)(t0 - 3600), a1);
	assert_int_equal(coll_db_exec(s->db, sql), 0);
	chart(s, a1, "disk_usage:/", t0, got, sizeof(got));
	assert_string_equal(got, "5,10,14");
	chart(s, a2, "disk_usage:/", t0, got, sizeof(got));
	assert_string_equal(got, "99");
	chart(s, a1, two[1], t0, got, sizeof(got));
	assert_string_equal(got, "20,22");
	chart(s, a1, "log_errors:s16", t0, got, sizeof(got));
	assert_string_equal(got, "16,16");

	/* the names: the score's, then the series with history (a2: one) */
	struct coll_scope all = {.customer_id = NULL};
	struct coll_series_query q = {t0 - 3600, t0 + 3600, 600, NULL, 0};
	json_t *ret = NULL;
	assert_int_equal(coll_store_host_series(s, &all, a2, &q, &ret), 0);
	json_t *list = json_object_get(ret, "names");
	assert_int_equal(json_array_size(list), 6 + 1);
	assert_string_equal(json_string_value(json_array_get(list, 6)), "disk_usage:/");
	json_decref(ret);
	assert_int_equal(coll_store_host_series(s, &all, a1, &q, &ret), 0);
	assert_int_equal(json_array_size(json_object_get(ret, "names")), 6 + 19);
	json_decref(ret);
	/* a series whose rows are gone is no name of the host's */
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM samples"), 0);
	assert_int_equal(coll_store_host_series(s, &all, a2, &q, &ret), 0);
	assert_int_equal(json_array_size(json_object_get(ret, "names")), 6);
	json_decref(ret);
}

/* ---- raw report bodies (store/codec.h, coll_store_reports_retention) ------------- */

#define DAY 86400

/* The index forecast of the host's one index (days to the threshold), and
 * how many points its fit used. */
static double frag_forecast(struct coll_store *s, const char *aid, int64_t now, int64_t *ret_n_used)
{
	json_t *host = NULL, *f;
	struct coll_scope all = {.customer_id = NULL};
	size_t i;
	double days = NAN;
	assert_int_equal(coll_store_host(s, &all, aid, now, &host), 0);
	json_array_foreach(json_object_get(host, "forecasts"), i, f)
	{
		const char *kind = json_string_value(json_object_get(f, "kind"));
		if (kind && strcmp(kind, "index_fragmentation") == 0) {
			days = json_number_value(json_object_get(f, "days"));
			*ret_n_used = json_integer_value(json_object_get(f, "n_used"));
		}
	}
	json_decref(host);
	return days;
}

/* A host with 30 days of history (an index 10% fragmented, +0.5 points a
 * day, one sample per 10 minutes): after the sweep keeps 2 days of raw
 * samples and rolls the rest up by hour, the forecast reads a bounded
 * input (raw + hourly rollups) and answers the same (analysis/history.c,
 * docs/forecasts.md "Input"). */
static void test_forecast_rollups(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE], sql[1024];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 8};
	int64_t now = now_s() - now_s() % 600, t0 = now - 30 * DAY, n_used = 0;
	make_agent(s, "Acme", cid, aid, &kp);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO series (agent_id, name) VALUES ('%s',"
		 " 'index_fragmentation:odoo/public.x_idx');"
		 "INSERT INTO samples (series_id, ts, value)"
		 " WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE"
		 " x < 4319) SELECT (SELECT id FROM series WHERE agent_id = '%s'),"
		 " %lld + 600 * x, 10 + 0.5 * (600 * x) / 86400.0 FROM c",
		 aid, aid, (long long)t0);
	assert_int_equal(coll_db_exec(s->db, sql), 0);

	json_t *r = report(aid, 1, frag("odoo/public.x_idx", 25), "erp01");
	assert_int_equal(ingest_rep_at(s, &an, aid, r, now, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	double raw_days = frag_forecast(s, aid, now, &n_used);
	assert_true(fabs(raw_days - 10.0) < 0.01); /* (30 - 25) / 0.5 */
	assert_true(n_used > 4000);

	/* the sweep an hour later: 2 days raw, the 28 before by hour */
	s->keep_samples_days = 2;
	struct coll_retention_stats st;
	assert_int_equal(coll_store_history_retention(s, now + 3600, 30 * DAY, 400 * DAY, &st), 0);
	int64_t raw = count(s, "SELECT COUNT(*) FROM samples"),
		hours = count(s, "SELECT COUNT(*) FROM rollups"),
		rolled = count(s, "SELECT SUM(n) FROM rollups");
	assert_true(raw >= 2 * 144 - 6 && raw <= 2 * 144 + 1);
	assert_int_equal(raw + rolled, 4321); /* every sample in one place or the other */
	assert_true(hours >= 28 * 24 - 1 && hours <= 28 * 24 + 2);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM rollups WHERE hour % 3600 <> 0"), 0);

	int64_t later = now + 3600;
	/* what a whole-history refit reads (docs/forecasts.md "Refit and the
	 * cached path": the next one would come a day after the first) */
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM forecast_fits"), 0);
	r = report(aid, 2, frag("odoo/public.x_idx", 25 + 0.5 / 24), "erp01");
	assert_int_equal(ingest_rep_at(s, &an, aid, r, later, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	double days = frag_forecast(s, aid, later, &n_used);
	/* the same line an hour on: 10 days less an hour, from ~1,000 points */
	assert_true(fabs(days - (10.0 - 1.0 / 24)) < 0.05);
	assert_true(n_used < 1000);
}

/* the stored body of (aid, seq) equals rep's serialization */
static void assert_body(struct coll_store *s, const char *aid, int64_t seq, json_t *rep)
{
	size_t want_len, len = 0;
	char *want = ep_report_serialize(rep, &want_len), *got = NULL;
	int r = coll_store_report_body(s, aid, seq, &got, &len);
	if (r < 0)
		fail_msg("report %lld: %d %s", (long long)seq, r, s->err);
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, len);
	free(got);
	free(want);
}

/* Bodies are zstd frames; a duplicate (same seq, same body) is still one;
 * the daily bodies outlive the raw window; samples and findings stay. */
static void test_reports_window(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a1[COLL_ID_SIZE], a2[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	make_agent(s, "Acme", cid, a1, &kp);
	make_agent(s, "Acme", cid, a2, &kp);
	int64_t now = now_s(), today = now - now % DAY;
	/* a1: 3 reports 5 days ago, 2 three days ago, 2 yesterday, 1 today;
	 * a2: 1 report 5 days ago */
	const int64_t at[] = {today - 5 * DAY + 3600,  today - 5 * DAY + 7200,
			      today - 5 * DAY + 82800, today - 3 * DAY + 3600,
			      today - 3 * DAY + 7200,  today - DAY + 3600,
			      today - DAY + 7200,      now};
	json_t *rep[8];
	for (int i = 0; i < 8; i++) {
		rep[i] = report(a1, i + 1, frag("odoo/public.a_idx", 10 + i), "erp01");
		assert_int_equal(ingest_rep_at(s, &an, a1, rep[i], at[i], NULL),
				 COLL_INGEST_ACCEPTED);
	}
	json_t *other = report(a2, 1, frag("odoo/public.b_idx", 5), "erp02");
	assert_int_equal(ingest_rep_at(s, &an, a2, other, today - 5 * DAY + 60, NULL),
			 COLL_INGEST_ACCEPTED);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports WHERE codec = 1"), 9);
	assert_body(s, a1, 2, rep[1]);
	/* the resend of the last report, and of an older one: duplicates */
	int64_t last = 0;
	assert_int_equal(ingest(s, &an, a1, rep[7], &last), COLL_INGEST_DUPLICATE);
	assert_int_equal(last, 8);
	assert_int_equal(ingest(s, &an, a1, rep[3], &last), COLL_INGEST_DUPLICATE);
	/* another body under a taken seq: a conflict */
	json_t *forged = report(a1, 8, frag("odoo/public.z_idx", 99), "erp01");
	assert_int_equal(ingest(s, &an, a1, forged, NULL), COLL_INGEST_CONFLICT);
	json_decref(forged);

	int64_t samples = count(s, "SELECT COUNT(*) FROM samples");
	int64_t findings = count(s, "SELECT COUNT(*) FROM current_findings");
	assert_true(samples >= 1);
	s->keep_raw_days = 2;
	assert_int_equal(coll_store_retention(s, now, 30 * DAY, 400 * DAY), 0);
	/* raw: yesterday and today; daily: the last of each older day and agent */
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 3);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports_daily"), 3);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples"), samples);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings"), findings);
	char *text = NULL;
	size_t len;
	assert_int_equal(coll_store_report_body(s, a1, 1, &text, &len), -ENOENT);
	assert_int_equal(coll_store_report_body(s, a1, 4, &text, &len), -ENOENT);
	assert_null(text);
	assert_body(s, a1, 3, rep[2]);
	assert_body(s, a1, 5, rep[4]);
	assert_body(s, a1, 6, rep[5]);
	assert_body(s, a2, 1, other);
	/* the resend of a report kept as the day's: still a duplicate */
	assert_int_equal(ingest(s, &an, a1, rep[2], NULL), COLL_INGEST_DUPLICATE);
	/* adoption: one body per agent and day, decoded */
	struct coll_scope all = {0};
	struct coll_db_res res;
	assert_int_equal(coll_store_adoption_reports(s, &all, cid, now - 30 * DAY, &res), 0);
	assert_int_equal(res.rows, 5);
	for (size_t i = 0; i < res.rows; i++)
		assert_int_equal(coll_db_val(&res, i, 1)[0], '{');
	coll_db_res_free(&res);
	if (pg) {
		/* today's rows moved out of the default partition into today's */
		int64_t *days = NULL;
		size_t n = 0;
		assert_int_equal(coll_part_days(s, "reports", &days, &n), 0);
		assert_true(n >= 3);
		bool have_today = false;
		for (size_t i = 0; i < n; i++)
			have_today |= days[i] == today;
		free(days);
		assert_true(have_today);
		assert_int_equal(count(s, "SELECT COUNT(*) FROM reports_default"), 0);
	}
	/* the daily bodies older than the retention go too */
	assert_int_equal(coll_store_retention(s, now, 4 * DAY, 400 * DAY), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports_daily"), 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports"), 3);
	assert_body(s, a1, 5, rep[4]);
	for (int i = 0; i < 8; i++)
		json_decref(rep[i]);
	json_decref(other);
}

/* A store of schema 5 with plain-text bodies, migrated: the old rows read,
 * count for duplicates, and retire into the daily bodies. */
static void test_reports_legacy(void **state)
{
	struct coll_store *s = *state;
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	coll_store_close(s);
	*state = s = NULL;
	char err[512] = "";
	struct coll_db_opts o = {.statement_timeout_ms = 5000, .busy_timeout_ms = 5000};
	if (!pg) { /* a new file */
		size_t l = strlen(url);
		snprintf(url + l - 3, sizeof(url) - (l - 3), "v5.db");
	}
	assert_int_equal(coll_store_open(url, &o, &s, err, sizeof(err)), 0);
	*state = s;
	if (pg)
		assert_int_equal(coll_db_exec(s->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA "
						     "public"),
				 0);
	assert_int_equal(coll_store_migrate_to(s, 5), 0);
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	make_agent(s, "Acme", cid, aid, &kp);
	int64_t now = now_s(), today = now - now % DAY;
	json_t *rep[2];
	for (int i = 0; i < 2; i++) {
		rep[i] = report(aid, i + 1, NULL, "erp01");
		size_t len;
		char *body = ep_report_serialize(rep[i], &len);
		assert_int_equal(
			COLL_Q(s,
			       "INSERT INTO reports (agent_id, seq, received_at, generated_at,"
			       " body) VALUES (?, ?, ?, 0, ?)",
			       NULL, aid, coll_i2s(i + 1).s,
			       coll_i2s(today - 4 * DAY + 3600 * (i + 1)).s, body),
			0);
		free(body);
	}
	assert_int_equal(COLL_Q(s, "UPDATE agents SET last_seq = 2 WHERE id = ?", NULL, aid), 0);
	assert_int_equal(coll_store_migrate(s), 0);

	assert_body(s, aid, 1, rep[0]);
	assert_body(s, aid, 2, rep[1]);
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	assert_int_equal(ingest(s, &an, aid, rep[1], NULL), COLL_INGEST_DUPLICATE);
	json_t *host = NULL;
	struct coll_scope all = {0};
	assert_int_equal(coll_store_host(s, &all, aid, now, &host), 0);
	assert_true(json_is_object(json_object_get(host, "report")));
	json_decref(host);
	json_t *next = report(aid, 3, NULL, "erp01");
	assert_int_equal(ingest(s, &an, aid, next, NULL), COLL_INGEST_ACCEPTED);
	assert_body(s, aid, 3, next);

	s->keep_raw_days = 1;
	assert_int_equal(coll_store_retention(s, now, 30 * DAY, 400 * DAY), 0);
	char *text = NULL;
	size_t len;
	assert_int_equal(coll_store_report_body(s, aid, 1, &text, &len), -ENOENT);
	assert_body(s, aid, 2, rep[1]); /* the day's last, kept as it was written */
	assert_body(s, aid, 3, next);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM reports_daily WHERE codec = 0"), 1);
	/* a corrupt body: an error, and the host still shows */
	assert_int_equal(coll_db_exec(s->db, "UPDATE reports SET body = body || body"), 0);
	assert_int_equal(coll_store_report_body(s, aid, 3, &text, &len), -EBADMSG);
	assert_non_null(strstr(s->err, "corrupt"));
	assert_int_equal(coll_store_host(s, &all, aid, now, &host), 0);
	assert_true(json_is_null(json_object_get(host, "report")));
	json_decref(host);
	for (int i = 0; i < 2; i++)
		json_decref(rep[i]);
	json_decref(next);
}

/* A dictionary trained on the store's bodies: new bodies use it, every
 * reader finds it (in this process or, by id, in the store). */
static void test_reports_dict(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	make_agent(s, "Acme", cid, aid, &kp);
	int64_t now = now_s();
	assert_int_equal(coll_store_codec_maintain(s, now), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM codec_dicts"), 0); /* nothing to learn */
	char obj[64];
	json_t *seven = NULL;
	for (int i = 1; i <= 120; i++) {
		snprintf(obj, sizeof(obj), "odoo/public.idx_%d", i % 17);
		json_t *r = report(aid, i, frag(obj, 10 + i % 50), "erp01");
		assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
		if (i == 7)
			seven = r;
		else
			json_decref(r);
	}
	assert_int_equal(coll_store_codec_maintain(s, now), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM codec_dicts"), 1);
	json_t *r = report(aid, 121, frag("odoo/public.idx_3", 33), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	struct coll_db_res res;
	assert_int_equal(
		coll_db_query(s->db, "SELECT body FROM reports WHERE seq = 121", NULL, 0, &res), 0);
	uint32_t id = coll_codec_frame_dict(coll_db_val(&res, 0, 0), coll_db_len(&res, 0, 0));
	coll_db_res_free(&res);
	assert_int_not_equal(id, 0);
	assert_int_equal(count(s, "SELECT MIN(id) FROM codec_dicts"), id);
	assert_body(s, aid, 121, r);
	assert_body(s, aid, 7, seven); /* written before the dictionary */
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_DUPLICATE);
	/* another process: the dictionary comes from the store */
	coll_codec_forget_all();
	assert_body(s, aid, 121, r);
	/* a collector starting: the store's newest becomes the current one at
	 * once (serve), without a training */
	coll_codec_forget_all();
	assert_null(coll_codec_current());
	assert_int_equal(coll_store_codec_load(s, now), 0);
	struct coll_codec_dict *cur = coll_codec_current();
	assert_non_null(cur);
	assert_int_equal(coll_codec_dict_id(cur), id);
	coll_codec_dict_unref(cur);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM codec_dicts"), 1);
	/* ... and one not yet made as of now is not taken */
	coll_codec_forget_all();
	assert_int_equal(coll_store_codec_load(s, now - 7 * DAY), 0);
	assert_null(coll_codec_current());
	/* a dictionary gone: a clear error, not a crash */
	coll_codec_forget_all();
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM codec_dicts"), 0);
	char *text = NULL;
	size_t len;
	assert_int_equal(coll_store_report_body(s, aid, 121, &text, &len), -EBADMSG);
	assert_non_null(strstr(s->err, "dictionary"));
	assert_null(text);
	json_decref(r);
	json_decref(seven);
}

/* Ingest writes a stored text only when it changed (migration 10, docs/store.md
 * "narrowrow branch"): texts replaced behind the store's back, their hashes
 * kept, survive a report with the same content; what changed is written. */
static void ingest_frag(struct coll_store *s, const char *aid, int64_t seq, double value)
{
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	json_t *r = report(aid, seq, frag("odoo/public.idx", value), "erp01");
	assert_int_equal(ingest(s, &an, aid, r, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
}

static void test_unchanged_not_rewritten(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	make_agent(s, "Acme", cid, aid, &kp);
	ingest_frag(s, aid, 1, 40);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agent_analysis WHERE score_hash <> 0 AND"
				  " forecasts_hash <> 0 AND instances_hash <> 0 AND score_json LIKE"
				  " '{%' AND forecasts_json LIKE '[%' AND instances LIKE '{%'"),
			 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings WHERE hash <> 0"), 1);
	assert_int_equal(coll_db_exec(s->db, "UPDATE current_findings SET findings = 'kept'"), 0);
	assert_int_equal(
		coll_db_exec(s->db,
			     "UPDATE agent_analysis SET score_json = 'kept', instances = 'kept'"),
		0);
	/* the same findings and score: neither written again; the instance
	 * state carries the report's seq, so it is */
	ingest_frag(s, aid, 2, 40);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings WHERE seq = 1 AND"
				  " findings = 'kept'"),
			 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agent_analysis WHERE score_json = 'kept'"
				  " AND instances LIKE '%\"seq\":2%'"),
			 1);
	/* changed: written */
	ingest_frag(s, aid, 3, 45);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings WHERE seq = 3 AND"
				  " findings LIKE '%45%'"),
			 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agent_analysis WHERE score_json LIKE"
				  " '%45%' AND instances LIKE '%\"seq\":3%'"),
			 1);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM agents WHERE score IS NOT NULL AND band"
				  " IS NOT NULL"),
			 1);
}

/* The findings text and its hash made by the checker (off the write lock)
 * are what the store writes: the same hash the store computes, and a
 * report whose findings did not change leaves the row as it was. */
static void test_findings_hash_from_checker(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], aid[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {.forecast_window_s = 86400, .max_forecasts = 8};
	make_agent(s, "Acme", cid, aid, &kp);
	for (int seq = 1; seq <= 3; seq++) {
		json_t *r = report(aid, seq, frag("odoo/public.idx", seq == 3 ? 45 : 40), "erp01");
		struct coll_ingest it;
		char *body, *text = coll_store_findings_json(r);
		assert_non_null(text);
		item_of(s, aid, r, now_s(), &it, &body);
		it.findings_json = text;
		it.findings_hash = coll_text_hash(text);
		it.has_findings_hash = true;
		struct coll_ingest *items[] = {&it};
		assert_int_equal(coll_store_ingest(s, items, 1, &an), 0);
		assert_int_equal(it.result, COLL_INGEST_ACCEPTED);
		char sql[160];
		snprintf(sql, sizeof(sql),
			 "SELECT COUNT(*) FROM current_findings WHERE hash = %lld",
			 (long long)coll_text_hash(text));
		assert_int_equal(count(s, sql), 1);
		/* unchanged at seq 2: the row of seq 1 stays */
		snprintf(sql, sizeof(sql), "SELECT seq FROM current_findings WHERE agent_id = '%s'",
			 aid);
		assert_int_equal(count(s, sql), seq == 2 ? 1 : seq);
		free(text);
		free(body);
		json_decref(r);
	}
	/* the hand-off is taken as given (the batcher does not hash again):
	 * a marked hash is what the row gets */
	json_t *r = report(aid, 4, frag("odoo/public.idx", 50), "erp01");
	struct coll_ingest it;
	char *body, *text = coll_store_findings_json(r);
	item_of(s, aid, r, now_s(), &it, &body);
	it.findings_json = text;
	it.findings_hash = 12345;
	it.has_findings_hash = true;
	struct coll_ingest *items[] = {&it};
	assert_int_equal(coll_store_ingest(s, items, 1, &an), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM current_findings WHERE hash = 12345 AND"
				  " seq = 4"),
			 1);
	free(text);
	free(body);
	json_decref(r);
}

/* ---- refit and the cached path (docs/forecasts.md "Refit and the cached
 * path", analysis/history.c) ----------------------------------------------- */

static json_t *finding(const char *kind, const char *object, double value, double threshold)
{
	struct ep_finding f = {.kind = kind,
			       .object = object,
			       .value = value,
			       .unit = strcmp(kind, "log_errors") == 0 ? "errors/h" : "%",
			       .threshold = threshold,
			       .severity = EP_SEV_INFO,
			       .method = "test",
			       .message = "test"};
	return ep_finding_json(&f);
}

/* small deterministic noise in [-0.5, 0.5) */
static double jitter(int64_t i)
{
	return (double)((i * 7919) % 13) / 13.0 - 0.5;
}

/* The values of the refit scenarios at time t (t0: the history's start,
 * j: the report's number after it, -1 for history): a disk filling 0.5
 * points a day; an index filling 0.5 a day, REINDEXed to 2% at report 16;
 * an index at 29% that crosses its 30% threshold at report 9; an error
 * rate of 3..7 an hour with a spike of 80 at report 5. */
#define REFIT_REPORTS (27 * 12)
/* errors/h: 3..7, and 30 more every day from 09:00 to 09:59 UTC (a batch job) */
static double refit_errors(int64_t t, int64_t i)
{
	return 5 + (double)(i % 5) - 2 + ((t / 3600) % 24 == 9 ? 30 : 0);
}
static json_t *refit_findings(int64_t t0, int64_t t, int j)
{
	double d = (double)(t - t0) / DAY;
	int64_t i = (t - t0) / 300;
	double clean = j >= 16 ? 2 + 0.5 * (double)(j - 16) * 300 / DAY : 10 + 0.5 * d;
	return json_pack("[oooo]",
			 finding("disk_usage", "/data", 40 + 0.5 * d + 0.2 * jitter(i), 90),
			 finding("index_fragmentation", "odoo/public.clean_idx", clean, 30),
			 finding("index_fragmentation", "odoo/public.hot_idx",
				 j >= 9 ? 31 : 29 + 0.1 * jitter(i), 30),
			 finding("log_errors", "odoo.log", j == 5 ? 80 : refit_errors(t, i), 0));
}

/* 30 days of the scenarios' history, one sample per 10 minutes up to
 * before `end`, for agent aid */
static void refit_history(struct coll_store *s, const char *aid, int64_t t0, int64_t end)
{
	char sql[1024];
	const char *series[] = {"disk_usage:/data", "index_fragmentation:odoo/public.clean_idx",
				"index_fragmentation:odoo/public.hot_idx", "log_errors:odoo.log"};
	const char *value[] = {
		"40 + 0.5 * (x * 600) / 86400.0 + 0.2 * ((x * 2 * 7919) % 13 / 13.0 - 0.5)",
		"10 + 0.5 * (x * 600) / 86400.0", "29 + 0.1 * ((x * 2 * 7919) % 13 / 13.0 - 0.5)",
		"5 + (x * 2) % 5 - 2 + CASE WHEN (t / 3600) % 24 = 9 THEN 30 ELSE 0 END"};
	for (size_t k = 0; k < EP_ARRAY_SIZE(series); k++) {
		/* the series row first (migration 12), then its samples by id */
		snprintf(sql, sizeof(sql),
			 "INSERT INTO series (agent_id, name) VALUES ('%s', '%s') ON CONFLICT DO"
			 " NOTHING",
			 aid, series[k]);
		assert_int_equal(coll_db_exec(s->db, sql), 0);
		snprintf(
			sql, sizeof(sql),
			"INSERT INTO samples (series_id, ts, value)"
			" WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE"
			" %lld + 600 * (x + 1) < %lld) SELECT (SELECT id FROM series WHERE agent_id"
			" = '%s' AND name = '%s'), t, %s FROM (SELECT x, %lld + 600 * x AS t FROM"
			" c) p",
			(long long)t0, (long long)end, aid, series[k], value[k], (long long)t0);
		assert_int_equal(coll_db_exec(s->db, sql), 0);
	}
}

/* forecasts of a host by "kind object" */
static json_t *host_forecasts(struct coll_store *s, const char *aid, int64_t now)
{
	json_t *host = NULL, *f, *ret = json_object();
	struct coll_scope all = {.customer_id = NULL};
	size_t i;
	char key[256];
	assert_int_equal(coll_store_host(s, &all, aid, now, &host), 0);
	json_array_foreach(json_object_get(host, "forecasts"), i, f)
	{
		snprintf(key, sizeof(key), "%s %s", json_string_value(json_object_get(f, "kind")),
			 json_string_value(json_object_get(f, "object")));
		json_object_set(ret, key, f);
	}
	json_decref(host);
	return ret;
}

static int64_t fitted_at(struct coll_store *s, const char *aid)
{
	char sql[256];
	snprintf(sql, sizeof(sql), "SELECT fitted_at FROM forecast_fits WHERE agent_id = '%s'",
		 aid);
	return count(s, sql);
}

/* The cached path says what a full refit says: agent a keeps its fit state
 * (a whole-history refit once a day or when a value needs one, the hourly
 * update of the sums in between), agent b's is deleted before every report
 * (a full refit each time, what main did); on the same history and reports
 * 5 minutes apart for 27 hours, every forecast has the same status and
 * days-to-threshold within 2% (+0.05 days), every spike verdict is the
 * same (the 09:00 batch job's errors normal at 09:00, the spike a spike),
 * and a has refitted only when it must. */
static void test_refit_cached_matches_full(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], b[COLL_ID_SIZE], sql[256];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 8};
	int64_t start = now_s() - now_s() % 3600 + 1500, t0 = start - 30 * DAY;
	int refits = 0, daily = 0;
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, b, &kp);
	refit_history(s, a, t0, start);
	refit_history(s, b, t0, start);
	for (int j = 0; j < REFIT_REPORTS; j++) {
		int64_t t = start + 300 * j, before = j ? fitted_at(s, a) : 0;
		snprintf(sql, sizeof(sql), "DELETE FROM forecast_fits WHERE agent_id = '%s'", b);
		assert_int_equal(coll_db_exec(s->db, sql), 0);
		const char *ids[] = {a, b};
		for (int k = 0; k < 2; k++) {
			json_t *r = report(ids[k], j + 1, refit_findings(t0, t, j), "erp01");
			assert_int_equal(ingest_rep_at(s, &an, ids[k], r, t, NULL),
					 COLL_INGEST_ACCEPTED);
			json_decref(r);
		}
		assert_int_equal(fitted_at(s, b), t);
		bool refit = fitted_at(s, a) == t;
		refits += refit;
		json_t *fa = host_forecasts(s, a, t), *fb = host_forecasts(s, b, t), *x;
		const char *key;
		assert_int_equal(json_object_size(fa), 4);
		assert_int_equal(json_object_size(fb), 4);
		json_object_foreach(fb, key, x)
		{
			json_t *y = json_object_get(fa, key);
			const char *sb = json_string_value(json_object_get(x, "status")),
				   *sa = json_string_value(json_object_get(y, "status"));
			assert_non_null(sa);
			if (strcmp(sa, sb) != 0)
				fail_msg("report %d, %s: cached %s, full refit %s", j, key, sa, sb);
			double da = json_number_value(json_object_get(y, "days")),
			       db = json_number_value(json_object_get(x, "days"));
			if (strcmp(sb, "eta") == 0 && fabs(da - db) > 0.02 * db + 0.05)
				fail_msg("report %d, %s: cached %.3f days, full refit %.3f", j, key,
					 da, db);
		}
		/* the verdicts the scenarios are about */
		const char *want_hot = j >= 9 ? "already" : "never";
		assert_string_equal(
			json_string_value(json_object_get(
				json_object_get(fa, "index_fragmentation odoo/public.hot_idx"),
				"status")),
			want_hot);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(fa, "error_spike odoo.log"), "status")),
				    j == 5 ? "spike" : "normal");
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(fa, "disk_bytes /data"), "status")),
				    "eta");
		if (j >= 16 && j < 20) /* after the REINDEX: too few samples to say */
			assert_string_equal(
				json_string_value(json_object_get(
					json_object_get(
						fa, "index_fragmentation odoo/public.clean_idx"),
					"status")),
				"insufficient");
		/* a reads the whole history for its first report and a day
		 * later only: the crossing, the cleanup and the short segment
		 * after it are updates (the samples stored since), the spike
		 * is judged against the stored baseline */
		if (j == 0)
			assert_true(refit);
		if (j > 0 && j < 12 * 24)
			assert_false(refit);
		if (!refit && j > 0)
			assert_true(t - before < DAY);
		daily += refit && j > 0 && t - before >= DAY;
		json_decref(fa);
		json_decref(fb);
	}
	/* 324 reports: the first and the daily one */
	assert_int_equal(daily, 1);
	assert_int_equal(refits, 2);
}

/* days and n_used of the clean_idx forecast of the refit scenarios */
static double clean_days(struct coll_store *s, const char *aid, int64_t now, int64_t *ret_n)
{
	json_t *fs = host_forecasts(s, aid, now),
	       *f = json_object_get(fs, "index_fragmentation odoo/public.clean_idx");
	double d = json_number_value(json_object_get(f, "days"));
	*ret_n = json_integer_value(json_object_get(f, "n_used"));
	json_decref(fs);
	return d;
}

/* A report between refits reads no history: the history deleted behind
 * the store's back is not missed by the next reports (the stored line, the
 * same refit time), nor by the hourly update (which adds the samples
 * stored since to the sums), and is by the daily refit. */
static void test_refit_reads_no_history(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], sql[512];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 8};
	int64_t start = now_s() - now_s() % 3600 + 600, t0 = start - 30 * DAY, n0, n;
	make_agent(s, "Acme", cid, a, &kp);
	refit_history(s, a, t0, start);
	json_t *r = report(a, 1, refit_findings(t0, start, 0), "erp01");
	assert_int_equal(ingest_rep_at(s, &an, a, r, start, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	double d0 = clean_days(s, a, start, &n0);
	assert_true(d0 > 1 && n0 > 4000);
	snprintf(sql, sizeof(sql),
		 "DELETE FROM samples WHERE series_id IN (SELECT id FROM series WHERE"
		 " agent_id = '%s') AND ts < %lld",
		 a, (long long)start);
	assert_int_equal(coll_db_exec(s->db, sql), 0);
	for (int j = 1; j < 12; j++) {
		int64_t t = start + 300 * j;
		r = report(a, j + 1, refit_findings(t0, t, 0), "erp01");
		assert_int_equal(ingest_rep_at(s, &an, a, r, t, NULL), COLL_INGEST_ACCEPTED);
		json_decref(r);
		assert_int_equal(fitted_at(s, a), start);
		/* the stored sums and this report's value (on the line): 300 s
		 * nearer the threshold each report */
		double d = clean_days(s, a, t, &n);
		assert_true(fabs(d - (d0 - (double)(300 * j) / DAY)) < 1e-6);
		assert_int_equal(n, n0 + 1);
	}
	/* an hour on: the samples stored since join the sums (5 of them: one
	 * per 10 minutes) and this report's value, nothing older is read */
	int64_t hour = start + 3600;
	r = report(a, 13, refit_findings(t0, hour, 0), "erp01");
	assert_int_equal(ingest_rep_at(s, &an, a, r, hour, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(fitted_at(s, a), start);
	double d = clean_days(s, a, hour, &n);
	assert_int_equal(n, n0 + 6);
	assert_true(fabs(d - (d0 - 1.0 / 24)) < 0.01);
	/* a day after the refit: the whole history again, what is left of it */
	int64_t day = start + DAY;
	r = report(a, 14, refit_findings(t0, day, 0), "erp01");
	assert_int_equal(ingest_rep_at(s, &an, a, r, day, NULL), COLL_INGEST_ACCEPTED);
	json_decref(r);
	assert_int_equal(fitted_at(s, a), day);
	clean_days(s, a, day, &n);
	assert_true(n >= 6 && n <= 10);
}

/* The fit state row of aid, damaged in C (both stores: bytes in, bytes
 * out): how 0 cuts it to its first 20 bytes, 1 flips one bit in its middle,
 * 2 puts the JSON text of migration 13 in its place. */
static void damage_state(struct coll_store *s, const char *aid, int how)
{
	struct coll_db_res res;
	const char *id[] = {aid};
	assert_int_equal(coll_db_query(s->db, "SELECT state FROM forecast_fits WHERE agent_id = ?",
				       id, 1, &res),
			 0);
	assert_int_equal(res.rows, 1);
	size_t len = coll_db_len(&res, 0, 0);
	char *b = malloc(len + 64);
	assert_non_null(b);
	assert_true(len > 40);
	memcpy(b, coll_db_val(&res, 0, 0), len);
	coll_db_res_free(&res);
	if (how == 0)
		len = 20;
	else if (how == 1)
		b[len / 2] ^= 0x10;
	else
		len = (size_t)snprintf(b, len + 64, "{\"v\":2,\"u\":1,\"i\":86400,\"s\":{}}");
	const char *params[] = {b, aid};
	const size_t lens[] = {len, COLL_DB_TEXT};
	assert_int_equal(coll_db_query_bin(s->db,
					   "UPDATE forecast_fits SET state = ? WHERE agent_id = ?",
					   params, lens, 2, NULL),
			 0);
	free(b);
}

/* Report j (findings of refit_findings at t, scenario step 0) of agents a
 * and b at t, b's fit state deleted first (a full refit each time); then
 * a's forecasts are b's: the same statuses, days equal (exact) or within
 * 2% + 0.05 days. */
static void refit_pair(struct coll_store *s, const struct coll_analysis *an, const char *a,
		       const char *b, int j, int64_t t0, int64_t t, bool exact)
{
	char sql[256];
	const char *ids[] = {a, b};
	snprintf(sql, sizeof(sql), "DELETE FROM forecast_fits WHERE agent_id = '%s'", b);
	assert_int_equal(coll_db_exec(s->db, sql), 0);
	for (int k = 0; k < 2; k++) {
		json_t *r = report(ids[k], j + 1, refit_findings(t0, t, 0), "erp01");
		assert_int_equal(ingest_rep_at(s, an, ids[k], r, t, NULL), COLL_INGEST_ACCEPTED);
		json_decref(r);
	}
	json_t *fa = host_forecasts(s, a, t), *fb = host_forecasts(s, b, t), *x;
	const char *key;
	assert_int_equal(json_object_size(fa), 4);
	json_object_foreach(fb, key, x)
	{
		json_t *y = json_object_get(fa, key);
		assert_non_null(y);
		assert_string_equal(json_string_value(json_object_get(y, "status")),
				    json_string_value(json_object_get(x, "status")));
		double da = json_number_value(json_object_get(y, "days")),
		       db = json_number_value(json_object_get(x, "days"));
		if (!(isnan(da) && isnan(db)))
			assert_true(exact ? da == db : fabs(da - db) <= 0.02 * fabs(db) + 0.05);
	}
	json_decref(fa);
	json_decref(fb);
}

/* A fit state row that cannot be read (cut short, a bit flipped, the old
 * JSON text) is refused: the report is accepted, its forecasts are those
 * of a full refit (to the last digit), the row is written whole again and
 * the next report is a cached one. */
static void test_refit_damaged_state(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], b[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 8};
	int64_t start = now_s() - now_s() % 3600 + 1500, t0 = start - 30 * DAY, refit_at = 0;
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, b, &kp);
	refit_history(s, a, t0, start);
	refit_history(s, b, t0, start);
	for (int j = 0; j < 8; j++) {
		int64_t t = start + 300 * j;
		/* reports 1, 3, 5 meet a damaged row; 2, 4, 6, 7 the one the
		 * refit before wrote */
		bool damaged = j % 2 == 1 && j < 7;
		if (damaged)
			damage_state(s, a, j / 2);
		refit_pair(s, &an, a, b, j, t0, t, damaged);
		refit_at = j == 0 || damaged ? t : refit_at;
		assert_int_equal(fitted_at(s, a), refit_at);
	}
}

/* A new host's error rate has no baseline for its first hour (6 samples,
 * one per 10 minutes): its reports 60 s apart are answered from the state
 * (insufficient, what a full refit says) without a refit until a sample
 * has been stored since the last one. */
static void test_refit_new_host_error_rate(void **state)
{
	struct coll_store *s = *state;
	char cid[COLL_ID_SIZE], a[COLL_ID_SIZE], b[COLL_ID_SIZE];
	struct ep_keypair kp;
	struct coll_analysis an = {
		.forecast_window_s = 30 * DAY, .sample_interval_s = 600, .max_forecasts = 8};
	int64_t start = now_s() - now_s() % 3600 + 60, t0 = start - 30 * DAY;
	int refits = 0;
	make_agent(s, "Acme", cid, a, &kp);
	make_agent(s, "Acme", cid, b, &kp);
	for (int j = 0; j < 25; j++) {
		int64_t t = start + 60 * j;
		refit_pair(s, &an, a, b, j, t0, t, false);
		bool refit = fitted_at(s, a) == t;
		refits += refit;
		/* samples at 0, 600 and 1200 s: the report after each of the
		 * later two refits, no other does */
		assert_true(refit == (j == 0 || j == 11 || j == 21));
		json_t *fa = host_forecasts(s, a, t);
		assert_string_equal(json_string_value(json_object_get(
					    json_object_get(fa, "error_spike odoo.log"), "status")),
				    "insufficient");
		json_decref(fa);
	}
	assert_int_equal(refits, 3);
}

int main(void)
{
	ep_crypto_init();
	srand((unsigned)time(NULL));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_migrate_idempotent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_customers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enroll_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agents_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_seq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ingest_metacharacters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_isolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_rerun, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_same_agent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_fit_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_duplicate_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batch_conn_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_security_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alerts_outbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadman, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forecast_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_samples_series, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_legacy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reports_dict, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_not_rewritten, setup, teardown),
		cmocka_unit_test_setup_teardown(test_findings_hash_from_checker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refit_cached_matches_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refit_reads_no_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refit_damaged_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refit_new_host_error_rate, setup, teardown),
	};
	return cmocka_run_group_tests_name(getenv("ERPULSE_TEST_PG_URL") ? "coll_store_pg"
									 : "coll_store_sqlite",
					   tests, NULL, NULL);
}
