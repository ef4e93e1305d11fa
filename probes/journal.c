/* The journal probe: entries of priority err or worse (PRIORITY <= 3 by
 * default) since the saved cursor, counted per unit, with the top error
 * signatures (probes/log/signature.h).
 *
 * State: {"cursor": last entry read, "realtime_us": its time (or the time
 * scanned up to)}. When the cursor's entry is gone (journal rotated and
 * vacuumed) the probe resumes from the saved time and says so
 * (metrics.cursor_lost). The first run looks back `lookback` seconds.
 * An agent that may not read the system journal (not in the
 * systemd-journal group) gets an error and a finding saying so, never a
 * silent zero. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include "erpulse/probe.h"
#include "probes/log/signature.h"

#define JOURNAL_MAX_UNITS      512
#define JOURNAL_TOP_SIGNATURES 10

static const struct ep_option journal_options[] = {
	{"units", EP_OPT_LIST, NULL, 0, 0,
	 "Units to count (e.g. odoo.service postgresql@15-main.service); default every unit."},
	{"priority", EP_OPT_INT, "3", 0, 7,
	 "Count entries with PRIORITY <= this (3 = err, 2 = crit, ...)."},
	{"directory", EP_OPT_STRING, NULL, 0, 0,
	 "Read the journal files in this directory instead of the system journal."},
	{"lookback", EP_OPT_DURATION, "300", 0, 31536000,
	 "First run (no saved cursor): start this long ago; 0 = the journal's beginning."},
	{"max_entries", EP_OPT_INT, "200000", 1, 100000000,
	 "At most this many matching entries per cycle; the rest waits for the next one."},
	{"errors_warning", EP_OPT_INT, "1", 0, 100000000,
	 "journal_errors is a warning from this many entries per cycle for a unit."},
	{"errors_critical", EP_OPT_INT, "50", 0, 100000000, "... and critical from this many."},
	{.key = NULL},
};

struct journal_ctx {
	char name[128];
	char root[PATH_MAX];
	char directory[PATH_MAX]; /* empty: system journal */
	char **units;
	int64_t priority, lookback_s, max_entries, warn, crit;
};

static void journal_free(struct journal_ctx *c)
{
	if (!c)
		return;
	free(c->units);
	free(c);
}

static int journal_init(const struct ep_config_section *section, const struct ep_probe_env *env,
			void **ret_ctx, char *err, size_t errlen)
{
	struct journal_ctx *c = calloc(1, sizeof(*c));
	const char *v;
	int r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	snprintf(c->name, sizeof(c->name), "%s", env && env->instance ? env->instance : "journal");
	snprintf(c->root, sizeof(c->root), "%s",
		 env && env->root && strcmp(env->root, "/") != 0 ? env->root : "");
	r = ep_config_get_list(section, journal_options, "units", &c->units, err, errlen);
	if (r < 0 && r != -ENOENT)
		goto fail;
	r = ep_config_get_string(section, journal_options, "directory", &v, err, errlen);
	if (r == 0) {
		if (v[0] != '/') {
			snprintf(err, errlen, "[journal] directory: '%s' is not an absolute path",
				 v);
			r = -EINVAL;
			goto fail;
		}
		if (ep_snprintf(c->directory, sizeof(c->directory), "%s%s", c->root, v) < 0) {
			snprintf(err, errlen, "[journal] directory: path too long");
			r = -EINVAL;
			goto fail;
		}
	} else if (r != -ENOENT) {
		goto fail;
	}
	if ((r = ep_config_get_int(section, journal_options, "priority", &c->priority, err,
				   errlen)) < 0 ||
	    (r = ep_config_get_duration(section, journal_options, "lookback", &c->lookback_s, err,
					errlen)) < 0 ||
	    (r = ep_config_get_int(section, journal_options, "max_entries", &c->max_entries, err,
				   errlen)) < 0 ||
	    (r = ep_config_get_int(section, journal_options, "errors_warning", &c->warn, err,
				   errlen)) < 0 ||
	    (r = ep_config_get_int(section, journal_options, "errors_critical", &c->crit, err,
				   errlen)) < 0)
		goto fail;
	*ret_ctx = c;
	return 0;
fail:
	journal_free(c);
	return r;
}

static void journal_fini(void *ctx)
{
	journal_free(ctx);
}

/* Counts journal files under the patterns that exist and that are
 * readable. */
static void count_files(const char *pattern, size_t *exist, size_t *readable)
{
	glob_t g;
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		(*exist)++;
		if (access(g.gl_pathv[i], R_OK) == 0)
			(*readable)++;
	}
	globfree(&g);
}

/* 0 when the journal we are asked for can be read; otherwise -EACCES
 * (files there, none readable) or -ENOENT (no journal files at all). */
static int journal_access(const struct journal_ctx *c, char *what, size_t whatlen)
{
	size_t exist = 0, readable = 0;
	char pat[PATH_MAX + 32];

	if (c->directory[0]) {
		if (access(c->directory, R_OK | X_OK) < 0 && errno == EACCES) {
			ep_snprintf(what, whatlen, "%s", c->directory);
			return -EACCES;
		}
		ep_snprintf(pat, sizeof(pat), "%s/*.journal", c->directory);
		count_files(pat, &exist, &readable);
		ep_snprintf(pat, sizeof(pat), "%s/*/*.journal", c->directory);
		count_files(pat, &exist, &readable);
		ep_snprintf(what, whatlen, "%s", c->directory);
	} else {
		ep_snprintf(pat, sizeof(pat), "%s/var/log/journal/*/system*.journal", c->root);
		count_files(pat, &exist, &readable);
		ep_snprintf(pat, sizeof(pat), "%s/run/log/journal/*/system*.journal", c->root);
		count_files(pat, &exist, &readable);
		ep_snprintf(what, whatlen, "the system journal");
	}
	if (exist == 0)
		return -ENOENT;
	if (readable == 0)
		return -EACCES;
	return 0;
}

/* Value of FIELD= in the current entry, as a NUL-terminated copy in buf. */
static bool field(sd_journal *j, const char *name, char *buf, size_t bufsize, size_t *ret_len)
{
	const void *d;
	size_t len, nl = strlen(name);

	if (sd_journal_get_data(j, name, &d, &len) < 0 || len <= nl)
		return false;
	len -= nl + 1;
	if (len >= bufsize)
		len = bufsize - 1;
	memcpy(buf, (const char *)d + nl + 1, len);
	buf[len] = '\0';
	if (ret_len)
		*ret_len = len;
	return true;
}

struct unit_count {
	char name[128];
	uint64_t count;
	uint64_t by_prio[8];
};

static int unit_cmp(const void *a, const void *b)
{
	const struct unit_count *x = a, *y = b;
	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool wanted(const struct journal_ctx *c, const char *unit)
{
	if (!c->units || !c->units[0])
		return true;
	for (size_t i = 0; c->units[i]; i++)
		if (strcmp(c->units[i], unit) == 0)
			return true;
	return false;
}

/* The unit an entry belongs to: the service that logged it, the unit
 * systemd logged about, the user unit, else the syslog identifier. */
static void entry_unit(sd_journal *j, char *out, size_t outsize)
{
	char pid[32];
	if (field(j, "_SYSTEMD_UNIT", out, outsize, NULL)) {
		/* systemd's own messages about a unit ("Failed to start x.service") */
		if (strcmp(out, "init.scope") == 0 && field(j, "_PID", pid, sizeof(pid), NULL) &&
		    strcmp(pid, "1") == 0)
			field(j, "UNIT", out, outsize, NULL);
		return;
	}
	if (field(j, "UNIT", out, outsize, NULL) ||
	    field(j, "_SYSTEMD_USER_UNIT", out, outsize, NULL))
		return;
	char t[32];
	if (field(j, "_TRANSPORT", t, sizeof(t), NULL) && strcmp(t, "kernel") == 0) {
		snprintf(out, outsize, "kernel");
		return;
	}
	if (field(j, "SYSLOG_IDENTIFIER", out, outsize, NULL))
		return;
	snprintf(out, outsize, "(unknown)");
}

static const char *const prio_names[] = {"emerg",   "alert",  "crit", "err",
					 "warning", "notice", "info", "debug"};

static void journal_run(void *ctx, const struct ep_deadline *deadline,
			struct ep_probe_result *result)
{
	struct journal_ctx *c = ctx;
	sd_journal *j = NULL;
	struct probe_log_sigtab sigs = {0};
	struct unit_count *units = NULL;
	size_t n_units = 0;
	uint64_t total = 0, by_prio[8] = {0}, other_units = 0;
	bool cursor_lost = false, first_run, cut = false;
	char what[PATH_MAX + 64];
	const char *saved_cursor = json_string_value(json_object_get(result->state, "cursor"));
	json_int_t saved_rt = json_integer_value(json_object_get(result->state, "realtime_us"));
	char *last_cursor = NULL;
	uint64_t last_rt = 0;
	int r;

	ep_snprintf(result->target, sizeof(result->target), "%s",
		    c->directory[0] ? c->directory : "system journal");
	first_run = !saved_cursor && saved_rt <= 0;

	r = journal_access(c, what, sizeof(what));
	if (r == -EACCES) {
		char msg[768];
		ep_snprintf(
			msg, sizeof(msg),
			"cannot read %s: permission denied; errors cannot be counted (add the "
			"erpulse user to the systemd-journal group: usermod -aG systemd-journal "
			"erpulse)",
			what);
		struct ep_finding f = {
			.kind = "probe_error",
			.object = c->directory[0] ? c->directory : "journal",
			.value = 1,
			.unit = "bool",
			.threshold = NAN,
			.severity = EP_SEV_WARNING,
			.method = "access(2) on the journal files",
			.message = msg,
			.remediation = "usermod -aG systemd-journal erpulse && systemctl restart "
				       "erpulse-agent",
		};
		ep_probe_add_finding(result, &f);
		ep_probe_fail(result, EP_STATUS_ERROR, "%s", msg);
		return;
	}
	if (r == -ENOENT) {
		ep_probe_fail(result, EP_STATUS_ERROR,
			      "no journal files in %s (is systemd-journald running, with "
			      "Storage=persistent or volatile?)",
			      what);
		return;
	}
	r = c->directory[0] ? sd_journal_open_directory(&j, c->directory, 0)
			    : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "cannot open %s: %s", what, strerror(-r));
		return;
	}
	units = calloc(JOURNAL_MAX_UNITS, sizeof(*units));
	if (!units) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}
	for (int p = 0; p <= c->priority; p++) {
		char m[16] = "PRIORITY=0";
		m[9] = (char)('0' + p);
		sd_journal_add_match(j, m, 0);
	}

	/* position: after the saved entry, else after the saved time */
	bool positioned = false;
	uint64_t skip_until = 0; /* entries at or before this time were counted */
	if (saved_cursor) {
		if (sd_journal_seek_cursor(j, saved_cursor) >= 0 && sd_journal_next(j) > 0 &&
		    sd_journal_test_cursor(j, saved_cursor) > 0)
			positioned = true; /* sd_journal_next below moves past it */
		else
			cursor_lost = true;
	}
	if (!positioned) {
		if (saved_rt > 0) {
			sd_journal_seek_realtime_usec(j, (uint64_t)saved_rt);
			skip_until = (uint64_t)saved_rt;
		} else if (c->lookback_s > 0) {
			uint64_t now = (uint64_t)ep_wall_ms() * 1000;
			sd_journal_seek_realtime_usec(j, now - (uint64_t)c->lookback_s * 1000000);
		} else {
			sd_journal_seek_head(j);
		}
	}

	uint64_t seen = 0;
	while ((r = sd_journal_next(j)) > 0) {
		uint64_t rt = 0;
		char unit[128], prio[8], msg[4096];
		size_t msglen = 0;

		if ((seen & 255) == 0 && ep_deadline_left_ms(deadline) < 200) {
			cut = true;
			sd_journal_previous(j);
			break;
		}
		if ((int64_t)seen >= c->max_entries) {
			cut = true;
			sd_journal_previous(j);
			break;
		}
		seen++;
		sd_journal_get_realtime_usec(j, &rt);
		if (skip_until && rt <= skip_until)
			continue;
		free(last_cursor);
		last_cursor = NULL;
		sd_journal_get_cursor(j, &last_cursor);
		last_rt = rt;
		if (!field(j, "PRIORITY", prio, sizeof(prio), NULL) || prio[0] < '0' ||
		    prio[0] > '7' || prio[1])
			continue;
		int p = prio[0] - '0';
		if (p > c->priority)
			continue;
		entry_unit(j, unit, sizeof(unit));
		if (!wanted(c, unit))
			continue;
		total++;
		by_prio[p]++;
		size_t u;
		for (u = 0; u < n_units; u++)
			if (strcmp(units[u].name, unit) == 0)
				break;
		if (u == n_units) {
			if (n_units < JOURNAL_MAX_UNITS) {
				snprintf(units[n_units].name, sizeof(units[0].name), "%s", unit);
				n_units++;
			} else {
				other_units++;
				u = SIZE_MAX;
			}
		}
		if (u != SIZE_MAX) {
			units[u].count++;
			units[u].by_prio[p]++;
		}
		if (!field(j, "MESSAGE", msg, sizeof(msg), &msglen))
			msglen = 0;
		/* the unit is part of the signature: the same text from two units is two problems
		 */
		char keyed[4096 + 160];
		int kl = snprintf(keyed, sizeof(keyed), "%s: %.*s", unit, (int)msglen, msg);
		if (kl < 0)
			continue;
		size_t klen = (size_t)kl < sizeof(keyed) ? (size_t)kl : sizeof(keyed) - 1;
		if (probe_log_sigtab_add(&sigs, keyed, klen, keyed, klen) < 0) {
			ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
			goto out;
		}
	}
	if (r < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "reading %s: %s", what, strerror(-r));
	}

	/* state: the last entry read; else keep the old position, or on a first run
	 * with nothing found, "now" so the next run does not look back again */
	if (last_cursor) {
		json_object_set_new(result->state, "cursor", json_string(last_cursor));
		json_object_set_new(result->state, "realtime_us",
				    json_integer((json_int_t)last_rt));
	} else if (first_run) {
		json_object_set_new(result->state, "realtime_us",
				    json_integer((json_int_t)ep_wall_ms() * 1000));
	}

	/* metrics and findings */
	json_t *m = result->metrics, *bp = json_object(), *ju = json_object(), *top = json_array();
	for (int p = 0; p <= c->priority && p < 8; p++)
		json_object_set_new(bp, prio_names[p], json_integer((json_int_t)by_prio[p]));
	qsort(units, n_units, sizeof(*units), unit_cmp);
	for (size_t u = 0; u < n_units; u++)
		json_object_set_new(ju, units[u].name, json_integer((json_int_t)units[u].count));
	const struct probe_log_sig *ts[JOURNAL_TOP_SIGNATURES];
	size_t nt = probe_log_sigtab_top(&sigs, ts, JOURNAL_TOP_SIGNATURES);
	for (size_t i = 0; i < nt; i++)
		json_array_append_new(
			top, json_pack("{s:s, s:I, s:s}", "signature", ts[i]->signature, "count",
				       (json_int_t)ts[i]->count, "sample", ts[i]->sample));
	json_object_set_new(m, "entries", json_integer((json_int_t)total));
	json_object_set_new(m, "by_priority", bp);
	json_object_set_new(m, "units", ju);
	json_object_set_new(m, "other_units", json_integer((json_int_t)other_units));
	json_object_set_new(m, "top_signatures", top);
	json_object_set_new(m, "other_signatures", json_integer((json_int_t)sigs.other));
	json_object_set_new(m, "first_run", json_boolean(first_run));
	json_object_set_new(m, "cursor_lost", json_boolean(cursor_lost));
	json_object_set_new(m, "cut_short", json_boolean(cut));
	json_object_set_new(m, "max_priority", json_integer((json_int_t)c->priority));

	for (size_t u = 0; u < n_units && u < 256; u++) {
		char msg[512];
		enum ep_severity sev =
			(c->crit > 0 && (int64_t)units[u].count >= c->crit)   ? EP_SEV_CRITICAL
			: (c->warn > 0 && (int64_t)units[u].count >= c->warn) ? EP_SEV_WARNING
									      : EP_SEV_INFO;
		snprintf(msg, sizeof(msg), "%" PRIu64 " journal entries at priority %s or worse%s",
			 units[u].count, prio_names[c->priority],
			 cursor_lost ? " (the saved cursor was rotated away; resumed from its time)"
				     : "");
		struct ep_finding f = {
			.kind = "journal_errors",
			.object = units[u].name,
			.value = (double)units[u].count,
			.unit = "count",
			.threshold = c->warn > 0 ? (double)c->warn : NAN,
			.critical_threshold = c->crit > 0 ? (double)c->crit : 0,
			.severity = sev,
			.method = "sd-journal",
			.message = msg,
			.remediation = NULL,
		};
		ep_probe_add_finding(result, &f);
	}
	if (n_units == 0) {
		char msg[512];
		snprintf(msg, sizeof(msg), "no journal entries at priority %s or worse%s%s",
			 prio_names[c->priority], first_run ? " (first run)" : "",
			 cursor_lost ? " (the saved cursor was rotated away; resumed from its time)"
				     : "");
		struct ep_finding f = {
			.kind = "journal_errors",
			.object = c->units && c->units[0] ? c->units[0] : "all units",
			.value = 0,
			.unit = "count",
			.threshold = c->warn > 0 ? (double)c->warn : NAN,
			.critical_threshold = c->crit > 0 ? (double)c->crit : 0,
			.severity = EP_SEV_INFO,
			.method = "sd-journal",
			.message = msg,
		};
		ep_probe_add_finding(result, &f);
	}
out:
	free(last_cursor);
	free(units);
	probe_log_sigtab_free(&sigs);
	sd_journal_close(j);
}

static int journal_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct journal_ctx *c = ctx;
	char what[PATH_MAX + 64];
	(void)deadline;
	int r = journal_access(c, what, sizeof(what));
	if (r == -EACCES)
		ep_snprintf(err, errlen,
			    "[journal] cannot read %s: add the erpulse user to the systemd-journal "
			    "group",
			    what);
	else if (r == -ENOENT)
		ep_snprintf(err, errlen, "[journal] no journal files in %s", what);
	return r;
}

const struct ep_probe ep_probe_journal = {
	.name = "journal",
	.summary = "systemd journal entries at priority err or worse, per unit, since a cursor",
	.options = journal_options,
	.init = journal_init,
	.check = journal_check,
	.run = journal_run,
	.fini = journal_fini,
};
