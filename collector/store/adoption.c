/* Reads for the adoption view (store/adoption.h). */
#include <errno.h>
#include <stdlib.h>

#include "collector/store/adoption.h"
#include "collector/store/sql.h"

/* One source of the adoption's rows; two parameters: customer id, from. */
#define ADOPTION_ROWS(table, codec, body)                                                          \
	"SELECT agent_id, seq, received_at, " codec " AS codec, " body " AS body FROM " table      \
	" WHERE agent_id IN (SELECT id FROM agents WHERE customer_id = ? AND revoked_at IS NULL)"  \
	" AND received_at >= CAST(? AS BIGINT)"
/* The last report of each agent and UTC day among u. */
#define ADOPTION_LAST                                                                              \
	" SELECT u.received_at, u.body, u.codec FROM u JOIN (SELECT agent_id, MAX(seq) AS seq"     \
	" FROM u GROUP BY agent_id, received_at / 86400) d ON d.agent_id = u.agent_id AND"         \
	" d.seq = u.seq ORDER BY u.received_at"

int coll_store_adoption_reports(struct coll_store *s, const struct coll_scope *scope,
				const char *customer_id, int64_t from, struct coll_db_res *ret)
{
	struct coll_db_res c;
	if (!scope || !customer_id)
		return -EINVAL;
	int r = COLL_Q(
		s, "SELECT id FROM customers WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR id = ?)",
		&c, customer_id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	size_t n = c.rows;
	coll_db_res_free(&c);
	if (n == 0)
		return -ENOENT;
	/* the raw window and the daily bodies kept past it (store/reports_keep.c);
	 * PostgreSQL also the rows written before migration 8. Not
	 * materialized: the grouping reads keys only, bodies only for the
	 * rows it picks */
	struct coll_num f = coll_i2s(from);
	if (coll_db_kind(s->db) == COLL_DB_PG)
		r = COLL_Q(
			s,
			"WITH u AS NOT MATERIALIZED (" ADOPTION_ROWS(
				"reports", "codec",
				"body") " UNION ALL " ADOPTION_ROWS("reports_daily", "codec",
								    "body") " UNION "
									    "ALL " ADOPTION_ROWS(
										    "r"
										    "e"
										    "p"
										    "o"
										    "r"
										    "t"
										    "s"
										    "_"
										    "p"
										    "l"
										    "a"
										    "i"
										    "n",
										    "0",
										    "c"
										    "o"
										    "n"
										    "v"
										    "e"
										    "r"
										    "t"
										    "_"
										    "t"
										    "o"
										    "("
										    "b"
										    "o"
										    "d"
										    "y"
										    ","
										    " "
										    "'"
										    "U"
										    "T"
										    "F"
										    "8"
										    "'"
										    ")") ")" ADOPTION_LAST,
			ret, customer_id, f.s, customer_id, f.s, customer_id, f.s);
	else
		r = COLL_Q(s,
			   "WITH u AS NOT MATERIALIZED (" ADOPTION_ROWS(
				   "reports", "codec",
				   "body") " UNION ALL " ADOPTION_ROWS("reports_daily", "codec",
								       "body") ")" ADOPTION_LAST,
			   ret, customer_id, f.s, customer_id, f.s);
	if (r < 0)
		return r;
	r = coll_store_decode_bodies(s, ret, 1, 2, NULL); /* a corrupt body: NULL, skipped */
	if (r < 0)
		coll_db_res_free(ret);
	return r;
}

int coll_store_customer_risk(struct coll_store *s, const char *customer_id, int *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(
		s,
		"SELECT COALESCE((SELECT MIN(score) FROM agents WHERE customer_id = ? AND"
		" revoked_at IS NULL AND production = 1 AND score IS NOT NULL),"
		" (SELECT MIN(score) FROM agents WHERE customer_id = ? AND revoked_at IS NULL"
		" AND score IS NOT NULL))",
		&res, customer_id, customer_id);
	if (r < 0)
		return r;
	const char *v = coll_db_val(&res, 0, 0);
	*ret = v ? (int)strtol(v, NULL, 10) : -1;
	coll_db_res_free(&res);
	return 0;
}
