/* Helpers the store (store.c) and the ingest-time analysis (analysis.c)
 * share: one query call that leaves the message in the store, and the text
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

/* coll_sql_query with the parameters listed inline (at least one). */
#define COLL_Q(s, sql, res, ...)                                                                   \
	coll_sql_query((s), (sql), (const char *const[]){__VA_ARGS__},                             \
		       sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *), (res))

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
