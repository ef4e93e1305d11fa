/* Store queries: the operator's lifecycle commands -- API users and
 * enrollment tokens (list, revoke, rotate), customer rename, a host's
 * production flag (store.h, "lifecycle"). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"

/* changes == 0 -> -ENOENT */
static int changed_one(struct coll_store *s, const char *sql, const char *a, const char *b)
{
	struct coll_db_res res;
	int r = COLL_Q(s, sql, &res, a, b);
	if (r < 0)
		return r;
	r = res.changes == 0 ? -ENOENT : 0;
	coll_db_res_free(&res);
	return r;
}

int coll_store_users(struct coll_store *s, json_t **ret)
{
	static const char *const names[] = {"id", "name", "role", "customer", "created_at"};
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT u.id, u.name, u.role, c.name, u.created_at FROM users u LEFT JOIN"
		       " customers c ON c.id = u.customer_id WHERE u.name <> ? ORDER BY u.name",
		       &res, "");
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, "ssssi", ret);
	coll_db_res_free(&res);
	return r;
}

int coll_store_user_revoke(struct coll_store *s, const char *name_or_id)
{
	return changed_one(s, "DELETE FROM users WHERE name = ? OR id = ?", name_or_id, name_or_id);
}

int coll_store_user_rotate(struct coll_store *s, const char *name_or_id, const char *token_hash)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "UPDATE users SET token_hash = ? WHERE name = ? OR id = ?", &res,
		       token_hash, name_or_id, name_or_id);
	if (r < 0)
		return r;
	r = res.changes == 0 ? -ENOENT : 0;
	coll_db_res_free(&res);
	return r;
}

int coll_store_tokens(struct coll_store *s, int64_t now, json_t **ret)
{
	static const char *const names[] = {"id",         "customer",   "uses_left",
					    "expires_at", "created_at", "state"};
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now);
	int r = COLL_Q(s,
		       "SELECT substr(t.hash, 1, 12), c.name, t.uses_left, t.expires_at,"
		       " t.created_at, CASE WHEN t.uses_left <= 0 THEN 'used_up' WHEN"
		       " t.expires_at <= CAST(? AS BIGINT) THEN 'expired' ELSE 'valid' END"
		       " FROM enroll_tokens t JOIN customers c ON c.id = t.customer_id"
		       " ORDER BY t.created_at DESC",
		       &res, n.s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, "ssiiis", ret);
	coll_db_res_free(&res);
	return r;
}

/* The one token whose hash starts with id: its LIKE pattern. */
static int token_pattern(struct coll_store *s, const char *id, char pattern[32])
{
	struct coll_db_res res;
	if (strlen(id) < 8 || strlen(id) > 12 || strspn(id, "0123456789abcdef") != strlen(id))
		return -EINVAL;
	snprintf(pattern, 32, "%s%%", id);
	int r = COLL_Q(s, "SELECT COUNT(*) FROM enroll_tokens WHERE hash LIKE ?", &res, pattern);
	if (r < 0)
		return r;
	int64_t n = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return n == 1 ? 0 : n == 0 ? -ENOENT : -EEXIST;
}

int coll_store_token_revoke(struct coll_store *s, const char *id, int64_t now)
{
	char pattern[32];
	int r = token_pattern(s, id, pattern);
	if (r < 0)
		return r;
	return changed_one(
		s, "UPDATE enroll_tokens SET uses_left = 0, expires_at = ? WHERE hash LIKE ?",
		coll_i2s(now).s, pattern);
}

int coll_store_token_rotate(struct coll_store *s, const char *id, const char *new_hash, int64_t now)
{
	char pattern[32];
	struct coll_num n = coll_i2s(now), fresh = coll_i2s(now + 7 * 86400);
	int r = token_pattern(s, id, pattern);
	if (r < 0)
		return r;
	r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	/* the same customer, uses (at least 1) and expiry (7 days when past) */
	r = COLL_Q(
		s,
		"INSERT INTO enroll_tokens (hash, customer_id, uses_left, expires_at, created_at)"
		" SELECT ?, customer_id, CASE WHEN uses_left < 1 THEN 1 ELSE uses_left END,"
		" CASE WHEN expires_at <= CAST(? AS BIGINT) THEN CAST(? AS BIGINT) ELSE"
		" expires_at END, ? FROM enroll_tokens WHERE hash LIKE ?",
		NULL, new_hash, n.s, fresh.s, n.s, pattern);
	if (r == 0)
		r = COLL_Q(s, "UPDATE enroll_tokens SET uses_left = 0 WHERE hash LIKE ?", NULL,
			   pattern);
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r < 0)
		coll_db_rollback(s->db);
	return r;
}

int coll_store_customer_rename(struct coll_store *s, const char *name_or_id, const char *name)
{
	char id[COLL_ID_SIZE];
	int r = coll_store_customer_find(s, name_or_id, id);
	if (r < 0)
		return r;
	return changed_one(s, "UPDATE customers SET name = ? WHERE id = ?", name, id);
}

int coll_store_agent_production(struct coll_store *s, const char *id, bool production)
{
	return changed_one(s, "UPDATE agents SET production = ? WHERE id = ?",
			   production ? "1" : "0", id);
}

int coll_store_agent_label(struct coll_store *s, const char *id, const char *label)
{
	return changed_one(s, "UPDATE agents SET label = ? WHERE id = ?", label[0] ? label : NULL,
			   id);
}

int coll_store_agent_archive(struct coll_store *s, const char *id, int64_t now)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now);
	int r = COLL_Q(s,
		       "UPDATE agents SET archived_at = COALESCE(archived_at, ?), revoked_at ="
		       " COALESCE(revoked_at, ?) WHERE id = ?",
		       &res, n.s, n.s, id);
	if (r < 0)
		return r;
	r = res.changes == 0 ? -ENOENT : 0;
	coll_db_res_free(&res);
	return r;
}

int coll_store_customer_archive(struct coll_store *s, const char *name_or_id, int64_t now)
{
	char id[COLL_ID_SIZE];
	struct coll_num n = coll_i2s(now);
	int r = coll_store_customer_find(s, name_or_id, id);
	if (r < 0)
		return r;
	r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	r = COLL_Q(s, "UPDATE customers SET archived_at = COALESCE(archived_at, ?) WHERE id = ?",
		   NULL, n.s, id);
	if (r == 0)
		r = COLL_Q(s,
			   "UPDATE agents SET archived_at = COALESCE(archived_at, ?), revoked_at ="
			   " COALESCE(revoked_at, ?) WHERE customer_id = ?",
			   NULL, n.s, n.s, id);
	if (r == 0)
		r = COLL_Q(s,
			   "UPDATE enroll_tokens SET uses_left = 0 WHERE customer_id = ? AND"
			   " uses_left > 0",
			   NULL, id);
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r < 0)
		coll_db_rollback(s->db);
	return r;
}
