/* The db layer (collector/store/db.h) itself: transactions (on PostgreSQL
 * BEGIN goes with the first statement), cached statements across a lost
 * connection, cached (prepared, generic-plan) statements on the
 * day-partitioned samples table, array parameters (coll_db_array), the
 * ingest connection's session settings and the forecasts' samples-since
 * read.
 * Runs on SQLite in a temp file and, when ERPULSE_TEST_PG_URL names a
 * PostgreSQL database (set by tests/integration/41-store-db-pg.sh, which
 * starts a real server), on PostgreSQL with the same cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

static char url[4096];
static char tmpdir[256];

static int setup(void **state)
{
	const char *pg = getenv("ERPULSE_TEST_PG_URL");
	if (pg && *pg) {
		snprintf(url, sizeof(url), "%s", pg);
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_coll_db.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
		snprintf(url, sizeof(url), "sqlite://%s/store.db", tmpdir);
	}
	struct coll_store *s = NULL;
	char err[512] = "";
	struct coll_db_opts o = {.statement_timeout_ms = 5000, .busy_timeout_ms = 5000};
	if (coll_store_open(url, &o, &s, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", url, err);
	if (coll_db_kind(s->db) == COLL_DB_PG)
		assert_int_equal(coll_db_exec(s->db, "DROP SCHEMA public CASCADE; CREATE SCHEMA "
						     "public"),
				 0);
	assert_int_equal(coll_store_migrate(s), 0);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	coll_store_close(*state);
	if (tmpdir[0]) {
		const char *suffix[] = {"", "-wal", "-shm"};
		char p[512];
		for (int k = 0; k < 3; k++) {
			snprintf(p, sizeof(p), "%s/store.db%s", tmpdir, suffix[k]);
			unlink(p);
		}
		rmdir(tmpdir);
		tmpdir[0] = '\0';
	}
	return 0;
}

static int64_t count(struct coll_store *s, const char *sql)
{
	struct coll_db_res res;
	assert_int_equal(coll_db_query(s->db, sql, NULL, 0, &res), 0);
	int64_t v = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return v;
}

#define ADD_CUSTOMER "INSERT INTO customers (id, name, created_at) VALUES (?, ?, 1)"
#define N_CUSTOMERS  "SELECT COUNT(*) FROM customers"
/* an agent of customer c1 (id, public key) */
#define ADD_AGENT                                                                                  \
	"INSERT INTO agents (id, customer_id, hostname, public_key, agent_version, enrolled_at,"   \
	" interval_s) VALUES (?, 'c1', 'h', ?, 'v', 1, 300)"

static void test_transactions(void **state)
{
	struct coll_store *s = *state;
	/* a transaction without statements */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(coll_db_begin(s->db), 0);
	coll_db_rollback(s->db);
	/* committed */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c2", "Two"), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 2);
	/* rolled back, the first statement of the transaction too */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c3", "Three"), 0);
	coll_db_rollback(s->db);
	assert_int_equal(count(s, N_CUSTOMERS), 2);
	/* the transaction's first statement fails: its error, then a rollback */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "again"), -EEXIST);
	coll_db_rollback(s->db);
	/* an exec first (BEGIN goes with it), then a statement */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM customers WHERE id = 'c2'"), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c4", "Four"), 0);
	coll_db_rollback(s->db);
	assert_int_equal(count(s, N_CUSTOMERS), 2);
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(coll_db_exec(s->db, "DELETE FROM customers WHERE id = 'c2'"), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 1);
}

static void begin_deferred(struct coll_store *s)
{
	assert_int_equal(coll_db_begin(s->db), 0);
	coll_db_defer_writes(s->db);
}

#define RENAME_CUSTOMER "UPDATE customers SET name = ? WHERE id = ?"

/* coll_db_defer_writes (PostgreSQL; a no-op on SQLite, where each call
 * answers at once): writes go without waiting, a read after them sees
 * them, a failure comes with a later call and aborts the transaction, and
 * a statement first prepared after the failure in the same pipeline is
 * prepared again on its next use. */
static void test_deferred_writes(void **state)
{
	struct coll_store *s = *state;
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	begin_deferred(s);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c2", "Two"), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 2);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c3", "Three"), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 3);

	/* a duplicate: its failure at the COMMIT (PostgreSQL) */
	begin_deferred(s);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c4", "Four"), 0);
	int r = COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "again");
	if (pg) {
		assert_int_equal(r, 0);
		assert_int_equal(COLL_Q(s, RENAME_CUSTOMER, NULL, "Uno", "c1"), 0);
		r = coll_db_commit(s->db);
	}
	assert_int_equal(r, -EEXIST);
	coll_db_rollback(s->db);
	assert_int_equal(count(s, N_CUSTOMERS), 3);
	/* RENAME_CUSTOMER's prepare was skipped with the failed pipeline */
	assert_int_equal(COLL_Q(s, RENAME_CUSTOMER, NULL, "Uno", "c1"), 0);
	assert_int_equal(count(s, "SELECT COUNT(*) FROM customers WHERE name = 'Uno'"), 1);

	/* a failure found by a read */
	begin_deferred(s);
	r = COLL_Q(s, ADD_CUSTOMER, NULL, "c2", "again");
	if (pg) {
		assert_int_equal(r, 0);
		struct coll_db_res res;
		r = coll_db_query(s->db, N_CUSTOMERS, NULL, 0, &res);
	}
	assert_int_equal(r, -EEXIST);
	coll_db_rollback(s->db);
	/* the transaction's end ends the deferring: an error comes at once */
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c3", "again"), -EEXIST);
	assert_int_equal(count(s, N_CUSTOMERS), 3);
}

/* Ends s's PostgreSQL session from another connection. */
static void kill_session(struct coll_store *s)
{
	struct coll_db_res res;
	assert_int_equal(coll_db_query(s->db, "SELECT pg_backend_pid()", NULL, 0, &res), 0);
	char pid[32];
	snprintf(pid, sizeof(pid), "%s", coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);

	struct coll_store *killer = NULL;
	char err[512] = "";
	struct coll_db_opts o = {.statement_timeout_ms = 5000};
	if (coll_store_open(url, &o, &killer, err, sizeof(err)) < 0)
		fail_msg("open %s: %s", url, err);
	assert_int_equal(
		COLL_Q(killer, "SELECT pg_terminate_backend(CAST(? AS INTEGER))", NULL, pid), 0);
	coll_store_close(killer);
}

/* PostgreSQL: the session of a connection ends under it (a server restart,
 * a failover): the call that finds it gone fails, the next reconnects and
 * prepares its statements again. */
static void test_reconnect(void **state)
{
	struct coll_store *s = *state;
	if (coll_db_kind(s->db) != COLL_DB_PG)
		skip();
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 1);
	kill_session(s);

	int r, lost = 0;
	for (int i = 0; i < 3; i++) {
		r = COLL_Q(s, ADD_CUSTOMER, NULL, "c2", "Two");
		if (r == 0)
			break;
		assert_int_equal(r, -ECONNRESET);
		lost++;
	}
	assert_int_equal(r, 0);
	assert_true(lost <= 1);
	/* the cached statements work again, in a transaction too */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c3", "Three"), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(count(s, N_CUSTOMERS), 3);

	/* deferred writes whose session ends before their answers: the
	 * COMMIT fails, nothing of them is there */
	begin_deferred(s);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c4", "Four"), 0);
	kill_session(s);
	r = COLL_Q(s, ADD_CUSTOMER, NULL, "c5", "Five"); /* queued, or found lost */
	if (r == 0)
		r = coll_db_commit(s->db);
	assert_true(r == -ECONNRESET || r == -EIO);
	coll_db_rollback(s->db);
	assert_int_equal(count(s, N_CUSTOMERS), 3);
}

#define ADD_SAMPLE                                                                                 \
	"INSERT INTO samples (series_id, ts, value) VALUES (?, ?, ?)"                              \
	" ON CONFLICT (series_id, ts) DO UPDATE SET value = excluded.value"
#define READ_SAMPLES                                                                               \
	"SELECT COUNT(*), CAST(COALESCE(SUM(value), 0) AS BIGINT) FROM samples WHERE series_id ="  \
	" CAST(? AS BIGINT) AND ts >= CAST(? AS BIGINT) AND ts < CAST(? AS BIGINT)"

/* Cached statements run past the custom plans of their first executions
 * (PostgreSQL then plans them once, generically): a row still lands in its
 * day's partition and a read of a time range still finds exactly its rows. */
static void test_partitions_generic(void **state)
{
	struct coll_store *s = *state;
	const int64_t day = 86400, now = 1800000000 - 1800000000 % day;
	bool pg = coll_db_kind(s->db) == COLL_DB_PG;
	assert_int_equal(coll_store_partitions_maintain(s, now), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(COLL_Q(s, ADD_AGENT, NULL, "a1", "k1"), 0);
	/* day k (now - 1 .. now + 2) gets k + 1 rows, values 1 .. k + 1: 10
	 * executions of the INSERT, 12 of the SELECT */
	for (int k = 0; k < 4; k++)
		for (int j = 0; j <= k; j++) {
			int64_t ts = now - day + k * day + j * 600;
			assert_int_equal(
				COLL_Q(s, ADD_SAMPLE, NULL, "7", coll_i2s(ts).s, coll_i2s(j + 1).s),
				0);
		}
	for (int i = 0; i < 3; i++)
		for (int k = 0; k < 4; k++) {
			int64_t from = now - day + k * day;
			struct coll_db_res res;
			assert_int_equal(COLL_Q(s, READ_SAMPLES, &res, "7", coll_i2s(from).s,
						coll_i2s(from + day).s),
					 0);
			assert_int_equal(coll_s2i(coll_db_val(&res, 0, 0)), k + 1);
			assert_int_equal(coll_s2i(coll_db_val(&res, 0, 1)), (k + 1) * (k + 2) / 2);
			coll_db_res_free(&res);
		}
	if (!pg)
		return;
	/* each day's rows in that day's partition, none in the default one;
	 * the query text changes in one buffer: never taken for the statement
	 * cached at that address */
	for (int k = 0; k < 4; k++) {
		char sql[256];
		struct coll_db_res res;
		time_t t = (time_t)(now - day + k * day);
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM samples_p%04d%02d%02d",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		assert_int_equal(coll_db_query(s->db, sql, NULL, 0, &res), 0);
		assert_int_equal(coll_s2i(coll_db_val(&res, 0, 0)), k + 1);
		coll_db_res_free(&res);
	}
	assert_int_equal(count(s, "SELECT COUNT(*) FROM samples_default"), 0);
}

/* Array parameters (coll_db_array, PostgreSQL's binary format): text of
 * any bytes but NUL, bigints of either sign, bytea with NULs inside, and SQL
 * NULL elements come back as sent; the count is the elements added. */
static void test_array_params(void **state)
{
	struct coll_store *s = *state;
	if (coll_db_kind(s->db) != COLL_DB_PG)
		skip(); /* set-based ingest is PostgreSQL's */
	static const char evil[] = "x'); DROP TABLE agents; -- \"\\ ? $1 {a,b} \xe4\xb8\xad";
	static const char bin[] = {'a', 0, 'b', '\\', 0};
	struct coll_db_array a[3];
	coll_db_array_init(&a[0], COLL_DB_ARRAY_TEXT);
	coll_db_array_init(&a[1], COLL_DB_ARRAY_INT8);
	coll_db_array_init(&a[2], COLL_DB_ARRAY_BYTEA);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(coll_db_array_add_text(&a[0], i == 1 ? NULL : evil), 0);
		assert_int_equal(coll_db_array_add_int(&a[1], i == 2 ? INT64_MIN : (int64_t)i - 1),
				 0);
		assert_int_equal(coll_db_array_add(&a[2], i == 3 ? NULL : bin, sizeof(bin)), 0);
	}
	const char *params[3];
	size_t lens[3];
	for (int i = 0; i < 3; i++)
		assert_non_null(params[i] = coll_db_array_param(&a[i], &lens[i]));
	struct coll_db_res res;
	assert_int_equal(
		coll_db_query_bin(s->db,
				  "SELECT t, n, b FROM unnest(CAST(? AS text[]), CAST(? AS"
				  " bigint[]), CAST(? AS bytea[])) WITH ORDINALITY AS v(t, n, b,"
				  " i) ORDER BY i",
				  params, lens, 3, &res),
		0);
	assert_int_equal(res.rows, 300);
	assert_string_equal(coll_db_val(&res, 0, 0), evil);
	assert_null(coll_db_val(&res, 1, 0));
	assert_string_equal(coll_db_val(&res, 0, 1), "-1");
	assert_string_equal(coll_db_val(&res, 2, 1), "-9223372036854775808");
	assert_string_equal(coll_db_val(&res, 299, 1), "298");
	assert_int_equal(coll_db_len(&res, 0, 2), sizeof(bin));
	assert_memory_equal(coll_db_val(&res, 0, 2), bin, sizeof(bin));
	assert_null(coll_db_val(&res, 3, 2));
	coll_db_res_free(&res);
	/* a wrong element type is refused by the server, not misread */
	assert_true(coll_db_query_bin(s->db, "SELECT unnest(CAST(? AS bigint[]))", params, lens, 1,
				      &res) < 0);
	for (int i = 0; i < 3; i++)
		coll_db_array_free(&a[i]);
}

/* The ingest connection's session (coll_db_tune_writer). SQLite: only the
 * writer maps the file (a reader drops its map at every read after another
 * connection's commit), with a 64 MiB page cache; PostgreSQL: generic plans
 * and lz4 for wide values, set again when the session is lost and made
 * anew; a connection that is not tuned keeps the server's settings. */
static void test_writer_session(void **state)
{
	struct coll_store *s = *state;
	if (coll_db_kind(s->db) == COLL_DB_SQLITE) {
		assert_int_equal(count(s, "PRAGMA mmap_size"), 0);
		assert_int_equal(count(s, "PRAGMA cache_size"), -16384);
		coll_db_tune_writer(s->db);
		assert_int_equal(count(s, "PRAGMA mmap_size"), 1073741824);
		assert_int_equal(count(s, "PRAGMA cache_size"), -65536);
		/* what it reads through the map is what was committed */
		assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c0", "Zero"), 0);
		assert_int_equal(count(s, N_CUSTOMERS), 1);
		return;
	}
	struct coll_db_res res;
	const char *show = "SELECT current_setting('plan_cache_mode') || ' ' ||"
			   " current_setting('default_toast_compression')";
	bool lz4 = count(s, "SELECT COUNT(*) FROM pg_settings WHERE name ="
			    " 'default_toast_compression' AND 'lz4' = ANY(enumvals)") == 1;
	const char *want = lz4 ? "force_generic_plan lz4" : "force_generic_plan pglz";
	assert_int_equal(coll_db_query(s->db, show, NULL, 0, &res), 0);
	assert_string_equal(coll_db_val(&res, 0, 0), "auto pglz");
	coll_db_res_free(&res);
	/* tuned with a transaction begun (its BEGIN not sent yet): the
	 * settings stay when that transaction rolls back */
	assert_int_equal(coll_db_begin(s->db), 0);
	coll_db_tune_writer(s->db);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c0", "Zero"), 0);
	coll_db_rollback(s->db);
	assert_int_equal(count(s, N_CUSTOMERS), 0);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(coll_db_query(s->db, show, NULL, 0, &res), 0);
		assert_string_equal(coll_db_val(&res, 0, 0), want);
		coll_db_res_free(&res);
		kill_session(s);
		int r = coll_db_query(s->db, show, NULL, 0, &res); /* finds it lost */
		if (r == 0)
			coll_db_res_free(&res);
		else
			assert_int_equal(r, -ECONNRESET);
	}
	/* the findings text, compressed the session's way */
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(COLL_Q(s, ADD_AGENT, NULL, "a1", "k1"), 0);
	static const char one[] = "{\"rule\":\"disk\",\"severity\":\"warn\"},";
	char findings[4096];
	for (size_t i = 0; i + 1 < sizeof(findings); i++)
		findings[i] = one[i % (sizeof(one) - 1)];
	findings[sizeof(findings) - 1] = '\0';
	assert_int_equal(COLL_Q(s,
				"INSERT INTO current_findings (agent_id, seq, findings, hash)"
				" VALUES ('a1', 1, ?, 1)",
				NULL, findings),
			 0);
	assert_int_equal(coll_db_query(s->db,
				       "SELECT pg_column_compression(findings), findings FROM"
				       " current_findings",
				       NULL, 0, &res),
			 0);
	assert_string_equal(coll_db_val(&res, 0, 0), lz4 ? "lz4" : "pglz");
	assert_string_equal(coll_db_val(&res, 0, 1), findings);
	coll_db_res_free(&res);
}

struct since_rows {
	char text[512];
	size_t n;
};

static int since_row(void *ctx, const struct coll_db_row *row)
{
	struct since_rows *c = ctx;
	size_t len = strlen(c->text);
	snprintf(c->text + len, sizeof(c->text) - len, "%s@%lld=%g;", coll_db_row_text(row, 0),
		 (long long)coll_db_row_int(row, 1), coll_db_row_double(row, 2));
	c->n++;
	return 0;
}

/* coll_store_samples_since (the forecasts' update): the agent's samples
 * newer than since, of every series, by name and then time, across day
 * partitions; another agent's rows and older ones are not read. Run past
 * the first executions (PostgreSQL's custom plans) on a tuned connection. */
static void test_samples_since(void **state)
{
	struct coll_store *s = *state;
	const int64_t day = 86400, now = 1800000000 - 1800000000 % day;
	assert_int_equal(coll_store_partitions_maintain(s, now), 0);
	coll_db_tune_writer(s->db);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "One"), 0);
	assert_int_equal(COLL_Q(s, ADD_AGENT, NULL, "a1", "k1"), 0);
	assert_int_equal(COLL_Q(s, ADD_AGENT, NULL, "a2", "k2"), 0);
	const char *names[] = {"mem", "cpu"};
	const double a1[] = {1, 2}, a2[] = {7, 8};
	/* yesterday evening, and today just after midnight */
	const int64_t ts[] = {now - 1200, now - 600, now + 600};
	for (size_t k = 0; k < EP_ARRAY_SIZE(ts); k++) {
		double v1[] = {a1[0] + (double)k * 10, a1[1] + (double)k * 10};
		assert_int_equal(coll_store_samples_add(s, "a1", ts[k], names, v1, 2), 0);
		assert_int_equal(coll_store_samples_add(s, "a2", ts[k], names, a2, 2), 0);
	}
	for (int i = 0; i < 8; i++) {
		struct since_rows c = {.n = 0};
		assert_int_equal(coll_store_samples_since(s, "a1", now - 1200, since_row, &c), 0);
		char want[256];
		snprintf(want, sizeof(want), "cpu@%lld=12;cpu@%lld=22;mem@%lld=11;mem@%lld=21;",
			 (long long)(now - 600), (long long)(now + 600), (long long)(now - 600),
			 (long long)(now + 600));
		assert_string_equal(c.text, want);
		assert_int_equal(c.n, 4);
		c = (struct since_rows){.n = 0};
		assert_int_equal(coll_store_samples_since(s, "a1", now + 600, since_row, &c), 0);
		assert_int_equal(c.n, 0);
		assert_int_equal(coll_store_samples_since(s, "nobody", 0, since_row, &c), 0);
		assert_int_equal(c.n, 0);
	}
}

/* SQLite: a connection whose commits leave the WAL's sync to
 * coll_db_sync_wal (the ingest pipeline); PostgreSQL: not offered. */
static void test_deferred_sync(void **state)
{
	struct coll_store *s = *state;
	char *wal = NULL;
	int r = coll_db_defer_sync(s->db, &wal);
	if (coll_db_kind(s->db) == COLL_DB_PG) {
		assert_int_equal(r, -ENOTSUP); /* a commit is durable on return */
		assert_null(wal);
		return;
	}
	assert_int_equal(r, 0);
	assert_non_null(wal);
	char want[512];
	snprintf(want, sizeof(want), "%s/store.db-wal", tmpdir);
	assert_string_equal(wal, want);
	assert_int_equal(count(s, "PRAGMA synchronous"), 1); /* NORMAL */
	assert_int_equal(coll_db_begin(s->db), 0);
	assert_int_equal(COLL_Q(s, ADD_CUSTOMER, NULL, "c1", "Sync"), 0);
	assert_int_equal(coll_db_commit(s->db), 0);
	assert_int_equal(coll_db_sync_wal(wal), 0);
	/* the commit is in the WAL (not yet checkpointed) and visible */
	assert_int_equal(count(s, N_CUSTOMERS), 1);
	snprintf(want, sizeof(want), "%s/nothing-wal", tmpdir);
	assert_int_equal(coll_db_sync_wal(want), -ENOENT);
	free(wal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partitions_generic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_array_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deferred_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_samples_since, setup, teardown),
	};
	return cmocka_run_group_tests_name(
		getenv("ERPULSE_TEST_PG_URL") ? "coll_db_pg" : "coll_db_sqlite", tests, NULL, NULL);
}
