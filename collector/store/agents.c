/* Store queries: agents -- enrollment, lookup, revocation, lists (store.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/sql.h"
#include "collector/store/store.h"
#include "erpulse/crypto.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

/* ---- agents -------------------------------------------------------------------- */

int coll_store_enroll(struct coll_store *s, const struct coll_enroll *e,
		      char ret_agent_id[COLL_ID_SIZE], char ret_customer_id[COLL_ID_SIZE])
{
	struct coll_db_res res = {0};
	char id[COLL_ID_SIZE], customer[COLL_ID_SIZE];
	int r = coll_db_begin(s->db);
	if (r < 0)
		goto fail;
	r = COLL_Q(s,
		   "UPDATE enroll_tokens SET uses_left = uses_left - 1"
		   " WHERE hash = ? AND uses_left > 0 AND expires_at > ? RETURNING customer_id",
		   &res, e->token_hash, coll_i2s(e->now).s);
	if (r < 0)
		goto fail;
	if (res.rows != 1) {
		coll_db_res_free(&res);
		r = COLL_Q(s, "SELECT uses_left, expires_at FROM enroll_tokens WHERE hash = ?",
			   &res, e->token_hash);
		if (r < 0)
			goto fail;
		if (res.rows == 0)
			r = -ENOENT;
		else if (coll_s2i(coll_db_val(&res, 0, 1)) <= e->now)
			r = -EKEYEXPIRED;
		else
			r = -EUSERS;
		goto fail;
	}
	coll_copy_id(customer, coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	ep_random_hex(16, id, sizeof(id));
	r = COLL_Q(s,
		   "INSERT INTO agents (id, customer_id, hostname, public_key, agent_version,"
		   " enrolled_at, interval_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
		   NULL, id, customer, e->hostname, e->public_key_b64, e->agent_version,
		   coll_i2s(e->now).s, coll_i2s(e->interval_s).s);
	if (r < 0)
		goto fail;
	r = coll_db_commit(s->db);
	if (r < 0)
		goto fail;
	coll_copy_id(ret_agent_id, id);
	coll_copy_id(ret_customer_id, customer);
	return 0;
fail:
	coll_db_res_free(&res);
	coll_db_rollback(s->db);
	return r;
}

int coll_store_agent_get(struct coll_store *s, const char *id, struct coll_agent *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(
		s,
		"SELECT id, customer_id, public_key, revoked_at, last_seq FROM agents WHERE id = "
		"?",
		&res, id);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		r = -ENOENT;
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
	coll_copy_id(ret->id, coll_db_val(&res, 0, 0));
	coll_copy_id(ret->customer_id, coll_db_val(&res, 0, 1));
	const char *pk = coll_db_val(&res, 0, 2);
	size_t len = 0;
	if (!pk ||
	    ep_base64_decode(pk, strlen(pk), ret->public_key, sizeof(ret->public_key), &len) < 0 ||
	    len != EP_PUBLIC_KEY_BYTES) {
		r = -EIO;
		snprintf(s->err, sizeof(s->err), "agent %s: stored public key is malformed", id);
		goto out;
	}
	ret->revoked = coll_db_val(&res, 0, 3) != NULL;
	ret->last_seq = coll_s2i(coll_db_val(&res, 0, 4));
out:
	coll_db_res_free(&res);
	return r;
}

int coll_store_agent_revoke(struct coll_store *s, const char *id, int64_t now)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
		       &res, coll_i2s(now).s, id);
	if (r < 0)
		return r;
	if (res.changes == 0) {
		coll_db_res_free(&res);
		r = COLL_Q(s, "SELECT 1 FROM agents WHERE id = ?", &res, id);
		if (r == 0 && res.rows == 0)
			r = -ENOENT;
	}
	coll_db_res_free(&res);
	return r;
}

int coll_store_agents(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		      json_t **ret)
{
	static const char *const names[] = {
		"id",          "customer_id", "customer",    "hostname",       "agent_version",
		"enrolled_at", "revoked_at",  "last_seq",    "last_report_at", "state",
		"score",       "band",        "seq_rewinds", "production",     "label",
		"archived_at"};
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.agent_version, a.enrolled_at,"
		" a.revoked_at, a.last_seq, a.last_report_at, " COLL_STATE_SQL ", a.score,"
		" " COLL_BAND_SQL ","
		" a.seq_rewinds, a.production, a.label, a.archived_at FROM agents a JOIN customers "
		"c"
		" ON c.id = a.customer_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR a.customer_id = ?) ORDER BY c.name, "
		"a.hostname",
		&res, coll_i2s(now).s, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, "ssssssiiisisibsi", ret);
	coll_db_res_free(&res);
	return r;
}

int coll_store_agent_states(struct coll_store *s, int64_t now, int64_t counts[4])
{
	static const char *const states[] = {"active", "silent", "revoked", "never_reported"};
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT " COLL_STATE_SQL ", COUNT(*) FROM agents a GROUP BY 1", &res,
		       coll_i2s(now).s);
	if (r < 0)
		return r;
	for (size_t k = 0; k < 4; k++)
		counts[k] = 0;
	for (size_t i = 0; i < res.rows; i++)
		for (size_t k = 0; k < 4; k++)
			if (strcmp(coll_db_val(&res, i, 0), states[k]) == 0)
				counts[k] = coll_s2i(coll_db_val(&res, i, 1));
	coll_db_res_free(&res);
	return 0;
}
