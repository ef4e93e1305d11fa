/* Reads for the adoption view (store/adoption.h). */
#include <errno.h>
#include <stdlib.h>

#include "collector/store/adoption.h"
#include "collector/store/sql.h"

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
	return COLL_Q(
		s,
		"SELECT r.received_at, r.body FROM reports r JOIN (SELECT agent_id, MAX(seq) AS"
		" seq FROM reports WHERE agent_id IN (SELECT id FROM agents WHERE customer_id = ?"
		" AND revoked_at IS NULL) AND received_at >= CAST(? AS BIGINT) GROUP BY"
		" agent_id, received_at / 86400) d ON d.agent_id = r.agent_id AND d.seq = r.seq"
		" ORDER BY r.received_at",
		ret, customer_id, coll_i2s(from).s);
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
