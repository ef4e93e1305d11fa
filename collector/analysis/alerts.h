/* Alert rules with hysteresis (docs/alerts.md).
 *
 * OWNER: analytics slice (collector/alerts.[ch]). Pure evaluation, no I/O.
 * The store (collector slice) keeps one open alert per (host, rule, object)
 * under a unique constraint, passes the host's open alerts in, and applies
 * the action of each result in the same transaction:
 *   RAISE      insert the alert, enqueue a notice (state raise)
 *   ESCALATE   update its level, enqueue a notice (state escalate)
 *   DEESCALATE update its level, no notice by default (state deescalate is
 *              available should a channel want it)
 *   CLEAR      close it, enqueue a notice (state clear)
 *   NONE       nothing to notify (the value may still be refreshed)
 *
 * Every rule is a row of a table: direction, raise thresholds for warning
 * and critical, and lower "clear" thresholds that give the hysteresis
 * (index fragmentation: warning above 30, critical above 50, back to warning
 * below 45, cleared below 25). */
#ifndef ERPULSE_COLL_ALERTS_H
#define ERPULSE_COLL_ALERTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/analysis/forecast.h"

enum coll_rule {
	COLL_RULE_INDEX_FRAGMENTATION, /* "index_fragmentation" */
	COLL_RULE_DISK_FULL,           /* "disk_full_forecast" (days, lower is worse) */
	COLL_RULE_FILESYSTEM_USAGE,    /* "filesystem_usage" (disk_usage, inode_usage %) */
	COLL_RULE_XID_WRAPAROUND,      /* "xid_wraparound" (% of wraparound) */
	COLL_RULE_BACKUP_AGE,          /* "backup_age" (hours) */
	COLL_RULE_ERROR_SPIKE,         /* "error_spike" (robust z) */
	COLL_RULE_SECURITY_UPDATES,    /* "security_updates" (days pending) */
	COLL_RULE_AGENT_SILENT,        /* "agent_silent" (intervals without a report) */
	COLL_RULE_CLOCK_SKEW,          /* "clock_skew" (seconds, absolute) */
	COLL_RULE_COUNT,
};
const char *coll_rule_name(enum coll_rule r);
int coll_rule_parse(const char *name, enum coll_rule *ret); /* 0 or -EINVAL */

/* Open alert levels; NONE = no open alert. Order matters (NONE < WARNING < CRITICAL). */
enum coll_alert_level {
	COLL_LEVEL_NONE,
	COLL_LEVEL_WARNING,
	COLL_LEVEL_CRITICAL,
};
const char *coll_alert_level_name(enum coll_alert_level l); /* "none"|"warning"|"critical" */
int coll_alert_level_parse(const char *s, enum coll_alert_level *ret);

enum coll_alert_action {
	COLL_ACTION_NONE,
	COLL_ACTION_RAISE,
	COLL_ACTION_ESCALATE,
	COLL_ACTION_DEESCALATE,
	COLL_ACTION_CLEAR,
};
const char *coll_alert_action_name(enum coll_alert_action a); /* "none"|"raise"|... */
/* True for the actions that send a notice: raise, escalate, clear. */
bool coll_alert_action_notifies(enum coll_alert_action a);

/* One row of the rule table (exported for docs, tests and the API). */
struct coll_rule_def {
	enum coll_rule rule;
	const char *name;
	const char *unit;
	bool lower_is_worse; /* disk_full_forecast: fewer days is worse */
	double warn_raise;   /* warning when value > this (< when lower_is_worse) */
	double crit_raise;   /* critical when value > this; NAN = no critical level */
	double warn_clear;   /* an open alert clears when value < this (> when lower) */
	double crit_clear;   /* an open critical goes back to warning below this */
	const char *summary; /* one line for docs/alerts.md */
};
const struct coll_rule_def *coll_rule_get(enum coll_rule r);

/* The level a rule's value maps to given the currently open level
 * (hysteresis). NAN value = not measurable now: keeps `open`. */
enum coll_alert_level coll_rule_level(enum coll_rule r, double value, enum coll_alert_level open);
/* The transition from the open level to the next one. */
enum coll_alert_action coll_alert_transition(enum coll_alert_level open,
					     enum coll_alert_level next);

/* An alert currently open for this host, as the store has it. Borrowed. */
struct coll_open_alert {
	enum coll_rule rule;
	const char *object;
	enum coll_alert_level level;
};

struct coll_alert_input {
	const json_t *report; /* validated erpulse.report.v1 (borrowed), may be NULL
				 for a pure dead-man check */
	const struct coll_object_forecast *forecasts; /* may be NULL */
	size_t n_forecasts;
	const struct coll_open_alert *open; /* this host's open alerts, may be NULL */
	size_t n_open;
	int64_t received_at; /* when this report arrived (epoch s); clock skew uses
				generated_at vs this */
	int64_t now;         /* evaluation time (epoch s) */
	/* Dead man: time of the last accepted report and the agent's interval.
	 * With a report, the report itself proves liveness (open agent_silent
	 * alerts clear). Without one (report NULL), silence = (now - last_seen) /
	 * interval_s intervals. 0 = unknown (rule skipped). */
	int64_t last_seen;
	int64_t interval_s;
	/* When the host's security updates were first seen pending (epoch s),
	 * as the store remembers it; 0 = unknown (then the finding's own
	 * "pending_days" or "age_days" field is used, else 0 days). */
	int64_t security_pending_since;
};

/* For security_pending_since: the time of the first sample of the latest
 * unbroken run of samples with value > 0 (e.g. the history of the
 * "security_updates:<object>" count), or 0 when the latest sample is 0 or
 * there are none. Order of history does not matter. */
int64_t coll_pending_since(const struct coll_sample *history, size_t n);

/* One evaluated (rule, object). Strings owned by the result list. */
struct coll_alert_result {
	enum coll_rule rule;
	char *object;
	enum coll_alert_level open;  /* level before (from input->open) */
	enum coll_alert_level level; /* level after */
	enum coll_alert_action action;
	double value; /* NAN when the object vanished (clear by absence) */
	char *unit;
	char *message;     /* one sentence for humans */
	char *remediation; /* may be NULL */
};

struct coll_alert_results {
	size_t n;
	struct coll_alert_result *items;
};

/* Evaluates every rule. Results hold every (rule, object) whose level or
 * open level is not NONE: new and open alerts, and clears for open alerts
 * whose object no longer appears (no finding, no forecast for it) while its
 * source probe ran ok (a probe that errored or was skipped leaves its
 * alerts as they are; a forecast with status insufficient keeps them too).
 * With report NULL only agent_silent is evaluated (the dead-man sweep).
 * *ret is the caller's (coll_alert_results_free). 0, -EINVAL or -ENOMEM. */
int coll_alerts_evaluate(const struct coll_alert_input *in, struct coll_alert_results *ret);
void coll_alert_results_free(struct coll_alert_results *r);

/* {rule, object, level, open, action, value, unit, message, remediation}. */
json_t *coll_alert_result_json(const struct coll_alert_result *a);

#endif
