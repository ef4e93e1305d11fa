/* The escalation claim and incident notices (incidents.h). PostgreSQL
 * claims with SKIP LOCKED; the events' primary key fires each once. */
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

/* ---- escalation ------------------------------------------------------------------------ */

void coll_incident_notices_free(struct coll_incident_notice *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].customer_id);
		free(v[i].customer);
		free(v[i].hostname);
		free(v[i].rule);
		free(v[i].object);
		free(v[i].severity);
		free(v[i].tier);
	}
	free(v);
}

#define NOTICE_COLS                                                                                \
	"i.customer_id, c.name, a.hostname, i.rule, i.object, i.severity, i.tier,"                 \
	" i.before_value, i.after_value, i.resolved_seq"

/* Fills n's strings from res[row] columns off..off+9 (NOTICE_COLS). */
static int fill_notice(struct coll_incident_notice *n, const struct coll_db_res *res, size_t row,
		       size_t off)
{
	char **dst[] = {&n->customer_id, &n->customer, &n->hostname, &n->rule,
			&n->object,      &n->severity, &n->tier};
	for (size_t k = 0; k < EP_ARRAY_SIZE(dst); k++) {
		const char *v = coll_db_val(res, row, off + k);
		*dst[k] = strdup(v ? v : "");
		if (!*dst[k])
			return -ENOMEM;
	}
	const char *b = coll_db_val(res, row, off + 7), *a = coll_db_val(res, row, off + 8);
	n->before = b ? strtod(b, NULL) : NAN;
	n->after = a ? strtod(a, NULL) : NAN;
	n->report_seq = coll_s2i(coll_db_val(res, row, off + 9));
	return 0;
}

int coll_store_incident_notice(struct coll_store *s, int64_t id, const char *event,
			       struct coll_incident_notice **ret)
{
	struct coll_db_res res;
	int r = coll_inc_one_row(
		s,
		"SELECT " NOTICE_COLS ", i.level, i.updated_at FROM incidents i JOIN"
		" customers c ON c.id = i.customer_id JOIN agents a ON a.id = i.agent_id"
		" WHERE i.id = ?",
		id, &res);
	if (r < 0)
		return r;
	struct coll_incident_notice *n = calloc(1, sizeof(*n));
	if (!n) {
		coll_db_res_free(&res);
		return -ENOMEM;
	}
	n->incident_id = id;
	snprintf(n->event, sizeof(n->event), "%s", event);
	n->level = 1;
	n->at = coll_s2i(coll_db_val(&res, 0, 11));
	r = fill_notice(n, &res, 0, 0);
	coll_db_res_free(&res);
	if (r < 0) {
		coll_incident_notices_free(n, 1);
		return r;
	}
	*ret = n;
	return 0;
}

/* Appends the notice of (id, event) at level to *out. 0 or -errno. */
static int push_notice(struct coll_store *s, struct coll_incident_notice **out, size_t *n_out,
		       size_t *cap, int64_t id, const char *event, int level, int64_t target_s,
		       int64_t now)
{
	struct coll_incident_notice *one;
	if (*n_out == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		struct coll_incident_notice *g = realloc(*out, nc * sizeof(*g));
		if (!g)
			return -ENOMEM;
		*out = g;
		*cap = nc;
	}
	int r = coll_store_incident_notice(s, id, event, &one);
	if (r < 0)
		return r;
	(*out)[*n_out] = *one;
	free(one);
	(*out)[*n_out].level = level;
	(*out)[*n_out].at = now;
	(*out)[*n_out].target_s = target_s;
	(*n_out)++;
	return 0;
}

int coll_store_incidents_escalate(struct coll_store *s, const struct coll_incident_ctx *ctx,
				  int64_t now, size_t max, struct coll_incident_notice **ret,
				  size_t *ret_n)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now), lim = coll_i2s((int64_t)max);
	struct coll_incident_notice *out = NULL;
	size_t n_out = 0, cap = 0;
	int r;
	*ret = NULL;
	*ret_n = 0;
	/* Several collectors may run this at once: SKIP LOCKED hands each its
	 * own incidents, and the events' primary key fires each event once
	 * whatever happens (SQLite: the one write lock does the same). */
	if (coll_db_kind(s->db) == COLL_DB_PG)
		r = COLL_Q(
			s,
			"SELECT " CLOCK_COLS ", id, cycle, level, snoozed_until, held_event,"
			" customer_id, agent_id FROM incidents WHERE next_event_at <= CAST(? AS"
			" BIGINT) AND live = 1 ORDER BY next_event_at LIMIT CAST(? AS BIGINT) FOR"
			" UPDATE SKIP LOCKED",
			&res, n.s, lim.s);
	else
		r = COLL_Q(s,
			   "SELECT " CLOCK_COLS ", id, cycle, level, snoozed_until, held_event,"
			   " customer_id, agent_id FROM incidents WHERE next_event_at <= CAST(? AS"
			   " BIGINT) AND live = 1 ORDER BY next_event_at LIMIT CAST(? AS BIGINT)",
			   &res, n.s, lim.s);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.rows; i++) {
		int64_t id = coll_s2i(coll_db_val(&res, i, 5)),
			cycle = coll_s2i(coll_db_val(&res, i, 6)),
			level = coll_s2i(coll_db_val(&res, i, 7));
		struct coll_sla_status st;
		const struct coll_tier *tier;
		r = coll_inc_evaluate(s, ctx, id, &res, i, now, &st, &tier);
		if (r < 0)
			goto fail;
		bool snoozed = coll_s2i(coll_db_val(&res, i, 8)) > now;
		/* an opened notice held by a maintenance window goes once it is over */
		const char *held = coll_db_val(&res, i, 9);
		int64_t until = 0;
		if (held && !snoozed) {
			r = coll_inc_window_until(s, coll_db_val(&res, i, 10),
						  coll_db_val(&res, i, 11), now, &until);
			if (r < 0)
				goto fail;
		}
		if (held && !snoozed && !until) {
			struct coll_db_res up;
			r = COLL_Q(
				s,
				"UPDATE incidents SET held_event = NULL WHERE id = ? AND held_event"
				" IS NOT NULL",
				&up, coll_i2s(id).s);
			bool mine = r == 0 && up.changes == 1;
			if (r == 0)
				coll_db_res_free(&up);
			if (mine)
				r = push_notice(s, &out, &n_out, &cap, id, held, 1,
						st.response_target_s, now);
			if (r < 0)
				goto fail;
		}
		for (int b = 0; b < COLL_SLA_EVENT_COUNT && !snoozed; b++) {
			unsigned bit = 1u << b;
			struct coll_db_res ins;
			if (!(st.crossed & bit))
				continue;
			r = COLL_Q(
				s,
				"INSERT INTO incident_events (incident_id, cycle, event, at) VALUES"
				" (?, ?, ?, ?) ON CONFLICT DO NOTHING",
				&ins, coll_i2s(id).s, coll_i2s(cycle).s, coll_sla_event_name(bit),
				n.s);
			if (r < 0)
				goto fail;
			bool fired = ins.changes == 1;
			coll_db_res_free(&ins);
			if (!fired)
				continue;
			int to_level = bit == COLL_SLA_ESCALATE_L2   ? 2
				       : bit == COLL_SLA_ESCALATE_L3 ? 3
								     : (int)level;
			if (to_level > level) {
				level = to_level;
				r = COLL_Q(s, "UPDATE incidents SET level = ? WHERE id = ?", NULL,
					   coll_i2s(level).s, coll_i2s(id).s);
				if (r < 0)
					goto fail;
			}
			json_t *d = json_object();
			if (d)
				json_object_set_new(d, "level", json_integer(to_level));
			r = coll_inc_audit(s, now, &coll_inc_system, coll_sla_event_name(bit), id,
					   NULL, false, d);
			if (r < 0)
				goto fail;
			r = push_notice(
				s, &out, &n_out, &cap, id, coll_sla_event_name(bit), to_level,
				bit & (COLL_SLA_RESOLUTION_WARNING | COLL_SLA_RESOLUTION_BREACH)
					? st.resolution_target_s
					: st.response_target_s,
				now);
			if (r < 0)
				goto fail;
		}
		r = coll_inc_reschedule(s, ctx, id, now);
		if (r < 0)
			goto fail;
		/* a claimed row must move on, or the next claim finds it again */
		r = COLL_Q(s,
			   "UPDATE incidents SET next_event_at = NULL WHERE id = ? AND"
			   " next_event_at <= CAST(? AS BIGINT)",
			   NULL, coll_i2s(id).s, n.s);
		if (r < 0)
			goto fail;
	}
	coll_db_res_free(&res);
	*ret = out;
	*ret_n = n_out;
	return 0;
fail:
	coll_db_res_free(&res);
	coll_incident_notices_free(out, n_out);
	return r;
}

int coll_store_incident_counts(struct coll_store *s, int64_t now, struct coll_incident_counts *ret)
{
	struct coll_db_res res;
	memset(ret, 0, sizeof(*ret));
	int r = coll_sql_query(
		s, "SELECT state, COUNT(*) FROM incidents WHERE live = 1 GROUP BY state", NULL, 0,
		&res);
	if (r < 0)
		return r;
	for (size_t i = 0; i < res.rows; i++) {
		enum coll_incident_state st;
		if (coll_incident_state_parse(coll_db_val(&res, i, 0), &st) == 0)
			ret->by_state[st] = coll_s2i(coll_db_val(&res, i, 1));
	}
	coll_db_res_free(&res);
	r = COLL_Q(s,
		   "SELECT (SELECT COUNT(*) FROM incidents WHERE live = 1 AND breach_at <="
		   " CAST(? AS BIGINT)), (SELECT COUNT(*) FROM incident_events)",
		   &res, coll_i2s(now).s);
	if (r < 0)
		return r;
	ret->breached = coll_s2i(coll_db_val(&res, 0, 0));
	ret->events = coll_s2i(coll_db_val(&res, 0, 1));
	coll_db_res_free(&res);
	return 0;
}
