/* The monthly report's delivery in the store (reports_monthly.h): settings,
 * stored reports (base64 text: every store value is text, db.h) and the send
 * claims. A claim is an INSERT into report_runs, whose primary key is
 * (customer, month), or a conditional UPDATE of a run whose lease ran out:
 * both are atomic on PostgreSQL (row lock, WHERE re-checked) and on SQLite
 * (one writer), so two collectors never both hold one month's send. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store/reports_monthly.h"
#include "collector/store/sql.h"
#include "erpulse/crypto.h"
#include "erpulse/util.h"

static int customer_exists(struct coll_store *s, const char *id)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT 1 FROM customers WHERE id = ?", &res, id);
	if (r < 0)
		return r;
	r = res.rows ? 0 : -ENOENT;
	coll_db_res_free(&res);
	return r;
}

int coll_store_report_settings_set(struct coll_store *s, const char *customer_id,
				   const struct coll_report_settings *st, unsigned set, int64_t now)
{
	const char *v[] = {st->time_zone, st->language, st->contacts, st->account_manager};
	static const char *const sql[] = {
		"UPDATE report_settings SET time_zone = ?, updated_at = ? WHERE customer_id = ?",
		"UPDATE report_settings SET language = ?, updated_at = ? WHERE customer_id = ?",
		"UPDATE report_settings SET contacts = ?, updated_at = ? WHERE customer_id = ?",
		"UPDATE report_settings SET account_manager = ?, updated_at = ? WHERE customer_id"
		" = ?",
	};
	struct coll_num n = coll_i2s(now);
	int r = customer_exists(s, customer_id);
	if (r < 0)
		return r;
	r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	r = COLL_Q(s,
		   "INSERT INTO report_settings (customer_id, updated_at) VALUES (?, ?) ON"
		   " CONFLICT DO NOTHING",
		   NULL, customer_id, n.s);
	for (size_t i = 0; r == 0 && i < EP_ARRAY_SIZE(v); i++)
		if (set & (1u << i))
			r = COLL_Q(s, sql[i], NULL, v[i][0] ? v[i] : NULL, n.s, customer_id);
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "%s", coll_db_error(s->db));
		coll_db_rollback(s->db);
	}
	return r;
}

static void copy(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v ? v : "");
}

int coll_store_report_settings_get(struct coll_store *s, const char *customer_id,
				   struct coll_report_settings *ret)
{
	struct coll_db_res res;
	memset(ret, 0, sizeof(*ret));
	int r = customer_exists(s, customer_id);
	if (r == 0)
		r = COLL_Q(s,
			   "SELECT time_zone, language, contacts, account_manager FROM"
			   " report_settings WHERE customer_id = ?",
			   &res, customer_id);
	if (r < 0)
		return r;
	if (res.rows) {
		copy(ret->time_zone, sizeof(ret->time_zone), coll_db_val(&res, 0, 0));
		copy(ret->language, sizeof(ret->language), coll_db_val(&res, 0, 1));
		copy(ret->contacts, sizeof(ret->contacts), coll_db_val(&res, 0, 2));
		copy(ret->account_manager, sizeof(ret->account_manager), coll_db_val(&res, 0, 3));
	}
	coll_db_res_free(&res);
	return 0;
}

#define TARGET_SQL                                                                                 \
	"SELECT c.id, c.name, c.created_at, COALESCE(NULLIF(rs.time_zone, ''), 'UTC'),"            \
	" COALESCE(NULLIF(rs.language, ''), c.language, 'en'), COALESCE(rs.contacts, ''),"         \
	" COALESCE(rs.account_manager, '') FROM customers c LEFT JOIN report_settings rs ON"       \
	" rs.customer_id = c.id"

static void fill_target(struct coll_report_target *t, const struct coll_db_res *res, size_t i)
{
	memset(t, 0, sizeof(*t));
	coll_copy_id(t->id, coll_db_val(res, i, 0));
	copy(t->name, sizeof(t->name), coll_db_val(res, i, 1));
	t->created_at = coll_s2i(coll_db_val(res, i, 2));
	copy(t->settings.time_zone, sizeof(t->settings.time_zone), coll_db_val(res, i, 3));
	copy(t->settings.language, sizeof(t->settings.language), coll_db_val(res, i, 4));
	copy(t->settings.contacts, sizeof(t->settings.contacts), coll_db_val(res, i, 5));
	copy(t->settings.account_manager, sizeof(t->settings.account_manager),
	     coll_db_val(res, i, 6));
}

int coll_store_report_targets(struct coll_store *s, struct coll_report_target **ret, size_t *ret_n)
{
	struct coll_db_res res;
	int r = coll_sql_query(s, TARGET_SQL " WHERE c.archived_at IS NULL ORDER BY c.id", NULL, 0,
			       &res);
	if (r < 0)
		return r;
	struct coll_report_target *v = calloc(res.rows ? res.rows : 1, sizeof(*v));
	if (!v) {
		coll_db_res_free(&res);
		return -ENOMEM;
	}
	for (size_t i = 0; i < res.rows; i++)
		fill_target(&v[i], &res, i);
	*ret = v;
	*ret_n = res.rows;
	coll_db_res_free(&res);
	return 0;
}

int coll_store_report_target(struct coll_store *s, const char *name_or_id,
			     struct coll_report_target *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, TARGET_SQL " WHERE c.id = ? OR c.name = ? ORDER BY c.id = ? DESC", &res,
		       name_or_id, name_or_id, name_or_id);
	if (r < 0)
		return r;
	if (res.rows)
		fill_target(ret, &res, 0);
	else
		r = -ENOENT;
	coll_db_res_free(&res);
	return r;
}

int coll_store_report_put(struct coll_store *s, const char *customer_id, const char *month,
			  const char *lang, const char *format, const unsigned char *data,
			  size_t len, int64_t now)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];
	size_t b64_size = 4 * ((len + 2) / 3) + 1;
	char *b64 = malloc(b64_size);
	if (!b64)
		return -ENOMEM;
	int r = ep_base64_encode(data, len, b64, b64_size);
	if (r < 0) {
		free(b64);
		return r;
	}
	crypto_hash_sha256(digest, data, len);
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	struct coll_num n = coll_i2s(now), bytes = coll_i2s((int64_t)len);
	r = COLL_Q(s,
		   "INSERT INTO monthly_reports (customer_id, month, lang, format, body, bytes,"
		   " sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id,"
		   " month, lang, format) DO UPDATE SET body = excluded.body, bytes ="
		   " excluded.bytes, sha256 = excluded.sha256, created_at = excluded.created_at",
		   NULL, customer_id, month, lang, format, b64, bytes.s, hex, n.s);
	free(b64);
	return r;
}

int coll_store_report_list(struct coll_store *s, const struct coll_scope *scope,
			   const char *customer_id, json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s, "SELECT 1 FROM customers WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR id = ?)",
		&res, customer_id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	bool found = res.rows > 0;
	coll_db_res_free(&res);
	if (!found) /* out of scope answers like missing */
		return -ENOENT;
	r = COLL_Q(s,
		   "SELECT r.month, r.lang, r.format, r.bytes, r.sha256, r.created_at, u.sent_at,"
		   " u.recipients FROM monthly_reports r LEFT JOIN report_runs u ON u.customer_id"
		   " = r.customer_id AND u.month = r.month WHERE r.customer_id = ? AND (CAST(? AS"
		   " TEXT) IS NULL OR r.customer_id = ?) ORDER BY r.month DESC, r.lang, r.format",
		   &res, customer_id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	json_t *out = json_array(), *cur = NULL;
	for (size_t i = 0; out && i < res.rows; i++) {
		const char *month = coll_db_val(&res, i, 0), *lang = coll_db_val(&res, i, 1);
		int64_t created = coll_s2i(coll_db_val(&res, i, 5));
		if (!cur || strcmp(coll_jstr(cur, "month"), month) != 0 ||
		    strcmp(coll_jstr(cur, "lang"), lang) != 0) {
			const char *sent = coll_db_val(&res, i, 6);
			cur = json_pack("{s:s,s:s,s:[],s:I,s:o,s:s?}", "month", month, "lang", lang,
					"formats", "created_at", (json_int_t)created, "sent_at",
					sent ? json_integer(coll_s2i(sent)) : json_null(),
					"recipients", coll_db_val(&res, i, 7));
			if (!cur || json_array_append_new(out, cur) < 0) {
				json_decref(out);
				out = NULL;
				break;
			}
		}
		json_t *f =
			json_pack("{s:s,s:I,s:s,s:I}", "format", coll_db_val(&res, i, 2), "bytes",
				  (json_int_t)coll_s2i(coll_db_val(&res, i, 3)), "sha256",
				  coll_db_val(&res, i, 4), "created_at", (json_int_t)created);
		if (!f || json_array_append_new(json_object_get(cur, "formats"), f) < 0) {
			json_decref(out);
			out = NULL;
		}
	}
	coll_db_res_free(&res);
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int coll_store_report_get(struct coll_store *s, const struct coll_scope *scope,
			  const char *customer_id, const char *month, const char *lang,
			  const char *format, unsigned char **ret, size_t *ret_len,
			  char ret_lang[8])
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT r.body, r.lang FROM monthly_reports r LEFT JOIN report_settings rs ON"
		" rs.customer_id = r.customer_id JOIN customers c ON c.id = r.customer_id WHERE"
		" r.customer_id = ? AND r.month = ? AND r.format = ? AND (CAST(? AS TEXT) IS NULL "
		"OR"
		" r.lang = ?) AND (CAST(? AS TEXT) IS NULL OR r.customer_id = ?) ORDER BY CASE WHEN"
		" r.lang = COALESCE(NULLIF(rs.language, ''), c.language) THEN 0 ELSE 1 END, r.lang",
		&res, customer_id, month, format, lang, lang, scope->customer_id,
		scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		return -ENOENT;
	}
	const char *b64 = coll_db_val(&res, 0, 0);
	size_t n = strlen(b64), len = 0;
	unsigned char *data = malloc(n / 4 * 3 + 3);
	r = data ? ep_base64_decode(b64, n, data, n / 4 * 3 + 3, &len) : -ENOMEM;
	if (r < 0) {
		snprintf(s->err, sizeof(s->err), "stored report %s %s: not base64", customer_id,
			 month);
		free(data);
		coll_db_res_free(&res);
		return r == -ENOMEM ? r : -EIO;
	}
	copy(ret_lang, 8, coll_db_val(&res, 0, 1));
	coll_db_res_free(&res);
	*ret = data;
	*ret_len = len;
	return 0;
}

int coll_store_report_expire(struct coll_store *s, const char *month, int64_t *ret_deleted)
{
	struct coll_db_res res;
	/* "YYYY-MM" sorts as text in month order */
	int r = COLL_Q(s, "DELETE FROM monthly_reports WHERE month < ?", &res, month);
	if (r < 0)
		return r;
	*ret_deleted = res.changes;
	coll_db_res_free(&res);
	return COLL_Q(s, "DELETE FROM report_runs WHERE month < ?", NULL, month);
}

int coll_store_report_claim(struct coll_store *s, const char *customer_id, const char *month,
			    const char *worker, int64_t now, int64_t lease_s)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now), until = coll_i2s(now + lease_s);
	int r = COLL_Q(s,
		       "INSERT INTO report_runs (customer_id, month, claimed_by, claimed_at,"
		       " lease_until, attempts, next_at) VALUES (?, ?, ?, ?, ?, 1, ?) ON CONFLICT"
		       " DO NOTHING",
		       &res, customer_id, month, worker, n.s, until.s, n.s);
	if (r < 0)
		return r;
	bool mine = res.changes == 1;
	coll_db_res_free(&res);
	if (mine)
		return 1;
	/* a run whose holder failed (lease given back) or died (lease ran out):
	 * the WHERE is checked again under the row's lock, so one taker wins */
	r = COLL_Q(s,
		   "UPDATE report_runs SET claimed_by = ?, claimed_at = ?, lease_until = ?,"
		   " attempts = attempts + 1 WHERE customer_id = ? AND month = ? AND sent_at IS"
		   " NULL AND dead_at IS NULL AND lease_until <= CAST(? AS BIGINT) AND next_at <="
		   " CAST(? AS BIGINT)",
		   &res, worker, n.s, until.s, customer_id, month, n.s, n.s);
	if (r < 0)
		return r;
	mine = res.changes == 1;
	coll_db_res_free(&res);
	if (!mine)
		return 0;
	r = COLL_Q(s, "SELECT attempts FROM report_runs WHERE customer_id = ? AND month = ?", &res,
		   customer_id, month);
	if (r < 0)
		return r;
	int64_t attempts = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return attempts < 1 ? 1 : attempts > 1000000 ? 1000000 : (int)attempts;
}

int coll_store_report_sent(struct coll_store *s, const char *customer_id, const char *month,
			   const char *worker, int64_t now, const char *recipients)
{
	return COLL_Q(s,
		      "UPDATE report_runs SET sent_at = ?, recipients = ?, last_error = NULL,"
		      " lease_until = ? WHERE customer_id = ? AND month = ? AND claimed_by = ?",
		      NULL, coll_i2s(now).s, recipients, coll_i2s(now).s, customer_id, month,
		      worker);
}

int coll_store_report_failed(struct coll_store *s, const char *customer_id, const char *month,
			     const char *worker, int64_t next_at, bool dead, const char *error)
{
	struct coll_num at = coll_i2s(next_at);
	if (dead)
		return COLL_Q(s,
			      "UPDATE report_runs SET dead_at = ?, last_error = ? WHERE customer_id"
			      " = ? AND month = ? AND claimed_by = ?",
			      NULL, at.s, error, customer_id, month, worker);
	/* the lease is given back now; the retry waits for next_at */
	return COLL_Q(s,
		      "UPDATE report_runs SET next_at = ?, lease_until = 0, last_error = ? WHERE"
		      " customer_id = ? AND month = ? AND claimed_by = ?",
		      NULL, at.s, error, customer_id, month, worker);
}

int coll_store_report_run_reset(struct coll_store *s, const char *customer_id, const char *month)
{
	return COLL_Q(s, "DELETE FROM report_runs WHERE customer_id = ? AND month = ?", NULL,
		      customer_id, month);
}

int coll_store_report_run_state(struct coll_store *s, const char *customer_id, const char *month,
				char ret_state[16], int64_t *ret_sent_at)
{
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT sent_at, dead_at, lease_until FROM report_runs WHERE"
		       " customer_id = ? AND month = ?",
		       &res, customer_id, month);
	if (r < 0)
		return r;
	*ret_sent_at = 0;
	if (res.rows == 0)
		snprintf(ret_state, 16, "none");
	else if (coll_db_val(&res, 0, 0)) {
		snprintf(ret_state, 16, "sent");
		*ret_sent_at = coll_s2i(coll_db_val(&res, 0, 0));
	} else if (coll_db_val(&res, 0, 1))
		snprintf(ret_state, 16, "dead");
	else if (coll_s2i(coll_db_val(&res, 0, 2)) == 0) /* a failed send gives its lease back */
		snprintf(ret_state, 16, "retry");
	else
		snprintf(ret_state, 16, "claimed");
	coll_db_res_free(&res);
	return 0;
}
