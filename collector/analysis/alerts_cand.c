/* Alert candidates (alerts_cand.h): a report's findings and forecasts as
 * (rule, object, value) with the finding's severity and lines; which
 * sources feed a rule. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/alerts_cand.h"
#include "collector/analysis/json_field.h"
#include "erpulse/util.h"

/* ---- evaluation ---------------------------------------------------------- */

/* name and the strings after it share one block (coll_cand_add) */
static void cand_free(struct coll_cand *c)
{
	free(c->name);
	free(c->why);
}

void coll_cand_list_free(struct coll_cand_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		cand_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

char *coll_dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

/* Copies the strings src[0..n) (NULL ones stay NULL) into one block that
 * dst[0] owns: one allocation per candidate instead of five, for every
 * finding of every report. src[0] must not be NULL. */
static int copy_strings(const char *const *src, char **dst, size_t n)
{
	size_t len[5], total = 0;
	for (size_t i = 0; i < n; i++) {
		len[i] = src[i] ? strlen(src[i]) + 1 : 0;
		total += len[i];
	}
	char *block = malloc(total), *at = block;
	if (!block)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i] ? memcpy(at, src[i], len[i]) : NULL;
		at += len[i];
	}
	return 0;
}

/* Appends a candidate shaped like t (rule, value, sev, lines, flags) with
 * copies of the strings. Duplicates are merged by coll_cand_merge(). */
int coll_cand_add(struct coll_cand_list *l, const struct coll_cand *t, const char *name,
		  const char *object, const char *unit, const char *remediation, const char *detail)
{
	struct coll_cand *c;
	char *dst[5];

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct coll_cand *items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return -ENOMEM;
		l->items = items;
		l->cap = cap;
	}
	const char *src[5] = {name ? name : coll_rule_get(t->rule)->name, object, unit, remediation,
			      detail};
	if (!src[0] || !object || copy_strings(src, dst, 5) < 0)
		return -ENOMEM;
	c = &l->items[l->n];
	*c = *t;
	c->name = dst[0];
	c->object = dst[1];
	c->unit = dst[2];
	c->remediation = dst[3];
	c->detail = dst[4];
	c->why = NULL;
	l->n++;
	return 0;
}

/* A table rule's candidate (no finding severity). */
int coll_cand_add_table(struct coll_cand_list *l, enum coll_rule rule, const char *object,
			double value, const char *detail)
{
	struct coll_cand t = {
		.rule = rule,
		.value = value,
		.sev = -1,
		.warn_line = NAN,
		.crit_line = NAN,
	};
	return coll_cand_add(l, &t, NULL, object, NULL, NULL, detail);
}

static double worse_value(enum coll_rule r, bool below, double a, double b)
{
	if (isnan(a))
		return b;
	if (isnan(b))
		return a;
	if (coll_rule_get(r)->lower_is_worse || below)
		return a < b ? a : b;
	return a > b ? a : b;
}

int coll_cmp_key(const char *na, const char *oa, const char *nb, const char *ob)
{
	int c = strcmp(na, nb);

	return c ? c : strcmp(oa, ob);
}

/* By (name, object), the worst of a group first: severity, then value (NAN last). */
static int cmp_cand(const void *a, const void *b)
{
	const struct coll_cand *x = a, *y = b;
	int c = coll_cmp_key(x->name, x->object, y->name, y->object);
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
void coll_cand_merge(struct coll_cand_list *l)
{
	size_t out = 0;

	if (l->n < 2)
		return;
	qsort(l->items, l->n, sizeof(*l->items), cmp_cand);
	for (size_t i = 0; i < l->n; i++) {
		struct coll_cand *c = &l->items[i];
		if (out > 0 && coll_cmp_key(l->items[out - 1].name, l->items[out - 1].object,
					    c->name, c->object) == 0) {
			cand_free(c);
			continue;
		}
		l->items[out++] = *c;
	}
	l->n = out;
}

/* The candidate (name, object) among the first n (merged, sorted), or NULL. */
const struct coll_cand *coll_cand_find(const struct coll_cand_list *l, size_t n, const char *name,
				       const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = coll_cmp_key(l->items[mid].name, l->items[mid].object, name, object);
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
static int add_security(struct coll_cand_list *l, const json_t *f, const char *object,
			const char *rem, const struct coll_alert_input *in)
{
	double value = coll_json_num(f, "value"), days = coll_json_num(f, "pending_days");
	char detail[128];
	struct coll_cand t = {
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
	return coll_cand_add(l, &t, NULL, object, NULL, rem, detail);
}

int coll_add_finding(struct coll_cand_list *l, const json_t *f, const struct coll_alert_input *in)
{
	const char *kind = coll_json_str(f, "kind"), *object = coll_json_str(f, "object");
	const char *rem = coll_json_str(f, "remediation"), *dir = coll_json_str(f, "direction");
	const char *unit = coll_json_str(f, "unit"), *name = NULL;
	double size = coll_json_num(f, "size"), min = coll_json_num(f, "min_size");
	char obj[512], detail[128];
	const char *detail_p = NULL;
	struct coll_cand t = {
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
			t.warn_line = coll_rule_get(t.rule)->warn_raise;
		if (isnan(t.crit_line))
			t.crit_line = coll_rule_get(t.rule)->crit_raise;
	}
	return coll_cand_add(l, &t, name, object, unit, rem, detail_p);
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
bool coll_sources_ok(const json_t *report, enum coll_rule r)
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

static int add_forecasts(struct coll_cand_list *l, const struct coll_alert_input *in)
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
			rc = coll_cand_add_table(l, COLL_RULE_DISK_FULL, obj, value, detail);
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status != COLL_SPIKE_INSUFFICIENT)
				value = f->spike.z;
			snprintf(detail, sizeof(detail), "%.1f against a baseline of %.1f (%s)",
				 f->spike.current, f->spike.baseline,
				 coll_baseline_method_name(f->spike.method));
			rc = coll_cand_add_table(l, COLL_RULE_ERROR_SPIKE, object, value, detail);
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

int coll_add_report(struct coll_cand_list *l, const struct coll_alert_input *in)
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
			rc = coll_add_finding(l, f, in);
			if (rc < 0)
				return rc;
		}
	}
	rc = add_forecasts(l, in);
	if (rc < 0)
		return rc;
	/* a report is proof of life */
	rc = coll_cand_add_table(l, COLL_RULE_AGENT_SILENT, "agent", 0, NULL);
	if (rc < 0)
		return rc;
	if (in->received_at > 0 && gen && ep_time_parse(gen, &generated) == 0) {
		double skew = fabs((double)((int64_t)generated - in->received_at));
		char detail[96];
		snprintf(detail, sizeof(detail), "agent says %s", gen);
		rc = coll_cand_add_table(l, COLL_RULE_CLOCK_SKEW, "clock", skew, detail);
	}
	return rc;
}
