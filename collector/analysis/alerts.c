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

const char *coll_rule_remediation(enum coll_rule r)
{
	if ((unsigned)r >= COLL_RULE_COUNT)
		return NULL;
	return default_remediation[r];
}
