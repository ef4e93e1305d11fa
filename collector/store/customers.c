/* Store queries: customers, enrollment tokens, users (store.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/paging.h"
#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- customers, tokens, users --------------------------------------------------- */

int coll_store_customer_add(struct coll_store *s, const char *name, int64_t now,
			    char ret_id[COLL_ID_SIZE])
{
	char id[COLL_ID_SIZE];
	ep_random_hex(8, id, sizeof(id));
	int r = COLL_Q(s, "INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?)", NULL, id,
		       name, coll_i2s(now).s);
	if (r == 0)
		coll_copy_id(ret_id, id);
	return r;
}

int coll_store_customer_find(struct coll_store *s, const char *name_or_id,
			     char ret_id[COLL_ID_SIZE])
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT id FROM customers WHERE id = ? OR name = ? ORDER BY id = ? DESC",
		       &res, name_or_id, name_or_id, name_or_id);
	if (r < 0)
		return r;
	if (res.rows == 0)
		r = -ENOENT;
	else
		coll_copy_id(ret_id, coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return r;
}

/* The hosts that count for customer c: its production hosts, or all of them
 * when none is marked production (as coll_customer_score). */
#define COUNTED_SQL                                                                                \
	" FROM agents h WHERE h.customer_id = c.id AND h.revoked_at IS NULL AND (h.production = 1" \
	" OR NOT EXISTS (SELECT 1 FROM agents p WHERE p.customer_id = c.id AND p.revoked_at IS"    \
	" NULL AND p.production = 1))"
/* Customer band (coll_customer_band): critical if a counted host is, else
 * unknown if one is (never healthy while a production host is unknown),
 * else at_risk if one is, else healthy; NULL without hosts. */
#define CUSTOMER_BAND_SQL                                                                          \
	"CASE WHEN EXISTS (SELECT 1" COUNTED_SQL " AND h.band = 'critical') THEN 'critical'"       \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL " AND (h.band = 'unknown' OR h.band IS NULL OR"       \
	" h.last_report_at IS NULL)) THEN 'unknown'"                                               \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL " AND h.band = 'at_risk') THEN 'at_risk'"             \
	" WHEN EXISTS (SELECT 1" COUNTED_SQL ") THEN 'healthy' END"

static const char *const customer_names[] = {"id",    "name",           "created_at",
					     "hosts", "score",          "band",
					     "tier",  "open_incidents", "open_alerts"};
static const char customer_types[] = "ssiiissii";

/* the customer score: its worst production host's, else its worst host's */
#define CUSTOMER_SCORE_SQL                                                                         \
	"COALESCE((SELECT MIN(a.score) FROM agents a WHERE a.customer_id = c.id AND"               \
	" a.revoked_at IS NULL AND a.production = 1 AND a.score IS NOT NULL),"                     \
	" (SELECT MIN(a.score) FROM agents a WHERE a.customer_id = c.id AND"                       \
	" a.revoked_at IS NULL AND a.score IS NOT NULL))"
#define CUSTOMER_COLS                                                                              \
	"SELECT c.id, c.name, c.created_at,"                                                       \
	" (SELECT COUNT(*) FROM agents a WHERE a.customer_id = c.id AND a.revoked_at IS "          \
	"NULL), " CUSTOMER_SCORE_SQL ", " CUSTOMER_BAND_SQL                                        \
	", c.tier, (SELECT COUNT(*) FROM incidents i"                                              \
	" WHERE i.customer_id = c.id AND i.live = 1), (SELECT COALESCE(SUM(a.open_alerts), 0)"     \
	" FROM agents a WHERE a.customer_id = c.id)"

int coll_store_customers(struct coll_store *s, const struct coll_scope *scope, json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = scope->customer_id
			? COLL_Q(s,
				 CUSTOMER_COLS " FROM customers c WHERE c.id = ?"
					       " ORDER BY c.name",
				 &res, scope->customer_id)
			: coll_sql_query(s, CUSTOMER_COLS " FROM customers c ORDER BY c.name", NULL,
					 0, &res);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, customer_names, customer_types, ret);
	coll_db_res_free(&res);
	return r;
}

static const struct coll_sortcol customer_sorts[] = {
	{"name", {"c.name"}, "s", false, NULL},
	/* one grouped pass over the hosts, not two subqueries per customer */
	{"score",
	 {"COALESCE(w.p, w.m, 101)"},
	 "i",
	 false,
	 " FROM customers c LEFT JOIN (SELECT a.customer_id, MIN(CASE WHEN a.production = 1 THEN"
	 " a.score END) AS p, MIN(a.score) AS m FROM agents a WHERE a.revoked_at IS NULL GROUP BY"
	 " a.customer_id) w ON w.customer_id = c.id"},
};
static const struct coll_listdef customer_list = {
	.name = "customers",
	.select = CUSTOMER_COLS,
	.from = " FROM customers c",
	.outer = " JOIN customers c ON c.id = p.id_",
	.count_from = " FROM customers c",
	.id = "c.id",
	.id_type = 's',
	.cols = customer_sorts,
	.n_cols = EP_ARRAY_SIZE(customer_sorts),
	.allowed = "name, score",
};

int coll_store_customers_page(struct coll_store *s, const struct coll_scope *scope,
			      struct coll_page *page, json_t **ret)
{
	struct coll_keyset k;
	if (!scope)
		return -EINVAL;
	int r = coll_keyset_init(s, &k, &customer_list, page);
	if (r < 0)
		return r;
	if (scope->customer_id)
		coll_keyset_where(&k, "c.id = ?", scope->customer_id, NULL);
	if (page->customer)
		coll_keyset_where(&k, "c.id = ?", page->customer, NULL);
	return coll_keyset_json(s, &k, customer_names, customer_types, ret);
}

int coll_store_token_add(struct coll_store *s, const char *customer_id, const char *hash,
			 int64_t uses, int64_t expires_at, int64_t now)
{
	return COLL_Q(
		s,
		"INSERT INTO enroll_tokens (hash, customer_id, uses_left, expires_at, created_at)"
		" VALUES (?, ?, ?, ?, ?)",
		NULL, hash, customer_id, coll_i2s(uses).s, coll_i2s(expires_at).s, coll_i2s(now).s);
}

static const char *const role_names[COLL_ROLE_COUNT] = {
	"vendor", "viewer", "support", "vendor_viewer", "customer_admin",
};

const char *coll_role_name(enum coll_role r)
{
	return (unsigned)r < COLL_ROLE_COUNT ? role_names[r] : "viewer";
}

int coll_role_parse(const char *s, enum coll_role *ret)
{
	for (int i = 0; s && i < COLL_ROLE_COUNT; i++)
		if (strcmp(s, role_names[i]) == 0) {
			*ret = (enum coll_role)i;
			return 0;
		}
	return -EINVAL;
}

bool coll_role_sees_all(enum coll_role r)
{
	return r == COLL_ROLE_VENDOR || r == COLL_ROLE_SUPPORT || r == COLL_ROLE_VENDOR_VIEWER;
}

int coll_store_user_add(struct coll_store *s, const char *name, enum coll_role role,
			const char *customer_id, const char *token_hash, int64_t now)
{
	char id[COLL_ID_SIZE];
	ep_random_hex(8, id, sizeof(id));
	return COLL_Q(s,
		      "INSERT INTO users (id, name, role, customer_id, token_hash, created_at)"
		      " VALUES (?, ?, ?, ?, ?, ?)",
		      NULL, id, name, coll_role_name(role),
		      coll_role_sees_all(role) ? NULL : customer_id, token_hash, coll_i2s(now).s);
}

int coll_store_user_by_token(struct coll_store *s, const char *token_hash, struct coll_user *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT id, name, role, customer_id FROM users WHERE token_hash = ?",
		       &res, token_hash);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		r = -ENOENT;
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	coll_copy_id(ret->id, coll_db_val(&res, 0, 0));
	snprintf(ret->name, sizeof(ret->name), "%s", coll_db_val(&res, 0, 1));
	if (coll_role_parse(coll_db_val(&res, 0, 2), &ret->role) < 0)
		ret->role = COLL_ROLE_VIEWER; /* unknown: the least */
	coll_copy_id(ret->customer_id, coll_db_val(&res, 0, 3));
	if (!coll_role_sees_all(ret->role) && !ret->customer_id[0])
		r = -ENOENT; /* a viewer without a customer sees nothing: refuse */
out:
	coll_db_res_free(&res);
	return r;
}
