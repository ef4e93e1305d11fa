/* Incident state machine and SLA clock (incident.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collector/service/incident.h"
#include "collector/service/tiers.h"

static const char *const state_names[COLL_INC_STATE_COUNT] = {
	"open", "acknowledged", "in_progress", "waiting_customer", "resolved", "closed",
};

static const char *const action_names[COLL_ACT_COUNT] = {
	"acknowledge", "assign", "comment", "wait",  "resume", "resolve",
	"close",       "reopen", "snooze",  "raise", "clear",  "recur",
};

static const char *const event_names[COLL_SLA_EVENT_COUNT] = {
	"response_warning", "response_breach",    "escalate_l2",
	"escalate_l3",      "resolution_warning", "resolution_breach",
};

const char *coll_incident_state_name(enum coll_incident_state s)
{
	return (unsigned)s < COLL_INC_STATE_COUNT ? state_names[s] : "unknown";
}

int coll_incident_state_parse(const char *s, enum coll_incident_state *ret)
{
	for (int i = 0; s && i < COLL_INC_STATE_COUNT; i++)
		if (strcmp(s, state_names[i]) == 0) {
			*ret = (enum coll_incident_state)i;
			return 0;
		}
	return -EINVAL;
}

const char *coll_incident_action_name(enum coll_incident_action a)
{
	return (unsigned)a < COLL_ACT_COUNT ? action_names[a] : "unknown";
}

int coll_incident_action_parse(const char *s, enum coll_incident_action *ret)
{
	for (int i = 0; s && i < COLL_ACT_COUNT; i++)
		if (strcmp(s, action_names[i]) == 0) {
			*ret = (enum coll_incident_action)i;
			return 0;
		}
	if (s && strcmp(s, "ack") == 0) {
		*ret = COLL_ACT_ACKNOWLEDGE;
		return 0;
	}
	return -EINVAL;
}

const char *coll_sla_event_name(unsigned bit)
{
	for (int i = 0; i < COLL_SLA_EVENT_COUNT; i++)
		if (bit == 1u << i)
			return event_names[i];
	return "unknown";
}

int coll_sla_event_parse(const char *s, unsigned *ret_bit)
{
	for (int i = 0; s && i < COLL_SLA_EVENT_COUNT; i++)
		if (strcmp(s, event_names[i]) == 0) {
			*ret_bit = 1u << i;
			return 0;
		}
	return -EINVAL;
}

bool coll_incident_state_live(enum coll_incident_state s)
{
	return s != COLL_INC_RESOLVED && s != COLL_INC_CLOSED;
}

bool coll_incident_action_responds(enum coll_incident_action a)
{
	return a == COLL_ACT_ACKNOWLEDGE || a == COLL_ACT_ASSIGN || a == COLL_ACT_WAIT ||
	       a == COLL_ACT_RESOLVE || a == COLL_ACT_CLOSE;
}

bool coll_role_vendor_side(const char *role)
{
	return role && (strcmp(role, "vendor") == 0 || strcmp(role, "support") == 0 ||
			strcmp(role, "vendor_viewer") == 0);
}

bool coll_role_may(const char *role, enum coll_incident_action a)
{
	if (!role || a >= COLL_ACT_RAISE)
		return false;
	if (strcmp(role, "vendor") == 0 || strcmp(role, "support") == 0)
		return true;
	return strcmp(role, "customer_admin") == 0 && a == COLL_ACT_COMMENT;
}

int coll_close_reason_valid(const char *reason)
{
	static const char *const reasons[] = {"false_positive", "accepted_risk", "duplicate"};
	for (size_t i = 0; reason && i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(reason, reasons[i]) == 0)
			return 1;
	return 0;
}

/* N: nothing to do (repeat); X: not allowed; else the new state. */
#define N  (-2)
#define X  (-1)
#define OP COLL_INC_OPEN
#define AK COLL_INC_ACKNOWLEDGED
#define IP COLL_INC_IN_PROGRESS
#define WC COLL_INC_WAITING_CUSTOMER
#define RS COLL_INC_RESOLVED
#define CL COLL_INC_CLOSED
static const signed char transitions[COLL_INC_STATE_COUNT][COLL_ACT_COUNT] = {
	/*          ack assign comment wait resume resolve close reopen snooze raise clear recur */
	[OP] = {AK, IP, OP, WC, N, RS, CL, N, OP, OP, RS, N},
	[AK] = {N, IP, AK, WC, N, RS, CL, N, AK, AK, RS, N},
	[IP] = {N, IP, IP, WC, N, RS, CL, N, IP, IP, RS, N},
	[WC] = {N, IP, WC, N, IP, RS, CL, N, WC, WC, RS, N},
	[RS] = {N, X, RS, X, X, N, CL, OP, X, X, N, OP},
	[CL] = {N, X, CL, X, X, X, N, OP, X, X, N, OP},
};
#undef OP
#undef AK
#undef IP
#undef WC
#undef RS
#undef CL

int coll_incident_transition(enum coll_incident_state from, enum coll_incident_action a,
			     enum coll_incident_state *ret)
{
	if ((unsigned)from >= COLL_INC_STATE_COUNT || (unsigned)a >= COLL_ACT_COUNT)
		return -EINVAL;
	int t = transitions[from][a];
	if (t == X)
		return -EINVAL;
	if (t == N) {
		*ret = from;
		return 1;
	}
	*ret = (enum coll_incident_state)t;
	return 0;
}
#undef N
#undef X

/* ---- SLA clock ------------------------------------------------------------------ */

static int interval_cmp(const void *a, const void *b)
{
	const struct coll_interval *x = a, *y = b;
	return (x->from > y->from) - (x->from < y->from);
}

/* Sorted, merged copy of p (malloc'd; *ret NULL when n == 0). */
static int merge(const struct coll_interval *p, size_t n, struct coll_interval **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	if (n == 0)
		return 0;
	struct coll_interval *m = malloc(n * sizeof(*m));
	if (!m)
		return -ENOMEM;
	memcpy(m, p, n * sizeof(*m));
	qsort(m, n, sizeof(*m), interval_cmp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (m[i].to <= m[i].from)
			continue;
		if (k && m[i].from <= m[k - 1].to) {
			if (m[i].to > m[k - 1].to)
				m[k - 1].to = m[i].to;
		} else {
			m[k++] = m[i];
		}
	}
	*ret = m;
	*ret_n = k;
	return 0;
}

static int64_t used_merged(const struct coll_calendar *cal, int64_t a, int64_t b,
			   const struct coll_interval *m, size_t n)
{
	int64_t u = coll_calendar_elapsed(cal, a, b);
	for (size_t i = 0; i < n; i++) {
		int64_t f = m[i].from > a ? m[i].from : a, t = m[i].to < b ? m[i].to : b;
		if (t > f)
			u -= coll_calendar_elapsed(cal, f, t);
	}
	return u > 0 ? u : 0;
}

int64_t coll_sla_used(const struct coll_calendar *cal, int64_t a, int64_t b,
		      const struct coll_interval *pauses, size_t n)
{
	struct coll_interval *m;
	size_t k;
	if (merge(pauses, n, &m, &k) < 0)
		return coll_calendar_elapsed(cal, a, b);
	int64_t u = used_merged(cal, a, b, m, k);
	free(m);
	return u;
}

/* The instant at which `delta` more clock seconds have run from base,
 * skipping the known pauses (merged). */
static int64_t run_for(const struct coll_calendar *cal, int64_t base, int64_t delta,
		       const struct coll_interval *m, size_t n)
{
	int64_t t = base;
	for (size_t i = 0; i < n && delta >= 0; i++) {
		if (m[i].to <= t)
			continue;
		int64_t end = coll_calendar_add(cal, t, delta);
		if (end <= m[i].from)
			return end;
		delta -= coll_calendar_elapsed(cal, t, m[i].from);
		if (m[i].to == INT64_MAX)
			return 0; /* paused with no known end */
		t = m[i].to;
	}
	return coll_calendar_add(cal, t, delta);
}

int coll_sla_evaluate(const struct coll_calendar *cal, const struct coll_sla_target *target,
		      const struct coll_sla_clock *clock, int64_t now, struct coll_sla_status *ret)
{
	struct coll_sla_status st = {0};
	struct coll_interval *m;
	size_t n;
	if (merge(clock->pauses, clock->n_pauses, &m, &n) < 0)
		return -ENOMEM;
	int64_t open = clock->opened_at;
	st.clock_start = coll_calendar_next_open(cal, open);
	st.response_target_s = target->response_s;
	st.resolution_target_s =
		target->resolution_s == COLL_RESOLUTION_NBD
			? coll_calendar_elapsed(cal, open, coll_calendar_next_day_close(cal, open))
			: target->resolution_s;
	st.resolved = clock->resolved_at != 0;
	/* a resolution nobody answered first is also the response */
	st.responded = clock->responded_at != 0 || st.resolved;
	int64_t resp_end = clock->responded_at ? clock->responded_at
			   : st.resolved       ? clock->resolved_at
					       : now;
	int64_t res_end = st.resolved ? clock->resolved_at : now;
	st.response_used_s = used_merged(cal, open, resp_end, m, n);
	st.resolution_used_s = used_merged(cal, open, res_end, m, n);
	st.response_met = st.response_used_s <= st.response_target_s;
	st.resolution_met = st.resolution_used_s <= st.resolution_target_s;

	int64_t base = now;
	for (size_t i = 0; i < n; i++)
		if (m[i].from <= now && now < m[i].to) {
			st.paused = true;
			base = m[i].to;
		}

	int64_t step = target->step_s > 0 ? target->step_s : target->response_s;
	struct {
		unsigned bit;
		int64_t at_used;
		bool applies;
		int64_t used;
	} thr[] = {
		{COLL_SLA_RESPONSE_WARNING, st.response_target_s * 4 / 5, !st.responded,
		 st.response_used_s},
		{COLL_SLA_RESPONSE_BREACH, st.response_target_s, !st.responded, st.response_used_s},
		{COLL_SLA_ESCALATE_L2, step, !st.responded, st.response_used_s},
		{COLL_SLA_ESCALATE_L3, 2 * step, !st.responded, st.response_used_s},
		{COLL_SLA_RESOLUTION_WARNING, st.resolution_target_s * 4 / 5, !st.resolved,
		 st.resolution_used_s},
		{COLL_SLA_RESOLUTION_BREACH, st.resolution_target_s, !st.resolved,
		 st.resolution_used_s},
	};
	int64_t next_delta = INT64_MAX;
	for (size_t i = 0; i < sizeof(thr) / sizeof(thr[0]); i++) {
		if (!thr[i].applies)
			continue;
		if (thr[i].used >= thr[i].at_used)
			st.crossed |= thr[i].bit;
		else if (thr[i].at_used - thr[i].used < next_delta)
			next_delta = thr[i].at_used - thr[i].used;
	}
	if (next_delta != INT64_MAX && base != INT64_MAX)
		st.next_event_at = run_for(cal, base, next_delta, m, n);

	/* the breach that comes first: the response's while unanswered */
	int64_t used = !st.responded ? st.response_used_s : st.resolution_used_s;
	int64_t tgt = !st.responded ? st.response_target_s : st.resolution_target_s;
	if (!st.resolved) {
		if (used >= tgt)
			st.breach_at = now - (used - tgt);
		else if (base != INT64_MAX)
			st.breach_at = run_for(cal, base, tgt - used, m, n);
	}
	free(m);
	*ret = st;
	return 0;
}

/* ---- maintenance windows ---------------------------------------------------------- */

static const struct coll_tz utc_tz = {.name = "UTC"};

size_t coll_window_expand(const struct coll_window *w, int64_t from, int64_t to,
			  struct coll_interval *out, size_t max)
{
	size_t k = 0;
	if (!w->weekdays) {
		if (w->once_to > from && w->once_from < to && max > 0)
			out[k++] = (struct coll_interval){w->once_from, w->once_to};
		return k;
	}
	const struct coll_tz *tz = w->tz ? w->tz : &utc_tz;
	int64_t back = w->duration_s / 86400 + 1;
	int32_t d0 = coll_tz_day(tz, from) - (int32_t)back, d1 = coll_tz_day(tz, to);
	for (int32_t d = d0; d <= d1 && k < max; d++) {
		int wd = (int)(((int64_t)d % 7 + 7 + 3) % 7);
		if (!(w->weekdays & (1u << wd)))
			continue;
		int64_t s = coll_tz_to_utc(tz, (int64_t)d * 86400 + w->start_s);
		int64_t e = s + w->duration_s;
		if (e > from && s < to)
			out[k++] = (struct coll_interval){s, e};
	}
	return k;
}

bool coll_window_active(const struct coll_window *w, int64_t t)
{
	struct coll_interval iv[4];
	return coll_window_expand(w, t, t + 1, iv, 4) > 0;
}
