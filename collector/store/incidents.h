/* The store's incident queries (docs/incidents.md): incidents opened and
 * resolved by alerts, people's actions with their audit trail, the triage
 * queue, SLA months and the escalation claim. Customer isolation is in the
 * queries: an incident outside the caller's scope is -ENOENT, like a host.
 * The rules (states, clocks, figures) are collector/service's; this file
 * persists what they decide. Same errors as store.h. */
#ifndef COLL_STORE_INCIDENTS_H
#define COLL_STORE_INCIDENTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/service/incident.h"
#include "collector/service/tiers.h"
#include "collector/store/store.h"

/* What the incident rules need from the configuration. */
struct coll_incident_ctx {
	const struct coll_tiers *tiers;
	int64_t reopen_window_s; /* a finding back within this reopens its incident */
};

/* ---- from alerts (inside the ingest transaction) ------------------------------ */

enum coll_alert_change {
	COLL_ALERT_RAISED,
	COLL_ALERT_UPDATED, /* level or value changed while open */
	COLL_ALERT_CLEARED,
};

struct coll_alert_event {
	enum coll_alert_change change;
	const char *agent_id, *customer_id;
	const char *rule, *object, *severity, *unit, *message;
	double value;       /* NAN = unknown */
	int64_t report_seq; /* the report that raised, updated or cleared it */
	int64_t now;
};

enum coll_incident_change {
	COLL_INCIDENT_NONE,
	COLL_INCIDENT_OPENED,
	COLL_INCIDENT_JOINED,
	COLL_INCIDENT_REOPENED,   /* a recurrence */
	COLL_INCIDENT_RESOLVED,   /* verified by a later report */
	COLL_INCIDENT_SUPPRESSED, /* closed as an accepted risk until a later date */
};
const char *coll_incident_change_name(enum coll_incident_change c);

/* Opens, joins, reopens or resolves the incident of e's (host, rule, object).
 * *ret_id = its id (0 when none), *ret_change what happened. 0 or -errno. */
int coll_store_incident_on_alert(struct coll_store *s, const struct coll_incident_ctx *ctx,
				 const struct coll_alert_event *e, int64_t *ret_id,
				 enum coll_incident_change *ret_change);

/* ---- people's actions ------------------------------------------------------------- */

struct coll_actor {
	const char *name;    /* user name, "erpulse" for the system */
	const char *role;    /* users.role text */
	const char *address; /* client address, may be NULL (CLI: "cli") */
};

struct coll_action_request {
	enum coll_incident_action action;
	const char *assignee;  /* assign */
	const char *text;      /* comment body; reason text for close/snooze */
	bool customer_visible; /* comment */
	const char *reason;    /* close: false_positive | accepted_risk | duplicate */
	int64_t until;         /* snooze end; accepted_risk end (0 = none) */
};

/* Applies req to incident id within scope, in its own transaction, and
 * appends the audit row. 0 done, 1 nothing to do (a repeat: idempotent),
 * -ENOENT not found or out of scope, -EPERM the role may not, -EINVAL a bad
 * request, -ECANCELED not allowed in this state (or a reopen while another
 * incident of the same finding is live); s->err says which. */
int coll_store_incident_act(struct coll_store *s, const struct coll_incident_ctx *ctx,
			    const struct coll_scope *scope, int64_t id,
			    const struct coll_actor *who, const struct coll_action_request *req,
			    int64_t now);

/* ---- reads ------------------------------------------------------------------------- */

struct coll_incident_filter {
	const char *state;       /* NULL = live ones (triage queue), "all", or a state */
	const char *customer_id; /* NULL = every customer in scope */
	int64_t limit;           /* 0 = 1000 */
};

/* [{id, customer_id, customer, agent_id, hostname, rule, object, severity,
 *   state, tier, opened_at, first_opened_at, acknowledged_at, acknowledged_by,
 *   assignee, resolved_at, verified, before, after, resolved_seq, closed_at,
 *   close_reason, recurrences, level, breach_at, snoozed_until, updated_at}]
 * live ones in triage order: time to breach, then severity, then tier. */
int coll_store_incidents(struct coll_store *s, const struct coll_scope *scope,
			 const struct coll_incident_filter *f, json_t **ret);
/* A keyset page of incidents (docs/api.md "Paging"): page->state NULL or
 * "live" the triage queue (sort "triage"), else a state or "all" (sort
 * "opened_at", newest first); sorts: triage, opened_at, updated_at. */
int coll_store_incidents_page(struct coll_store *s, const struct coll_scope *scope,
			      struct coll_page *page, json_t **ret);
/* One incident with "timeline": [{at, actor, role, action, visibility,
 * detail}], oldest first. internal = false (customer roles) leaves out
 * internal entries. -ENOENT when missing or out of scope. */
int coll_store_incident(struct coll_store *s, const struct coll_scope *scope, int64_t id,
			bool internal, json_t **ret);
/* The customer's service tier. -ENOENT unknown customer, -EINVAL unknown tier. */
int coll_store_customer_tier(struct coll_store *s, const struct coll_incident_ctx *ctx,
			     const char *customer_id, const char *tier);

/* SLA figures of the incidents opened in [from, to) (scope and customer_id
 * filter): {from, to, overall: {...}, tiers: {name: {...}}} with the fields of
 * struct coll_sla_figures. */
int coll_store_sla(struct coll_store *s, const struct coll_incident_ctx *ctx,
		   const struct coll_scope *scope, const char *customer_id, int64_t from,
		   int64_t to, int64_t now, json_t **ret);

/* ---- escalation ---------------------------------------------------------------- */

/* A notice the escalation owes (event: an SLA event name, "opened",
 * "reopened" or "resolved"); level = the escalation level whose channels
 * receive it (1..3). Strings owned by the array (coll_incident_notices_free). */
struct coll_incident_notice {
	int64_t incident_id;
	char event[32];
	int level;
	char *customer_id, *customer, *hostname, *rule, *object, *severity, *tier;
	double before, after;
	int64_t report_seq;
	int64_t target_s;
	int64_t at;
};
void coll_incident_notices_free(struct coll_incident_notice *v, size_t n);

/* Inside the caller's transaction: claims up to max incidents whose next
 * SLA event is due (PostgreSQL: FOR UPDATE SKIP LOCKED), records each event
 * that has crossed its threshold once per incident cycle (a primary key:
 * several collectors on one database fire it once), and returns the
 * notices owed, for the caller to enqueue before it commits. */
int coll_store_incidents_escalate(struct coll_store *s, const struct coll_incident_ctx *ctx,
				  int64_t now, size_t max, struct coll_incident_notice **ret,
				  size_t *ret_n);
/* Notice of one incident event (opened, reopened, resolved), for the ingest
 * path: *ret malloc'd (one element). */
int coll_store_incident_notice(struct coll_store *s, int64_t id, const char *event,
			       struct coll_incident_notice **ret);

/* ---- maintenance windows (windows.c) --------------------------------------------- */

/* A window: weekly (weekdays != 0: from start_s local time for duration_s,
 * bit 0 = Monday) or one-off [once_from, once_to); of one host (agent_id)
 * or of every host of the customer (NULL). Approved windows pause the SLA
 * clocks of the incidents they cover (and so their warnings, breaches and
 * escalations). */
struct coll_window_req {
	const char *customer_id, *agent_id;
	uint8_t weekdays;
	int32_t start_s;
	int64_t duration_s;
	int64_t once_from, once_to;
	const char *time_zone; /* NULL = +08:00 */
	const char *reason;
	bool approved; /* created approved (a vendor admin for the customer) */
};
/* 0 with *ret_id, -EINVAL (s->err) for a bad window or time zone. */
int coll_store_window_add(struct coll_store *s, const struct coll_window_req *w,
			  const struct coll_actor *who, int64_t now, int64_t *ret_id);
/* Approves window id (customer admins: their own customer's). 0, 1 (already
 * approved), -ENOENT (missing or out of scope), -EPERM (the role may not). */
int coll_store_window_approve(struct coll_store *s, const struct coll_scope *scope, int64_t id,
			      const struct coll_actor *who, int64_t now);
/* [{id, customer_id, agent_id, weekdays, start_s, duration_s, once_from,
 *   once_to, time_zone, reason, created_by, created_at, approved_by,
 *   approved_at}] */
int coll_store_windows(struct coll_store *s, const struct coll_scope *scope,
		       const char *customer_id, json_t **ret);

/* Holds incident id's `event` notice (opened, reopened) while an approved
 * maintenance window covers it: *ret_held = true and the escalation pass
 * sends it when the window ends. 0 or -errno. */
int coll_store_incident_hold(struct coll_store *s, int64_t id, const char *event, int64_t now,
			     bool *ret_held);

/* Counts for /metrics: live incidents by state and breached ones. */
struct coll_incident_counts {
	int64_t by_state[COLL_INC_STATE_COUNT];
	int64_t breached; /* live incidents past their breach time */
	int64_t events;   /* SLA events recorded, all time */
};
int coll_store_incident_counts(struct coll_store *s, int64_t now, struct coll_incident_counts *ret);

#endif
