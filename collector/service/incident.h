/* Incidents (docs/incidents.md): the state machine and the SLA clock of one
 * incident. Pure: the store keeps the rows, the escalation worker and the
 * API call these to decide; no clock is read here (callers pass `now`, which
 * tests inject).
 *
 *   open -> acknowledged -> in_progress <-> waiting_customer
 *     any live state -> resolved (verified by a later report, or by a person)
 *     any live state -> closed (a person, with a reason)
 *     resolved | closed -> open (reopen by a person, or a recurrence)
 */
#ifndef COLL_SERVICE_INCIDENT_H
#define COLL_SERVICE_INCIDENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/service/calendar.h"

enum coll_incident_state {
	COLL_INC_OPEN,
	COLL_INC_ACKNOWLEDGED,
	COLL_INC_IN_PROGRESS,
	COLL_INC_WAITING_CUSTOMER,
	COLL_INC_RESOLVED,
	COLL_INC_CLOSED,
	COLL_INC_STATE_COUNT,
};

enum coll_incident_action {
	COLL_ACT_ACKNOWLEDGE,
	COLL_ACT_ASSIGN,
	COLL_ACT_COMMENT,
	COLL_ACT_WAIT,   /* waiting for the customer: the clock pauses */
	COLL_ACT_RESUME, /* back from waiting_customer */
	COLL_ACT_RESOLVE,
	COLL_ACT_CLOSE,
	COLL_ACT_REOPEN,
	COLL_ACT_SNOOZE,
	/* the system's own */
	COLL_ACT_RAISE, /* an alert joined the incident */
	COLL_ACT_CLEAR, /* a later report cleared the finding: verified resolution */
	COLL_ACT_RECUR, /* the finding came back within the reopen window */
	COLL_ACT_COUNT,
};

const char *coll_incident_state_name(enum coll_incident_state s);
int coll_incident_state_parse(const char *s, enum coll_incident_state *ret);
const char *coll_incident_action_name(enum coll_incident_action a);
int coll_incident_action_parse(const char *s, enum coll_incident_action *ret);
/* resolved and closed are final until a reopen. */
bool coll_incident_state_live(enum coll_incident_state s);
/* A person's action that counts as the first response (acknowledge, assign,
 * wait, resolve, close; a comment does not: it may be a question). */
bool coll_incident_action_responds(enum coll_incident_action a);

/* The state after action a in state from: 0 (*ret set; may equal from for
 * comment, snooze, assign), 1 = nothing to do (idempotent repeat: *ret =
 * from), -EINVAL = not allowed in this state (409 to clients). */
int coll_incident_transition(enum coll_incident_state from, enum coll_incident_action a,
			     enum coll_incident_state *ret);

/* Roles (users.role): "vendor" (vendor admin), "support", "vendor_viewer",
 * "viewer" (customer viewer) and "customer_admin". Vendor-side roles see
 * every customer and internal comments. */
bool coll_role_vendor_side(const char *role);
/* May role take action a? Support and vendor admins act; a customer admin
 * comments (customer-visible); viewers only read. */
bool coll_role_may(const char *role, enum coll_incident_action a);

/* Close reasons. */
int coll_close_reason_valid(const char *reason); /* 1 or 0 */

/* ---- SLA clock -------------------------------------------------------------- */

/* [from, to); to = INT64_MAX while it lasts. */
struct coll_interval {
	int64_t from, to;
};

/* Event bits: each fires once per incident cycle (a reopen starts a new one). */
enum coll_sla_event {
	COLL_SLA_RESPONSE_WARNING = 1 << 0,   /* 80% of the response target */
	COLL_SLA_RESPONSE_BREACH = 1 << 1,    /* 100% */
	COLL_SLA_ESCALATE_L2 = 1 << 2,        /* one escalation step unacknowledged */
	COLL_SLA_ESCALATE_L3 = 1 << 3,        /* two steps */
	COLL_SLA_RESOLUTION_WARNING = 1 << 4, /* 80% of the resolution target */
	COLL_SLA_RESOLUTION_BREACH = 1 << 5,  /* 100% */
};
#define COLL_SLA_EVENT_COUNT 6
const char *coll_sla_event_name(unsigned bit); /* "response_warning", ... */
int coll_sla_event_parse(const char *s, unsigned *ret_bit);

struct coll_sla_target {
	int64_t response_s;
	int64_t resolution_s; /* COLL_RESOLUTION_NBD (-1) = next business day */
	int64_t step_s;       /* escalation step; 0 = response_s */
};

struct coll_sla_clock {
	int64_t opened_at;
	int64_t responded_at;               /* 0 = not yet */
	int64_t resolved_at;                /* 0 = not yet (resolved or closed) */
	const struct coll_interval *pauses; /* waiting_customer, maintenance windows */
	size_t n_pauses;
};

struct coll_sla_status {
	int64_t clock_start;       /* when the clock first ran */
	int64_t response_target_s; /* clock seconds */
	int64_t resolution_target_s;
	int64_t response_used_s;   /* until the response, or now */
	int64_t resolution_used_s; /* until the resolution, or now */
	bool responded, resolved, paused;
	bool response_met, resolution_met; /* within target (so far, while open) */
	unsigned crossed;                  /* events whose threshold is reached and still apply */
	int64_t next_event_at;             /* wall time of the next threshold; 0 = none or paused */
	int64_t breach_at; /* next breach (response first), 0 = none; triage order */
};

/* Clock seconds of [a, b) on cal minus the pauses (merged: overlapping
 * pauses count once). pauses are sorted and merged in a scratch copy. */
int64_t coll_sla_used(const struct coll_calendar *cal, int64_t a, int64_t b,
		      const struct coll_interval *pauses, size_t n);

/* Evaluates the clock at now. 0 or -ENOMEM. */
int coll_sla_evaluate(const struct coll_calendar *cal, const struct coll_sla_target *target,
		      const struct coll_sla_clock *clock, int64_t now, struct coll_sla_status *ret);

/* ---- maintenance windows ----------------------------------------------------- */

/* Weekly (weekdays != 0: from start_s local on those days, for duration_s)
 * or one-off ([once_from, once_to), epoch seconds). */
struct coll_window {
	uint8_t weekdays; /* bit 0 = Monday */
	int32_t start_s;  /* seconds after local midnight */
	int64_t duration_s;
	int64_t once_from, once_to;
	const struct coll_tz *tz; /* the customer's; NULL = UTC */
};
/* Occurrences of w overlapping [from, to), appended to out (at most max;
 * returns how many were written). */
size_t coll_window_expand(const struct coll_window *w, int64_t from, int64_t to,
			  struct coll_interval *out, size_t max);
/* Is t inside an occurrence of w? */
bool coll_window_active(const struct coll_window *w, int64_t t);

#endif
