/* Incident queries (incidents.h), written once in the SQL both SQLite and
 * PostgreSQL understand: the shared helpers (incidents_int.h), incidents
 * from alerts, and people's actions. Reads and SLA months are in
 * incidents_read.c, the escalation claim in incidents_escalate.c. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/sla.h"
#include "collector/store/incidents.h"
#include "collector/store/incidents_int.h"
#include "collector/store/sql.h"
#include "erpulse/util.h"

#define TRIAGE_LAST INT64_C(9000000000000000000) /* no breach time: after every other */

static const char *const change_names[] = {"none",     "opened",   "joined",
					   "reopened", "resolved", "suppressed"};

const char *coll_incident_change_name(enum coll_incident_change c)
{
	return (unsigned)c < EP_ARRAY_SIZE(change_names) ? change_names[c] : "unknown";
}

/* ---- helpers ---------------------------------------------------------------------- */

const struct coll_tier *coll_inc_tier(const struct coll_incident_ctx *ctx, const char *name,
				      int *ret_rank)
{
	const struct coll_tier *t = coll_tiers_find(ctx->tiers, name);
	if (!t)
		t = coll_tiers_find(ctx->tiers, COLL_DEFAULT_TIER);
	if (!t)
		t = &ctx->tiers->v[0];
	if (ret_rank)
		*ret_rank = (int)(t - ctx->tiers->v);
	return t;
}

void coll_inc_target(const struct coll_tier *t, const char *severity, struct coll_sla_target *ret)
{
	enum coll_severity_index i = coll_severity_index(severity);
	ret->response_s = t->response_s[i];
	ret->resolution_s = t->resolution_s[i];
	ret->step_s = t->escalation_step_s;
}

/* NULL for "", so that an unknown number is SQL NULL */
static const char *opt(const struct coll_num *n)
{
	return n->s[0] ? n->s : NULL;
}

int coll_inc_audit(struct coll_store *s, int64_t now, const struct coll_actor *who,
		   const char *action, int64_t incident_id, const char *customer_id,
		   bool customer_visible, json_t *detail /* consumed, may be NULL */)
{
	char *text = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(detail);
	if (detail && !text)
		return -ENOMEM;
	int r = COLL_Q(s,
		       "INSERT INTO audit (at, actor, role, address, action, incident_id,"
		       " customer_id, visibility, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		       NULL, coll_i2s(now).s, who->name, who->role, who->address, action,
		       incident_id ? coll_i2s(incident_id).s : NULL, customer_id,
		       customer_visible ? "customer" : "internal", text);
	free(text);
	return r;
}

const struct coll_actor coll_inc_system = {SYSTEM_ACTOR, "system", NULL};

/* The pause rows of res (from_at, to_at in columns 0 and 1; a NULL from_at
 * is no row), then (when windows: the customer has approved ones) the
 * approved maintenance windows of the customer or of this host from
 * opened_at to now + 35 days. */
static int pauses_from(struct coll_store *s, const struct coll_db_res *res, bool windows,
		       const char *customer_id, const char *agent_id, int64_t opened_at,
		       int64_t now, struct coll_interval **ret, size_t *ret_n)
{
	struct coll_window_set ws = {0};
	struct coll_interval *v = NULL;
	size_t n = 0;
	*ret = NULL;
	*ret_n = 0;
	if (res->rows) {
		v = calloc(res->rows, sizeof(*v));
		if (!v)
			return -ENOMEM;
	}
	for (size_t i = 0; i < res->rows; i++) {
		const char *from = coll_db_val(res, i, 0), *to = coll_db_val(res, i, 1);
		if (!from)
			continue; /* no pause rows: the LEFT JOIN's NULLs */
		v[n].from = coll_s2i(from);
		v[n++].to = to ? coll_s2i(to) : INT64_MAX;
	}
	int r = windows ? coll_window_set_load(s, customer_id, &ws) : 0;
	if (r == 0 && ws.n)
		r = coll_window_set_pauses(&ws, customer_id, agent_id, opened_at, now + 35 * 86400,
					   &v, &n);
	coll_window_set_free(&ws);
	if (r < 0) {
		free(v);
		return r;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int coll_inc_pauses(struct coll_store *s, int64_t id, int64_t now, struct coll_interval **ret,
		    size_t *ret_n)
{
	struct coll_db_res res;
	*ret = NULL;
	*ret_n = 0;
	int r = COLL_Q(s,
		       "SELECT p.from_at, p.to_at, i.customer_id, i.agent_id, i.opened_at FROM"
		       " incidents i LEFT JOIN incident_pauses p ON p.incident_id = i.id WHERE"
		       " i.id = ?",
		       &res, coll_i2s(id).s);
	if (r < 0)
		return r;
	if (res.rows)
		r = pauses_from(s, &res, true, coll_db_val(&res, 0, 2), coll_db_val(&res, 0, 3),
				coll_s2i(coll_db_val(&res, 0, 4)), now, ret, ret_n);
	coll_db_res_free(&res);
	return r;
}

/* The SLA clock of incident row res[row] (CLOCK_COLS first) with its pauses. */
static int evaluate_with(const struct coll_incident_ctx *ctx, const struct coll_db_res *res,
			 size_t row, int64_t now, const struct coll_interval *p, size_t n,
			 struct coll_sla_status *ret, const struct coll_tier **ret_tier)
{
	const struct coll_tier *t = coll_inc_tier(ctx, coll_db_val(res, row, 0), NULL);
	struct coll_sla_target tgt;
	coll_inc_target(t, coll_db_val(res, row, 1), &tgt);
	struct coll_sla_clock clk = {
		.opened_at = coll_s2i(coll_db_val(res, row, 2)),
		.responded_at = coll_s2i(coll_db_val(res, row, 3)),
		.resolved_at = coll_s2i(coll_db_val(res, row, 4)),
		.pauses = p,
		.n_pauses = n,
	};
	if (ret_tier)
		*ret_tier = t;
	return coll_sla_evaluate(&t->cal, &tgt, &clk, now, ret);
}

/* The SLA clock of incident row res[row] with columns
 * tier, severity, opened_at, responded_at, resolved_at (0..4). */
int coll_inc_evaluate(struct coll_store *s, const struct coll_incident_ctx *ctx, int64_t id,
		      const struct coll_db_res *res, size_t row, int64_t now,
		      struct coll_sla_status *ret, const struct coll_tier **ret_tier)
{
	struct coll_interval *p;
	size_t n;
	int r = coll_inc_pauses(s, id, now, &p, &n);
	if (r < 0)
		return r;
	r = evaluate_with(ctx, res, row, now, p, n, ret, ret_tier);
	free(p);
	return r;
}

/* Events of this cycle already recorded, as bits. */
static int recorded_events(struct coll_store *s, int64_t id, int64_t cycle, unsigned *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT event FROM incident_events WHERE incident_id = ? AND cycle = ?",
		       &res, coll_i2s(id).s, coll_i2s(cycle).s);
	if (r < 0)
		return r;
	*ret = 0;
	for (size_t i = 0; i < res.rows; i++) {
		unsigned bit;
		if (coll_sla_event_parse(coll_db_val(&res, i, 0), &bit) == 0)
			*ret |= bit;
	}
	coll_db_res_free(&res);
	return 0;
}

int coll_inc_one_row(struct coll_store *s, const char *sql, int64_t id, struct coll_db_res *res)
{
	struct coll_num n = coll_i2s(id);
	const char *p[] = {n.s};
	int r = coll_sql_query(s, sql, p, 1, res);
	if (r == 0 && res->rows == 0) {
		coll_db_res_free(res);
		r = -ENOENT;
	}
	return r;
}

/* The columns schedule() reads, CLOCK_COLS first: what the clock is
 * computed from, what it wrote last time, and whether the incident has
 * pause rows and its customer approved maintenance windows (most have
 * neither: then neither is read; customer_id is NOT NULL, so the windows
 * coll_window_set_load would read are those of this customer: a search of
 * maintenance_customer, which SQLite makes in a RETURNING only when the
 * column is CAST: without, it scanned every window). In an UPDATE's
 * RETURNING too. */
#define SCHEDULE_COLS                                                                              \
	CLOCK_COLS ", live, snoozed_until, cycle, held_event, customer_id, agent_id,"              \
		   " next_event_at, breach_at, triage_at, CASE WHEN EXISTS (SELECT 1 FROM"         \
		   " incident_pauses p WHERE p.incident_id = incidents.id) THEN 1 ELSE 0 END,"     \
		   " CASE WHEN EXISTS (SELECT 1 FROM maintenance_windows w WHERE w.approved_at"    \
		   " IS NOT NULL AND w.customer_id = CAST(incidents.customer_id AS TEXT)) THEN 1"  \
		   " ELSE 0 END"
enum {
	SC_LIVE = 5,
	SC_SNOOZE,
	SC_CYCLE,
	SC_HELD,
	SC_CUSTOMER,
	SC_AGENT,
	SC_NEXT,
	SC_BREACH,
	SC_TRIAGE,
	SC_PAUSED,
	SC_WINDOWS,
	SC_ID /* after them: the id an UPDATE returns */
};

/* stored (a column, NULL for SQL NULL) IS NOT DISTINCT FROM want */
static bool same_int(const char *stored, const char *want)
{
	if (!stored || !want)
		return !stored && !want;
	return coll_s2i(stored) == coll_s2i(want);
}

/* coll_inc_reschedule of the incident row res[0] (SCHEDULE_COLS), read
 * after the change: the one read serves both the clock and the test
 * whether its columns move. */
static int schedule(struct coll_store *s, const struct coll_incident_ctx *ctx, int64_t id,
		    const struct coll_db_res *res, int64_t now)
{
	int64_t next = 0, breach = 0;
	int r;
	if (coll_s2i(coll_db_val(res, 0, SC_LIVE))) {
		struct coll_sla_status st;
		struct coll_db_res pres = {0};
		struct coll_interval *p;
		size_t n;
		bool paused = coll_s2i(coll_db_val(res, 0, SC_PAUSED)) != 0;
		if (paused) {
			r = COLL_Q(
				s,
				"SELECT from_at, to_at FROM incident_pauses WHERE incident_id = ?",
				&pres, coll_i2s(id).s);
			if (r < 0)
				return r;
		}
		r = pauses_from(s, &pres, coll_s2i(coll_db_val(res, 0, SC_WINDOWS)) != 0,
				coll_db_val(res, 0, SC_CUSTOMER), coll_db_val(res, 0, SC_AGENT),
				coll_s2i(coll_db_val(res, 0, 2)), now, &p, &n);
		if (paused)
			coll_db_res_free(&pres);
		if (r < 0)
			return r;
		r = evaluate_with(ctx, res, 0, now, p, n, &st, NULL);
		free(p);
		if (r < 0)
			return r;
		next = st.next_event_at;
		breach = st.breach_at;
		if (st.crossed) {
			unsigned done;
			r = recorded_events(s, id, coll_s2i(coll_db_val(res, 0, SC_CYCLE)), &done);
			if (r < 0)
				return r;
			if (st.crossed & ~done)
				next = now; /* owed now (e.g. a severity with a shorter target) */
		}
		int64_t snooze = coll_s2i(coll_db_val(res, 0, SC_SNOOZE));
		if (snooze > now && next && next < snooze)
			next = snooze;
		if (coll_db_val(res, 0, SC_HELD)) { /* a held notice: due when its window ends */
			int64_t until;
			r = coll_inc_window_until(s, coll_db_val(res, 0, SC_CUSTOMER),
						  coll_db_val(res, 0, SC_AGENT), now, &until);
			if (r < 0)
				return r;
			if (!until)
				until = now;
			if (!next || until < next)
				next = until;
		}
	}
	/* triage_at: the breach time, paused ones (none) last; indexed. Most
	 * reports of a host with a live incident leave its clock as it was:
	 * no statement then, as the row read says (the UPDATE's own test stays
	 * for a row another transaction changed since) */
	struct coll_num nn = coll_i2s(next), bn = coll_i2s(breach),
			tn = coll_i2s(breach ? breach : TRIAGE_LAST);
	const char *nv = next ? nn.s : NULL, *bv = breach ? bn.s : NULL;
	if (same_int(coll_db_val(res, 0, SC_NEXT), nv) &&
	    same_int(coll_db_val(res, 0, SC_BREACH), bv) &&
	    same_int(coll_db_val(res, 0, SC_TRIAGE), tn.s))
		return 0;
	return COLL_Q(
		s,
		"UPDATE incidents SET next_event_at = ?, breach_at = ?, triage_at = ? WHERE id = ?"
		" AND (next_event_at IS DISTINCT FROM CAST(? AS BIGINT) OR breach_at IS"
		" DISTINCT FROM CAST(? AS BIGINT) OR triage_at IS DISTINCT FROM CAST(? AS"
		" BIGINT))",
		NULL, nv, bv, tn.s, coll_i2s(id).s, nv, bv, tn.s);
}

int coll_inc_reschedule(struct coll_store *s, const struct coll_incident_ctx *ctx, int64_t id,
			int64_t now)
{
	struct coll_db_res res;
	int r = coll_inc_one_row(s, "SELECT " SCHEDULE_COLS " FROM incidents WHERE id = ?", id,
				 &res);
	if (r < 0)
		return r;
	r = schedule(s, ctx, id, &res, now);
	coll_db_res_free(&res);
	return r;
}

/* Ends the open pauses of id (all kinds, or one). */
static int end_pauses(struct coll_store *s, int64_t id, const char *kind, int64_t now)
{
	return COLL_Q(s,
		      "UPDATE incident_pauses SET to_at = ? WHERE incident_id = ? AND to_at IS NULL"
		      " AND (CAST(? AS TEXT) IS NULL OR kind = ?)",
		      NULL, coll_i2s(now).s, coll_i2s(id).s, kind, kind);
}

static json_t *value_detail(const char *severity, double value, int64_t seq)
{
	json_t *d = json_object();
	if (!d)
		return NULL;
	if (severity)
		json_object_set_new(d, "severity", json_string(severity));
	if (isfinite(value))
		json_object_set_new(d, "value", json_real(value));
	if (seq)
		json_object_set_new(d, "report_seq", json_integer(seq));
	return d;
}

/* ---- from alerts --------------------------------------------------------------------- */

static int open_new(struct coll_store *s, const struct coll_incident_ctx *ctx,
		    const struct coll_alert_event *e, int64_t *ret_id)
{
	struct coll_db_res res;
	int r = COLL_Q(s, "SELECT tier FROM customers WHERE id = ?", &res, e->customer_id);
	if (r < 0)
		return r;
	int rank;
	const struct coll_tier *t = coll_inc_tier(ctx, coll_db_val(&res, 0, 0), &rank);
	coll_db_res_free(&res);
	struct coll_num now = coll_i2s(e->now), v = coll_d2s(e->value);
	r = COLL_Q(s,
		   "INSERT INTO incidents (customer_id, agent_id, rule, object, severity, state,"
		   " live, tier, tier_rank, unit, message, first_opened_at, opened_at, updated_at,"
		   " first_value, before_value) VALUES (?, ?, ?, ?, ?, 'open', 1, ?, ?, ?, ?, ?, ?,"
		   " ?, ?, ?) RETURNING id",
		   &res, e->customer_id, e->agent_id, e->rule, e->object, e->severity, t->name,
		   coll_i2s(rank).s, e->unit, e->message, now.s, now.s, now.s, opt(&v), opt(&v));
	if (r < 0)
		return r;
	*ret_id = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	return coll_inc_audit(s, e->now, &coll_inc_system, "open", *ret_id, e->customer_id, true,
			      value_detail(e->severity, e->value, e->report_seq));
}

static int on_raise(struct coll_store *s, const struct coll_incident_ctx *ctx,
		    const struct coll_alert_event *e, int64_t *ret_id,
		    enum coll_incident_change *ret_change)
{
	struct coll_db_res res;
	struct coll_num now = coll_i2s(e->now), v = coll_d2s(e->value);
	int r = COLL_Q(s,
		       "SELECT id, live, resolved_at, closed_at, close_reason, accepted_until"
		       " FROM incidents WHERE agent_id = ? AND rule = ? AND object = ?"
		       " ORDER BY id DESC LIMIT 1",
		       &res, e->agent_id, e->rule, e->object);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		*ret_change = COLL_INCIDENT_OPENED;
		return open_new(s, ctx, e, ret_id);
	}
	int64_t id = coll_s2i(coll_db_val(&res, 0, 0));
	bool live = coll_s2i(coll_db_val(&res, 0, 1)) != 0;
	int64_t ended = coll_s2i(coll_db_val(&res, 0, 2));
	if (!ended)
		ended = coll_s2i(coll_db_val(&res, 0, 3));
	const char *reason = coll_db_val(&res, 0, 4);
	bool accepted = reason && strcmp(reason, "accepted_risk") == 0 &&
			coll_s2i(coll_db_val(&res, 0, 5)) > e->now;
	coll_db_res_free(&res);
	*ret_id = id;
	if (live) {
		*ret_change = COLL_INCIDENT_JOINED;
		r = COLL_Q(s,
			   "UPDATE incidents SET severity = ?, before_value = ?, message = ?,"
			   " updated_at = ? WHERE id = ?",
			   NULL, e->severity, opt(&v), e->message, now.s, coll_i2s(id).s);
		if (r == 0)
			r = coll_inc_audit(s, e->now, &coll_inc_system, "raise", id, e->customer_id,
					   true,
					   value_detail(e->severity, e->value, e->report_seq));
		return r;
	}
	if (accepted) {
		*ret_change = COLL_INCIDENT_SUPPRESSED;
		return 0;
	}
	if (ended < e->now - ctx->reopen_window_s) {
		*ret_change = COLL_INCIDENT_OPENED;
		return open_new(s, ctx, e, ret_id);
	}
	*ret_change = COLL_INCIDENT_REOPENED;
	r = COLL_Q(s,
		   "UPDATE incidents SET state = 'open', live = 1, recurrences = recurrences + 1,"
		   " cycle = cycle + 1, level = 1, severity = ?, before_value = ?, after_value ="
		   " NULL, message = ?, opened_at = ?, updated_at = ?, acknowledged_at = NULL,"
		   " acknowledged_by = NULL, responded_at = NULL, resolved_at = NULL, resolved_by ="
		   " NULL, verified = 0, resolved_seq = NULL, closed_at = NULL, close_reason ="
		   " NULL, accepted_until = NULL, snoozed_until = NULL WHERE id = ?",
		   NULL, e->severity, opt(&v), e->message, now.s, now.s, coll_i2s(id).s);
	if (r == 0)
		r = coll_inc_audit(s, e->now, &coll_inc_system, "recur", id, e->customer_id, true,
				   value_detail(e->severity, e->value, e->report_seq));
	return r;
}

int coll_store_incident_on_alert(struct coll_store *s, const struct coll_incident_ctx *ctx,
				 const struct coll_alert_event *e, int64_t *ret_id,
				 enum coll_incident_change *ret_change)
{
	struct coll_num now = coll_i2s(e->now), v = coll_d2s(e->value);
	struct coll_db_res res;
	int64_t id = 0;
	int r;
	*ret_id = 0;
	*ret_change = COLL_INCIDENT_NONE;
	switch (e->change) {
	case COLL_ALERT_RAISED:
		r = on_raise(s, ctx, e, &id, ret_change);
		break;
	case COLL_ALERT_UPDATED:
		/* the level changes the targets; the value is the "before" of a fix */
		r = COLL_Q(s,
			   "UPDATE incidents SET severity = ?, before_value = ?, updated_at = ?"
			   " WHERE agent_id = ? AND rule = ? AND object = ? AND live = 1 AND"
			   " (severity <> ? OR before_value IS NULL OR before_value <> CAST(? AS"
			   " DOUBLE PRECISION)) RETURNING " SCHEDULE_COLS ", id",
			   &res, e->severity, opt(&v), now.s, e->agent_id, e->rule, e->object,
			   e->severity, opt(&v));
		if (r < 0)
			return r;
		/* the row as the UPDATE left it is what coll_inc_reschedule
		 * would read next: its clock from it, with no second read */
		id = coll_s2i(coll_db_val(&res, 0, SC_ID));
		*ret_id = id;
		if (id) {
			*ret_change = COLL_INCIDENT_JOINED;
			r = schedule(s, ctx, id, &res, e->now);
		}
		coll_db_res_free(&res);
		return r;
	case COLL_ALERT_CLEARED:
		r = COLL_Q(s,
			   "UPDATE incidents SET state = 'resolved', live = 0, resolved_at = ?,"
			   " resolved_by = '" SYSTEM_ACTOR "', verified = 1, after_value = ?,"
			   " resolved_seq = ?, updated_at = ?, next_event_at = NULL, breach_at ="
			   " NULL WHERE agent_id = ? AND rule = ? AND object = ? AND live = 1"
			   " RETURNING id, before_value",
			   &res, now.s, opt(&v), coll_i2s(e->report_seq).s, now.s, e->agent_id,
			   e->rule, e->object);
		if (r < 0)
			return r;
		if (res.rows) {
			id = coll_s2i(coll_db_val(&res, 0, 0));
			const char *before = coll_db_val(&res, 0, 1);
			json_t *d = value_detail(NULL, e->value, e->report_seq);
			if (d && before)
				json_object_set_new(d, "before", json_real(strtod(before, NULL)));
			if (d && isfinite(e->value))
				json_object_set_new(d, "after", json_real(e->value));
			*ret_change = COLL_INCIDENT_RESOLVED;
			r = end_pauses(s, id, NULL, e->now);
			if (r == 0)
				r = coll_inc_audit(s, e->now, &coll_inc_system, "clear", id,
						   e->customer_id, true, d);
			else
				json_decref(d);
		}
		coll_db_res_free(&res);
		*ret_id = id;
		return r;
	default:
		return -EINVAL;
	}
	*ret_id = id;
	if (r == 0 && id && *ret_change != COLL_INCIDENT_SUPPRESSED)
		r = coll_inc_reschedule(s, ctx, id, e->now);
	return r;
}

/* ---- people's actions ------------------------------------------------------------------ */

struct current {
	int64_t id;
	enum coll_incident_state state;
	char customer_id[COLL_ID_SIZE];
	char agent_id[COLL_ID_SIZE];
	char assignee[256];
	int64_t snoozed_until;
};

static int load_current(struct coll_store *s, const struct coll_scope *scope, int64_t id,
			struct current *ret)
{
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT state, customer_id, agent_id, assignee, snoozed_until FROM incidents"
		       " WHERE id = ? AND (CAST(? AS TEXT) IS NULL OR customer_id = ?)",
		       &res, coll_i2s(id).s, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows == 0 || coll_incident_state_parse(coll_db_val(&res, 0, 0), &ret->state) < 0) {
		coll_db_res_free(&res);
		return -ENOENT;
	}
	ret->id = id;
	coll_copy_id(ret->customer_id, coll_db_val(&res, 0, 1));
	coll_copy_id(ret->agent_id, coll_db_val(&res, 0, 2));
	snprintf(ret->assignee, sizeof(ret->assignee), "%s",
		 coll_db_val(&res, 0, 3) ? coll_db_val(&res, 0, 3) : "");
	ret->snoozed_until = coll_s2i(coll_db_val(&res, 0, 4));
	coll_db_res_free(&res);
	return 0;
}

int coll_inc_bad_request(struct coll_store *s, const char *what)
{
	snprintf(s->err, sizeof(s->err), "%s", what);
	return -EINVAL;
}

/* Checks req's fields for its action; 0 or -EINVAL with s->err. */
static int check_request(struct coll_store *s, const struct coll_action_request *req, int64_t now)
{
	switch (req->action) {
	case COLL_ACT_ASSIGN:
		if (!req->assignee || !*req->assignee || strlen(req->assignee) > 255)
			return coll_inc_bad_request(s,
						    "assign needs an assignee (1-255 characters)");
		break;
	case COLL_ACT_COMMENT:
		if (!req->text || !*req->text || strlen(req->text) > 16384)
			return coll_inc_bad_request(s, "comment needs a text (1-16384 bytes)");
		break;
	case COLL_ACT_CLOSE:
		if (!coll_close_reason_valid(req->reason))
			return coll_inc_bad_request(
				s, "close needs a reason: false_positive, accepted_risk "
				   "or duplicate");
		if (strcmp(req->reason, "accepted_risk") == 0 && req->until <= now)
			return coll_inc_bad_request(s,
						    "accepted_risk needs an end date in the future "
						    "(until)");
		break;
	case COLL_ACT_SNOOZE:
		if (req->until <= now)
			return coll_inc_bad_request(
				s, "snooze needs an end time in the future (until)");
		break;
	default:
		break;
	}
	if (req->text && strlen(req->text) > 16384)
		return coll_inc_bad_request(s, "text longer than 16384 bytes");
	return 0;
}

/* The UPDATE for action a (new state ns), after the checks. */
static int apply_action(struct coll_store *s, const struct current *cur,
			const struct coll_actor *who, const struct coll_action_request *req,
			enum coll_incident_state ns, int64_t now)
{
	struct coll_num n = coll_i2s(now), id = coll_i2s(cur->id);
	const char *state = coll_incident_state_name(ns);
	int r = 0;
	if (coll_incident_action_responds(req->action)) {
		r = COLL_Q(s,
			   "UPDATE incidents SET responded_at = COALESCE(responded_at, CAST(? AS"
			   " BIGINT)) WHERE id = ?",
			   NULL, n.s, id.s);
		if (r < 0)
			return r;
	}
	switch (req->action) {
	case COLL_ACT_ACKNOWLEDGE:
		return COLL_Q(s,
			      "UPDATE incidents SET state = ?, acknowledged_at = ?, acknowledged_by"
			      " = ?, updated_at = ? WHERE id = ?",
			      NULL, state, n.s, who->name, n.s, id.s);
	case COLL_ACT_ASSIGN:
		return COLL_Q(s,
			      "UPDATE incidents SET state = ?, assignee = ?, acknowledged_at ="
			      " COALESCE(acknowledged_at, CAST(? AS BIGINT)), acknowledged_by ="
			      " COALESCE(acknowledged_by, ?), updated_at = ? WHERE id = ?",
			      NULL, state, req->assignee, n.s, who->name, n.s, id.s);
	case COLL_ACT_WAIT:
		r = COLL_Q(s,
			   "INSERT INTO incident_pauses (incident_id, kind, from_at) VALUES (?,"
			   " 'waiting_customer', ?) ON CONFLICT DO NOTHING",
			   NULL, id.s, n.s);
		if (r == 0)
			r = COLL_Q(s, "UPDATE incidents SET state = ?, updated_at = ? WHERE id = ?",
				   NULL, state, n.s, id.s);
		return r;
	case COLL_ACT_RESUME:
		r = end_pauses(s, cur->id, "waiting_customer", now);
		if (r == 0)
			r = COLL_Q(s, "UPDATE incidents SET state = ?, updated_at = ? WHERE id = ?",
				   NULL, state, n.s, id.s);
		return r;
	case COLL_ACT_RESOLVE:
		r = end_pauses(s, cur->id, NULL, now);
		if (r == 0)
			r = COLL_Q(s,
				   "UPDATE incidents SET state = ?, live = 0, resolved_at = ?,"
				   " resolved_by = ?, verified = 0, updated_at = ? WHERE id = ?",
				   NULL, state, n.s, who->name, n.s, id.s);
		return r;
	case COLL_ACT_CLOSE: {
		struct coll_num until = coll_i2s(req->until);
		r = end_pauses(s, cur->id, NULL, now);
		if (r == 0)
			r = COLL_Q(s,
				   "UPDATE incidents SET state = ?, live = 0, closed_at = ?,"
				   " close_reason = ?, accepted_until = ?, updated_at = ? WHERE id "
				   "= ?",
				   NULL, state, n.s, req->reason, req->until ? until.s : NULL, n.s,
				   id.s);
		return r;
	}
	case COLL_ACT_REOPEN:
		r = COLL_Q(s,
			   "UPDATE incidents SET state = 'open', live = 1, cycle = cycle + 1, level"
			   " = 1, opened_at = ?, updated_at = ?, acknowledged_at = NULL,"
			   " acknowledged_by = NULL, responded_at = NULL, resolved_at = NULL,"
			   " resolved_by = NULL, verified = 0, after_value = NULL, resolved_seq ="
			   " NULL, closed_at = NULL, close_reason = NULL, accepted_until = NULL"
			   " WHERE id = ?",
			   NULL, n.s, n.s, id.s);
		if (r == -EEXIST) {
			coll_inc_bad_request(s, "another incident of this finding is open");
			r = -ECANCELED;
		}
		return r;
	case COLL_ACT_SNOOZE:
		return COLL_Q(s,
			      "UPDATE incidents SET snoozed_until = ?, updated_at = ? WHERE id = ?",
			      NULL, coll_i2s(req->until).s, n.s, id.s);
	case COLL_ACT_COMMENT:
		return 0;
	default:
		return -EINVAL;
	}
}

int coll_store_incident_act(struct coll_store *s, const struct coll_incident_ctx *ctx,
			    const struct coll_scope *scope, int64_t id,
			    const struct coll_actor *who, const struct coll_action_request *req,
			    int64_t now)
{
	struct current cur;
	enum coll_incident_state ns;
	int r = coll_db_begin(s->db);
	if (r < 0)
		return r;
	r = load_current(s, scope, id, &cur);
	if (r < 0)
		goto fail;
	if (!coll_role_may(who->role, req->action)) {
		snprintf(s->err, sizeof(s->err), "role %s may not %s", who->role,
			 coll_incident_action_name(req->action));
		r = -EPERM;
		goto fail;
	}
	r = check_request(s, req, now);
	if (r < 0)
		goto fail;
	r = coll_incident_transition(cur.state, req->action, &ns);
	if (r == -EINVAL) {
		snprintf(s->err, sizeof(s->err), "cannot %s an incident that is %s",
			 coll_incident_action_name(req->action),
			 coll_incident_state_name(cur.state));
		r = -ECANCELED;
		goto fail;
	}
	/* repeats that change nothing: the same assignee, the same snooze */
	if (r == 0 && req->action == COLL_ACT_ASSIGN && ns == cur.state &&
	    strcmp(cur.assignee, req->assignee) == 0)
		r = 1;
	if (r == 0 && req->action == COLL_ACT_SNOOZE && cur.snoozed_until == req->until)
		r = 1;
	if (r == 1) {
		coll_db_rollback(s->db);
		return 1;
	}
	r = apply_action(s, &cur, who, req, ns, now);
	if (r < 0)
		goto fail;
	json_t *d = json_object();
	if (!d) {
		r = -ENOMEM;
		goto fail;
	}
	json_object_set_new(d, "from", json_string(coll_incident_state_name(cur.state)));
	json_object_set_new(d, "to", json_string(coll_incident_state_name(ns)));
	if (req->assignee)
		json_object_set_new(d, "assignee", json_string(req->assignee));
	if (req->text)
		json_object_set_new(d, "text", json_string(req->text));
	if (req->reason)
		json_object_set_new(d, "reason", json_string(req->reason));
	if (req->until)
		json_object_set_new(d, "until", json_integer(req->until));
	/* customers see state changes and the comments meant for them; a
	 * customer admin's comment is always for both sides */
	bool visible = req->action == COLL_ACT_COMMENT
			       ? req->customer_visible || !coll_role_vendor_side(who->role)
			       : req->action != COLL_ACT_SNOOZE;
	r = coll_inc_audit(s, now, who, coll_incident_action_name(req->action), id, cur.customer_id,
			   visible, d);
	if (r == 0)
		r = coll_inc_reschedule(s, ctx, id, now);
	if (r == 0)
		r = coll_db_commit(s->db);
	if (r < 0)
		goto fail;
	return 0;
fail:
	coll_db_rollback(s->db);
	return r;
}
