/* Store queries: the read API -- hosts, one host, alert lists (store.h).
 * Every query is bounded by the caller's struct coll_scope. */
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

/* ---- read API ------------------------------------------------------------------------ */

static const char *const host_names[] = {
	"id",    "customer_id", "customer",   "hostname",    "last_report_at", "state",
	"score", "band",        "top_reason", "open_alerts", "stale_since",    "label"};
static const char host_types[] = "ssssisissiis";

/* The host list's columns; one parameter: now. open_alerts is a counter
 * kept by triggers on alerts (migration 9), not a subquery per host. */
#define HOST_COLS                                                                                  \
	"SELECT a.id, a.customer_id, c.name, a.hostname, a.last_report_at, " COLL_STATE_SQL        \
	", a.score, " COLL_BAND_SQL ", a.top_reason, a.open_alerts, a.stale_since, a.label"
#define HOST_FROM " FROM agents a JOIN customers c ON c.id = a.customer_id"
#define HOST_LEGACY                                                                                \
	" ORDER BY a.revoked_at IS NOT NULL, COALESCE(a.score, 101), c.name, a.hostname, a.id "    \
	"LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)"

int coll_store_hosts(struct coll_store *s, const struct coll_scope *scope, int64_t now,
		     json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	struct coll_num lim = coll_i2s(scope->limit > 0 ? scope->limit : 100000),
			off = coll_i2s(scope->offset);
	/* two statements, not "(? IS NULL OR customer_id = ?)": a customer's
	 * viewer then reads through the customer index */
	int r = scope->customer_id
			? COLL_Q(s, HOST_COLS HOST_FROM " WHERE a.customer_id = ?" HOST_LEGACY,
				 &res, coll_i2s(now).s, scope->customer_id, lim.s, off.s)
			: COLL_Q(s, HOST_COLS HOST_FROM HOST_LEGACY, &res, coll_i2s(now).s, lim.s,
				 off.s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, host_names, host_types, ret);
	coll_db_res_free(&res);
	return r;
}

/* band rank: critical, unknown (and never reported: no band yet), at_risk,
 * healthy. Reads band alone (not last_report_at, which every report
 * changes) so that an index can serve it without costing ingest. */
#define BAND_RANK_SQL                                                                              \
	"CASE COALESCE(a.band, 'unknown') WHEN 'critical' THEN 0 WHEN 'at_risk' THEN 2 WHEN"       \
	" 'healthy' THEN 3 ELSE 1 END"

static const struct coll_sortcol host_sorts[] = {
	{"score", {"COALESCE(a.score, 101)"}, "i", false, NULL},
	{"name", {"COALESCE(a.label, a.hostname)"}, "s", false, NULL},
	{"hostname", {"a.hostname"}, "s", false, NULL},
	{"customer", {"c.name"}, "s", false, NULL},
	{"band", {BAND_RANK_SQL, "COALESCE(a.score, 101)"}, "ii", false, NULL},
	{"last_report_at", {"COALESCE(a.last_report_at, 0)"}, "i", true, NULL},
	{"open_alerts", {"a.open_alerts"}, "i", true, NULL},
};
static const struct coll_listdef host_list = {
	.name = "hosts",
	.select = HOST_COLS,
	.from = HOST_FROM,
	.outer = " JOIN agents a ON a.id = p.id_ JOIN customers c ON c.id = a.customer_id",
	.count_from = " FROM agents a",
	.id = "a.id",
	.id_type = 's',
	.cols = host_sorts,
	.n_cols = EP_ARRAY_SIZE(host_sorts),
	.allowed = "score, name, hostname, customer, band, last_report_at, open_alerts",
};

int coll_store_hosts_page(struct coll_store *s, const struct coll_scope *scope, int64_t now,
			  struct coll_page *page, json_t **ret)
{
	struct coll_keyset k;
	struct coll_num n = coll_i2s(now);
	char like[600];
	if (!scope)
		return -EINVAL;
	int r = coll_keyset_init(s, &k, &host_list, page);
	if (r < 0)
		return r;
	coll_keyset_select_param(&k, n.s);
	if (scope->customer_id)
		coll_keyset_where(&k, "a.customer_id = ?", scope->customer_id, NULL);
	if (page->customer)
		coll_keyset_where(&k, "a.customer_id = ?", page->customer, NULL);
	if (page->band) {
		if (strcmp(page->band, "unknown") == 0)
			coll_keyset_where(&k, "(a.last_report_at IS NULL OR a.band = 'unknown')",
					  NULL, NULL);
		else if (strcmp(page->band, "critical") == 0 ||
			 strcmp(page->band, "at_risk") == 0 || strcmp(page->band, "healthy") == 0)
			coll_keyset_where(&k, "a.last_report_at IS NOT NULL AND a.band = ?",
					  page->band, NULL);
		else {
			snprintf(s->err, sizeof(s->err),
				 "band: critical, unknown, at_risk or healthy");
			return -EINVAL;
		}
	}
	if (page->q && page->q[0]) {
		if (strlen(page->q) > 256) {
			snprintf(s->err, sizeof(s->err), "q: at most 256 bytes");
			return -EINVAL;
		}
		coll_like_pattern(page->q, like, sizeof(like));
		coll_keyset_where_same(
			&k,
			"(LOWER(a.hostname) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(a.label,"
			" '')) LIKE ? ESCAPE '\\' OR a.customer_id IN (SELECT y.id FROM"
			" customers y WHERE LOWER(y.name) LIKE ? ESCAPE '\\'))",
			like, 3);
	}
	if (page->state) {
		const char *st = page->state;
		if (strcmp(st, "revoked") == 0)
			coll_keyset_where(&k, "a.revoked_at IS NOT NULL", NULL, NULL);
		else if (strcmp(st, "current") == 0)
			coll_keyset_where(&k, "a.revoked_at IS NULL", NULL, NULL);
		else if (strcmp(st, "never_reported") == 0)
			coll_keyset_where(&k, "a.revoked_at IS NULL AND a.last_report_at IS NULL",
					  NULL, NULL);
		else if (strcmp(st, "silent") == 0)
			coll_keyset_where_now(&k,
					      "a.revoked_at IS NULL AND a.last_report_at + 3 *"
					      " a.interval_s < CAST(? AS BIGINT)",
					      n.s);
		else if (strcmp(st, "active") == 0)
			coll_keyset_where_now(&k,
					      "a.revoked_at IS NULL AND a.last_report_at + 3 *"
					      " a.interval_s >= CAST(? AS BIGINT)",
					      n.s);
		else if (strcmp(st, "all") != 0) {
			snprintf(s->err, sizeof(s->err),
				 "state: active, silent, never_reported, revoked, current or all");
			return -EINVAL;
		}
	}
	return coll_keyset_json(s, &k, host_names, host_types, ret);
}

int coll_store_fleet_counts(struct coll_store *s, const struct coll_scope *scope, json_t **ret)
{
#define COUNT_BANDS                                                                                \
	"SELECT CASE WHEN a.last_report_at IS NULL THEN 'unknown' ELSE COALESCE(a.band, 'none')"   \
	" END, COUNT(*) FROM agents a WHERE a.revoked_at IS NULL"
#define COUNT_ALERTS "SELECT x.severity, COUNT(*) FROM alerts x WHERE x.closed_at IS NULL"
	struct coll_db_res res;
	json_t *bands = json_pack("{s:i,s:i,s:i,s:i,s:i}", "critical", 0, "unknown", 0, "at_risk",
				  0, "healthy", 0, "none", 0),
	       *alerts = json_pack("{s:i,s:i}", "critical", 0, "warning", 0);
	json_int_t hosts = 0;
	int r = scope->customer_id ? COLL_Q(s, COUNT_BANDS " AND a.customer_id = ? GROUP BY 1",
					    &res, scope->customer_id)
				   : coll_sql_query(s, COUNT_BANDS " GROUP BY 1", NULL, 0, &res);
	if (r < 0 || !bands || !alerts)
		goto fail;
	for (size_t i = 0; i < res.rows; i++) {
		json_int_t n = coll_s2i(coll_db_val(&res, i, 1));
		const char *b = coll_db_val(&res, i, 0);
		json_object_set_new(bands, json_object_get(bands, b) ? b : "none", json_integer(n));
		hosts += n;
	}
	coll_db_res_free(&res);
	r = scope->customer_id
		    ? COLL_Q(s, COUNT_ALERTS " AND x.customer_id = ? GROUP BY x.severity", &res,
			     scope->customer_id)
		    : coll_sql_query(s, COUNT_ALERTS " GROUP BY x.severity", NULL, 0, &res);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < res.rows; i++)
		json_object_set_new(alerts, coll_db_val(&res, i, 0),
				    json_integer(coll_s2i(coll_db_val(&res, i, 1))));
	coll_db_res_free(&res);
	*ret = json_pack("{s:o,s:I,s:o}", "bands", bands, "hosts", (json_int_t)hosts, "alerts",
			 alerts);
	return *ret ? 0 : -ENOMEM;
fail:
	json_decref(bands);
	json_decref(alerts);
	return r < 0 ? r : -ENOMEM;
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
		" " COLL_BAND_SQL ", a.seq_rewinds, y.score_json, y.forecasts_json, a.stale_since,"
		" a.label FROM agents a JOIN customers c ON c.id = a.customer_id"
		" LEFT JOIN agent_analysis y ON y.agent_id = a.id"
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

#define ALERT_COLS                                                                                 \
	"SELECT x.id, x.agent_id, a.hostname, x.customer_id, x.rule, x.object, x.severity,"        \
	" x.value, x.message, x.remediation, x.opened_at, x.updated_at, x.closed_at, a.label"
#define ALERT_FROM " FROM alerts x JOIN agents a ON a.id = x.agent_id"
#define ALERT_LEGACY                                                                               \
	" ORDER BY x.updated_at DESC, x.id DESC LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)"

int coll_store_alerts(struct coll_store *s, const struct coll_scope *scope, bool open_only,
		      json_t **ret)
{
	struct coll_db_res res;
	if (!scope)
		return -EINVAL;
	struct coll_num lim = coll_i2s(scope->limit > 0 ? scope->limit : 1000),
			off = coll_i2s(scope->offset);
	const char *c = scope->customer_id;
	int r;
	/* one statement per case, each served by an index (migration 9) */
	if (open_only && c)
		r = COLL_Q(s,
			   ALERT_COLS ALERT_FROM
			   " WHERE x.closed_at IS NULL AND x.customer_id = ?" ALERT_LEGACY,
			   &res, c, lim.s, off.s);
	else if (open_only)
		r = COLL_Q(s, ALERT_COLS ALERT_FROM " WHERE x.closed_at IS NULL" ALERT_LEGACY, &res,
			   lim.s, off.s);
	else if (c)
		r = COLL_Q(s,
			   ALERT_COLS ALERT_FROM
			   " WHERE x.customer_id = ? ORDER BY x.closed_at IS NOT"
			   " NULL, x.updated_at DESC, x.id DESC LIMIT CAST(? AS BIGINT)"
			   " OFFSET CAST(? AS BIGINT)",
			   &res, c, lim.s, off.s);
	else
		r = COLL_Q(s,
			   ALERT_COLS ALERT_FROM
			   " ORDER BY x.closed_at IS NOT NULL, x.updated_at"
			   " DESC, x.id DESC LIMIT CAST(? AS BIGINT) OFFSET CAST(? AS BIGINT)",
			   &res, lim.s, off.s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, alert_names, alert_types, ret);
	coll_db_res_free(&res);
	return r;
}

static const struct coll_sortcol alert_sorts[] = {
	{"updated_at", {"x.updated_at"}, "i", true, NULL},
	{"opened_at", {"x.opened_at"}, "i", true, NULL},
	{"severity",
	 {"CASE x.severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END", "x.opened_at"},
	 "ii",
	 false,
	 NULL},
};
static const struct coll_listdef alert_list = {
	.name = "alerts",
	.select = ALERT_COLS,
	.from = " FROM alerts x",
	.outer = " JOIN alerts x ON x.id = p.id_ JOIN agents a ON a.id = x.agent_id",
	.count_from = " FROM alerts x",
	.id = "x.id",
	.id_type = 'i',
	.cols = alert_sorts,
	.n_cols = EP_ARRAY_SIZE(alert_sorts),
	.allowed = "updated_at, opened_at, severity",
};

int coll_store_alerts_page(struct coll_store *s, const struct coll_scope *scope,
			   struct coll_page *page, json_t **ret)
{
	struct coll_keyset k;
	if (!scope)
		return -EINVAL;
	int r = coll_keyset_init(s, &k, &alert_list, page);
	if (r < 0)
		return r;
	if (!page->state || strcmp(page->state, "open") == 0)
		coll_keyset_where(&k, "x.closed_at IS NULL", NULL, NULL);
	else if (strcmp(page->state, "closed") == 0)
		coll_keyset_where(&k, "x.closed_at IS NOT NULL", NULL, NULL);
	else if (strcmp(page->state, "all") != 0) {
		snprintf(s->err, sizeof(s->err), "state: open, closed or all");
		return -EINVAL;
	}
	if (scope->customer_id)
		coll_keyset_where(&k, "x.customer_id = ?", scope->customer_id, NULL);
	if (page->customer)
		coll_keyset_where(&k, "x.customer_id = ?", page->customer, NULL);
	return coll_keyset_json(s, &k, alert_names, alert_types, ret);
}
