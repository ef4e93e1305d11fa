/* Store queries: the read API -- hosts, one host, alert lists (store.h).
 * Every query is bounded by the caller's struct coll_scope. */
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

/* ---- read API ------------------------------------------------------------------------ */

int coll_store_hosts(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		     json_t **ret)
{
	static const char *const names[] = {
		"id",    "customer_id", "customer",   "hostname",    "last_report_at", "state",
		"score", "band",        "top_reason", "open_alerts", "stale_since",    "label"};
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.last_report_at, " COLL_STATE_SQL
		", a.score, " COLL_BAND_SQL ", a.top_reason, (SELECT COUNT(*) FROM alerts x WHERE"
		" x.agent_id = a.id AND x.closed_at IS NULL), a.stale_since, a.label FROM agents a "
		"JOIN "
		"customers c ON c.id = a.customer_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR a.customer_id = ?)"
		" ORDER BY a.revoked_at IS NOT NULL, COALESCE(a.score, 101), c.name, a.hostname,"
		" a.id LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)",
		&res, coll_i2s(now).s, scope->customer_id, scope->customer_id,
		coll_i2s(scope->limit > 0 ? scope->limit : 100000).s, coll_i2s(scope->offset).s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, "ssssisissiis", ret);
	coll_db_res_free(&res);
	return r;
}

static const char *const alert_names[] = {
	"id",    "host_id", "hostname",    "customer_id", "rule",       "object",    "severity",
	"value", "message", "remediation", "opened_at",   "updated_at", "closed_at", "label"};
static const char alert_types[] = "issssssdssiiis";

int coll_store_host(struct coll_store *s, const struct coll_scope *scope, const char *id,
		    int64_t now, json_t **ret)
{
	static const char *const names[] = {
		"id",          "customer_id", "customer",    "hostname",       "agent_version",
		"enrolled_at", "revoked_at",  "last_seq",    "last_report_at", "state",
		"score",       "band",        "seq_rewinds", "score_detail",   "forecasts",
		"stale_since", "label"};
	struct coll_db_res res = {0};
	json_t *host = NULL, *j = NULL;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT a.id, a.customer_id, c.name, a.hostname, a.agent_version, a.enrolled_at,"
		" a.revoked_at, a.last_seq, a.last_report_at, " COLL_STATE_SQL ", a.score,"
		" " COLL_BAND_SQL ", a.seq_rewinds, a.score_json, a.forecasts_json, a.stale_since,"
		" a.label FROM agents a JOIN customers c ON c.id = a.customer_id"
		" WHERE a.id = ? AND (CAST(? AS TEXT) IS NULL OR a.customer_id = ?)",
		&res, coll_i2s(now).s, id, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows != 1) {
		coll_db_res_free(&res);
		return -ENOENT; /* missing and out of scope alike */
	}
	host = coll_row_json(&res, 0, names, "sssssiiiisisijjis");
	coll_db_res_free(&res);
	if (!host)
		return -ENOMEM;

	char *body = NULL;
	size_t body_len;
	r = coll_store_report_body(s, id, json_integer_value(json_object_get(host, "last_seq")),
				   &body, &body_len);
	if (r < 0 && r != -ENOENT && r != -EBADMSG && r != -EFBIG)
		goto fail;
	/* none kept, or unreadable: the rest of the host still shows */
	j = body ? json_loadb(body, body_len, 0, NULL) : NULL;
	free(body);
	json_object_set_new(host, "report", j ? j : json_null());

	r = COLL_Q(s, "SELECT findings FROM current_findings WHERE agent_id = ?", &res, id);
	if (r < 0)
		goto fail;
	j = res.rows ? json_loads(coll_db_val(&res, 0, 0), 0, NULL) : NULL;
	coll_db_res_free(&res);
	if (!j)
		j = json_array();
	json_object_set_new(host, "findings", j);

	r = COLL_Q(
		s,
		"SELECT x.id, x.agent_id, a.hostname, x.customer_id, x.rule, x.object, x.severity,"
		" x.value, x.message, x.remediation, x.opened_at, x.updated_at, x.closed_at,"
		" a.label FROM alerts x JOIN agents a ON a.id = x.agent_id WHERE x.agent_id = ? AND"
		" x.closed_at IS NULL ORDER BY x.opened_at DESC",
		&res, id);
	if (r < 0)
		goto fail;
	r = coll_rows_json(&res, alert_names, alert_types, &j);
	coll_db_res_free(&res);
	if (r < 0)
		goto fail;
	json_object_set_new(host, "alerts", j);
	/* score_detail/forecasts: stored JSON, renamed for the API */
	json_t *sd = json_incref(json_object_get(host, "score_detail"));
	json_object_del(host, "score_detail");
	json_object_set_new(host, "explanation", sd ? sd : json_null());
	if (json_is_null(json_object_get(host, "forecasts")))
		json_object_set_new(host, "forecasts", json_array());
	*ret = host;
	return 0;
fail:
	json_decref(host);
	return r;
}

int coll_store_alerts(struct coll_store *s, const struct coll_scope *scope, bool open_only,
		      json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	int r = COLL_Q(
		s,
		"SELECT x.id, x.agent_id, a.hostname, x.customer_id, x.rule, x.object,"
		" x.severity, x.value, x.message, x.remediation, x.opened_at, x.updated_at,"
		" x.closed_at, a.label FROM alerts x JOIN agents a ON a.id = x.agent_id"
		" WHERE (CAST(? AS TEXT) IS NULL OR x.customer_id = ?) AND (? = '0' OR"
		" x.closed_at IS NULL) ORDER BY x.closed_at IS NOT NULL, x.updated_at DESC, x.id"
		" DESC LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)",
		&res, scope->customer_id, scope->customer_id, open_only ? "1" : "0",
		coll_i2s(scope->limit > 0 ? scope->limit : 1000).s, coll_i2s(scope->offset).s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, alert_names, alert_types, ret);
	coll_db_res_free(&res);
	return r;
}
