/* Maintenance windows (incidents.h, incidents_int.h): stored, approved, and
 * expanded into the pauses of the SLA clocks they cover. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/calendar.h"
#include "collector/store/incidents.h"
#include "collector/store/incidents_int.h"
#include "collector/store/sql.h"
#include "erpulse/util.h"

#define DEFAULT_TZ  "+08:00"
#define WINDOWS_MAX 10000

void coll_window_set_free(struct coll_window_set *w)
{
	if (!w)
		return;
	for (size_t i = 0; w->tz && i < w->n; i++)
		coll_tz_free(&w->tz[i]);
	free(w->v);
	free(w->customer);
	free(w->agent);
	free(w->tz);
	memset(w, 0, sizeof(*w));
}

int coll_window_set_load(struct coll_store *s, const char *customer_id, struct coll_window_set *ret)
{
	struct coll_db_res res;
	struct coll_window_set w = {0};
	char err[256];
	memset(ret, 0, sizeof(*ret));
	int r = COLL_Q(s,
		       "SELECT customer_id, agent_id, weekdays, start_s, duration_s, once_from,"
		       " once_to, time_zone FROM maintenance_windows WHERE approved_at IS NOT NULL"
		       " AND (CAST(? AS TEXT) IS NULL OR customer_id = ?) LIMIT 10000",
		       &res, customer_id, customer_id);
	if (r < 0 || res.rows == 0)
		goto out;
	w.v = calloc(res.rows, sizeof(*w.v));
	w.customer = calloc(res.rows, sizeof(*w.customer));
	w.agent = calloc(res.rows, sizeof(*w.agent));
	w.tz = calloc(res.rows, sizeof(*w.tz));
	if (!w.v || !w.customer || !w.agent || !w.tz) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < res.rows; i++) {
		const char *tz = coll_db_val(&res, i, 7);
		/* a zone that no longer loads (tzdata removed): the default */
		if (coll_tz_load(tz ? tz : DEFAULT_TZ, NULL, &w.tz[w.n], err, sizeof(err)) < 0)
			coll_tz_load(DEFAULT_TZ, NULL, &w.tz[w.n], err, sizeof(err));
		coll_copy_id(w.customer[w.n], coll_db_val(&res, i, 0));
		coll_copy_id(w.agent[w.n], coll_db_val(&res, i, 1));
		w.v[w.n] = (struct coll_window){
			.weekdays = (uint8_t)coll_s2i(coll_db_val(&res, i, 2)),
			.start_s = (int32_t)coll_s2i(coll_db_val(&res, i, 3)),
			.duration_s = coll_s2i(coll_db_val(&res, i, 4)),
			.once_from = coll_s2i(coll_db_val(&res, i, 5)),
			.once_to = coll_s2i(coll_db_val(&res, i, 6)),
		};
		w.n++;
	}
	for (size_t i = 0; i < w.n; i++)
		w.v[i].tz = &w.tz[i];
	*ret = w;
	memset(&w, 0, sizeof(w));
out:
	coll_window_set_free(&w);
	coll_db_res_free(&res);
	return r;
}

int coll_window_set_pauses(const struct coll_window_set *w, const char *customer_id,
			   const char *agent_id, int64_t from, int64_t to, struct coll_interval **v,
			   size_t *n)
{
	if (to <= from)
		return 0;
	size_t cap = (size_t)((to - from) / 86400) + 8;
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->customer[i], customer_id ? customer_id : "") != 0 ||
		    (w->agent[i][0] && (!agent_id || strcmp(w->agent[i], agent_id) != 0)))
			continue;
		struct coll_interval *g = realloc(*v, (*n + cap) * sizeof(**v));
		if (!g)
			return -ENOMEM;
		*v = g;
		*n += coll_window_expand(&w->v[i], from, to, *v + *n, cap);
	}
	return 0;
}

int coll_inc_window_until(struct coll_store *s, const char *customer_id, const char *agent_id,
			  int64_t now, int64_t *ret_until)
{
	struct coll_window_set ws;
	struct coll_interval *v = NULL;
	size_t n = 0;
	*ret_until = 0;
	int r = coll_window_set_load(s, customer_id, &ws);
	if (r == 0)
		r = coll_window_set_pauses(&ws, customer_id, agent_id, now, now + 1, &v, &n);
	for (size_t i = 0; r == 0 && i < n; i++)
		if (v[i].from <= now && v[i].to > *ret_until)
			*ret_until = v[i].to;
	free(v);
	coll_window_set_free(&ws);
	return r;
}

int coll_store_incident_hold(struct coll_store *s, int64_t id, const char *event, int64_t now,
			     bool *ret_held)
{
	struct coll_db_res res;
	int64_t until;
	*ret_held = false;
	int r = coll_inc_one_row(s, "SELECT customer_id, agent_id FROM incidents WHERE id = ?", id,
				 &res);
	if (r < 0)
		return r;
	r = coll_inc_window_until(s, coll_db_val(&res, 0, 0), coll_db_val(&res, 0, 1), now, &until);
	coll_db_res_free(&res);
	if (r < 0 || !until)
		return r;
	/* the escalation pass sends it once the window is over */
	r = COLL_Q(s,
		   "UPDATE incidents SET held_event = ?, next_event_at = CASE WHEN next_event_at IS"
		   " NULL OR next_event_at > CAST(? AS BIGINT) THEN CAST(? AS BIGINT) ELSE"
		   " next_event_at END WHERE id = ?",
		   NULL, event, coll_i2s(until).s, coll_i2s(until).s, coll_i2s(id).s);
	*ret_held = r == 0;
	return r;
}

int coll_store_window_add(struct coll_store *s, const struct coll_window_req *w,
			  const struct coll_actor *who, int64_t now, int64_t *ret_id)
{
	struct coll_tz tz;
	char err[256];
	bool weekly = w->weekdays != 0;
	if (weekly ? (w->start_s < 0 || w->start_s >= 86400 || w->duration_s <= 0 ||
		      w->duration_s > 7 * 86400 || w->weekdays > 127)
		   : w->once_to <= w->once_from || w->once_to - w->once_from > 366 * 86400)
		return coll_inc_bad_request(s,
					    "a window is weekly (days, start, a duration up to 7 "
					    "days) or one-off (from < to, at most a year)");
	if (coll_tz_load(w->time_zone ? w->time_zone : DEFAULT_TZ, NULL, &tz, err, sizeof(err)) < 0)
		return coll_inc_bad_request(s, err);
	coll_tz_free(&tz);
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now), days = coll_i2s(w->weekdays), st = coll_i2s(w->start_s),
			d = coll_i2s(w->duration_s), f = coll_i2s(w->once_from),
			t = coll_i2s(w->once_to);
	int r = COLL_Q(s,
		       "INSERT INTO maintenance_windows (customer_id, agent_id, weekdays, start_s,"
		       " duration_s, once_from, once_to, time_zone, reason, created_by, created_at,"
		       " approved_by, approved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
		       " RETURNING id",
		       &res, w->customer_id, w->agent_id, days.s, weekly ? st.s : NULL,
		       weekly ? d.s : NULL, weekly ? NULL : f.s, weekly ? NULL : t.s,
		       w->time_zone ? w->time_zone : DEFAULT_TZ, w->reason, who->name, n.s,
		       w->approved ? who->name : NULL, w->approved ? n.s : NULL);
	if (r < 0)
		return r;
	*ret_id = coll_s2i(coll_db_val(&res, 0, 0));
	coll_db_res_free(&res);
	json_t *detail =
		json_pack("{s:I,s:b}", "window", (json_int_t)*ret_id, "approved", w->approved);
	r = coll_inc_audit(s, now, who, "window_add", 0, w->customer_id, true, detail);
	/* the clocks of the customer's live incidents are looked at again */
	if (r == 0 && w->approved)
		r = COLL_Q(
			s,
			"UPDATE incidents SET next_event_at = ? WHERE customer_id = ? AND live = 1",
			NULL, n.s, w->customer_id);
	return r;
}

int coll_store_window_approve(struct coll_store *s, const struct coll_scope *scope, int64_t id,
			      const struct coll_actor *who, int64_t now)
{
	struct coll_db_res res;
	struct coll_num n = coll_i2s(now), i = coll_i2s(id);
	if (!who->role || (strcmp(who->role, "customer_admin") != 0 &&
			   strcmp(who->role, "vendor") != 0 && strcmp(who->role, "support") != 0)) {
		snprintf(s->err, sizeof(s->err), "role %s may not approve a maintenance window",
			 who->role ? who->role : "?");
		return -EPERM;
	}
	int r = COLL_Q(s,
		       "SELECT customer_id, approved_at FROM maintenance_windows WHERE id = ? AND"
		       " (CAST(? AS TEXT) IS NULL OR customer_id = ?)",
		       &res, i.s, scope->customer_id, scope->customer_id);
	if (r < 0)
		return r;
	if (res.rows == 0) {
		coll_db_res_free(&res);
		return -ENOENT;
	}
	char customer[COLL_ID_SIZE];
	coll_copy_id(customer, coll_db_val(&res, 0, 0));
	bool done = coll_db_val(&res, 0, 1) != NULL;
	coll_db_res_free(&res);
	if (done)
		return 1;
	r = COLL_Q(
		s,
		"UPDATE maintenance_windows SET approved_by = ?, approved_at = ? WHERE id = ? AND"
		" approved_at IS NULL",
		NULL, who->name, n.s, i.s);
	if (r == 0)
		r = coll_inc_audit(s, now, who, "window_approve", 0, customer, true,
				   json_pack("{s:I}", "window", (json_int_t)id));
	if (r == 0)
		r = COLL_Q(
			s,
			"UPDATE incidents SET next_event_at = ? WHERE customer_id = ? AND live = 1",
			NULL, n.s, customer);
	return r;
}

int coll_store_windows(struct coll_store *s, const struct coll_scope *scope,
		       const char *customer_id, json_t **ret)
{
	static const char *const names[] = {
		"id",         "customer_id", "agent_id",    "weekdays",    "start_s",
		"duration_s", "once_from",   "once_to",     "time_zone",   "reason",
		"created_by", "created_at",  "approved_by", "approved_at",
	};
	struct coll_db_res res;
	int r = COLL_Q(s,
		       "SELECT id, customer_id, agent_id, weekdays, start_s, duration_s, once_from,"
		       " once_to, time_zone, reason, created_by, created_at, approved_by,"
		       " approved_at FROM maintenance_windows WHERE (CAST(? AS TEXT) IS NULL OR"
		       " customer_id = ?) AND (CAST(? AS TEXT) IS NULL OR customer_id = ?) ORDER BY"
		       " id",
		       &res, scope->customer_id, scope->customer_id, customer_id, customer_id);
	if (r < 0)
		return r;
	r = coll_rows_json(&res, names, "issiiiiisssisi", ret);
	coll_db_res_free(&res);
	return r;
}
