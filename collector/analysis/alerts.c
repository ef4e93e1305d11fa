/* Alert rules: one table row per rule, a generic hysteresis level function,
 * and the evaluation of a report (+ forecasts) against the table.
 * docs/alerts.md is the human version of rule_table[]. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "erpulse/util.h"

#define MIN_INDEX_PAGES 1000 /* smaller indexes never alert (DESIGN.md) */

static const struct coll_rule_def rule_table[COLL_RULE_COUNT] = {
	[COLL_RULE_INDEX_FRAGMENTATION] =
		{
			.rule = COLL_RULE_INDEX_FRAGMENTATION,
			.name = "index_fragmentation",
			.unit = "%",
			.warn_raise = 30,
			.crit_raise = 50,
			.warn_clear = 25,
			.crit_clear = 45,
			.summary =
				"index of at least 1000 pages with more than 30% wasted leaf space "
				"(PostgreSQL) or logical fragmentation (SQL Server)",
		},
	[COLL_RULE_DISK_FULL] =
		{
			.rule = COLL_RULE_DISK_FULL,
			.name = "disk_full_forecast",
			.unit = "days",
			.lower_is_worse = true,
			.warn_raise = 30,
			.crit_raise = 7,
			.warn_clear = 35,
			.crit_clear = 9,
			.summary =
				"filesystem (bytes or inodes) forecast to be full within 30 days",
		},
	[COLL_RULE_FILESYSTEM_USAGE] =
		{
			.rule = COLL_RULE_FILESYSTEM_USAGE,
			.name = "filesystem_usage",
			.unit = "%",
			.warn_raise = 90,
			.crit_raise = 95,
			.warn_clear = 88,
			.crit_clear = 93,
			.summary = "filesystem more than 90% full (bytes or inodes)",
		},
	[COLL_RULE_XID_WRAPAROUND] =
		{
			.rule = COLL_RULE_XID_WRAPAROUND,
			.name = "xid_wraparound",
			.unit = "%",
			.warn_raise = 50,
			.crit_raise = 75,
			.warn_clear = 45,
			.crit_clear = 70,
			.summary = "PostgreSQL transaction ID age over 50% of wraparound",
		},
	[COLL_RULE_BACKUP_AGE] =
		{
			.rule = COLL_RULE_BACKUP_AGE,
			.name = "backup_age",
			.unit = "h",
			.warn_raise = 26,
			.crit_raise = 74,
			.warn_clear = 26,
			.crit_clear = 74,
			.summary = "last successful database backup older than 26 hours",
		},
	[COLL_RULE_ERROR_SPIKE] =
		{
			.rule = COLL_RULE_ERROR_SPIKE,
			.name = "error_spike",
			.unit = "z",
			.warn_raise = 4,
			.crit_raise = 8,
			.warn_clear = 3,
			.crit_clear = 6,
			.summary = "error rate far above the host's own baseline (robust z-score "
				   "over 4)",
		},
	[COLL_RULE_SECURITY_UPDATES] =
		{
			.rule = COLL_RULE_SECURITY_UPDATES,
			.name = "security_updates",
			.unit = "days",
			.warn_raise = 7,
			.crit_raise = 30,
			.warn_clear = 7,
			.crit_clear = 30,
			.summary = "security updates pending for more than 7 days",
		},
	[COLL_RULE_AGENT_SILENT] =
		{
			.rule = COLL_RULE_AGENT_SILENT,
			.name = "agent_silent",
			.unit = "intervals",
			.warn_raise = 3,
			.crit_raise = 3,
			.warn_clear = 1,
			.crit_clear = 1,
			.summary = "no report for more than 3 reporting intervals (dead man)",
		},
	[COLL_RULE_CLOCK_SKEW] =
		{
			.rule = COLL_RULE_CLOCK_SKEW,
			.name = "clock_skew",
			.unit = "s",
			.warn_raise = 300,
			.crit_raise = 3600,
			.warn_clear = 240,
			.crit_clear = 3000,
			.summary = "agent clock more than 5 minutes away from the collector's",
		},
};

static const char *const default_remediation[COLL_RULE_COUNT] = {
	[COLL_RULE_INDEX_FRAGMENTATION] = "Rebuild the index (PostgreSQL: REINDEX INDEX "
					  "CONCURRENTLY; SQL Server: ALTER INDEX ... REBUILD).",
	[COLL_RULE_DISK_FULL] = "Free space or grow the filesystem before the forecast date; "
				"check log rotation, old backups and temporary files.",
	[COLL_RULE_FILESYSTEM_USAGE] = "Free space or grow the filesystem now.",
	[COLL_RULE_XID_WRAPAROUND] = "Run VACUUM (FREEZE) on the oldest tables and check that "
				     "autovacuum is not blocked by long transactions.",
	[COLL_RULE_BACKUP_AGE] = "Check the backup job and run a full backup now.",
	[COLL_RULE_ERROR_SPIKE] = "Read the top error signatures for this source in the "
				  "latest report.",
	[COLL_RULE_SECURITY_UPDATES] = "Install the pending security updates (apt-get upgrade / "
				       "dnf upgrade --security) in the next maintenance window.",
	[COLL_RULE_AGENT_SILENT] = "Check that the host is up and erpulse-agent is running "
				   "(systemctl status erpulse-agent) and can reach the collector.",
	[COLL_RULE_CLOCK_SKEW] = "Enable time synchronisation (systemd-timesyncd or chrony).",
};

const struct coll_rule_def *coll_rule_get(enum coll_rule r)
{
	if ((unsigned)r >= COLL_RULE_COUNT)
		return NULL;
	return &rule_table[r];
}

const char *coll_rule_name(enum coll_rule r)
{
	const struct coll_rule_def *d = coll_rule_get(r);

	return d ? d->name : "unknown";
}

int coll_rule_parse(const char *name, enum coll_rule *ret)
{
	if (!name)
		return -EINVAL;
	for (int i = 0; i < COLL_RULE_COUNT; i++)
		if (strcmp(rule_table[i].name, name) == 0) {
			*ret = (enum coll_rule)i;
			return 0;
		}
	return -EINVAL;
}

const char *coll_alert_level_name(enum coll_alert_level l)
{
	switch (l) {
	case COLL_LEVEL_NONE:
		return "none";
	case COLL_LEVEL_WARNING:
		return "warning";
	case COLL_LEVEL_CRITICAL:
		return "critical";
	}
	return "unknown";
}

int coll_alert_level_parse(const char *s, enum coll_alert_level *ret)
{
	if (!s)
		return -EINVAL;
	if (strcmp(s, "none") == 0)
		*ret = COLL_LEVEL_NONE;
	else if (strcmp(s, "warning") == 0)
		*ret = COLL_LEVEL_WARNING;
	else if (strcmp(s, "critical") == 0)
		*ret = COLL_LEVEL_CRITICAL;
	else
		return -EINVAL;
	return 0;
}

const char *coll_alert_action_name(enum coll_alert_action a)
{
	switch (a) {
	case COLL_ACTION_NONE:
		return "none";
	case COLL_ACTION_RAISE:
		return "raise";
	case COLL_ACTION_ESCALATE:
		return "escalate";
	case COLL_ACTION_DEESCALATE:
		return "deescalate";
	case COLL_ACTION_CLEAR:
		return "clear";
	}
	return "unknown";
}

bool coll_alert_action_notifies(enum coll_alert_action a)
{
	return a == COLL_ACTION_RAISE || a == COLL_ACTION_ESCALATE || a == COLL_ACTION_CLEAR;
}

enum coll_alert_level coll_rule_level(enum coll_rule r, double value, enum coll_alert_level open)
{
	const struct coll_rule_def *d = coll_rule_get(r);
	double sign, v, warn_raise, crit_raise, warn_clear, crit_clear;
	bool has_crit;

	if (!d || isnan(value))
		return open;
	/* lower-is-worse rules are the mirror image of higher-is-worse ones */
	sign = d->lower_is_worse ? -1.0 : 1.0;
	v = sign * value;
	warn_raise = sign * d->warn_raise;
	crit_raise = sign * d->crit_raise;
	warn_clear = sign * d->warn_clear;
	crit_clear = sign * d->crit_clear;
	has_crit = !isnan(d->crit_raise);

	if (has_crit && v > crit_raise)
		return COLL_LEVEL_CRITICAL;
	if (has_crit && open == COLL_LEVEL_CRITICAL && v >= crit_clear)
		return COLL_LEVEL_CRITICAL;
	if (v > warn_raise)
		return COLL_LEVEL_WARNING;
	if (open >= COLL_LEVEL_WARNING && v >= warn_clear)
		return COLL_LEVEL_WARNING;
	return COLL_LEVEL_NONE;
}

enum coll_alert_action coll_alert_transition(enum coll_alert_level open, enum coll_alert_level next)
{
	if (open == next)
		return COLL_ACTION_NONE;
	if (open == COLL_LEVEL_NONE)
		return COLL_ACTION_RAISE;
	if (next == COLL_LEVEL_NONE)
		return COLL_ACTION_CLEAR;
	return next > open ? COLL_ACTION_ESCALATE : COLL_ACTION_DEESCALATE;
}

/* ---- evaluation ---------------------------------------------------------- */

struct candidate {
	enum coll_rule rule;
	char *object;
	double value;
	char *remediation; /* from the finding, or NULL for the rule's default */
	char *detail;      /* extra words for the message, may be NULL */
	bool vanished;     /* an open alert whose object is gone: clears */
};

struct cand_list {
	size_t n, cap;
	struct candidate *items;
};

static void cand_list_free(struct cand_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].object);
		free(l->items[i].remediation);
		free(l->items[i].detail);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static double worse_value(enum coll_rule r, double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	if (rule_table[r].lower_is_worse)
		return a < b ? a : b;
	return a > b ? a : b;
}

/* Appends (rule, object, value). Duplicates are merged by cand_merge(). */
static int cand_add(struct cand_list *l, enum coll_rule rule, const char *object, double value,
		    const char *remediation, const char *detail)
{
	struct candidate *c;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct candidate *items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	c = &l->items[l->n];
	memset(c, 0, sizeof(*c));
	c->rule = rule;
	c->value = value;
	c->object = strdup(object);
	c->remediation = remediation ? strdup(remediation) : NULL;
	c->detail = detail ? strdup(detail) : NULL;
	if (!c->object || (remediation && !c->remediation) || (detail && !c->detail)) {
		free(c->object);
		free(c->remediation);
		free(c->detail);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

static int cmp_key(enum coll_rule ra, const char *oa, enum coll_rule rb, const char *ob)
{
	if (ra != rb)
		return ra < rb ? -1 : 1;
	return strcmp(oa, ob);
}

/* By (rule, object), the worst value of a group first (NAN last). */
static int cmp_cand(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int c = cmp_key(x->rule, x->object, y->rule, y->object);
	double w;

	if (c)
		return c;
	if (isnan(x->value) || isnan(y->value))
		return isnan(x->value) - isnan(y->value);
	if (x->value == y->value)
		return 0;
	w = worse_value(x->rule, x->value, y->value);
	return w == x->value ? -1 : 1;
}

/* Sorts and keeps the worst of each (rule, object): O(n log n), so a report
 * with thousands of findings costs milliseconds. */
static void cand_merge(struct cand_list *l)
{
	size_t out = 0;

	if (l->n < 2)
		return;
	qsort(l->items, l->n, sizeof(*l->items), cmp_cand);
	for (size_t i = 0; i < l->n; i++) {
		struct candidate *c = &l->items[i];
		if (out > 0 && cmp_key(l->items[out - 1].rule, l->items[out - 1].object, c->rule,
				       c->object) == 0) {
			free(c->object);
			free(c->remediation);
			free(c->detail);
			continue;
		}
		l->items[out++] = *c;
	}
	l->n = out;
}

/* Is (rule, object) among the first n (merged, sorted) candidates? */
static bool cand_find(const struct cand_list *l, size_t n, enum coll_rule rule, const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(l->items[mid].rule, l->items[mid].object, rule, object);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static double num_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *str_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int add_finding(struct cand_list *l, const json_t *f, const struct coll_alert_input *in)
{
	const char *kind = str_field(f, "kind"), *object = str_field(f, "object");
	const char *rem = str_field(f, "remediation");
	double value = num_field(f, "value");
	char obj[512], detail[128];

	if (!kind || !object)
		return 0;
	if (strcmp(kind, "index_fragmentation") == 0) {
		double pages = num_field(f, "pages");
		if (!isnan(pages) && pages < MIN_INDEX_PAGES)
			return 0;
		if (!isnan(pages))
			snprintf(detail, sizeof(detail), "%.0f pages", pages);
		return cand_add(l, COLL_RULE_INDEX_FRAGMENTATION, object, value, rem,
				isnan(pages) ? NULL : detail);
	}
	if (strcmp(kind, "disk_usage") == 0)
		return cand_add(l, COLL_RULE_FILESYSTEM_USAGE, object, value, rem, "bytes");
	if (strcmp(kind, "inode_usage") == 0) {
		snprintf(obj, sizeof(obj), "%s (inodes)", object);
		return cand_add(l, COLL_RULE_FILESYSTEM_USAGE, obj, value, rem, "inodes");
	}
	if (strcmp(kind, "xid_wraparound") == 0)
		return cand_add(l, COLL_RULE_XID_WRAPAROUND, object, value, rem, NULL);
	if (strcmp(kind, "backup_age") == 0)
		return cand_add(l, COLL_RULE_BACKUP_AGE, object, value, rem, NULL);
	if (strcmp(kind, "security_updates") == 0) {
		double days = num_field(f, "pending_days");
		if (isnan(days))
			days = num_field(f, "age_days");
		if (in->security_pending_since > 0 && in->now > in->security_pending_since) {
			double since = (double)(in->now - in->security_pending_since) / 86400.0;
			if (isnan(days) || since > days)
				days = since;
		}
		if (isnan(days))
			days = 0;
		if (!(value > 0)) /* nothing pending: the alert clears */
			days = 0;
		snprintf(detail, sizeof(detail), "%.0f updates", isnan(value) ? 0.0 : value);
		return cand_add(l, COLL_RULE_SECURITY_UPDATES, object, days, rem, detail);
	}
	return 0;
}

int64_t coll_pending_since(const struct coll_sample *history, size_t n)
{
	int64_t latest_t = INT64_MIN, since = 0, zero_after = INT64_MIN;
	double latest_v = 0;

	/* no sorting needed: the run starts after the newest zero */
	for (size_t i = 0; history && i < n; i++) {
		if (isnan(history[i].v))
			continue;
		if (history[i].t > latest_t) {
			latest_t = history[i].t;
			latest_v = history[i].v;
		}
		if (!(history[i].v > 0) && history[i].t > zero_after)
			zero_after = history[i].t;
	}
	if (latest_t == INT64_MIN || !(latest_v > 0))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (history[i].v > 0 && history[i].t > zero_after &&
		    (since == 0 || history[i].t < since))
			since = history[i].t;
	return since;
}

/* Which probes feed a finding rule (for "cleared because it vanished"). */
static bool rule_source(enum coll_rule r, const char *probe)
{
	switch (r) {
	case COLL_RULE_INDEX_FRAGMENTATION:
		return !strcmp(probe, "postgres") || !strcmp(probe, "odbc");
	case COLL_RULE_XID_WRAPAROUND:
		return !strcmp(probe, "postgres");
	case COLL_RULE_BACKUP_AGE:
		return !strcmp(probe, "postgres") || !strcmp(probe, "odbc");
	case COLL_RULE_FILESYSTEM_USAGE:
	case COLL_RULE_DISK_FULL:
		return !strcmp(probe, "disk");
	case COLL_RULE_SECURITY_UPDATES:
		return !strcmp(probe, "patches");
	case COLL_RULE_ERROR_SPIKE:
		return !strcmp(probe, "log") || !strcmp(probe, "journal");
	case COLL_RULE_AGENT_SILENT:
	case COLL_RULE_CLOCK_SKEW:
	case COLL_RULE_COUNT:
		break;
	}
	return false;
}

/* True when no probe feeding rule r failed or was skipped in this report. */
static bool sources_ok(const json_t *report, enum coll_rule r)
{
	const json_t *probes = json_object_get(report, "probes"), *p;
	size_t i;

	json_array_foreach(probes, i, p)
	{
		const char *name = str_field(p, "name"), *status = str_field(p, "status");
		char base[64];
		const char *dot;

		if (!name)
			continue;
		/* "postgres.erp" style names count as "postgres" */
		dot = strchr(name, '.');
		snprintf(base, sizeof(base), "%.*s", dot ? (int)(dot - name) : (int)strlen(name),
			 name);
		if (rule_source(r, base) && (!status || strcmp(status, "ok") != 0))
			return false;
	}
	return true;
}

static int add_forecasts(struct cand_list *l, const struct coll_alert_input *in)
{
	char obj[512], detail[160];
	int rc;

	for (size_t i = 0; i < in->n_forecasts; i++) {
		const struct coll_object_forecast *f = &in->forecasts[i];
		const char *object = f->object ? f->object : "";
		double value = NAN;

		switch (f->kind) {
		case COLL_FK_DISK_BYTES:
		case COLL_FK_DISK_INODES:
			if (f->kind == COLL_FK_DISK_INODES)
				snprintf(obj, sizeof(obj), "%s (inodes)", object);
			else
				snprintf(obj, sizeof(obj), "%s", object);
			switch (f->fc.status) {
			case COLL_FC_ETA:
				value = f->fc.days;
				break;
			case COLL_FC_ALREADY:
				value = 0;
				break;
			case COLL_FC_NEVER:
				value = INFINITY;
				break;
			case COLL_FC_INSUFFICIENT:
				value = NAN;
				break;
			}
			snprintf(detail, sizeof(detail), "%s confidence, R² %.2f, %zu samples",
				 coll_confidence_name(f->fc.confidence), f->fc.r2, f->fc.n_used);
			rc = cand_add(l, COLL_RULE_DISK_FULL, obj, value, NULL, detail);
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status != COLL_SPIKE_INSUFFICIENT)
				value = f->spike.z;
			snprintf(detail, sizeof(detail), "%.1f against a baseline of %.1f (%s)",
				 f->spike.current, f->spike.baseline,
				 coll_baseline_method_name(f->spike.method));
			rc = cand_add(l, COLL_RULE_ERROR_SPIKE, object, value, NULL, detail);
			break;
		case COLL_FK_INDEX_FRAGMENTATION:
		default:
			rc = 0; /* scoring uses it; no alert rule of its own */
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static char *format_message(const struct candidate *c, enum coll_alert_level level,
			    enum coll_alert_level open)
{
	const struct coll_rule_def *d = &rule_table[c->rule];
	struct ep_buf b;
	const char *lvl = coll_alert_level_name(level == COLL_LEVEL_NONE ? open : level);
	int r = 0;

	ep_buf_init(&b, 2048);
	if (level == COLL_LEVEL_NONE)
		r |= ep_buf_printf(&b, "Resolved: %s on %s", d->name, c->object);
	else
		r |= ep_buf_printf(&b, "%s on %s (%s)", d->name, c->object, lvl);
	if (c->vanished)
		r |= ep_buf_printf(&b, ": no longer reported");
	else if (isnan(c->value))
		r |= ep_buf_printf(&b, ": not measurable now");
	else if (isinf(c->value))
		r |= ep_buf_printf(&b, ": never at the current trend");
	else
		switch (c->rule) {
		case COLL_RULE_DISK_FULL:
			r |= ep_buf_printf(&b, ": full in %.1f days", c->value);
			break;
		case COLL_RULE_AGENT_SILENT:
			r |= ep_buf_printf(&b, ": no report for %.1f intervals", c->value);
			break;
		case COLL_RULE_CLOCK_SKEW:
			r |= ep_buf_printf(&b, ": clock off by %.0f s", c->value);
			break;
		case COLL_RULE_ERROR_SPIKE:
			r |= ep_buf_printf(&b, ": robust z %.1f", c->value);
			break;
		case COLL_RULE_SECURITY_UPDATES:
			r |= ep_buf_printf(&b, ": pending for %.1f days", c->value);
			break;
		default:
			r |= ep_buf_printf(&b, ": %.1f %s", c->value, d->unit);
			break;
		}
	if (c->detail)
		r |= ep_buf_printf(&b, " (%s)", c->detail);
	r |= ep_buf_printf(&b, ".");
	if (r) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
}

static int results_push(struct coll_alert_results *res, size_t *cap, const struct candidate *c,
			enum coll_alert_level open)
{
	const struct coll_rule_def *d = &rule_table[c->rule];
	struct coll_alert_result *a;
	enum coll_alert_level level = coll_rule_level(c->rule, c->value, open);
	const char *rem;

	if (c->vanished)
		level = COLL_LEVEL_NONE;
	if (level == COLL_LEVEL_NONE && open == COLL_LEVEL_NONE)
		return 0;
	if (res->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct coll_alert_result *items = realloc(res->items, ncap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		res->items = items;
		*cap = ncap;
	}
	a = &res->items[res->n];
	memset(a, 0, sizeof(*a));
	a->rule = c->rule;
	a->open = open;
	a->level = level;
	a->action = coll_alert_transition(open, level);
	a->value = c->value;
	rem = c->remediation ? c->remediation : default_remediation[c->rule];
	a->object = strdup(c->object);
	a->unit = strdup(d->unit);
	a->message = format_message(c, level, open);
	a->remediation = rem ? strdup(rem) : NULL;
	if (!a->object || !a->unit || !a->message || (rem && !a->remediation)) {
		free(a->object);
		free(a->unit);
		free(a->message);
		free(a->remediation);
		return -ENOMEM;
	}
	res->n++;
	return 0;
}

static int cmp_open(const void *a, const void *b)
{
	const struct coll_open_alert *x = *(const struct coll_open_alert *const *)a;
	const struct coll_open_alert *y = *(const struct coll_open_alert *const *)b;

	return cmp_key(x->rule, x->object, y->rule, y->object);
}

/* The open level of (r, object), by binary search over sorted (n pointers). */
static enum coll_alert_level open_level(const struct coll_open_alert *const *sorted, size_t n,
					enum coll_rule r, const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(sorted[mid]->rule, sorted[mid]->object, r, object);
		if (c == 0)
			return sorted[mid]->level;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return COLL_LEVEL_NONE;
}

int coll_alerts_evaluate(const struct coll_alert_input *in, struct coll_alert_results *ret)
{
	struct cand_list l = {0};
	struct coll_alert_results res = {0};
	const struct coll_open_alert **open_sorted = NULL;
	size_t cap = 0, n_open = 0;
	int rc = 0;

	if (!in || !ret || (in->n_open && !in->open) || (in->n_forecasts && !in->forecasts))
		return -EINVAL;
	if (in->report && !json_is_object(in->report))
		return -EINVAL;
	if (in->n_open) {
		open_sorted = malloc(in->n_open * sizeof(*open_sorted));
		if (!open_sorted)
			return -ENOMEM;
		for (size_t k = 0; k < in->n_open; k++)
			if (in->open[k].object)
				open_sorted[n_open++] = &in->open[k];
		qsort(open_sorted, n_open, sizeof(*open_sorted), cmp_open);
	}

	if (in->report) {
		const json_t *probes = json_object_get(in->report, "probes"), *p;
		const char *gen = str_field(in->report, "generated_at");
		size_t i, j;
		time_t generated;

		json_array_foreach(probes, i, p)
		{
			const json_t *findings = json_object_get(p, "findings"), *f;
			json_array_foreach(findings, j, f)
			{
				rc = add_finding(&l, f, in);
				if (rc < 0)
					goto out;
			}
		}
		rc = add_forecasts(&l, in);
		if (rc < 0)
			goto out;
		/* a report is proof of life */
		rc = cand_add(&l, COLL_RULE_AGENT_SILENT, "agent", 0, NULL, NULL);
		if (rc < 0)
			goto out;
		if (in->received_at > 0 && gen && ep_time_parse(gen, &generated) == 0) {
			double skew = fabs((double)((int64_t)generated - in->received_at));
			char detail[96];
			snprintf(detail, sizeof(detail), "agent says %s", gen);
			rc = cand_add(&l, COLL_RULE_CLOCK_SKEW, "clock", skew, NULL, detail);
			if (rc < 0)
				goto out;
		}
		cand_merge(&l);
		/* open alerts whose object vanished */
		size_t measured = l.n;
		for (size_t k = 0; k < n_open; k++) {
			const struct coll_open_alert *o = open_sorted[k];
			if (o->level == COLL_LEVEL_NONE)
				continue;
			if (k > 0 && cmp_open(&open_sorted[k - 1], &open_sorted[k]) == 0)
				continue; /* listed twice: one result is enough */
			if (cand_find(&l, measured, o->rule, o->object))
				continue;
			if (o->rule == COLL_RULE_CLOCK_SKEW)
				continue; /* not measurable without a receive time: keep */
			if (!sources_ok(in->report, o->rule))
				continue; /* its probe failed: we know nothing new */
			rc = cand_add(&l, o->rule, o->object, NAN, NULL, NULL);
			if (rc < 0)
				goto out;
			l.items[l.n - 1].vanished = true;
		}
	} else if (in->last_seen > 0 && in->interval_s > 0) {
		double intervals = (double)(in->now - in->last_seen) / (double)in->interval_s;
		char detail[96], when[32];
		if (ep_time_format((time_t)in->last_seen, when, sizeof(when)) < 0)
			when[0] = '\0';
		snprintf(detail, sizeof(detail), "last report %s", when);
		rc = cand_add(&l, COLL_RULE_AGENT_SILENT, "agent", fmax(0.0, intervals), NULL,
			      detail);
		if (rc < 0)
			goto out;
	}

	for (size_t k = 0; k < l.n; k++) {
		enum coll_alert_level open =
			open_level(open_sorted, n_open, l.items[k].rule, l.items[k].object);
		rc = results_push(&res, &cap, &l.items[k], open);
		if (rc < 0)
			goto out;
	}
	*ret = res;
	res.items = NULL;
	res.n = 0;
out:
	free(open_sorted);
	cand_list_free(&l);
	coll_alert_results_free(&res);
	return rc;
}

void coll_alert_results_free(struct coll_alert_results *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].object);
		free(r->items[i].unit);
		free(r->items[i].message);
		free(r->items[i].remediation);
	}
	free(r->items);
	r->items = NULL;
	r->n = 0;
}

json_t *coll_alert_result_json(const struct coll_alert_result *a)
{
	json_t *o = json_object();
	int r = 0;

	if (!o || !a)
		goto fail;
	r |= json_object_set_new(o, "rule", json_string(coll_rule_name(a->rule)));
	r |= json_object_set_new(o, "object", json_string(a->object ? a->object : ""));
	r |= json_object_set_new(o, "level", json_string(coll_alert_level_name(a->level)));
	r |= json_object_set_new(o, "open", json_string(coll_alert_level_name(a->open)));
	r |= json_object_set_new(o, "action", json_string(coll_alert_action_name(a->action)));
	r |= json_object_set_new(o, "value",
				 isfinite(a->value) ? json_real(a->value) : json_null());
	r |= json_object_set_new(o, "unit", a->unit ? json_string(a->unit) : json_null());
	r |= json_object_set_new(o, "message", a->message ? json_string(a->message) : json_null());
	r |= json_object_set_new(o, "remediation",
				 a->remediation ? json_string(a->remediation) : json_null());
	if (r)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}
