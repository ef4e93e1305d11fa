/* What the store's incident files (incidents.c, incidents_read.c,
 * incidents_escalate.c, windows.c) share, and nobody else. */
#ifndef COLL_STORE_INCIDENTS_INT_H
#define COLL_STORE_INCIDENTS_INT_H

#include <stdint.h>

#include "collector/service/incident.h"
#include "collector/store/incidents.h"
#include "collector/store/sql.h"

#define SYSTEM_ACTOR "erpulse"
/* an incident's clock columns, in the order coll_inc_evaluate reads them */
#define CLOCK_COLS "tier, severity, opened_at, responded_at, resolved_at"

extern const struct coll_actor coll_inc_system;

/* The tier called name, else the default one; *ret_rank its index (may be NULL). */
const struct coll_tier *coll_inc_tier(const struct coll_incident_ctx *ctx, const char *name,
				      int *ret_rank);
void coll_inc_target(const struct coll_tier *t, const char *severity, struct coll_sla_target *ret);
/* Appends an audit row; detail (may be NULL) is consumed. */
int coll_inc_audit(struct coll_store *s, int64_t now, const struct coll_actor *who,
		   const char *action, int64_t incident_id, const char *customer_id,
		   bool customer_visible, json_t *detail);
/* The pauses of incident id (waiting for the customer, approved maintenance
 * windows up to now + 35 days). *ret malloc'd. */
int coll_inc_pauses(struct coll_store *s, int64_t id, int64_t now, struct coll_interval **ret,
		    size_t *ret_n);
/* The SLA clock of the incident row res[row] (CLOCK_COLS first) at now. */
int coll_inc_evaluate(struct coll_store *s, const struct coll_incident_ctx *ctx, int64_t id,
		      const struct coll_db_res *res, size_t row, int64_t now,
		      struct coll_sla_status *ret, const struct coll_tier **ret_tier);
/* Recomputes breach_at, triage_at and next_event_at of id after a change. */
int coll_inc_reschedule(struct coll_store *s, const struct coll_incident_ctx *ctx, int64_t id,
			int64_t now);
/* sql with the id as its one parameter -> its row, or -ENOENT. */
int coll_inc_one_row(struct coll_store *s, const char *sql, int64_t id, struct coll_db_res *res);
/* s->err = what; -EINVAL. */
int coll_inc_bad_request(struct coll_store *s, const char *what);

/* ---- maintenance windows (windows.c) -------------------------------------------- */

/* The approved windows of some customers, loaded once. */
struct coll_window_set {
	size_t n;
	struct coll_window *v;
	char (*customer)[COLL_ID_SIZE];
	char (*agent)[COLL_ID_SIZE]; /* "" = every host of the customer */
	struct coll_tz *tz;
};
/* The approved windows of customer_id (NULL = every customer). */
int coll_window_set_load(struct coll_store *s, const char *customer_id,
			 struct coll_window_set *ret);
void coll_window_set_free(struct coll_window_set *w);
/* Appends the occurrences of the windows that cover (customer, agent) within
 * [from, to) to *v (grown with realloc). 0 or -ENOMEM. */
int coll_window_set_pauses(const struct coll_window_set *w, const char *customer_id,
			   const char *agent_id, int64_t from, int64_t to, struct coll_interval **v,
			   size_t *n);

/* The end of the approved maintenance window covering (customer, agent)
 * at now, in *ret_until; 0 when none covers it. */
int coll_inc_window_until(struct coll_store *s, const char *customer_id, const char *agent_id,
			  int64_t now, int64_t *ret_until);

#endif
