/* Alert evaluation (alerts.h, docs/alerts.md): a report's findings and
 * forecasts become candidates per (rule, object); the worst of each is
 * compared with the host's open alerts, levels come from the finding's
 * severity and lines with hysteresis (or the rule table), and open alerts
 * whose object is gone clear only when that is known (every source ran ok
 * and fresh, or the instance was removed from the configuration). */
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

/* Hysteresis below one of the finding's lines. */
static double margin_of(const struct coll_rule_def *d, double line)
{
	return isnan(d->margin) ? fabs(line) * 0.1 : d->margin;
}

/* The level of a candidate given the open one (docs/alerts.md, "Rules"):
 * finding rules take the finding's severity and hold an open level until
 * the value is a margin below the finding's line; table rules use the
 * table's lines. */
static enum coll_alert_level cand_level(const struct coll_cand *c, enum coll_alert_level open)
{
	const struct coll_rule_def *d = coll_rule_get(c->rule);
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

static const char *cand_unit(const struct coll_cand *c)
{
	return c->unit ? c->unit : coll_rule_get(c->rule)->unit;
}

/* "now 0.0% (was 56.1%) after rebuild" */
static void clear_why(const struct coll_cand *c, double was, char *buf, size_t size)
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

static char *format_message(const struct coll_cand *c, enum coll_alert_level level,
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

static int results_push(struct coll_alert_results *res, size_t *cap, const struct coll_cand *c,
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
		a->why = coll_dup_or_null(why, &fail);
	}
	rem = c->remediation ? c->remediation : coll_rule_remediation(c->rule);
	a->name = coll_dup_or_null(c->name, &fail);
	a->object = coll_dup_or_null(c->object, &fail);
	a->unit = coll_dup_or_null(cand_unit(c), &fail);
	a->message = format_message(c, level, open, why);
	a->remediation = coll_dup_or_null(rem, &fail);
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

	return coll_cmp_key(open_name(x), x->object, open_name(y), y->object);
}

/* The open alert (name, object), by binary search over sorted (n pointers). */
static const struct coll_open_alert *open_find(const struct coll_open_alert *const *sorted,
					       size_t n, const char *name, const char *object)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = coll_cmp_key(open_name(sorted[mid]), sorted[mid]->object, name, object);
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
static int removed_keys(const struct coll_alert_input *in, struct coll_cand_list *l)
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
			rc = coll_add_finding(l, f, in);
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
	coll_cand_merge(l);
	return 0;
}

/* Adds a clearing candidate for each open alert of the report's host whose
 * object is not among the first `measured` candidates and is known to be
 * gone: its instance was removed from the configuration, or every source
 * feeding its rule reported ok and fresh. */
static int add_vanished(struct coll_cand_list *l, size_t measured,
			const struct coll_alert_input *in,
			const struct coll_open_alert *const *open_sorted, size_t n_open)
{
	struct coll_cand_list removed = {0};
	int rc = removed_keys(in, &removed);

	for (size_t k = 0; rc == 0 && k < n_open; k++) {
		const struct coll_open_alert *o = open_sorted[k];
		const struct coll_cand *gone;
		if (o->level == COLL_LEVEL_NONE)
			continue;
		if (k > 0 && cmp_open(&open_sorted[k - 1], &open_sorted[k]) == 0)
			continue; /* listed twice: one result is enough */
		if (coll_cand_find(l, measured, open_name(o), o->object))
			continue;
		if (o->rule == COLL_RULE_CLOCK_SKEW || o->rule == COLL_RULE_AGENT_SILENT)
			continue; /* not measurable without a receive time: keep */
		gone = coll_cand_find(&removed, removed.n, open_name(o), o->object);
		if (!gone && !coll_sources_ok(in->report, o->rule))
			continue; /* its probe failed or did not run: we know nothing new */
		struct coll_cand t = {
			.rule = o->rule,
			.value = NAN,
			.sev = o->rule == COLL_RULE_FINDING ? 0 : -1,
			.warn_line = NAN,
			.crit_line = NAN,
			.vanished = true,
		};
		rc = coll_cand_add(l, &t, open_name(o), o->object, NULL, NULL, NULL);
		if (rc == 0 && gone) {
			l->items[l->n - 1].why = strdup(gone->why);
			if (!l->items[l->n - 1].why)
				rc = -ENOMEM;
		}
	}
	coll_cand_list_free(&removed);
	return rc;
}

int coll_alerts_evaluate(const struct coll_alert_input *in, struct coll_alert_results *ret)
{
	struct coll_cand_list l = {0};
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
		rc = coll_add_report(&l, in);
		if (rc < 0)
			goto out;
		coll_cand_merge(&l);
		rc = add_vanished(&l, l.n, in, open_sorted, n_open);
		if (rc < 0)
			goto out;
	} else if (in->last_seen > 0 && in->interval_s > 0) {
		double intervals = (double)(in->now - in->last_seen) / (double)in->interval_s;
		char detail[96], when[32];
		if (ep_time_format((time_t)in->last_seen, when, sizeof(when)) < 0)
			when[0] = '\0';
		snprintf(detail, sizeof(detail), "last report %s", when);
		rc = coll_cand_add_table(&l, COLL_RULE_AGENT_SILENT, "agent", fmax(0.0, intervals),
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
	coll_cand_list_free(&l);
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
