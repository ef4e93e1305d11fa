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
#include "collector/analysis/json_field.h"
#include "erpulse/util.h"

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
			.margin = 5,
			.from_finding = true,
			.summary = "index whose wasted leaf space (PostgreSQL) or logical "
				   "fragmentation (SQL Server) the agent judged warning or "
				   "critical (its threshold, critical_threshold and min_size)",
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
			.margin = NAN,
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
			.margin = 2,
			.from_finding = true,
			.summary = "filesystem usage (bytes or inodes) at warning or critical",
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
			.margin = 5,
			.from_finding = true,
			.summary = "PostgreSQL transaction ID age at warning or critical",
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
			.margin = 0,
			.from_finding = true,
			.summary = "last successful database backup at warning or critical age",
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
			.margin = NAN,
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
			.margin = NAN,
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
			.margin = NAN,
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
			.margin = NAN,
			.summary = "agent clock more than 5 minutes away from the collector's",
		},
	[COLL_RULE_FINDING] =
		{
			.rule = COLL_RULE_FINDING,
			.name = "finding",
			.unit = "",
			.warn_raise = NAN,
			.crit_raise = NAN,
			.warn_clear = NAN,
			.crit_clear = NAN,
			.margin = NAN,
			.from_finding = true,
			.summary = "any other finding kind the agent judged warning or critical "
				   "(log_errors, journal_errors, dead_tuples, ...): the alert is "
				   "named after the kind",
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
	[COLL_RULE_FINDING] = "See the finding's message in the latest report.",
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
	size_t n;

	if (!name)
		return -EINVAL;
	for (int i = 0; i < COLL_RULE_COUNT; i++)
		if (strcmp(rule_table[i].name, name) == 0) {
			*ret = (enum coll_rule)i;
			return 0;
		}
	n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (n == 0 || n > 64 || name[n] != '\0')
		return -EINVAL;
	*ret = COLL_RULE_FINDING;
	return 0;
}

char *coll_format_value(char *buf, size_t size, double value, const char *unit)
{
	static const char *const counted[] = {"count",   "pages", "updates", "errors", "records",
					      "entries", "bytes", "files",   "inodes", "sessions"};
	bool whole = false;

	if (!buf || size == 0)
		return buf;
	if (isnan(value)) {
		snprintf(buf, size, "n/a");
		return buf;
	}
	if (unit && !strcmp(unit, "%")) {
		snprintf(buf, size, "%.1f%%", value);
		return buf;
	}
	for (size_t i = 0; unit && i < EP_ARRAY_SIZE(counted); i++)
		whole |= !strcmp(unit, counted[i]);
	if (whole && value == floor(value))
		snprintf(buf, size, "%.0f%s%s", value, unit && *unit ? " " : "", unit ? unit : "");
	else
		snprintf(buf, size, "%.1f%s%s", value, unit && *unit ? " " : "", unit ? unit : "");
	return buf;
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
	char *name; /* with object: the key; the kind for COLL_RULE_FINDING */
	char *object;
	double value;
	int sev;                     /* finding rules: the finding's 0..2; table rules: -1 */
	double warn_line, crit_line; /* finding rules: its lines (NAN = none) */
	bool below;                  /* the finding's direction is "below" */
	bool small;                  /* size < min_size: never alerts */
	bool rebuilt;                /* the agent says the object was rebuilt */
	char *unit;                  /* the finding's unit, else NULL (the rule's) */
	char *remediation;           /* from the finding, or NULL for the rule's default */
	char *detail;                /* extra words for the message, may be NULL */
	char *why;                   /* vanished: why it clears, may be NULL */
	bool vanished;               /* an open alert whose object is gone: clears */
};

struct cand_list {
	size_t n, cap;
	struct candidate *items;
};

static void cand_free(struct candidate *c)
{
	free(c->name);
	free(c->object);
	free(c->unit);
	free(c->remediation);
	free(c->detail);
	free(c->why);
}

static void cand_list_free(struct cand_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cand_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

/* Appends a candidate shaped like t (rule, value, sev, lines, flags) with
 * copies of the strings. Duplicates are merged by cand_merge(). */
static int cand_add(struct cand_list *l, const struct candidate *t, const char *name,
		    const char *object, const char *unit, const char *remediation,
		    const char *detail)
{
	struct candidate *c;
	bool fail = false;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct candidate *items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	c = &l->items[l->n];
	*c = *t;
	c->name = dup_or_null(name ? name : rule_table[t->rule].name, &fail);
	c->object = dup_or_null(object, &fail);
	c->unit = dup_or_null(unit, &fail);
	c->remediation = dup_or_null(remediation, &fail);
	c->detail = dup_or_null(detail, &fail);
	c->why = NULL;
	if (fail || !c->object) {
		cand_free(c);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* A table rule's candidate (no finding severity). */
static int cand_add_table(struct cand_list *l, enum coll_rule rule, const char *object,
			  double value, const char *detail)
{
	struct candidate t = {
		.rule = rule,
		.value = value,
		.sev = -1,
		.warn_line = NAN,
		.crit_line = NAN,
	};
	return cand_add(l, &t, NULL, object, NULL, NULL, detail);
}

static double worse_value(enum coll_rule r, bool below, double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	if (rule_table[r].lower_is_worse || below)
		return a < b ? a : b;
	return a > b ? a : b;
}

static int cmp_key(const char *na, const char *oa, const char *nb, const char *ob)
{
	int c = strcmp(na, nb);

	return c ? c : strcmp(oa, ob);
}

/* By (name, object), the worst of a group first: severity, then value (NAN last). */
static int cmp_cand(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	int c = cmp_key(x->name, x->object, y->name, y->object);
	double w;

	if (c)
		return c;
	if (x->sev != y->sev)
		return y->sev - x->sev;
	if (isnan(x->value) || isnan(y->value))
		return isnan(x->value) - isnan(y->value);
	if (x->value == y->value)
		return 0;
	w = worse_value(x->rule, x->below, x->value, y->value);
	return w == x->value ? -1 : 1;
}

/* Sorts and keeps the worst of each (name, object): O(n log n), so a report
 * with thousands of findings costs milliseconds. */
static void cand_merge(struct cand_list *l)
{
	size_t out = 0;

	if (l->n < 2)
		return;
	qsort(l->items, l->n, sizeof(*l->items), cmp_cand);
	for (size_t i = 0; i < l->n; i++) {
		struct candidate *c = &l->items[i];
		if (out > 0 && cmp_key(l->items[out - 1].name, l->items[out - 1].object, c->name,
				       c->object) == 0) {
			cand_free(c);
			continue;
		}
		l->items[out++] = *c;
	}
	l->n = out;
}

/* The candidate (name, object) among the first n (merged, sorted), or NULL. */
static const struct candidate *cand_find(const struct cand_list *l, size_t n, const char *name,
					 const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(l->items[mid].name, l->items[mid].object, name, object);
		if (c == 0)
			return &l->items[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int severity_rank(const char *s)
{
	if (s && !strcmp(s, "critical"))
		return COLL_LEVEL_CRITICAL;
	if (s && !strcmp(s, "warning"))
		return COLL_LEVEL_WARNING;
	return COLL_LEVEL_NONE;
}

/* security_updates: judged by days pending (the table rule), not by the count. */
static int add_security(struct cand_list *l, const json_t *f, const char *object, const char *rem,
			const struct coll_alert_input *in)
{
	double value = coll_json_num(f, "value"), days = coll_json_num(f, "pending_days");
	char detail[128];
	struct candidate t = {
		.rule = COLL_RULE_SECURITY_UPDATES,
		.sev = -1,
		.warn_line = NAN,
		.crit_line = NAN,
	};

	if (isnan(days))
		days = coll_json_num(f, "age_days");
	if (in->security_pending_since > 0 && in->now > in->security_pending_since) {
		double since = (double)(in->now - in->security_pending_since) / 86400.0;
		if (isnan(days) || since > days)
			days = since;
	}
	if (isnan(days))
		days = 0;
	if (!(value > 0)) /* nothing pending: the alert clears */
		days = 0;
	t.value = days;
	snprintf(detail, sizeof(detail), "%.0f updates", isnan(value) ? 0.0 : value);
	return cand_add(l, &t, NULL, object, NULL, rem, detail);
}

static int add_finding(struct cand_list *l, const json_t *f, const struct coll_alert_input *in)
{
	const char *kind = coll_json_str(f, "kind"), *object = coll_json_str(f, "object");
	const char *rem = coll_json_str(f, "remediation"), *dir = coll_json_str(f, "direction");
	const char *unit = coll_json_str(f, "unit"), *name = NULL;
	double size = coll_json_num(f, "size"), min = coll_json_num(f, "min_size");
	char obj[512], detail[128];
	const char *detail_p = NULL;
	struct candidate t = {
		.value = coll_json_num(f, "value"),
		.sev = severity_rank(coll_json_str(f, "severity")),
		.warn_line = coll_json_num(f, "threshold"),
		.crit_line = coll_json_num(f, "critical_threshold"),
		.below = dir && !strcmp(dir, "below"),
		.small = !isnan(size) && !isnan(min) && size < min,
		/* the agent measured it again because its identity changed */
		.rebuilt = json_is_true(json_object_get(f, "rebuilt")) ||
			   json_is_string(json_object_get(f, "changed")),
	};

	if (!kind || !object)
		return 0;
	if (strcmp(kind, "security_updates") == 0)
		return add_security(l, f, object, rem, in);
	if (strcmp(kind, "index_fragmentation") == 0) {
		const char *su = coll_json_str(f, "size_unit");
		t.rule = COLL_RULE_INDEX_FRAGMENTATION;
		if (isnan(size)) { /* older agents: a "pages" field */
			size = coll_json_num(f, "pages");
			su = "pages";
		}
		if (!isnan(size)) {
			coll_format_value(detail, sizeof(detail), size, su ? su : "pages");
			detail_p = detail;
		}
	} else if (strcmp(kind, "disk_usage") == 0) {
		t.rule = COLL_RULE_FILESYSTEM_USAGE;
		detail_p = "bytes";
	} else if (strcmp(kind, "inode_usage") == 0) {
		t.rule = COLL_RULE_FILESYSTEM_USAGE;
		snprintf(obj, sizeof(obj), "%s (inodes)", object);
		object = obj;
		detail_p = "inodes";
	} else if (strcmp(kind, "xid_wraparound") == 0) {
		t.rule = COLL_RULE_XID_WRAPAROUND;
	} else if (strcmp(kind, "backup_age") == 0) {
		t.rule = COLL_RULE_BACKUP_AGE;
	} else {
		t.rule = COLL_RULE_FINDING;
		name = kind;
	}
	if (t.rule != COLL_RULE_FINDING) {
		/* an older agent without the lines: the rule's defaults, for the
		 * hysteresis only (the severity is still the finding's) */
		if (isnan(t.warn_line))
			t.warn_line = rule_table[t.rule].warn_raise;
		if (isnan(t.crit_line))
			t.crit_line = rule_table[t.rule].crit_raise;
	}
	return cand_add(l, &t, name, object, unit, rem, detail_p);
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

/* Which probes feed a rule (for "cleared because it vanished"); NULL probe
 * list = unknown (COLL_RULE_FINDING: every probe must have reported). */
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
	case COLL_RULE_FINDING:
		return true;
	case COLL_RULE_AGENT_SILENT:
	case COLL_RULE_CLOCK_SKEW:
	case COLL_RULE_COUNT:
		break;
	}
	return false;
}

static void probe_base(const char *name, char *base, size_t size)
{
	/* "postgres.erp" style names count as "postgres" */
	snprintf(base, size, "%.*s", (int)strcspn(name, "."), name);
}

static bool same_instance(const json_t *a, const json_t *b)
{
	const char *na = coll_json_str(a, "name"), *nb = coll_json_str(b, "name");
	const char *ta = coll_json_str(a, "target"), *tb = coll_json_str(b, "target");

	return na && nb && !strcmp(na, nb) && !ta == !tb && (!ta || !strcmp(ta, tb));
}

/* True when every instance feeding rule r reported ok and fresh in this
 * report: none failed, was skipped, is carried stale, or is configured but
 * absent. Then an object missing from the report is really gone. */
static bool sources_ok(const json_t *report, enum coll_rule r)
{
	const json_t *probes = json_object_get(report, "probes"), *p, *c;
	const json_t *configured = json_object_get(report, "configured");
	size_t i, k;
	char base[64];

	json_array_foreach(probes, i, p)
	{
		const char *name = coll_json_str(p, "name"), *status = coll_json_str(p, "status");
		if (!name)
			continue;
		probe_base(name, base, sizeof(base));
		if (rule_source(r, base) && (!status || strcmp(status, "ok") != 0 ||
					     json_is_true(json_object_get(p, "stale"))))
			return false;
	}
	json_array_foreach(configured, k, c)
	{
		const char *name = coll_json_str(c, "name");
		bool present = false;
		if (!name)
			continue;
		probe_base(name, base, sizeof(base));
		if (!rule_source(r, base))
			continue;
		json_array_foreach(probes, i, p)
		{
			if (same_instance(p, c)) {
				present = true;
				break;
			}
		}
		if (!present)
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
			rc = cand_add_table(l, COLL_RULE_DISK_FULL, obj, value, detail);
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status != COLL_SPIKE_INSUFFICIENT)
				value = f->spike.z;
			snprintf(detail, sizeof(detail), "%.1f against a baseline of %.1f (%s)",
				 f->spike.current, f->spike.baseline,
				 coll_baseline_method_name(f->spike.method));
			rc = cand_add_table(l, COLL_RULE_ERROR_SPIKE, object, value, detail);
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

/* Hysteresis below one of the finding's lines. */
static double margin_of(const struct coll_rule_def *d, double line)
{
	return isnan(d->margin) ? fabs(line) * 0.1 : d->margin;
}

/* The level of a candidate given the open one (docs/alerts.md, "Rules"):
 * finding rules take the finding's severity and hold an open level until
 * the value is a margin below the finding's line; table rules use the
 * table's lines. */
static enum coll_alert_level cand_level(const struct candidate *c, enum coll_alert_level open)
{
	const struct coll_rule_def *d = &rule_table[c->rule];
	enum coll_alert_level lvl;
	double sign, v;

	if (c->vanished)
		return COLL_LEVEL_NONE;
	if (c->sev < 0)
		return coll_rule_level(c->rule, c->value, open);
	if (c->small)
		return COLL_LEVEL_NONE;
	lvl = (enum coll_alert_level)c->sev;
	if (isnan(c->value))
		return lvl;
	sign = c->below ? -1.0 : 1.0;
	v = sign * c->value;
	if (open == COLL_LEVEL_CRITICAL && lvl < COLL_LEVEL_CRITICAL && !isnan(c->crit_line) &&
	    v >= sign * c->crit_line - margin_of(d, c->crit_line))
		lvl = COLL_LEVEL_CRITICAL;
	if (open >= COLL_LEVEL_WARNING && lvl < COLL_LEVEL_WARNING && !isnan(c->warn_line) &&
	    v >= sign * c->warn_line - margin_of(d, c->warn_line))
		lvl = COLL_LEVEL_WARNING;
	return lvl;
}

static const char *cand_unit(const struct candidate *c)
{
	return c->unit ? c->unit : rule_table[c->rule].unit;
}

/* "now 0.0% (was 56.1%) after rebuild" */
static void clear_why(const struct candidate *c, double was, char *buf, size_t size)
{
	char now_s[64], was_s[64];

	if (c->why) {
		snprintf(buf, size, "%s", c->why);
		return;
	}
	if (c->vanished) {
		snprintf(buf, size, "no longer reported (gone from a complete report)");
		return;
	}
	switch (c->rule) {
	case COLL_RULE_AGENT_SILENT:
		snprintf(buf, size, "a report arrived");
		return;
	case COLL_RULE_SECURITY_UPDATES:
		if (!(c->value > 0)) {
			snprintf(buf, size, "no security updates pending any more");
			return;
		}
		break;
	case COLL_RULE_DISK_FULL:
		if (isinf(c->value)) {
			snprintf(buf, size, "no longer filling up at the current trend");
			return;
		}
		snprintf(buf, size, "now full in %.1f days", c->value);
		return;
	default:
		break;
	}
	if (c->small && c->rule != COLL_RULE_FINDING) {
		snprintf(buf, size, "now below the minimum size");
		return;
	}
	coll_format_value(now_s, sizeof(now_s), c->value, cand_unit(c));
	if (!isnan(was)) {
		coll_format_value(was_s, sizeof(was_s), was, cand_unit(c));
		snprintf(buf, size, "now %s (was %s)%s", now_s, was_s,
			 c->rebuilt ? " after rebuild" : "");
	} else {
		snprintf(buf, size, "now %s%s", now_s, c->rebuilt ? " after rebuild" : "");
	}
}

static char *format_message(const struct candidate *c, enum coll_alert_level level,
			    enum coll_alert_level open, const char *why)
{
	struct ep_buf b;
	const char *lvl = coll_alert_level_name(level == COLL_LEVEL_NONE ? open : level);
	char v[64];
	int r = 0;

	ep_buf_init(&b, 2048);
	if (level == COLL_LEVEL_NONE) {
		r |= ep_buf_printf(&b, "Resolved: %s on %s: %s", c->name, c->object, why);
		if (c->detail && !c->vanished)
			r |= ep_buf_printf(&b, " (%s)", c->detail);
		r |= ep_buf_printf(&b, ".");
		goto done;
	}
	r |= ep_buf_printf(&b, "%s on %s (%s)", c->name, c->object, lvl);
	if (isnan(c->value))
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
			coll_format_value(v, sizeof(v), c->value, cand_unit(c));
			r |= ep_buf_printf(&b, ": %s", v);
			if (!isnan(c->warn_line) || !isnan(c->crit_line)) {
				const char *cmp = c->below ? "below" : "above";
				r |= ep_buf_printf(&b, ", %s when %s ", lvl, cmp);
				coll_format_value(v, sizeof(v),
						  level == COLL_LEVEL_CRITICAL &&
								  !isnan(c->crit_line)
							  ? c->crit_line
							  : c->warn_line,
						  cand_unit(c));
				r |= ep_buf_printf(&b, "%s", v);
			}
			break;
		}
	if (c->detail)
		r |= ep_buf_printf(&b, " (%s)", c->detail);
	r |= ep_buf_printf(&b, ".");
done:
	if (r) {
		ep_buf_free(&b);
		return NULL;
	}
	return ep_buf_steal(&b);
}

static int results_push(struct coll_alert_results *res, size_t *cap, const struct candidate *c,
			const struct coll_open_alert *o)
{
	enum coll_alert_level open = o ? o->level : COLL_LEVEL_NONE;
	enum coll_alert_level level = cand_level(c, open);
	struct coll_alert_result *a;
	const char *rem;
	char why[512] = "";
	bool fail = false;

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
	a->was = o ? o->value : NAN;
	if (level == COLL_LEVEL_NONE) {
		clear_why(c, a->was, why, sizeof(why));
		a->why = dup_or_null(why, &fail);
	}
	rem = c->remediation ? c->remediation : default_remediation[c->rule];
	a->name = dup_or_null(c->name, &fail);
	a->object = dup_or_null(c->object, &fail);
	a->unit = dup_or_null(cand_unit(c), &fail);
	a->message = format_message(c, level, open, why);
	a->remediation = dup_or_null(rem, &fail);
	if (fail || !a->message) {
		free(a->name);
		free(a->object);
		free(a->unit);
		free(a->message);
		free(a->remediation);
		free(a->why);
		return -ENOMEM;
	}
	res->n++;
	return 0;
}

static const char *open_name(const struct coll_open_alert *o)
{
	return o->name ? o->name : coll_rule_name(o->rule);
}

static int cmp_open(const void *a, const void *b)
{
	const struct coll_open_alert *x = *(const struct coll_open_alert *const *)a;
	const struct coll_open_alert *y = *(const struct coll_open_alert *const *)b;

	return cmp_key(open_name(x), x->object, open_name(y), y->object);
}

/* The open alert (name, object), by binary search over sorted (n pointers). */
static const struct coll_open_alert *open_find(const struct coll_open_alert *const *sorted,
					       size_t n, const char *name, const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_key(open_name(sorted[mid]), sorted[mid]->object, name, object);
		if (c == 0)
			return sorted[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The keys of the findings of removed instances, each with its reason. */
static int removed_keys(const struct coll_alert_input *in, struct cand_list *l)
{
	const json_t *e, *f;
	size_t i, k;
	int rc;

	json_array_foreach(in->removed, i, e)
	{
		const char *inst = coll_json_str(e, "instance");
		size_t from = l->n;
		json_array_foreach(json_object_get(e, "findings"), k, f)
		{
			rc = add_finding(l, f, in);
			if (rc < 0)
				return rc;
		}
		for (size_t j = from; j < l->n; j++) {
			struct ep_buf b;
			ep_buf_init(&b, 1024);
			if (ep_buf_printf(&b, "instance %s removed from the agent's configuration",
					  inst ? inst : "?") < 0) {
				ep_buf_free(&b);
				return -ENOMEM;
			}
			l->items[j].why = ep_buf_steal(&b);
		}
	}
	cand_merge(l);
	return 0;
}

/* Adds a clearing candidate for each open alert of the report's host whose
 * object is not among the first `measured` candidates and is known to be
 * gone: its instance was removed from the configuration, or every source
 * feeding its rule reported ok and fresh. */
static int add_vanished(struct cand_list *l, size_t measured, const struct coll_alert_input *in,
			const struct coll_open_alert *const *open_sorted, size_t n_open)
{
	struct cand_list removed = {0};
	int rc = removed_keys(in, &removed);

	for (size_t k = 0; rc == 0 && k < n_open; k++) {
		const struct coll_open_alert *o = open_sorted[k];
		const struct candidate *gone;
		if (o->level == COLL_LEVEL_NONE)
			continue;
		if (k > 0 && cmp_open(&open_sorted[k - 1], &open_sorted[k]) == 0)
			continue; /* listed twice: one result is enough */
		if (cand_find(l, measured, open_name(o), o->object))
			continue;
		if (o->rule == COLL_RULE_CLOCK_SKEW || o->rule == COLL_RULE_AGENT_SILENT)
			continue; /* not measurable without a receive time: keep */
		gone = cand_find(&removed, removed.n, open_name(o), o->object);
		if (!gone && !sources_ok(in->report, o->rule))
			continue; /* its probe failed or did not run: we know nothing new */
		struct candidate t = {
			.rule = o->rule,
			.value = NAN,
			.sev = o->rule == COLL_RULE_FINDING ? 0 : -1,
			.warn_line = NAN,
			.crit_line = NAN,
			.vanished = true,
		};
		rc = cand_add(l, &t, open_name(o), o->object, NULL, NULL, NULL);
		if (rc == 0 && gone) {
			l->items[l->n - 1].why = strdup(gone->why);
			if (!l->items[l->n - 1].why)
				rc = -ENOMEM;
		}
	}
	cand_list_free(&removed);
	return rc;
}

static int add_report(struct cand_list *l, const struct coll_alert_input *in)
{
	const json_t *probes = json_object_get(in->report, "probes"), *p, *f;
	const char *gen = coll_json_str(in->report, "generated_at");
	time_t generated;
	size_t i, j;
	int rc;

	json_array_foreach(probes, i, p)
	{
		json_array_foreach(json_object_get(p, "findings"), j, f)
		{
			rc = add_finding(l, f, in);
			if (rc < 0)
				return rc;
		}
	}
	rc = add_forecasts(l, in);
	if (rc < 0)
		return rc;
	/* a report is proof of life */
	rc = cand_add_table(l, COLL_RULE_AGENT_SILENT, "agent", 0, NULL);
	if (rc < 0)
		return rc;
	if (in->received_at > 0 && gen && ep_time_parse(gen, &generated) == 0) {
		double skew = fabs((double)((int64_t)generated - in->received_at));
		char detail[96];
		snprintf(detail, sizeof(detail), "agent says %s", gen);
		rc = cand_add_table(l, COLL_RULE_CLOCK_SKEW, "clock", skew, detail);
	}
	return rc;
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
		rc = add_report(&l, in);
		if (rc < 0)
			goto out;
		cand_merge(&l);
		rc = add_vanished(&l, l.n, in, open_sorted, n_open);
		if (rc < 0)
			goto out;
	} else if (in->last_seen > 0 && in->interval_s > 0) {
		double intervals = (double)(in->now - in->last_seen) / (double)in->interval_s;
		char detail[96], when[32];
		if (ep_time_format((time_t)in->last_seen, when, sizeof(when)) < 0)
			when[0] = '\0';
		snprintf(detail, sizeof(detail), "last report %s", when);
		rc = cand_add_table(&l, COLL_RULE_AGENT_SILENT, "agent", fmax(0.0, intervals),
				    detail);
		if (rc < 0)
			goto out;
	}

	for (size_t k = 0; k < l.n; k++) {
		const struct coll_open_alert *o =
			open_find(open_sorted, n_open, l.items[k].name, l.items[k].object);
		rc = results_push(&res, &cap, &l.items[k], o);
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
		free(r->items[i].name);
		free(r->items[i].object);
		free(r->items[i].unit);
		free(r->items[i].message);
		free(r->items[i].remediation);
		free(r->items[i].why);
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
	r |= json_object_set_new(o, "rule",
				 json_string(a->name ? a->name : coll_rule_name(a->rule)));
	r |= json_object_set_new(o, "object", json_string(a->object ? a->object : ""));
	r |= json_object_set_new(o, "level", json_string(coll_alert_level_name(a->level)));
	r |= json_object_set_new(o, "open", json_string(coll_alert_level_name(a->open)));
	r |= json_object_set_new(o, "action", json_string(coll_alert_action_name(a->action)));
	r |= json_object_set_new(o, "value",
				 isfinite(a->value) ? json_real(a->value) : json_null());
	r |= json_object_set_new(o, "unit", a->unit ? json_string(a->unit) : json_null());
	r |= json_object_set_new(o, "message", a->message ? json_string(a->message) : json_null());
	r |= json_object_set_new(o, "why", a->why ? json_string(a->why) : json_null());
	r |= json_object_set_new(o, "remediation",
				 a->remediation ? json_string(a->remediation) : json_null());
	if (r)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}
