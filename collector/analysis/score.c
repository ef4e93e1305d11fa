/* Explained risk score (docs/scoring.md publishes the tables below).
 * Each finding, forecast or liveness condition costs whole points in one
 * category; caps per kind and per category keep one noisy kind from eating
 * the whole score; the explanation records exactly the points taken. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/analysis/alerts.h"
#include "collector/analysis/json_field.h"
#include "collector/analysis/score.h"
#include "collector/analysis/score_int.h"
#include "erpulse/util.h"

static const int category_weight[COLL_CAT_COUNT] = {
	[COLL_CAT_DATABASE] = 35, [COLL_CAT_STORAGE] = 25,  [COLL_CAT_ERRORS] = 15,
	[COLL_CAT_PATCHES] = 10,  [COLL_CAT_LIVENESS] = 15,
};

/* Points per finding kind by its severity (the one the agent decided, or
 * the customer's override: never re-judged here); cap = most one kind may
 * cost in total. Kept in step with docs/scoring.md. */
struct kind_cost {
	const char *kind;
	enum coll_category category;
	int warning, critical, cap;
	const char *remediation; /* default when the finding has none */
};

static const struct kind_cost kind_costs[] = {
	{"index_fragmentation", COLL_CAT_DATABASE, 3, 6, 15,
	 "Rebuild the index (REINDEX INDEX CONCURRENTLY / ALTER INDEX ... REBUILD)."},
	{"table_free_space", COLL_CAT_DATABASE, 2, 4, 8,
	 "OPTIMIZE TABLE after ANALYZE TABLE confirms the free space."},
	{"xid_wraparound", COLL_CAT_DATABASE, 10, 25, 25,
	 "VACUUM (FREEZE) the oldest tables; end long transactions blocking autovacuum."},
	{"dead_tuples", COLL_CAT_DATABASE, 2, 4, 8, "VACUUM the table; tune autovacuum."},
	{"vacuum_lag", COLL_CAT_DATABASE, 2, 4, 8, "Check autovacuum workers and settings."},
	{"long_transaction", COLL_CAT_DATABASE, 2, 5, 10,
	 "Find and end the long-running transaction."},
	{"idle_in_transaction", COLL_CAT_DATABASE, 2, 4, 8,
	 "Fix the client leaving transactions open; set idle_in_transaction_session_timeout."},
	{"connections", COLL_CAT_DATABASE, 3, 8, 8,
	 "Use a connection pooler or raise max_connections."},
	{"cache_hit_ratio", COLL_CAT_DATABASE, 2, 4, 4, "Review shared_buffers and memory."},
	{"replication_lag", COLL_CAT_DATABASE, 3, 8, 8, "Check the replica and the network."},
	{"wal_archiver", COLL_CAT_DATABASE, 5, 10, 10, "Fix archive_command; check the archive."},
	{"backup_age", COLL_CAT_DATABASE, 8, 15, 15,
	 "Check the backup job and run a full backup now."},
	{"disk_usage", COLL_CAT_STORAGE, 5, 12, 25, "Free space or grow the filesystem."},
	{"inode_usage", COLL_CAT_STORAGE, 5, 12, 25,
	 "Remove small files (sessions, caches, mail queues) or grow the filesystem."},
	{"filesystem_readonly", COLL_CAT_STORAGE, 15, 25, 25,
	 "Check the kernel log for I/O errors; fsck and remount read-write."},
	{"disk_latency", COLL_CAT_STORAGE, 2, 5, 10, "Check the storage device and its load."},
	{"log_errors", COLL_CAT_ERRORS, 3, 6, 12, "Read the top error signatures."},
	{"journal_errors", COLL_CAT_ERRORS, 2, 4, 8, "journalctl -p err -u UNIT"},
	{"security_updates", COLL_CAT_PATCHES, 4, 8, 8, "Install the security updates."},
	{"pending_updates", COLL_CAT_PATCHES, 1, 2, 2, "Install the pending updates."},
	{"reboot_required", COLL_CAT_PATCHES, 2, 3, 3, "Reboot in the next maintenance window."},
	{"kernel_outdated", COLL_CAT_PATCHES, 1, 2, 2, "Reboot into the newest kernel."},
	{"os_eol", COLL_CAT_PATCHES, 4, 8, 8, "Plan the upgrade to a supported release."},
	{"probe_error", COLL_CAT_LIVENESS, 3, 3, 9,
	 "erpulse-agent check-config shows why the probe fails."},
};

/* Deductions that do not come from findings (same caps logic). */
#define UNKNOWN_WARNING  2
#define UNKNOWN_CRITICAL 4
#define UNKNOWN_CAP      8
/* fatal conditions (docs/scoring.md, "Caps") */
#define FATAL_XID_PCT  75.0
#define FATAL_BACKUP_H 168.0 /* 7 days */

const char *coll_category_name(enum coll_category c)
{
	switch (c) {
	case COLL_CAT_DATABASE:
		return "database";
	case COLL_CAT_STORAGE:
		return "storage";
	case COLL_CAT_ERRORS:
		return "errors";
	case COLL_CAT_PATCHES:
		return "patches";
	case COLL_CAT_LIVENESS:
		return "liveness";
	case COLL_CAT_COUNT:
		break;
	}
	return "unknown";
}

int coll_category_weight(enum coll_category c)
{
	if ((unsigned)c >= COLL_CAT_COUNT)
		return 0;
	return category_weight[c];
}

enum coll_band coll_score_band(int score)
{
	if (score >= 85)
		return COLL_BAND_HEALTHY;
	if (score >= 60)
		return COLL_BAND_AT_RISK;
	return COLL_BAND_CRITICAL;
}

const char *coll_band_name(enum coll_band b)
{
	switch (b) {
	case COLL_BAND_HEALTHY:
		return "healthy";
	case COLL_BAND_AT_RISK:
		return "at_risk";
	case COLL_BAND_CRITICAL:
		return "critical";
	case COLL_BAND_UNKNOWN:
		break;
	}
	return "unknown";
}

int coll_band_parse(const char *s, enum coll_band *ret)
{
	for (int b = COLL_BAND_HEALTHY; s && b <= COLL_BAND_UNKNOWN; b++)
		if (strcmp(s, coll_band_name((enum coll_band)b)) == 0) {
			*ret = (enum coll_band)b;
			return 0;
		}
	return -EINVAL;
}

const char *coll_cat_state_name(enum coll_cat_state st)
{
	switch (st) {
	case COLL_CAT_FRESH:
		return "fresh";
	case COLL_CAT_STALE:
		return "stale";
	case COLL_CAT_UNKNOWN:
		return "unknown";
	case COLL_CAT_UNMONITORED:
		return "unmonitored";
	}
	return "unknown";
}

/* ---- raw deductions before caps ------------------------------------------ */

static void cap_free(struct cap *c)
{
	free(c->kind);
	free(c->object);
	free(c->reason);
	memset(c, 0, sizeof(*c));
	c->score = 100;
}

static void raw_list_free(struct raw_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].kind);
		free(l->items[i].object);
		free(l->items[i].reason);
		free(l->items[i].remediation);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* Adds one deduction shaped like t (category, points, cap, sev, value,
 * stale...); reason is consumed (malloc'd), the strings copied. */
static int raw_add(struct raw_list *l, const struct raw *t, const char *kind, const char *object,
		   char *reason, const char *remediation)
{
	struct raw *r;

	if (!reason)
		return -ENOMEM;
	if (t->points <= 0) {
		free(reason);
		return 0;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct raw *items = realloc(l->items, ncap * sizeof(*items));
		if (!items) {
			free(reason);
			return -ENOMEM;
		}
		l->items = items;
		l->cap = ncap;
	}
	r = &l->items[l->n];
	*r = *t;
	r->reason = reason;
	r->kind = strdup(kind);
	r->object = strdup(object ? object : "");
	r->remediation = remediation ? strdup(remediation) : NULL;
	if (!r->kind || !r->object || (remediation && !r->remediation)) {
		free(r->kind);
		free(r->object);
		free(r->reason);
		free(r->remediation);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Shorthand for deductions that are not findings. */
int coll_score_raw_add_simple(struct raw_list *l, enum coll_category cat, int points, int cap,
			      int sev, const char *kind, const char *object, char *reason,
			      const char *remediation)
{
	struct raw t = {
		.category = cat,
		.points = points,
		.cap = cap,
		.sev = sev,
		.value = NAN,
		.worse = NAN,
	};
	return raw_add(l, &t, kind, object, reason, remediation);
}

char *coll_score_fmt(const char *f, ...)
{
	struct ep_buf b;
	va_list ap;
	int r;

	ep_buf_init(&b, 4096);
	va_start(ap, f);
	r = ep_buf_vprintf(&b, f, ap);
	va_end(ap);
	if (r < 0 && r != -E2BIG) {
		ep_buf_free(&b);
		return NULL;
	}
	if (!b.data)
		return strdup("");
	return ep_buf_steal(&b);
}

/* Sets the cap to `score` for this reason when it is lower than the current one. */
int coll_score_cap_lower(struct cap *c, int score, const char *kind, const char *object,
			 char *reason)
{
	if (!reason)
		return -ENOMEM;
	if (score >= c->score) {
		free(reason);
		return 0;
	}
	char *k = strdup(kind), *o = strdup(object ? object : "");
	if (!k || !o) {
		free(k);
		free(o);
		free(reason);
		return -ENOMEM;
	}
	cap_free(c);
	c->score = score;
	c->kind = k;
	c->object = o;
	c->reason = reason;
	return 0;
}

int64_t coll_score_time_field(const json_t *o, const char *key)
{
	const char *s = coll_json_str(o, key);
	time_t t;

	if (!s || ep_time_parse(s, &t) < 0)
		return 0;
	return (int64_t)t;
}

static const struct kind_cost *kind_cost_find(const char *kind)
{
	for (size_t i = 0; i < EP_ARRAY_SIZE(kind_costs); i++)
		if (strcmp(kind_costs[i].kind, kind) == 0)
			return &kind_costs[i];
	return NULL;
}

static bool probe_is(const char *probe, const char *base)
{
	size_t len = strcspn(probe, ".");

	return strlen(base) == len && strncmp(probe, base, len) == 0;
}

enum coll_category coll_score_category_of_probe(const char *probe)
{
	if (probe_is(probe, "postgres") || probe_is(probe, "odbc"))
		return COLL_CAT_DATABASE;
	if (probe_is(probe, "disk"))
		return COLL_CAT_STORAGE;
	if (probe_is(probe, "patches"))
		return COLL_CAT_PATCHES;
	return COLL_CAT_ERRORS;
}

static int severity_rank(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "critical"))
		return 2;
	if (!strcmp(s, "warning"))
		return 1;
	return 0;
}

/* "value (warning above T, critical above C; size S of at least M pages)". */
static int rule_words(struct ep_buf *b, const json_t *f)
{
	const char *unit = coll_json_str(f, "unit"), *su = coll_json_str(f, "size_unit");
	const char *dir = coll_json_str(f, "direction");
	const char *cmp = dir && !strcmp(dir, "below") ? "below" : "above";
	double thr = coll_json_num(f, "threshold"), crit = coll_json_num(f, "critical_threshold");
	double size = coll_json_num(f, "size"), min = coll_json_num(f, "min_size");
	char v[64];
	int r = 0;

	if (isnan(thr) && isnan(crit) && isnan(min))
		return 0;
	r |= ep_buf_printf(b, " (");
	if (!isnan(thr)) {
		coll_format_value(v, sizeof(v), thr, unit);
		r |= ep_buf_printf(b, "warning %s %s", cmp, v);
	}
	if (!isnan(crit)) {
		coll_format_value(v, sizeof(v), crit, unit);
		r |= ep_buf_printf(b, "%scritical %s %s", isnan(thr) ? "" : ", ", cmp, v);
	}
	if (!isnan(min)) {
		coll_format_value(v, sizeof(v), min, su);
		r |= ep_buf_printf(b, "%sfrom %s", isnan(thr) && isnan(crit) ? "" : "; ", v);
		if (!isnan(size)) {
			coll_format_value(v, sizeof(v), size, su);
			r |= ep_buf_printf(b, ", this one %s", v);
		}
	}
	if (json_is_true(json_object_get(f, "override")))
		r |= ep_buf_printf(b, "; customer override");
	return r | ep_buf_printf(b, ")");
}

/* "kind severity: 56.1% (warning above 30.0%, ...). message [stale ...]" */
static char *finding_reason(const json_t *f, const char *kind, int sev, int64_t now)
{
	const char *unit = coll_json_str(f, "unit"), *msg = coll_json_str(f, "message");
	double value = coll_json_num(f, "value");
	int64_t since = coll_score_time_field(f, "stale_since"),
		measured = coll_score_time_field(f, "measured_at");
	struct ep_buf b;
	char v[64], when[32];
	int r = 0;

	ep_buf_init(&b, 4096);
	r |= ep_buf_printf(&b, "%s %s", kind, sev == 2 ? "critical" : "warning");
	if (!isnan(value)) {
		coll_format_value(v, sizeof(v), value, unit);
		r |= ep_buf_printf(&b, ": %s", v);
	}
	r |= rule_words(&b, f);
	if (msg)
		r |= ep_buf_printf(&b, ". %s", msg);
	if (json_is_true(json_object_get(f, "stale")) && since > 0 &&
	    ep_time_format((time_t)since, when, sizeof(when)) == 0)
		r |= ep_buf_printf(&b, " [stale: last measured %s, %.0f min ago]", when,
				   (double)(now - since) / 60.0);
	else if (json_is_true(json_object_get(f, "carried")) && measured > 0 &&
		 ep_time_format((time_t)measured, when, sizeof(when)) == 0)
		r |= ep_buf_printf(&b, " [carried: measured %s]", when);
	if (r < 0 && r != -E2BIG) {
		ep_buf_free(&b);
		return NULL;
	}
	return b.data ? ep_buf_steal(&b) : strdup("");
}

/* Fatal conditions that a finding proves (docs/scoring.md). */
static int fatal_finding(struct cap *c, const char *kind, const char *object, const json_t *f,
			 int sev)
{
	double value = coll_json_num(f, "value");
	char v[64];

	if (!strcmp(kind, "filesystem_readonly") && sev > 0)
		return coll_score_cap_lower(c, COLL_CAP_FATAL, kind, object,
					    coll_score_fmt("filesystem %s is read-only", object));
	if (!strcmp(kind, "xid_wraparound") && value > FATAL_XID_PCT) {
		coll_format_value(v, sizeof(v), value, "%");
		return coll_score_cap_lower(
			c, COLL_CAP_FATAL, kind, object,
			coll_score_fmt("transaction ID age of %s at %s of wraparound (over 75.0%%)",
				       object, v));
	}
	if (!strcmp(kind, "backup_age") && value > FATAL_BACKUP_H && !strstr(object, " (log)")) {
		coll_format_value(v, sizeof(v), value / 24.0, "days");
		return coll_score_cap_lower(
			c, COLL_CAP_FATAL, kind, object,
			coll_score_fmt("no backup of %s for %s (over 7 days)", object, v));
	}
	return 0;
}

static int score_finding(struct raw_list *l, struct cap *cap, const char *probe, const json_t *f,
			 int64_t now)
{
	const char *kind = coll_json_str(f, "kind"), *object = coll_json_str(f, "object");
	const char *rem = coll_json_str(f, "remediation"), *dir = coll_json_str(f, "direction");
	const struct kind_cost *kc;
	int sev = severity_rank(coll_json_str(f, "severity"));
	struct raw t = {.value = coll_json_num(f, "value"),
			.stale_since = coll_score_time_field(f, "stale_since")};
	int rc;

	if (!kind)
		return 0;
	if (!object)
		object = "";
	rc = fatal_finding(cap, kind, object, f, sev);
	if (rc < 0 || sev == 0)
		return rc;
	kc = kind_cost_find(kind);
	if (kc) {
		t.category = kc->category;
		t.points = sev == 2 ? kc->critical : kc->warning;
		t.cap = kc->cap;
		if (!rem)
			rem = kc->remediation;
	} else {
		t.category = coll_score_category_of_probe(probe);
		t.points = sev == 2 ? UNKNOWN_CRITICAL : UNKNOWN_WARNING;
		t.cap = UNKNOWN_CAP;
	}
	t.sev = sev;
	t.worse = dir && !strcmp(dir, "below") ? -t.value : t.value;
	t.stale = json_is_true(json_object_get(f, "stale"));
	if (sev == 2) {
		char v[64] = "";
		if (!isnan(t.value))
			coll_format_value(v, sizeof(v), t.value, coll_json_str(f, "unit"));
		rc = coll_score_cap_lower(
			cap, COLL_CAP_CRITICAL_FINDING, kind, object,
			coll_score_fmt(
				"critical %s on %s%s%s: a host with a critical finding is never "
				"healthy",
				kind, object, v[0] ? " at " : "", v));
		if (rc < 0)
			return rc;
	}
	return raw_add(l, &t, kind, object, finding_reason(f, kind, sev, now), rem);
}

/* ---- ordering and caps ------------------------------------------------------- */

/* Worst first: severity, then points, then (same kind) the worse value. */
static int cmp_worst(enum coll_category ca, int sa, int pa, const char *ka, double wa,
		     const char *oa, enum coll_category cb, int sb, int pb, const char *kb,
		     double wb, const char *ob)
{
	int c;

	if (sa != sb)
		return sb - sa;
	if (pa != pb)
		return pb - pa;
	c = strcmp(ka, kb);
	if (c == 0 && !isnan(wa) && !isnan(wb) && wa != wb)
		return wa > wb ? -1 : 1;
	if (ca != cb)
		return (int)ca - (int)cb;
	if (c)
		return c;
	return strcmp(oa, ob);
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;
	int c = cmp_worst(x->category, x->sev, x->points, x->kind, x->worse, x->object, y->category,
			  y->sev, y->points, y->kind, y->worse, y->object);

	return c ? c : strcmp(x->reason, y->reason);
}

/* Numbers the distinct kinds of l (ids[i] for l->items[i]) in O(n log n):
 * a report may carry thousands of findings of made-up kinds. */
struct kind_ref {
	const char *kind;
	size_t index;
};

static int cmp_kind_ref(const void *a, const void *b)
{
	return strcmp(((const struct kind_ref *)a)->kind, ((const struct kind_ref *)b)->kind);
}

static int number_kinds(const struct raw_list *l, size_t *ids)
{
	struct kind_ref *refs = malloc((l->n ? l->n : 1) * sizeof(*refs));
	size_t next = 0;

	if (!refs)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++)
		refs[i] = (struct kind_ref){l->items[i].kind, i};
	qsort(refs, l->n, sizeof(*refs), cmp_kind_ref);
	for (size_t i = 0; i < l->n; i++) {
		if (i > 0 && strcmp(refs[i].kind, refs[i - 1].kind) != 0)
			next++;
		ids[refs[i].index] = next;
	}
	free(refs);
	return 0;
}

int coll_score_host(const struct coll_score_input *in, struct coll_score *ret)
{
	struct raw_list l = {0};
	struct coll_score s = {0};
	struct cap cap = {.score = 100};
	size_t *kind_id = NULL;
	int *kind_lost = NULL;
	const json_t *probes, *p, *host;
	const char *hostname;
	int lost_total = 0, rc;
	size_t i, j, capped_listed = 0;

	if (!in || !ret || !json_is_object(in->report) || (in->n_forecasts && !in->forecasts))
		return -EINVAL;
	host = json_object_get(in->report, "host");
	hostname = coll_json_str(host, "hostname");
	if (!hostname)
		hostname = "host";

	probes = json_object_get(in->report, "probes");
	json_array_foreach(probes, i, p)
	{
		const json_t *findings = json_object_get(p, "findings"), *f;
		const char *name = coll_json_str(p, "name");
		json_array_foreach(findings, j, f)
		{
			rc = score_finding(&l, &cap, name ? name : "", f, in->now);
			if (rc < 0)
				goto out;
		}
	}
	rc = coll_score_forecasts(&l, &cap, in);
	if (rc < 0)
		goto out;
	rc = coll_score_coverage(&s, in);
	if (rc < 0)
		goto out;
	rc = coll_score_liveness(&l, &cap, in, hostname, &s);
	if (rc < 0)
		goto out;

	if (l.n)
		qsort(l.items, l.n, sizeof(*l.items), cmp_raw);
	kind_id = calloc(l.n ? l.n : 1, sizeof(*kind_id));
	kind_lost = calloc(l.n ? l.n : 1, sizeof(*kind_lost));
	s.deductions = calloc(l.n ? l.n : 1, sizeof(*s.deductions));
	if (!kind_id || !kind_lost || !s.deductions || number_kinds(&l, kind_id) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	/* worst first takes the points first: what a cap cuts is the least bad */
	for (i = 0; i < l.n; i++) {
		struct raw *r = &l.items[i];
		int *ku = &kind_lost[kind_id[i]];
		int pts = r->points;

		if (pts > r->cap - *ku)
			pts = r->cap - *ku;
		if (pts > category_weight[r->category] - s.category_lost[r->category])
			pts = category_weight[r->category] - s.category_lost[r->category];
		if (pts < 0)
			pts = 0;
		if (pts == 0 && capped_listed >= COLL_SCORE_MAX_CAPPED) {
			s.omitted++;
			continue;
		}
		if (pts == 0)
			capped_listed++;
		*ku += pts;
		s.category_lost[r->category] += pts;
		lost_total += pts;
		struct coll_deduction *d = &s.deductions[s.n_deductions++];
		d->category = r->category;
		d->points = pts;
		d->full_points = r->points;
		d->capped = pts < r->points;
		d->severity = r->sev;
		d->value = r->value;
		d->stale = r->stale;
		d->stale_since = r->stale_since;
		/* ownership moves to the score */
		d->kind = r->kind;
		d->object = r->object;
		d->reason = r->reason;
		d->remediation = r->remediation;
		r->kind = r->object = r->reason = r->remediation = NULL;
	}
	s.uncapped = 100 - lost_total;
	s.score = s.uncapped < cap.score ? s.uncapped : cap.score;
	s.cap = cap.score;
	if (cap.score < 100 && s.uncapped > cap.score) {
		s.cap_kind = cap.kind;
		s.cap_object = cap.object;
		s.cap_reason = cap.reason;
		cap.kind = cap.object = cap.reason = NULL;
	} else {
		s.cap = 100; /* the points alone are at or below it */
	}
	s.band = s.unknown_reason ? COLL_BAND_UNKNOWN : coll_score_band(s.score);
	for (int c = 0; c < COLL_CAT_COUNT; c++)
		s.category_score[c] =
			100 * (category_weight[c] - s.category_lost[c]) / category_weight[c];
	*ret = s;
	memset(&s, 0, sizeof(s));
	rc = 0;
out:
	free(kind_id);
	free(kind_lost);
	raw_list_free(&l);
	cap_free(&cap);
	coll_score_free(&s);
	return rc;
}

void coll_score_free(struct coll_score *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_deductions; i++) {
		free(s->deductions[i].kind);
		free(s->deductions[i].object);
		free(s->deductions[i].reason);
		free(s->deductions[i].remediation);
	}
	free(s->deductions);
	free(s->cap_kind);
	free(s->cap_object);
	free(s->cap_reason);
	free(s->unknown_reason);
	s->deductions = NULL;
	s->cap_kind = s->cap_object = s->cap_reason = s->unknown_reason = NULL;
	s->n_deductions = 0;
}
