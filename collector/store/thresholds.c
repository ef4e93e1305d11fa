/* Store queries for per-customer threshold overrides (thresholds.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "collector/store/sql.h"
#include "collector/store/thresholds.h"

int coll_store_threshold_set(struct coll_store *s, const char *customer_id, const char *kind,
			     double warning, double critical, double min_size, int64_t now)
{
	struct coll_num w = coll_d2s(warning), c = coll_d2s(critical), m = coll_d2s(min_size);

	if (!customer_id || !kind)
		return -EINVAL;
	if (isnan(warning) && isnan(critical) && isnan(min_size))
		return COLL_Q(s,
			      "DELETE FROM customer_thresholds WHERE customer_id = ? AND kind = ?",
			      NULL, customer_id, kind);
	return COLL_Q(
		s,
		"INSERT INTO customer_thresholds (customer_id, kind, warning, critical,"
		" min_size, updated_at) VALUES (?, ?, CAST(? AS DOUBLE PRECISION), CAST(? AS"
		" DOUBLE PRECISION), CAST(? AS DOUBLE PRECISION), ?) ON CONFLICT (customer_id,"
		" kind) DO UPDATE SET warning = excluded.warning, critical = excluded.critical,"
		" min_size = excluded.min_size, updated_at = excluded.updated_at",
		NULL, customer_id, kind, w.s[0] ? w.s : NULL, c.s[0] ? c.s : NULL,
		m.s[0] ? m.s : NULL, coll_i2s(now).s);
}

static json_t *num_or_null(const char *v)
{
	return v && *v ? json_real(strtod(v, NULL)) : json_null();
}

int coll_store_thresholds(struct coll_store *s, const char *customer_id, json_t **ret)
{
	struct coll_db_res res;
	json_t *list;
	int r = COLL_Q(s,
		       "SELECT customer_id, kind, warning, critical, min_size, updated_at FROM"
		       " customer_thresholds WHERE (CAST(? AS TEXT) IS NULL OR customer_id = ?)"
		       " ORDER BY customer_id, kind",
		       &res, customer_id, customer_id);
	if (r < 0)
		return r;
	list = json_array();
	for (size_t i = 0; list && i < res.rows; i++) {
		json_t *e = json_pack("{s:s, s:s, s:o, s:o, s:o, s:I}", "customer_id",
				      coll_db_val(&res, i, 0), "kind", coll_db_val(&res, i, 1),
				      "warning", num_or_null(coll_db_val(&res, i, 2)), "critical",
				      num_or_null(coll_db_val(&res, i, 3)), "min_size",
				      num_or_null(coll_db_val(&res, i, 4)), "updated_at",
				      (json_int_t)coll_s2i(coll_db_val(&res, i, 5)));
		if (!e || json_array_append_new(list, e) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	coll_db_res_free(&res);
	if (!list)
		return -ENOMEM;
	*ret = list;
	return 0;
}
