/* Helpers the store's files (collector/store/) and the ingest-time analysis
 * (analysis.c) share: one query call that leaves the message in the store, and the text
 * forms of numbers that every parameter and result value has (db.h). */
#ifndef COLL_SQL_H
#define COLL_SQL_H

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "collector/store/db.h"
#include "collector/store/store.h"
#include "erpulse/util.h"

/* coll_db_query on s's connection; on failure the message is copied into
 * s->err. 0 or -errno as coll_db_query. */
int coll_sql_query(struct coll_store *s, const char *sql, const char *const *params, size_t n,
		   struct coll_db_res *res);

/* One result row as a JSON object. types: one char per column: s string,
 * i integer, d double, b boolean, j JSON text (embedded as is), '-' skipped.
 * NULL when out of memory. */
json_t *coll_row_json(const struct coll_db_res *res, size_t row, const char *const *names,
		      const char *types);
/* Every row of res as a JSON array of coll_row_json objects. 0 or -ENOMEM. */
int coll_rows_json(const struct coll_db_res *res, const char *const *names, const char *types,
		   json_t **ret);
/* Copies an id (NULL -> "") into dst. */
void coll_copy_id(char dst[COLL_ID_SIZE], const char *src);

/* coll_sql_query with the parameters listed inline (at least one). */
#define COLL_Q(s, sql, res, ...)                                                                   \
	coll_sql_query((s), (sql), (const char *const[]){__VA_ARGS__},                             \
		       sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), (res))

/* An agent's state (column text) from agents a; one parameter: now.
 * An agent is silent after 3 intervals without a report (the dead-man rule). */
#define COLL_STATE_SQL                                                                             \
	"CASE WHEN a.revoked_at IS NOT NULL THEN 'revoked'"                                        \
	" WHEN a.last_report_at IS NULL THEN 'never_reported'"                                     \
	" WHEN a.last_report_at + 3 * a.interval_s < CAST(? AS BIGINT) THEN 'silent'"              \
	" ELSE 'active' END"

struct coll_num {
	char s[32];
};

/* Decimal text of v (snprintf's %lld without its cost: ingest formats a
 * dozen numbers per report, so this stays inline). */
static inline struct coll_num coll_i2s(int64_t v)
{
	struct coll_num n;
	char tmp[24];
	size_t k = 0, o = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[k++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		n.s[o++] = '-';
	while (k)
		n.s[o++] = tmp[--k];
	n.s[o] = '\0';
	return n;
}

/* Round-trip text of v; "" when v is not finite. */
static inline struct coll_num coll_d2s(double v)
{
	struct coll_num n;
	if (isfinite(v))
		snprintf(n.s, sizeof(n.s), "%.17g", v);
	else
		n.s[0] = '\0';
	return n;
}

/* Integer value of a result column; 0 for NULL or anything not an integer. */
static inline int64_t coll_s2i(const char *s)
{
	int64_t v = 0;
	if (s)
		ep_parse_int64(s, INT64_MIN, INT64_MAX, &v);
	return v;
}

/* The string member key of o, or NULL when absent or not a string. */
static inline const char *coll_jstr(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

#endif
