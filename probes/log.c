/* The log probe: error records in log files found by glob, read
 * incrementally and rotation-safely; how files are tracked across cycles
 * and rotations is in probes/log/files.c (docs/probes-host.md). */
#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "erpulse/config.h"
#include "erpulse/probe.h"
#include "probes/log/files.h"
#include "probes/log/fit.h"
#include "probes/log/presets.h"
#include "probes/log/scan.h"
#include "probes/log/texts.h"

#define LOG_TOP_SIGNATURES 10

static const struct ep_option log_options[] = {
	{"paths", EP_OPT_LIST, NULL, 0, 0,
	 "Files to read: absolute paths or globs (several allowed, separated by spaces or commas). "
	 "Compressed files (.gz, .xz, .bz2, .zst) are skipped."},
	{"preset", EP_OPT_STRING, NULL, 0, 0,
	 "A built-in layout: odoo, erpnext (frappe), postgresql, mariadb (mysql), java (log4j), "
	 "tryton. "
	 "Its patterns are defaults that the options below override."},
	{"header", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2 matching a record's first line, with named groups (?<level>...) and optionally "
	 "(?<message>...), the part that is signed."},
	{"record_start", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2 a line must match to start a record (default: the header)."},
	{"multiline", EP_OPT_BOOL, NULL, 0, 0,
	 "Lines that do not start a record (stack traces) belong to the record before them and "
	 "are not counted on their own. Default: the preset's, else no."},
	{"error_pattern", EP_OPT_STRING, NULL, 0, 0,
	 "PCRE2: a record with no level (no header match or an unknown level word) matching this "
	 "is an error record. Default: the preset's, else ERROR|FATAL|CRITICAL|Exception."},
	{"levels", EP_OPT_LIST, NULL, 0, 0,
	 "Extra level words: TOKEN=debug|info|warning|error|critical|continuation, e.g. "
	 "\"E=error W=warning\"."},
	{"start_at", EP_OPT_STRING, "end", 0, 0,
	 "First run only (no saved state): read files that already exist from their 'end' or "
	 "'beginning'. Files created later are always read from the beginning."},
	{"budget_mb", EP_OPT_INT, "256", 1, 1048576,
	 "At most this many MiB read per cycle; the rest waits for the next cycle "
	 "(backlog_bytes)."},
	{"max_line_kb", EP_OPT_INT, "64", 1, 16384,
	 "Longer lines are classified on this prefix and skipped to their end."},
	{"signatures", EP_OPT_BOOL, "yes", 0, 0, "Collect the top 10 error signatures."},
	{"error_rate_warning", EP_OPT_INT, "1", 0, 1000000,
	 "The log_errors finding is a warning from this many error records per minute (0: never). "
	 "The rule travels in the finding, so the collector alerts on it from the first day."},
	{"error_rate_critical", EP_OPT_INT, "10", 0, 1000000,
	 "... and critical from this many (0: never; at least error_rate_warning)."},
	{.key = NULL},
};

static void log_free_ctx(struct probe_log_ctx *c)
{
	if (!c)
		return;
	free(c->paths);
	probe_log_rules_free(&c->rules);
	free(c);
}

static int get_opt_string(const struct ep_config_section *s, const char *key, const char *dflt,
			  const char **ret, char *err, size_t errlen)
{
	int r = ep_config_get_string(s, log_options, key, ret, err, errlen);
	if (r == -ENOENT) {
		*ret = dflt;
		return 0;
	}
	return r;
}

static int log_init(const struct ep_config_section *section, const struct ep_probe_env *env,
		    void **ret_ctx, char *err, size_t errlen)
{
	struct probe_log_ctx *c = calloc(1, sizeof(*c));
	const struct probe_log_preset *preset = NULL;
	const char *v, *header, *record_start, *error_pattern, *start_at;
	char **levels = NULL;
	int64_t n;
	bool b;
	int r;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	probe_log_rules_init(&c->rules);
	ep_snprintf(c->name, sizeof(c->name), "%s", env && env->instance ? env->instance : "log");
	snprintf(c->root, sizeof(c->root), "%s",
		 env && env->root && strcmp(env->root, "/") != 0 ? env->root : "");
	if (!section) {
		snprintf(err, errlen, "[log] needs a section with paths = ...");
		r = -EINVAL;
		goto fail;
	}
	r = ep_config_get_list(section, log_options, "paths", &c->paths, err, errlen);
	if (r == -ENOENT || (r == 0 && !c->paths[0])) {
		snprintf(err, errlen,
			 "%s:%d: [%s] paths: required (the log files or globs to read)",
			 section->file ? section->file : "config", section->line, section->name);
		r = -EINVAL;
		goto fail;
	}
	if (r < 0)
		goto fail;
	for (size_t i = 0; c->paths[i]; i++)
		if (c->paths[i][0] != '/') {
			snprintf(err, errlen, "[%s] paths: '%s' is not an absolute path",
				 section->name, c->paths[i]);
			r = -EINVAL;
			goto fail;
		}
	if ((r = get_opt_string(section, "preset", NULL, &v, err, errlen)) < 0)
		goto fail;
	if (v && !(preset = probe_log_preset_find(v))) {
		/* every preset by name, and the nearest one when it is a near miss */
		char names[256] = "";
		const char *near = NULL;
		size_t best = 3, len = 0;
		for (const struct probe_log_preset *p = probe_log_presets; p->name; p++) {
			size_t d = ep_edit_distance(v, p->name);
			if (d < best) {
				best = d;
				near = p->name;
			}
			len += (size_t)snprintf(names + len,
						len < sizeof(names) ? sizeof(names) - len : 0,
						"%s%s", len ? ", " : "", p->name);
		}
		snprintf(err, errlen, "[%s] preset: unknown preset '%s'%s%s%s (%s)", section->name,
			 v, near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "",
			 names);
		r = -EINVAL;
		goto fail;
	}
	if ((r = get_opt_string(section, "header", preset ? preset->header : NULL, &header, err,
				errlen)) < 0 ||
	    (r = get_opt_string(section, "record_start", preset ? preset->record_start : NULL,
				&record_start, err, errlen)) < 0 ||
	    (r = get_opt_string(section, "error_pattern",
				preset ? preset->error_pattern : "ERROR|FATAL|CRITICAL|Exception",
				&error_pattern, err, errlen)) < 0 ||
	    (r = get_opt_string(section, "start_at", "end", &start_at, err, errlen)) < 0)
		goto fail;
	if (header && (!preset || header != preset->header))
		snprintf(c->layout, sizeof(c->layout), "the header pattern");
	else if (preset)
		snprintf(c->layout, sizeof(c->layout), "preset %s", preset->name);
	else
		snprintf(c->layout, sizeof(c->layout), "the record_start pattern");
	if (strcmp(start_at, "end") == 0)
		c->start_at_end = true;
	else if (strcmp(start_at, "beginning") != 0) {
		snprintf(err, errlen, "[%s] start_at: expected 'end' or 'beginning', not '%s'",
			 section->name, start_at);
		r = -EINVAL;
		goto fail;
	}
	char rxerr[512];
	if ((header &&
	     probe_log_regex_compile(&c->rules.header, header, rxerr, sizeof(rxerr)) < 0) ||
	    (record_start && probe_log_regex_compile(&c->rules.record_start, record_start, rxerr,
						     sizeof(rxerr)) < 0) ||
	    (error_pattern && error_pattern[0] &&
	     probe_log_regex_compile(&c->rules.error, error_pattern, rxerr, sizeof(rxerr)) < 0)) {
		snprintf(err, errlen, "[%s] %s", section->name, rxerr);
		r = -EINVAL;
		goto fail;
	}
	r = ep_config_get_bool(section, log_options, "multiline", &b, err, errlen);
	if (r == -ENOENT)
		b = preset ? preset->multiline : false;
	else if (r < 0)
		goto fail;
	c->rules.multiline = b;
	if (preset && preset->levels) {
		char spec[64];
		const char *p = preset->levels;
		while (*p) {
			size_t k = strcspn(p, ",");
			snprintf(spec, sizeof(spec), "%.*s", (int)k, p);
			if ((r = probe_log_rules_add_level(&c->rules, spec, err, errlen)) < 0)
				goto fail;
			p += k + (p[k] == ',');
		}
	}
	r = ep_config_get_list(section, log_options, "levels", &levels, err, errlen);
	if (r == 0) {
		for (size_t i = 0; levels[i]; i++)
			if ((r = probe_log_rules_add_level(&c->rules, levels[i], err, errlen)) < 0)
				break;
		free(levels);
		if (r < 0)
			goto fail;
	} else if (r != -ENOENT) {
		goto fail;
	}
	if ((r = ep_config_get_int(section, log_options, "budget_mb", &n, err, errlen)) < 0)
		goto fail;
	c->budget = n * 1024 * 1024;
	if ((r = ep_config_get_int(section, log_options, "max_line_kb", &n, err, errlen)) < 0)
		goto fail;
	c->rules.max_line = (size_t)n * 1024;
	if ((r = ep_config_get_bool(section, log_options, "signatures", &b, err, errlen)) < 0)
		goto fail;
	c->rules.signatures = b;
	if ((r = ep_config_get_int(section, log_options, "error_rate_warning", &c->rate_warning,
				   err, errlen)) < 0 ||
	    (r = ep_config_get_int(section, log_options, "error_rate_critical", &c->rate_critical,
				   err, errlen)) < 0)
		goto fail;
	if (c->rate_critical > 0 && c->rate_warning > c->rate_critical) {
		snprintf(err, errlen,
			 "[%s] error_rate_critical (%" PRId64
			 ") is below error_rate_warning (%" PRId64 ")",
			 section->name, c->rate_critical, c->rate_warning);
		r = -EINVAL;
		goto fail;
	}
	if ((r = probe_log_rules_finish(&c->rules, err, errlen)) < 0)
		goto fail;
	*ret_ctx = c;
	return 0;
fail:
	log_free_ctx(c);
	return r < 0 ? r : -EINVAL;
}

static void log_fini(void *ctx)
{
	log_free_ctx(ctx);
}

static const char *sev_of(double rate, const struct probe_log_ctx *c, enum ep_severity *ret)
{
	if (c->rate_critical > 0 && rate >= (double)c->rate_critical)
		*ret = EP_SEV_CRITICAL;
	else if (c->rate_warning > 0 && rate >= (double)c->rate_warning)
		*ret = EP_SEV_WARNING;
	else
		*ret = EP_SEV_INFO;
	return ep_severity_name(*ret);
}

/* The earliest and latest record times over the parts of the files read
 * this cycle (their first and last lines carrying a time). */
static bool record_span(const struct probe_log_cycle *cy, int64_t *ret_first, int64_t *ret_last)
{
	bool any = false;

	for (size_t i = 0; i < cy->n; i++) {
		const struct probe_log_file *f = &cy->files[i];
		int64_t a, b;
		if (!f->read || f->read > f->off ||
		    !probe_log_time_span(f->path, f->off - f->read, f->off, &a, &b))
			continue;
		if (!any || a < *ret_first)
			*ret_first = a;
		if (!any || b > *ret_last)
			*ret_last = b;
		any = true;
	}
	return any;
}

/* log_format_mismatch: enough lines read this cycle and almost none fit the
 * layout; the preset that fits the tail of the file read most, if one does. */
static int add_mismatch(const struct probe_log_ctx *c, struct probe_log_cycle *cy,
			struct ep_probe_result *result)
{
	const struct probe_log_counts *k = &cy->sc.counts;
	const struct probe_log_file *big = NULL;
	const struct probe_log_preset *fits = NULL;
	double pct = 0;
	char msg[768], fix[512];
	size_t len = 0;

	if (!probe_log_has_layout(&c->rules) ||
	    !probe_log_mismatch(k->lines, k->format_lines, PROBE_LOG_MISMATCH_MIN_LINES))
		return 0;
	for (size_t i = 0; i < cy->n; i++)
		if (cy->files[i].read && (!big || cy->files[i].read > big->read))
			big = &cy->files[i];
	const char *sample = cy->sc.unmatched;
	struct probe_log_fit fit = {0};
	if (big && cy->bufsize >= PROBE_LOG_TAIL_BYTES &&
	    probe_log_tail(big->path, cy->buf, cy->bufsize, &len) == 0) {
		fits = probe_log_best_preset(cy->buf, len, PROBE_LOG_CHECK_MIN_LINES, &pct);
		/* the fast paths count without keeping a sample: take one from the tail */
		if (!sample[0] && probe_log_fit(&c->rules, cy->buf, len, &fit) == 0)
			sample = fit.unmatched;
	}
	snprintf(msg, sizeof(msg), LOG_TXT_MISMATCH, c->layout, k->format_lines, k->lines,
		 100.0 * (double)k->format_lines / (double)k->lines, sample);
	if (fits)
		snprintf(fix, sizeof(fix), LOG_TXT_MISMATCH_FIX, fits->name, c->name, pct);
	else
		snprintf(fix, sizeof(fix), LOG_TXT_MISMATCH_HELP, c->name);
	struct ep_finding f = {
		.kind = "log_format_mismatch",
		.object = c->name,
		.value = round(1000.0 * (double)k->format_lines / (double)k->lines) / 10,
		.unit = "%",
		.threshold = PROBE_LOG_MISMATCH_PCT,
		.below = true,
		.severity = EP_SEV_WARNING,
		.method = "log scan (pcre2)",
		.message = msg,
		.remediation = fix,
	};
	json_t *j = ep_finding_json(&f);
	if (!j || json_object_set_new(j, "layout", json_string(c->layout)) < 0 ||
	    (fits && json_object_set_new(j, "preset_fits", json_string(fits->name)) < 0)) {
		json_decref(j);
		return -ENOMEM;
	}
	return ep_findings_append(result->findings, j) == -ENOMEM ? -ENOMEM : 0;
}

/* log_source_unreadable: one per path that could not be read (missing, no
 * permission, not a regular file). */
static int add_unreadable(const struct probe_log_ctx *c, const struct probe_log_cycle *cy,
			  struct ep_probe_result *result)
{
	for (size_t i = 0; i < cy->n_unreadable; i++) {
		char msg[PATH_MAX + 256], object[PATH_MAX + 160];
		const struct probe_log_unreadable *u = &cy->unreadable[i];
		ep_snprintf(msg, sizeof(msg), LOG_TXT_UNREADABLE, u->path, u->why);
		ep_snprintf(object, sizeof(object), "%s:%s", c->name, u->path);
		struct ep_finding f = {
			.kind = "log_source_unreadable",
			.object = object,
			.value = 1,
			.unit = "count",
			.threshold = NAN,
			.severity = EP_SEV_WARNING,
			.method = "open(2)",
			.message = msg,
			.remediation = LOG_TXT_UNREADABLE_FIX,
		};
		if (ep_probe_add_finding(result, &f) < 0)
			return -ENOMEM;
	}
	return 0;
}

static void log_run(void *ctx, const struct ep_deadline *deadline, struct ep_probe_result *result)
{
	struct probe_log_ctx *c = ctx;
	struct probe_log_cycle cy = {.deadline = deadline, .budget_left = c->budget};
	struct probe_log_match *ms = NULL;
	size_t nm = 0;
	json_t *patterns = json_array(), *files = json_array(), *m = result->metrics;
	bool first_run = !json_object_get(result->state, "v");
	int64_t now = ep_wall_ms();
	int64_t last = json_integer_value(json_object_get(result->state, "last_run_ms"));

	/* a first run from the beginning: the rate is over the span of the
	 * records' own times (record_span) */
	bool timed = first_run && !c->start_at_end;
	ep_snprintf(result->target, sizeof(result->target), "%s", c->name);
	cy.bufsize = LOG_READ_CHUNK + c->rules.max_line + 1;
	cy.buf = malloc(cy.bufsize);
	if (!cy.buf || !patterns || !files || probe_log_scanner_init(&cy.sc, &c->rules) < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}
	probe_log_state_load(&cy, result->state);
	size_t n_old = cy.n;
	/* cycle_add may move cy.files: reserve room first so the pointers in
	 * ms stay valid */
	if (cy.n + LOG_MAX_FILES > cy.cap) {
		struct probe_log_file *nf = realloc(cy.files, (cy.n + LOG_MAX_FILES) * sizeof(*nf));
		if (!nf) {
			ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
			goto out;
		}
		cy.files = nf;
		cy.cap = cy.n + LOG_MAX_FILES;
	}
	ms = calloc(LOG_MAX_FILES, sizeof(*ms));
	if (!ms) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}
	nm = probe_log_expand_globs(c, &cy, n_old, ms, LOG_MAX_FILES, patterns);
	/* rotated files first: their lines are older than the current files' */
	probe_log_finish_rotated(c, &cy, n_old);
	for (size_t i = 0; i < nm; i++) {
		probe_log_process_current(c, &cy, ms[i].f, ms[i].fd, &ms[i].st, ms[i].is_new,
					  first_run);
		close(ms[i].fd);
		ms[i].fd = -1;
	}

	if (probe_log_state_save(&cy, result->state) < 0) {
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
		goto out;
	}

	/* metrics */
	const struct probe_log_counts *k = &cy.sc.counts;
	uint64_t errors = k->records[PROBE_LOG_ERROR] + k->records[PROBE_LOG_CRITICAL];
	double minutes = (last > 0 && now > last) ? (double)(now - last) / 60000.0 : 0.0;
	const char *basis = "interval";
	int64_t first_ms, last_ms;
	if (timed && record_span(&cy, &first_ms, &last_ms)) {
		/* at least a minute: a burst within one second is not 60x worse */
		double span = (double)(last_ms - first_ms) / 60000.0;
		minutes = span > 1.0 ? span : 1.0;
		basis = "record_times";
	} else if (minutes <= 0) {
		minutes = 5.0;
		basis = "assumed_5min";
	}
	double rate = (double)errors / minutes;
	json_t *rec = json_object();
	for (int l = 0; l < PROBE_LOG_N_LEVELS; l++)
		json_object_set_new(rec, probe_log_level_name((enum probe_log_level)l),
				    json_integer((json_int_t)k->records[l]));
	for (size_t i = 0; i < cy.n; i++) {
		const struct probe_log_file *f = &cy.files[i];
		if (!f->keep && !f->error[0])
			continue;
		json_t *fe =
			json_pack("{s:o, s:I, s:I, s:I, s:b}", "path", probe_log_json_path(f->path),
				  "offset", (json_int_t)f->off, "size", (json_int_t)f->size,
				  "read_bytes", (json_int_t)f->read, "rotated", f->rotated);
		if (fe && f->error[0])
			json_object_set_new(fe, "error", json_string(f->error));
		json_array_append_new(files, fe);
	}
	json_t *top = json_array();
	const struct probe_log_sig *sigs[LOG_TOP_SIGNATURES];
	size_t ntop = probe_log_sigtab_top(&cy.sc.sigs, sigs, LOG_TOP_SIGNATURES);
	for (size_t i = 0; i < ntop; i++)
		json_array_append_new(
			top, json_pack("{s:s, s:I, s:s}", "signature", sigs[i]->signature, "count",
				       (json_int_t)sigs[i]->count, "sample", sigs[i]->sample));
	json_object_set_new(m, "source", json_string(c->name));
	json_object_set_new(m, "records", rec);
	json_object_set_new(m, "error_records", json_integer((json_int_t)errors));
	json_object_set_new(m, "error_rate_per_min", json_real(round(rate * 100) / 100));
	json_object_set_new(m, "interval_s", json_integer((json_int_t)(minutes * 60)));
	json_object_set_new(m, "rate_basis", json_string(basis));
	json_object_set_new(m, "format_lines", json_integer((json_int_t)k->format_lines));
	json_object_set_new(m, "lines", json_integer((json_int_t)k->lines));
	json_object_set_new(m, "continuation_lines", json_integer((json_int_t)k->continuation));
	json_object_set_new(m, "long_lines", json_integer((json_int_t)k->long_lines));
	json_object_set_new(m, "bytes_read", json_integer((json_int_t)k->bytes));
	json_object_set_new(m, "backlog_bytes", json_integer((json_int_t)cy.backlog));
	json_object_set_new(m, "lost_files", json_integer((json_int_t)cy.lost));
	json_object_set_new(m, "first_run", json_boolean(first_run));
	json_object_set_new(m, "patterns", patterns);
	json_object_set_new(m, "files", files);
	json_object_set_new(m, "top_signatures", top);
	json_object_set_new(m, "other_signatures", json_integer((json_int_t)cy.sc.sigs.other));
	patterns = files = NULL;

	char msg[512], remedy[512];
	enum ep_severity sev;
	sev_of(rate, c, &sev);
	snprintf(msg, sizeof(msg), "%" PRIu64 " error records in %.1f min%s%s%s", errors, minutes,
		 ntop ? "; most frequent: " : "", ntop ? sigs[0]->signature : "",
		 cy.cut ? " (cut short by the deadline)" : "");
	snprintf(remedy, sizeof(remedy),
		 "Read the top signatures' sample lines in %s and fix their cause", c->paths[0]);
	struct ep_finding fnd = {
		.kind = "log_errors",
		.object = c->name,
		.value = round(rate * 100) / 100,
		.unit = "records/min",
		.threshold = c->rate_warning > 0 ? (double)c->rate_warning : NAN,
		.critical_threshold = c->rate_critical > 0 ? (double)c->rate_critical : 0,
		.severity = sev,
		.method = "log scan (pcre2)",
		.message = msg,
		.remediation = errors ? remedy : NULL,
	};
	if (ep_probe_add_finding(result, &fnd) < 0 || add_mismatch(c, &cy, result) < 0 ||
	    add_unreadable(c, &cy, result) < 0)
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory");
	if (cy.sc.error)
		ep_probe_fail(result, EP_STATUS_ERROR, "out of memory while counting signatures");
	else if (cy.n_errors)
		ep_probe_fail(result, EP_STATUS_ERROR, "%s%s", cy.first_error,
			      cy.n_errors > 1 ? " (and more: see metrics.files)" : "");
out:
	for (size_t i = 0; ms && i < nm; i++)
		if (ms[i].fd >= 0)
			close(ms[i].fd);
	free(ms);
	json_decref(patterns);
	json_decref(files);
	probe_log_scanner_free(&cy.sc);
	free(cy.files);
	free(cy.buf);
}

/* check-config on one readable file: a sample of its tail must fit the
 * layout; if it does not, name the preset that fits, if one does. Without
 * a layout, a preset that fits is a hint left in err (returns 0). */
static int check_fit(const struct probe_log_ctx *c, const char *path, char *buf, size_t cap,
		     char *err, size_t errlen)
{
	struct probe_log_fit fit;
	size_t len = 0;
	double pct = 0;

	if (probe_log_tail(path, buf, cap, &len) < 0)
		return 0;
	if (!probe_log_has_layout(&c->rules)) {
		/* nothing to mismatch; name a preset that fits, once */
		const struct probe_log_preset *p =
			err[0] ? NULL
			       : probe_log_best_preset(buf, len, PROBE_LOG_CHECK_MIN_LINES, &pct);
		if (p)
			snprintf(err, errlen, LOG_TXT_CHECK_HINT, path, p->name, pct, p->name);
		return 0;
	}
	if (probe_log_fit(&c->rules, buf, len, &fit) < 0 ||
	    !probe_log_mismatch(fit.lines, fit.format_lines, PROBE_LOG_CHECK_MIN_LINES))
		return 0;
	const struct probe_log_preset *p =
		probe_log_best_preset(buf, len, PROBE_LOG_CHECK_MIN_LINES, &pct);
	size_t n = (size_t)snprintf(err, errlen, LOG_TXT_CHECK_MISMATCH, c->layout, path,
				    fit.format_lines, fit.lines);
	if (n < errlen) {
		if (p)
			snprintf(err + n, errlen - n, LOG_TXT_CHECK_FITS, p->name, pct);
		else
			snprintf(err + n, errlen - n, LOG_TXT_CHECK_NO_FITS);
	}
	return -EINVAL;
}

static int log_check(void *ctx, const struct ep_deadline *deadline, char *err, size_t errlen)
{
	struct probe_log_ctx *c = ctx;
	char *buf = malloc(PROBE_LOG_TAIL_BYTES);
	int r = 0;

	(void)deadline;
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (size_t p = 0; c->paths[p] && r == 0; p++) {
		char pat[PATH_MAX];
		glob_t g;
		if (ep_snprintf(pat, sizeof(pat), "%s%s", c->root, c->paths[p]) < 0)
			continue;
		if (glob(pat, 0, probe_log_glob_errfunc, &g) != 0) {
			snprintf(err, errlen, "no file matches %s", pat);
			r = -ENOENT;
			break;
		}
		for (size_t i = 0; i < g.gl_pathc && r == 0; i++) {
			const char *path = g.gl_pathv[i];
			struct stat st;
			if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
				if (S_ISDIR(st.st_mode) && strpbrk(c->paths[p], "*?["))
					continue; /* a glob may match directories */
				snprintf(err, errlen, LOG_TXT_CHECK_NOT_REGULAR, path);
				r = -EINVAL;
			} else if (access(path, R_OK) < 0) {
				r = -errno;
				snprintf(err, errlen,
					 "cannot read %s: %s (give the erpulse user read access, "
					 "e.g. "
					 "add it to the group adm)",
					 path, strerror(-r));
			} else {
				r = check_fit(c, path, buf, PROBE_LOG_TAIL_BYTES, err, errlen);
			}
		}
		globfree(&g);
	}
	free(buf);
	return r;
}

const struct ep_probe ep_probe_log = {
	.name = "log",
	.summary = "error records and top error signatures of log files (rotation-safe)",
	.options = log_options,
	.init = log_init,
	.check = log_check,
	.run = log_run,
	.fini = log_fini,
};
