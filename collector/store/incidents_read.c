/* Incident reads (incidents.h): lists, the triage queue, one incident with
 * its timeline, tiers and SLA months. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/sla.h"
#include "collector/store/incidents.h"
#include "collector/store/incidents_int.h"
#include "collector/store/paging.h"
#include "collector/store/sql.h"
#include "erpulse/util.h"

#define LIST_DEFAULT 1000
#define LIST_MAX     100000

/* ---- reads ------------------------------------------------------------------------------ */

#define LIST_COLS                                                                                  \
	"i.id, i.customer_id, c.name, i.agent_id, a.hostname, i.rule, i.object, i.severity,"       \
	" i.state, i.tier, i.opened_at, i.first_opened_at, i.acknowledged_at,"                     \
	" i.acknowledged_by, i.assignee, i.resolved_at, i.verified, i.before_value,"               \
	" i.after_value, i.resolved_seq, i.closed_at, i.close_reason, i.recurrences, i.level,"     \
	" i.breach_at, i.snoozed_until, i.updated_at"
/* LIST_COLS, then the single incident's extra columns */
static const char *const list_names[] = {
	"id",
	"customer_id",
	"customer",
	"agent_id",
	"hostname",
	"rule",
	"object",
	"severity",
	"state",
	"tier",
	"opened_at",
	"first_opened_at",
	"acknowledged_at",
	"acknowledged_by",
	"assignee",
	"resolved_at",
	"verified",
	"before",
	"after",
	"resolved_seq",
	"closed_at",
	"close_reason",
	"recurrences",
	"level",
	"breach_at",
	"snoozed_until",
	"updated_at",
	"unit",
	"message",
	"first_value",
};
static const char list_types[] = "isssssssss"
				 "iiiss"
				 "ibddi"
				 "isiii"
				 "iissd";

int coll_store_incidents(struct coll_store *s, const struct coll_scope *scope,
			 const struct coll_incident_filter *f, json_t **ret)
{
	struct coll_db_res res;
	int64_t limit = f->limit > 0 && f->limit <= LIST_MAX ? f->limit : LIST_DEFAULT;
	struct coll_num lim = coll_i2s(limit);
	enum coll_incident_state st;
	int r;
	if (f->state && strcmp(f->state, "all") != 0 &&
	    coll_incident_state_parse(f->state, &st) < 0)
		return coll_inc_bad_request(
			s, "state: open, acknowledged, in_progress, waiting_customer, "
			   "resolved, closed or all");
	if (!f->state)
		/* the triage queue: the soonest breach first (paused ones, with
		 * no breach time, last), then critical before warning, then the
		 * higher tier */
		r = COLL_Q(
			s,
			"SELECT " LIST_COLS " FROM incidents i JOIN customers c ON c.id ="
			" i.customer_id JOIN agents a ON a.id = i.agent_id WHERE i.live = 1 AND"
			" (CAST(? AS TEXT) IS NULL OR i.customer_id = ?) AND (CAST(? AS TEXT) IS"
			" NULL OR i.customer_id = ?) ORDER BY i.triage_at, CASE WHEN i.severity ="
			" 'critical' THEN 0 ELSE 1 END, i.tier_rank, i.id LIMIT CAST(? AS BIGINT)",
			&res, scope->customer_id, scope->customer_id, f->customer_id,
			f->customer_id, lim.s);
	else
		r = COLL_Q(
			s,
			"SELECT " LIST_COLS " FROM incidents i JOIN customers c ON c.id ="
			" i.customer_id JOIN agents a ON a.id = i.agent_id WHERE (? = 'all' OR"
			" i.state = ?) AND (CAST(? AS TEXT) IS NULL OR i.customer_id = ?) AND"
			" (CAST(? AS TEXT) IS NULL OR i.customer_id = ?) ORDER BY i.id DESC LIMIT"
			" CAST(? AS BIGINT)",
			&res, f->state, f->state, scope->customer_id, scope->customer_id,
			f->customer_id, f->customer_id, lim.s);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, list_names, list_types, ret);
	coll_db_res_free(&res);
	return r;
}

static const struct coll_sortcol incident_sorts[] = {
	{"triage",
	 {"COALESCE(i.triage_at, 9223372036854775807)",
	  "CASE WHEN i.severity = 'critical' THEN 0 ELSE 1 END", "i.tier_rank"},
	 "iii",
	 false,
	 NULL},
	{"opened_at", {"i.opened_at"}, "i", true, NULL},
	{"updated_at", {"i.updated_at"}, "i", true, NULL},
};
static const struct coll_listdef incident_list = {
	.name = "incidents",
	.select = "SELECT " LIST_COLS,
	.from = " FROM incidents i",
	.outer = " JOIN incidents i ON i.id = p.id_ JOIN customers c ON c.id = i.customer_id JOIN"
		 " agents a ON a.id = i.agent_id",
	.count_from = " FROM incidents i",
	.id = "i.id",
	.id_type = 'i',
	.cols = incident_sorts,
	.n_cols = EP_ARRAY_SIZE(incident_sorts),
	.allowed = "triage, opened_at, updated_at",
};

int coll_store_incidents_page(struct coll_store *s, const struct coll_scope *scope,
			      struct coll_page *page, json_t **ret)
{
	struct coll_keyset k;
	enum coll_incident_state st;
	const char *state = page->state && strcmp(page->state, "live") != 0 ? page->state : NULL;
	if (state && strcmp(state, "all") != 0 && coll_incident_state_parse(state, &st) < 0)
		return coll_inc_bad_request(
			s, "state: live, open, acknowledged, in_progress, waiting_customer, "
			   "resolved, closed or all");
	if (state && !page->sort && !page->cursor)
		page->sort = "opened_at"; /* a state's list: the newest first */
	int r = coll_keyset_init(s, &k, &incident_list, page);
	if (r < 0)
		return r;
	if (!state)
		coll_keyset_where(&k, "i.live = 1", NULL, NULL);
	else if (strcmp(state, "all") != 0)
		coll_keyset_where(&k, "i.state = ?", state, NULL);
	if (scope->customer_id)
		coll_keyset_where(&k, "i.customer_id = ?", scope->customer_id, NULL);
	if (page->customer)
		coll_keyset_where(&k, "i.customer_id = ?", page->customer, NULL);
	return coll_keyset_json(s, &k, list_names, list_types, ret);
}

int coll_store_incident(struct coll_store *s, const struct coll_scope *scope, int64_t id,
			bool internal, json_t **ret)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(id);
	int r = COLL_Q(s,
		       "SELECT " LIST_COLS ", i.unit, i.message, i.first_value FROM incidents i"
		       " JOIN customers c ON c.id = i.customer_id JOIN agents a ON a.id ="
		       " i.agent_id WHERE i.id = ? AND (CAST(? AS TEXT) IS NULL OR"
		       " i.customer_id = ?)",
		       &res, n.s, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		return -ENOENT;
	}
	json_t *o = coll_row_json(&res, 0, list_names, list_types);
	coll_db_res_free(&res);
	if (!o)
		return -ENOMEM;
	static const char *const tl_names[] = {"at",     "actor",      "role",
					       "action", "visibility", "detail"};
	r = COLL_Q(s,
		   "SELECT at, actor, role, action, visibility, detail FROM audit WHERE"
		   " incident_id = ? AND (? = '1' OR visibility = 'customer') ORDER BY id",
		   &res, n.s, internal ? "1" : "0");
	if (r < 0) {
		json_decref(o);
		return r;
	}
	json_t *tl = NULL;
	r = coll_rows_json(&res, tl_names, "issssj", &tl);
	coll_db_res_free(&res);
	if (r < 0 || json_object_set_new(o, "timeline", tl) < 0) {
		json_decref(o);
		return -ENOMEM;
	}
	*ret = o;
	return 0;
}

int coll_store_customer_tier(struct coll_store *s, const struct coll_incident_ctx *ctx,
			     const char *customer_id, const char *tier)
{
	struct coll_db_res res;
	if (!coll_tiers_find(ctx->tiers, tier)) {
		snprintf(s->err, sizeof(s->err), "unknown tier '%s'", tier);
		return -EINVAL;
	}
	int r = COLL_Q(s, "UPDATE customers SET tier = ? WHERE id = ? RETURNING id", &res, tier,
		       customer_id);
	if (r < 0)
		return r;
	r = res.rows ? 0 : -ENOENT;
	coll_db_res_free(&res);
	return r;
}

/* ---- SLA month -------------------------------------------------------------------------- */

static json_t *figures_json(const struct coll_sla_figures *f)
{
	json_t *o = json_object(), *age = json_array();
	if (!o || !age) {
		json_decref(o);
		json_decref(age);
		return NULL;
	}
#define SET_I(k, v) json_object_set_new(o, k, (v) >= 0 ? json_integer(v) : json_null())
	SET_I("opened", f->opened);
	SET_I("excluded", f->excluded);
	SET_I("responded", f->responded);
	SET_I("resolved", f->resolved);
	SET_I("resolved_within_target", f->resolved_within);
	SET_I("response_p50_s", f->response_p50_s);
	SET_I("response_p90_s", f->response_p90_s);
	SET_I("mtta_s", f->mtta_s);
	SET_I("mttr_s", f->mttr_s);
	SET_I("breaches", f->breaches);
	SET_I("open", f->open);
#undef SET_I
	json_object_set_new(o, "response_within_target",
			    isnan(f->response_within_share) ? json_null()
							    : json_real(f->response_within_share));
	json_object_set_new(o, "resolution_rate",
			    isnan(f->resolution_rate) ? json_null()
						      : json_real(f->resolution_rate));
	for (int i = 0; i < COLL_SLA_AGE_BUCKETS; i++)
		json_array_append_new(age, json_integer(f->open_by_age[i]));
	json_object_set_new(o, "open_by_age", age); /* < 4 h, < 1 d, < 7 d, older */
	return o;
}

struct pause_set {
	struct coll_interval *v;
	int64_t *owner;
	size_t n;
};

int coll_store_sla(struct coll_store *s, const struct coll_incident_ctx *ctx,
		   const struct coll_scope *scope, const char *customer_id, int64_t from,
		   int64_t to, int64_t now, json_t **ret)
{
	struct coll_db_res res, pres;
	struct coll_num f = coll_i2s(from), t = coll_i2s(to);
	struct coll_sla_item *items = NULL;
	size_t *tier_of_item = NULL;
	json_t *out = NULL, *tiers = NULL;
	int r = COLL_Q(
		s,
		"SELECT " CLOCK_COLS ", id, close_reason, customer_id, agent_id FROM incidents"
		" WHERE opened_at >="
		" CAST(? AS BIGINT) AND opened_at < CAST(? AS BIGINT) AND (CAST(? AS TEXT)"
		" IS NULL OR customer_id = ?) AND (CAST(? AS TEXT) IS NULL OR customer_id ="
		" ?) ORDER BY id",
		&res, f.s, t.s, scope->customer_id, scope->customer_id, customer_id, customer_id);
	if (r < 0)
		return r;
	r = COLL_Q(
		s,
		"SELECT p.incident_id, p.from_at, p.to_at FROM incident_pauses p JOIN incidents i"
		" ON i.id = p.incident_id WHERE i.opened_at >= CAST(? AS BIGINT) AND"
		" i.opened_at < CAST(? AS BIGINT) AND (CAST(? AS TEXT) IS NULL OR i.customer_id"
		" = ?) AND (CAST(? AS TEXT) IS NULL OR i.customer_id = ?) ORDER BY"
		" p.incident_id",
		&pres, f.s, t.s, scope->customer_id, scope->customer_id, customer_id, customer_id);
	if (r < 0) {
		coll_db_res_free(&res);
		return r;
	}
	/* approved maintenance windows, loaded once for all the incidents */
	struct coll_window_set ws = {0};
	struct coll_interval *pv = NULL;
	r = coll_window_set_load(s, customer_id ? customer_id : scope->customer_id, &ws);
	if (r < 0)
		goto out;
	r = -ENOMEM;
	items = calloc(res.rows ? res.rows : 1, sizeof(*items));
	tier_of_item = calloc(res.rows ? res.rows : 1, sizeof(*tier_of_item));
	pv = calloc(pres.rows ? pres.rows : 1, sizeof(*pv));
	if (!items || !tier_of_item || !pv)
		goto out;
	size_t pi = 0;
	for (size_t i = 0; i < res.rows; i++) {
		int64_t id = coll_s2i(coll_db_val(&res, i, 5));
		int rank;
		const struct coll_tier *tier = coll_inc_tier(ctx, coll_db_val(&res, i, 0), &rank);
		struct coll_sla_target tgt;
		coll_inc_target(tier, coll_db_val(&res, i, 1), &tgt);
		/* pauses are ordered by incident id like the incidents */
		while (pi < pres.rows && coll_s2i(coll_db_val(&pres, pi, 0)) < id)
			pi++;
		size_t np = 0;
		for (; pi < pres.rows && coll_s2i(coll_db_val(&pres, pi, 0)) == id; pi++, np++) {
			const char *pt = coll_db_val(&pres, pi, 2);
			pv[np].from = coll_s2i(coll_db_val(&pres, pi, 1));
			pv[np].to = pt ? coll_s2i(pt) : INT64_MAX;
		}
		struct coll_interval *all = NULL;
		size_t n_all = 0;
		if (ws.n) { /* the incident's own pauses, then the windows over it */
			all = malloc((np ? np : 1) * sizeof(*all));
			if (!all)
				goto out;
			memcpy(all, pv, np * sizeof(*all));
			n_all = np;
			int64_t opened = coll_s2i(coll_db_val(&res, i, 2));
			if (coll_window_set_pauses(&ws, coll_db_val(&res, i, 7),
						   coll_db_val(&res, i, 8), opened,
						   now + 35 * 86400, &all, &n_all) < 0) {
				free(all);
				goto out;
			}
		}
		struct coll_sla_clock clk = {
			.opened_at = coll_s2i(coll_db_val(&res, i, 2)),
			.responded_at = coll_s2i(coll_db_val(&res, i, 3)),
			.resolved_at = coll_s2i(coll_db_val(&res, i, 4)),
			.pauses = all ? all : pv,
			.n_pauses = all ? n_all : np,
		};
		struct coll_sla_status st;
		int er = coll_sla_evaluate(&tier->cal, &tgt, &clk, now, &st);
		free(all);
		if (er < 0)
			goto out;
		items[i] = (struct coll_sla_item){
			.opened_at = clk.opened_at,
			/* closed without a fix: not a problem to resolve */
			.excluded = coll_db_val(&res, i, 6) != NULL && !clk.resolved_at,
			.responded = st.responded,
			.resolved = st.resolved,
			.response_s = st.response_used_s,
			.resolution_s = st.resolution_used_s,
			.response_target_s = st.response_target_s,
			.resolution_target_s = st.resolution_target_s,
		};
		tier_of_item[i] = (size_t)rank;
	}
	struct coll_sla_figures all;
	if (coll_sla_compute(items, res.rows, now, &all) < 0)
		goto out;
	out = json_object();
	tiers = json_object();
	if (!out || !tiers)
		goto out;
	json_object_set_new(out, "from", json_integer(from));
	json_object_set_new(out, "to", json_integer(to));
	json_object_set_new(out, "overall", figures_json(&all));
	/* per tier: the items of that tier, gathered in place */
	struct coll_sla_item *sub = calloc(res.rows ? res.rows : 1, sizeof(*sub));
	if (!sub)
		goto out;
	for (size_t k = 0; k < ctx->tiers->n; k++) {
		size_t m = 0;
		for (size_t i = 0; i < res.rows; i++)
			if (tier_of_item[i] == k)
				sub[m++] = items[i];
		if (!m)
			continue;
		struct coll_sla_figures tf;
		if (coll_sla_compute(sub, m, now, &tf) < 0) {
			free(sub);
			goto out;
		}
		json_object_set_new(tiers, ctx->tiers->v[k].name, figures_json(&tf));
	}
	free(sub);
	json_object_set_new(out, "tiers", tiers);
	tiers = NULL;
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_decref(out);
	json_decref(tiers);
	free(items);
	free(tier_of_item);
	free(pv);
	coll_window_set_free(&ws);
	coll_db_res_free(&res);
	coll_db_res_free(&pres);
	return r;
}
