/* Coverage: fresh, stale and removed probe instances; threshold overrides
 * (coverage.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "collector/analysis/coverage.h"
#include "collector/analysis/json_field.h"
#include "erpulse/util.h"

static int set_num(json_t *f, const char *key, double v)
{
	if (isnan(v))
		return 0;
	return json_object_set_new(f, key, json_real(v));
}

int coll_override_finding(json_t *f, const struct coll_threshold_override *o)
{
	const char *dir = coll_json_str(f, "direction");
	double value = coll_json_num(f, "value"), size = coll_json_num(f, "size");
	double warn = isnan(o->warning) ? coll_json_num(f, "threshold") : o->warning;
	double crit = isnan(o->critical) ? coll_json_num(f, "critical_threshold") : o->critical;
	double min = isnan(o->min_size) ? coll_json_num(f, "min_size") : o->min_size;
	double sign = dir && !strcmp(dir, "below") ? -1.0 : 1.0;
	const char *sev = "info";
	int r = 0;

	if (isnan(size))
		size = coll_json_num(f, "pages"); /* older agents */
	if (!isnan(value)) {
		if (!isnan(crit) && sign * value > sign * crit)
			sev = "critical";
		else if (!isnan(warn) && sign * value > sign * warn)
			sev = "warning";
		if (!isnan(min) && !isnan(size) && size < min)
			sev = "info";
		r |= json_object_set_new(f, "severity", json_string(sev));
	}
	r |= set_num(f, "threshold", o->warning);
	r |= set_num(f, "critical_threshold", o->critical);
	r |= set_num(f, "min_size", o->min_size);
	r |= json_object_set_new(f, "override", json_true());
	return r ? -ENOMEM : 0;
}

static const struct coll_threshold_override *override_of(const struct coll_coverage_input *in,
							 const char *kind)
{
	for (size_t i = 0; kind && i < in->n_overrides; i++)
		if (in->overrides[i].kind && !strcmp(in->overrides[i].kind, kind))
			return &in->overrides[i];
	return NULL;
}

/* An instance is known by its name alone ("postgres.erp", unique per agent):
 * its target may change (a host renamed, a report of `once --probe` made
 * before the instance ever ran names it with target ""), and that must not
 * read as a removal (docs/protocol.md, "configured"). */
static void instance_key(const json_t *p, char *buf, size_t size)
{
	const char *name = coll_json_str(p, "name");

	snprintf(buf, size, "%s", name ? name : "");
}

/* What a person reads: NAME/TARGET. */
static void instance_label(const json_t *p, char *buf, size_t size)
{
	const char *name = coll_json_str(p, "name"), *target = coll_json_str(p, "target");

	snprintf(buf, size, "%s%s%s", name ? name : "", target && *target ? "/" : "",
		 target ? target : "");
}

/* A copy of findings for the effective report: overrides applied, and when
 * stale_since is set each marked stale. New reference or NULL. */
/* Fields only the collector writes: an agent's report cannot set them. */
static const char *const owned_keys[] = {"stale", "stale_since", "override"};

static bool has_owned(const json_t *o)
{
	for (size_t i = 0; i < EP_ARRAY_SIZE(owned_keys); i++)
		if (json_object_get(o, owned_keys[i]))
			return true;
	return false;
}

static void del_owned(json_t *o)
{
	for (size_t i = 0; i < EP_ARRAY_SIZE(owned_keys); i++)
		json_object_del(o, owned_keys[i]);
}

/* Does probe entry p or one of its findings carry a collector-owned field? */
static bool probe_has_owned(const json_t *p)
{
	const json_t *f;
	size_t i;

	if (has_owned(p))
		return true;
	json_array_foreach(json_object_get(p, "findings"), i, f)
	{
		if (has_owned(f))
			return true;
	}
	return false;
}

static json_t *effective_findings(const struct coll_coverage_input *in, const json_t *findings,
				  const char *stale_since, struct coll_coverage *c)
{
	json_t *out = json_array(), *f;
	size_t i;

	if (!out)
		return NULL;
	json_array_foreach(findings, i, f)
	{
		const struct coll_threshold_override *o = override_of(in, coll_json_str(f, "kind"));
		json_t *g;
		if (!o && !stale_since && !has_owned(f)) {
			if (json_array_append(out, f) < 0)
				goto fail;
			continue;
		}
		g = json_copy(f); /* shallow: only top-level keys change */
		if (!g || json_array_append_new(out, g) < 0)
			goto fail;
		del_owned(g);
		if (o) {
			if (coll_override_finding(g, o) < 0)
				goto fail;
			c->n_override++;
		}
		if (stale_since &&
		    (json_object_set_new(g, "stale", json_true()) < 0 ||
		     json_object_set_new(g, "stale_since", json_string(stale_since)) < 0))
			goto fail;
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

/* p's entry for the effective report carrying the stored findings of st. */
static json_t *stale_entry(const struct coll_coverage_input *in, const json_t *p, const json_t *st,
			   struct coll_coverage *c)
{
	json_t *q = p ? json_copy((json_t *)(uintptr_t)p) : json_object(), *fs;
	char when[32];
	time_t last = (time_t)json_integer_value(json_object_get(st, "last_ok_at"));

	if (!q)
		return NULL;
	if (ep_time_format(last, when, sizeof(when)) < 0)
		snprintf(when, sizeof(when), "1970-01-01T00:00:00Z");
	if (!p) { /* configured (or once known) but absent from this report */
		int r = 0;
		r |= json_object_set(q, "name", json_object_get(st, "name"));
		if (json_is_string(json_object_get(st, "target")))
			r |= json_object_set(q, "target", json_object_get(st, "target"));
		r |= json_object_set_new(q, "status", json_string("missing"));
		r |= json_object_set_new(q, "error",
					 json_string("configured but not in this report"));
		r |= json_object_set_new(q, "metrics", json_object());
		if (r) {
			json_decref(q);
			return NULL;
		}
	}
	fs = effective_findings(in, json_object_get(st, "findings"), when, c);
	if (!fs || json_object_set_new(q, "findings", fs) < 0 ||
	    json_object_set_new(q, "stale", json_true()) < 0 ||
	    json_object_set_new(q, "stale_since", json_string(when)) < 0) {
		json_decref(q);
		return NULL;
	}
	c->n_stale++;
	return q;
}

static bool is_configured(const json_t *configured, const json_t *st)
{
	const char *name = coll_json_str(st, "name");
	const json_t *e;
	size_t i;

	json_array_foreach(configured, i, e)
	{
		const char *n = coll_json_str(e, "name");
		if (n && name && !strcmp(n, name))
			return true;
	}
	return false;
}

/* st as stored: without the findings the analysis attached to it (they
 * stay in the report they came from; docs/store.md). New reference. */
static json_t *state_of(const json_t *st)
{
	json_t *c = json_copy((json_t *)(uintptr_t)st);

	if (c)
		json_object_del(c, "findings");
	return c;
}

/* Instances known from earlier reports and absent from this one. */
static int absent_instances(const struct coll_coverage_input *in, json_t *probes,
			    struct coll_coverage *c)
{
	const json_t *configured = json_object_get(in->report, "configured"), *st;
	const char *key;

	json_object_foreach((json_t *)(uintptr_t)in->instances, key, st)
	{
		json_t *q;
		if (json_object_get(c->instances, key))
			continue; /* in this report */
		if (json_is_array(configured) && !is_configured(configured, st)) {
			char label[512];
			instance_label(st, label, sizeof(label));
			json_t *e = json_pack("{s:s, s:O}", "instance", label, "findings",
					      json_object_get(st, "findings"));
			if (!e || json_array_append_new(c->removed, e) < 0)
				return -ENOMEM;
			continue;
		}
		q = stale_entry(in, NULL, st, c);
		if (!q || json_array_append_new(probes, q) < 0 ||
		    json_object_set_new(c->instances, key, state_of(st)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* An instance that reported ok: {name, target, seq, last_ok_at}, as
 * json_pack("{s:O, s:O?, s:I, s:I}") built it (no name: NULL), without
 * parsing a format for every probe of every report. */
static json_t *ok_state(const json_t *p, int64_t seq, int64_t now)
{
	json_t *name = json_object_get(p, "name"), *target = json_object_get(p, "target");
	json_t *o = name ? json_object() : NULL;

	if (o &&
	    (json_object_set(o, "name", name) < 0 ||
	     json_object_set_new(o, "target", target ? json_incref(target) : json_null()) < 0 ||
	     json_object_set_new(o, "seq", json_integer((json_int_t)seq)) < 0 ||
	     json_object_set_new(o, "last_ok_at", json_integer((json_int_t)now)) < 0)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int coll_coverage_apply(const struct coll_coverage_input *in, struct coll_coverage *ret)
{
	struct coll_coverage c = {0};
	const json_t *p;
	json_t *probes;
	size_t i;
	char key[512];
	int r = -ENOMEM;

	if (!in || !ret || !json_is_object(in->report))
		return -EINVAL;
	c.report = json_copy((json_t *)(uintptr_t)in->report); /* shallow */
	c.instances = json_object();
	c.removed = json_array();
	probes = json_array();
	if (!c.report || !c.instances || !c.removed || !probes)
		goto out;
	json_array_foreach(json_object_get(in->report, "probes"), i, p)
	{
		const char *status = coll_json_str(p, "status");
		const json_t *st;
		json_t *q = NULL, *fs;
		instance_key(p, key, sizeof(key));
		st = json_object_get(in->instances, key);
		if (status && !strcmp(status, "ok")) {
			json_t *state = ok_state(p, in->seq, in->now);
			if (!state || json_object_set_new(c.instances, key, state) < 0)
				goto out;
			if (in->n_overrides || probe_has_owned(p)) {
				q = json_copy((json_t *)(uintptr_t)p);
				if (q)
					del_owned(q);
				fs = q ? effective_findings(in, json_object_get(p, "findings"),
							    NULL, &c)
				       : NULL;
				if (!fs || json_object_set_new(q, "findings", fs) < 0) {
					json_decref(q);
					goto out;
				}
			}
		} else if (json_is_object(st)) {
			q = stale_entry(in, p, st, &c);
			if (!q || json_object_set_new(c.instances, key, state_of(st)) < 0) {
				json_decref(q);
				goto out;
			}
		}
		if (json_array_append_new(probes, q ? q : json_incref((json_t *)(uintptr_t)p)) < 0)
			goto out;
	}
	if (absent_instances(in, probes, &c) < 0)
		goto out;
	if (json_object_set(c.report, "probes", probes) < 0)
		goto out;
	*ret = c;
	memset(&c, 0, sizeof(c));
	r = 0;
out:
	json_decref(probes);
	coll_coverage_free(&c);
	return r;
}

void coll_coverage_free(struct coll_coverage *c)
{
	if (!c)
		return;
	json_decref(c->report);
	json_decref(c->instances);
	json_decref(c->removed);
	memset(c, 0, sizeof(*c));
}

json_t *coll_coverage_wanted(const json_t *report, const json_t *instances)
{
	json_t *want = json_object(), *st;
	const json_t *p;
	const char *key;
	char k[512];
	size_t i;

	if (!want)
		return NULL;
	json_object_foreach((json_t *)(uintptr_t)instances, key, st)
	{
		bool fresh = false;
		json_array_foreach(json_object_get(report, "probes"), i, p)
		{
			const char *status = coll_json_str(p, "status");
			instance_key(p, k, sizeof(k));
			if (!strcmp(k, key) && status && !strcmp(status, "ok"))
				fresh = true;
		}
		if (!fresh && json_is_integer(json_object_get(st, "seq")) &&
		    json_object_set(want, key, json_object_get(st, "seq")) < 0) {
			json_decref(want);
			return NULL;
		}
	}
	return want;
}

const json_t *coll_coverage_findings_of(const json_t *report, const char *key)
{
	const json_t *p;
	char k[512];
	size_t i;

	json_array_foreach(json_object_get(report, "probes"), i, p)
	{
		instance_key(p, k, sizeof(k));
		if (!strcmp(k, key))
			return json_object_get(p, "findings");
	}
	return NULL;
}
