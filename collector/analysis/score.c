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
#define DISK_FULL_7D     12 /* forecast full within 7 days (or already full) */
#define DISK_FULL_30D    5  /* ... within 30 days */
#define DISK_FULL_CAP    25
#define INDEX_FC_POINTS  1 /* index crosses the fragmentation threshold within 30 days */
#define INDEX_FC_CAP     5
#define SPIKE_POINTS     5
#define SPIKE_CAP        10
#define SPIKE_CRITICAL_Z 8.0 /* error_spike's critical line (alerts.c) */
#define SILENT_POINTS    15  /* no report for more than 3 intervals: all of liveness */
#define LATE_POINTS      5   /* no report for more than 1.5 intervals */
#define PROBE_ERR_POINTS 3
#define PROBE_ERR_CAP    9
#define DROPPED_POINTS   2
#define SKEW_POINTS      3
#define SKEW_LIMIT_S     300
/* fatal conditions (docs/scoring.md, "Caps") */
#define FATAL_XID_PCT   75.0
#define FATAL_BACKUP_H  168.0 /* 7 days */
#define FATAL_DISK_DAYS 7.0
#define MAX_INSTANCES   256 /* coverage counts at most this many probe instances */

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

struct raw {
	enum coll_category category;
	int points, cap; /* full points; the per-kind cap */
	int sev;         /* 1 warning, 2 critical */
	double value;    /* NAN = none */
	double worse;    /* value oriented so that larger is worse (ordering only) */
	bool stale;
	int64_t stale_since;
	char *kind, *object, *reason, *remediation;
};

struct raw_list {
	size_t n, cap;
	struct raw *items;
};

/* The worst problem that caps the score (docs/scoring.md, "Caps"). */
struct cap {
	int score; /* 100 = none */
	char *kind, *object, *reason;
};

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
static int raw_add_simple(struct raw_list *l, enum coll_category cat, int points, int cap, int sev,
			  const char *kind, const char *object, char *reason,
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

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
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
static int cap_lower(struct cap *c, int score, const char *kind, const char *object, char *reason)
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

static int64_t time_field(const json_t *o, const char *key)
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

static enum coll_category category_of_probe(const char *probe)
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
	int64_t since = time_field(f, "stale_since"), measured = time_field(f, "measured_at");
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
		return cap_lower(c, COLL_CAP_FATAL, kind, object,
				 fmt("filesystem %s is read-only", object));
	if (!strcmp(kind, "xid_wraparound") && value > FATAL_XID_PCT) {
		coll_format_value(v, sizeof(v), value, "%");
		return cap_lower(c, COLL_CAP_FATAL, kind, object,
				 fmt("transaction ID age of %s at %s of wraparound (over 75.0%%)",
				     object, v));
	}
	if (!strcmp(kind, "backup_age") && value > FATAL_BACKUP_H && !strstr(object, " (log)")) {
		coll_format_value(v, sizeof(v), value / 24.0, "days");
		return cap_lower(c, COLL_CAP_FATAL, kind, object,
				 fmt("no backup of %s for %s (over 7 days)", object, v));
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
			.stale_since = time_field(f, "stale_since")};
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
		t.category = category_of_probe(probe);
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
		rc = cap_lower(cap, COLL_CAP_CRITICAL_FINDING, kind, object,
			       fmt("critical %s on %s%s%s: a host with a critical finding is never "
				   "healthy",
				   kind, object, v[0] ? " at " : "", v));
		if (rc < 0)
			return rc;
	}
	return raw_add(l, &t, kind, object, finding_reason(f, kind, sev, now), rem);
}

static int score_forecasts(struct raw_list *l, struct cap *cap, const struct coll_score_input *in)
{
	char obj[512];
	int rc = 0;

	for (size_t i = 0; i < in->n_forecasts && rc == 0; i++) {
		const struct coll_object_forecast *f = &in->forecasts[i];
		const char *object = f->object ? f->object : "";
		const struct coll_forecast *c = &f->fc;

		switch (f->kind) {
		case COLL_FK_DISK_BYTES:
		case COLL_FK_DISK_INODES: {
			int pts = 0;
			const char *what = f->kind == COLL_FK_DISK_INODES ? "inodes" : "space";
			char *reason;
			snprintf(obj, sizeof(obj), "%s%s", object,
				 f->kind == COLL_FK_DISK_INODES ? " (inodes)" : "");
			if (c->status == COLL_FC_ALREADY)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < FATAL_DISK_DAYS)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < 30)
				pts = DISK_FULL_30D;
			if (!pts)
				break;
			if (c->status == COLL_FC_ALREADY)
				reason = fmt("%s out of %s now", object, what);
			else
				reason = fmt("%s runs out of %s in %.1f days (between %.1f and "
					     "%.1f; %s confidence, R² %.2f over %zu samples)",
					     object, what, c->days, c->days_low, c->days_high,
					     coll_confidence_name(c->confidence), c->r2, c->n_used);
			if (pts == DISK_FULL_7D) {
				rc = cap_lower(cap, COLL_CAP_FATAL, "disk_full_forecast", obj,
					       reason ? strdup(reason) : NULL);
				if (rc < 0) {
					free(reason);
					break;
				}
			}
			rc = raw_add_simple(
				l, COLL_CAT_STORAGE, pts, DISK_FULL_CAP,
				pts == DISK_FULL_7D ? 2 : 1, "disk_full_forecast", obj, reason,
				c->status == COLL_FC_ALREADY
					? "Free space or grow the filesystem now."
					: "Free space or grow the filesystem before the "
					  "forecast date.");
			break;
		}
		case COLL_FK_INDEX_FRAGMENTATION:
			if (c->status == COLL_FC_ETA && c->days < 30)
				rc = raw_add_simple(
					l, COLL_CAT_DATABASE, INDEX_FC_POINTS, INDEX_FC_CAP, 1,
					"index_fragmentation_forecast", object,
					fmt("%s crosses %.1f%% fragmentation in %.1f days (%s "
					    "confidence)",
					    object, c->limit, c->days,
					    coll_confidence_name(c->confidence)),
					"Schedule a REINDEX / REBUILD in the next maintenance "
					"window.");
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status == COLL_SPIKE_SPIKE)
				rc = raw_add_simple(
					l, COLL_CAT_ERRORS, SPIKE_POINTS, SPIKE_CAP,
					f->spike.z >= SPIKE_CRITICAL_Z ? 2 : 1, "error_spike",
					object,
					fmt("%s error rate %.1f against a usual %.1f (robust z "
					    "%.1f, %s baseline)",
					    object, f->spike.current, f->spike.baseline, f->spike.z,
					    coll_baseline_method_name(f->spike.method)),
					"Read the top error signatures in the latest report.");
			break;
		}
	}
	return rc;
}

static bool has_probe_error_finding(const json_t *probe)
{
	const json_t *findings = json_object_get(probe, "findings"), *f;
	size_t i;

	json_array_foreach(findings, i, f)
	{
		const char *k = coll_json_str(f, "kind");
		if (k && !strcmp(k, "probe_error"))
			return true;
	}
	return false;
}

static void instance_name(const json_t *p, char *buf, size_t size)
{
	const char *name = coll_json_str(p, "name"), *target = coll_json_str(p, "target");

	snprintf(buf, size, "%s%s%s", name ? name : "?", target ? "/" : "", target ? target : "");
}

static int score_liveness(struct raw_list *l, struct cap *cap, const struct coll_score_input *in,
			  const char *hostname, struct coll_score *cov)
{
	const json_t *rep = in->report, *probes = json_object_get(rep, "probes"), *p;
	const char *gen = coll_json_str(rep, "generated_at");
	double interval = coll_json_num(rep, "interval_s"),
	       dropped = coll_json_num(rep, "dropped_reports");
	time_t generated = 0;
	int64_t received;
	size_t i;
	int rc;

	if (gen && ep_time_parse(gen, &generated) < 0)
		generated = 0;
	received = in->received_at > 0 ? in->received_at : (int64_t)generated;

	if (received > 0 && interval > 0) {
		double age = (double)(in->now - received);
		if (age > 3 * interval && !cov->unknown_reason) {
			cov->unknown_reason = fmt("silent: no report for %.0f s (more than 3 "
						  "intervals of %.0f s)",
						  age, interval);
			cov->stale_since = received;
			if (!cov->unknown_reason)
				return -ENOMEM;
		}
		if (age > 3 * interval)
			rc = raw_add_simple(l, COLL_CAT_LIVENESS, SILENT_POINTS, SILENT_POINTS, 2,
					    "report_age", hostname,
					    fmt("no report for %.0f s (%.1f intervals of %.0f s): "
						"the agent is silent",
						age, age / interval, interval),
					    "Check that the host is up and erpulse-agent is "
					    "running and can reach the collector.");
		else if (age > 1.5 * interval)
			rc = raw_add_simple(
				l, COLL_CAT_LIVENESS, LATE_POINTS, LATE_POINTS, 1, "report_age",
				hostname,
				fmt("last report %.0f s ago (%.1f intervals of %.0f s): late", age,
				    age / interval, interval),
				"Check the agent's push errors (erpulse-agent status).");
		else
			rc = 0;
		if (rc < 0)
			return rc;
	}
	json_array_foreach(probes, i, p)
	{
		const char *status = coll_json_str(p, "status"), *err = coll_json_str(p, "error");
		const char *name = coll_json_str(p, "name");
		char obj[512];
		if (!status || strcmp(status, "error") != 0)
			continue;
		instance_name(p, obj, sizeof(obj));
		if (name && category_of_probe(name) == COLL_CAT_DATABASE) {
			rc = cap_lower(cap, COLL_CAP_FATAL, "database_unreachable", obj,
				       fmt("database unreachable: probe %s failed: %s", obj,
					   err ? err : "no error text"));
			if (rc < 0)
				return rc;
		}
		if (has_probe_error_finding(p))
			continue;
		rc = raw_add_simple(l, COLL_CAT_LIVENESS, PROBE_ERR_POINTS, PROBE_ERR_CAP, 1,
				    "probe_error", obj,
				    fmt("probe %s failed: %s", obj, err ? err : "no error text"),
				    "erpulse-agent check-config shows why the probe fails.");
		if (rc < 0)
			return rc;
	}
	if (dropped > 0) {
		rc = raw_add_simple(
			l, COLL_CAT_LIVENESS, DROPPED_POINTS, DROPPED_POINTS, 1, "dropped_reports",
			hostname,
			fmt("%.0f reports dropped from the agent's full spool since the last "
			    "accepted one",
			    dropped),
			"Check the agent's connectivity to the collector and spool_max_mb.");
		if (rc < 0)
			return rc;
	}
	if (in->received_at > 0 && generated > 0) {
		double skew = fabs((double)((int64_t)generated - in->received_at));
		if (skew > SKEW_LIMIT_S) {
			rc = raw_add_simple(l, COLL_CAT_LIVENESS, SKEW_POINTS, SKEW_POINTS, 1,
					    "clock_skew", hostname,
					    fmt("agent clock off by %.0f s (more than %d s)", skew,
						SKEW_LIMIT_S),
					    "Enable time synchronisation (systemd-timesyncd or "
					    "chrony).");
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* ---- coverage: fresh, stale and unknown data -------------------------------- */

/* Age of an instance's data at `now`: 0 fresh, INT64_MAX none. */
static int64_t data_age(const json_t *p, int64_t now, int64_t *ret_since)
{
	const char *status = coll_json_str(p, "status");
	int64_t since = time_field(p, "stale_since");

	*ret_since = 0;
	if (json_is_true(json_object_get(p, "stale"))) {
		if (since <= 0)
			return INT64_MAX;
		*ret_since = since;
		return now > since ? now - since : 0;
	}
	return status && !strcmp(status, "ok") ? 0 : INT64_MAX;
}

static bool listed(const json_t *probes, size_t upto, const json_t *c)
{
	const char *name = coll_json_str(c, "name"), *target = coll_json_str(c, "target");
	const json_t *p;
	size_t i;

	json_array_foreach(probes, i, p)
	{
		const char *n = coll_json_str(p, "name"), *t = coll_json_str(p, "target");
		if (i >= upto)
			break;
		if (n && name && !strcmp(n, name) && !t == !target && (!t || !strcmp(t, target)))
			return true;
	}
	return false;
}

/* Category states and host coverage (docs/scoring.md, "Unknown and stale"). */
static int coverage(struct coll_score *s, const struct coll_score_input *in)
{
	const json_t *probes = json_object_get(in->report, "probes");
	const json_t *configured = json_object_get(in->report, "configured"), *p;
	double interval = coll_json_num(in->report, "interval_s");
	int64_t stale_after = in->stale_after_s;
	int64_t newest[COLL_CAT_COUNT], newest_any = 0;
	bool seen[COLL_CAT_COUNT] = {false}, fresh[COLL_CAT_COUNT] = {false};
	size_t total = 0, covered = 0, i;

	if (stale_after <= 0)
		stale_after = (int64_t)(3 * (interval > 0 ? interval : 300));
	for (int c = 0; c < COLL_CAT_COUNT; c++)
		newest[c] = 0;
	json_array_foreach(probes, i, p)
	{
		const char *name = coll_json_str(p, "name");
		int64_t since, age;
		enum coll_category c;
		if (!name || total >= MAX_INSTANCES)
			continue;
		c = category_of_probe(name);
		age = data_age(p, in->now, &since);
		total++;
		seen[c] = true;
		bool is_fresh = !json_is_true(json_object_get(p, "stale")) && age == 0;
		if (is_fresh)
			fresh[c] = true;
		if (age <= stale_after)
			covered++;
		if (since > newest[c])
			newest[c] = since;
		if (since > newest_any)
			newest_any = since;
		if (is_fresh) {
			newest[c] = in->now;
			newest_any = in->now;
		}
	}
	/* configured instances the report does not mention at all: no data */
	json_array_foreach(configured, i, p)
	{
		const char *name = coll_json_str(p, "name");
		if (!name || total >= MAX_INSTANCES || listed(probes, json_array_size(probes), p))
			continue;
		total++;
		seen[category_of_probe(name)] = true;
	}
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		if (c == COLL_CAT_LIVENESS)
			s->category_state[c] = COLL_CAT_FRESH; /* the report itself */
		else if (!seen[c])
			s->category_state[c] = COLL_CAT_UNMONITORED;
		else if (fresh[c])
			s->category_state[c] = COLL_CAT_FRESH;
		else if (newest[c] > 0 && in->now - newest[c] <= stale_after)
			s->category_state[c] = COLL_CAT_STALE;
		else
			s->category_state[c] = COLL_CAT_UNKNOWN;
		if (s->category_state[c] == COLL_CAT_STALE ||
		    s->category_state[c] == COLL_CAT_UNKNOWN)
			s->category_stale_since[c] = newest[c];
	}
	if (total > 0 && covered * 2 < total) {
		s->unknown_reason = fmt("%zu of %zu configured probe instances have no data "
					"younger than %lld s",
					total - covered, total, (long long)stale_after);
		if (!s->unknown_reason)
			return -ENOMEM;
		s->stale_since = newest_any;
	}
	return 0;
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
	rc = score_forecasts(&l, &cap, in);
	if (rc < 0)
		goto out;
	rc = coverage(&s, in);
	if (rc < 0)
		goto out;
	rc = score_liveness(&l, &cap, in, hostname, &s);
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

static json_t *time_or_null(int64_t t)
{
	char when[32];

	if (t <= 0 || ep_time_format((time_t)t, when, sizeof(when)) < 0)
		return json_null();
	return json_string(when);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *coll_score_json(const struct coll_score *s)
{
	json_t *o = json_object(), *cats = json_object(), *list = json_array(), *cap = NULL;
	int r = 0;

	if (!o || !cats || !list || !s)
		goto fail;
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		json_t *cat = json_pack("{s:i, s:i, s:i, s:s, s:o}", "weight", category_weight[c],
					"lost", s->category_lost[c], "score", s->category_score[c],
					"state", coll_cat_state_name(s->category_state[c]),
					"stale_since", time_or_null(s->category_stale_since[c]));
		if (!cat ||
		    json_object_set_new(cats, coll_category_name((enum coll_category)c), cat) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->n_deductions; i++) {
		const struct coll_deduction *d = &s->deductions[i];
		json_t *e =
			json_pack("{s:s, s:i, s:i, s:b, s:s, s:o, s:s, s:s, s:s, s:o, s:b, s:o}",
				  "category", coll_category_name(d->category), "points", d->points,
				  "full_points", d->full_points, "capped", d->capped, "severity",
				  d->severity == 2 ? "critical" : "warning", "value",
				  isfinite(d->value) ? json_real(d->value) : json_null(), "kind",
				  d->kind, "object", d->object, "reason", d->reason, "remediation",
				  str_or_null(d->remediation), "stale", d->stale, "stale_since",
				  time_or_null(d->stale_since));
		if (!e || json_array_append_new(list, e) < 0)
			goto fail;
	}
	if (s->cap < 100) {
		cap = json_pack("{s:i, s:o, s:o, s:o}", "score", s->cap, "kind",
				str_or_null(s->cap_kind), "object", str_or_null(s->cap_object),
				"reason", str_or_null(s->cap_reason));
		if (!cap)
			goto fail;
	}
	r |= json_object_set_new(o, "score", json_integer(s->score));
	r |= json_object_set_new(o, "band", json_string(coll_band_name(s->band)));
	r |= json_object_set_new(o, "uncapped_score", json_integer(s->uncapped));
	r |= json_object_set_new(o, "cap", cap ? cap : json_null());
	r |= json_object_set_new(o, "unknown_reason", str_or_null(s->unknown_reason));
	r |= json_object_set_new(o, "stale_since", time_or_null(s->stale_since));
	r |= json_object_set_new(o, "top_reason", str_or_null(coll_score_top_reason(s)));
	r |= json_object_set_new(o, "categories", cats);
	cats = NULL;
	r |= json_object_set_new(o, "deductions", list);
	list = NULL;
	r |= json_object_set_new(o, "omitted", json_integer((json_int_t)s->omitted));
	if (r)
		goto fail;
	return o;
fail:
	json_decref(cats);
	json_decref(list);
	json_decref(o);
	return NULL;
}

const char *coll_score_top_reason(const struct coll_score *s)
{
	if (!s)
		return NULL;
	if (s->band == COLL_BAND_UNKNOWN && s->unknown_reason)
		return s->unknown_reason;
	return s->n_deductions ? s->deductions[0].reason : NULL;
}

/* The liveness lines of j's deductions capped, a "report_age" line first. */
static int silent_deductions(json_t *list, const char *hostname, int64_t age, int64_t interval_s)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *cat = coll_json_str(e, "category");
		if (!cat || strcmp(cat, "liveness") != 0)
			continue;
		json_object_set_new(e, "points", json_integer(0));
		json_object_set_new(e, "capped", json_true());
	}
	char *reason = fmt("no report for %lld s (%.1f intervals of %lld s): the agent is silent",
			   (long long)age, (double)age / (double)interval_s, (long long)interval_s);
	if (!reason)
		return -ENOMEM;
	e = json_pack("{s:s, s:i, s:i, s:b, s:s, s:n, s:s, s:s, s:s, s:s, s:b, s:n}", "category",
		      "liveness", "points", SILENT_POINTS, "full_points", SILENT_POINTS, "capped",
		      0, "severity", "critical", "value", "kind", "report_age", "object", hostname,
		      "reason", reason, "remediation",
		      "Check that the host is up and erpulse-agent is running and can reach the "
		      "collector.",
		      "stale", 0, "stale_since");
	free(reason);
	if (!e || json_array_insert_new(list, 0, e) < 0)
		return -ENOMEM;
	return 0;
}

int coll_score_json_silent(json_t *j, const char *hostname, int64_t last_report_at, int64_t now,
			   int64_t interval_s)
{
	json_t *cats = json_object_get(j, "categories"), *list = json_object_get(j, "deductions");
	json_t *cap = json_object_get(j, "cap"), *c;
	const char *name;
	int lost = 0, score, r;

	if (!json_is_object(cats) || !json_is_array(list) || interval_s <= 0)
		return -EINVAL;
	r = silent_deductions(list, hostname ? hostname : "host", now - last_report_at, interval_s);
	if (r < 0)
		return r;
	json_object_foreach(cats, name, c)
	{
		if (!strcmp(name, "liveness")) {
			json_object_set_new(c, "lost", json_integer(SILENT_POINTS));
			json_object_set_new(c, "score", json_integer(0));
			json_object_set_new(c, "state", json_string("fresh"));
		} else {
			json_object_set_new(c, "state", json_string("unknown"));
			json_object_set_new(c, "stale_since", time_or_null(last_report_at));
		}
		lost += (int)json_integer_value(json_object_get(c, "lost"));
	}
	score = 100 - lost;
	json_object_set_new(j, "uncapped_score", json_integer(score));
	if (json_is_object(cap) && json_integer_value(json_object_get(cap, "score")) < score)
		score = (int)json_integer_value(json_object_get(cap, "score"));
	char *why = fmt("silent: no report since %lld s ago (more than 3 intervals of %lld s)",
			(long long)(now - last_report_at), (long long)interval_s);
	if (!why)
		return -ENOMEM;
	json_object_set_new(j, "score", json_integer(score));
	json_object_set_new(j, "band", json_string("unknown"));
	json_object_set_new(j, "unknown_reason", json_string(why));
	json_object_set_new(j, "top_reason", json_string(why));
	json_object_set_new(j, "stale_since", time_or_null(last_report_at));
	free(why);
	return score;
}

/* The hosts that count for a customer: its production hosts, or all of
 * them when none is marked production. */
static bool counts(const bool *production, size_t n, size_t i)
{
	bool any_prod = false;

	for (size_t k = 0; production && k < n && !any_prod; k++)
		any_prod = production[k];
	return !any_prod || production[i];
}

int coll_customer_score(const int *host_scores, const bool *production, size_t n, size_t *ret_worst)
{
	size_t worst = (size_t)-1;

	for (size_t i = 0; i < n; i++)
		if (counts(production, n, i) &&
		    (worst == (size_t)-1 || host_scores[i] < host_scores[worst]))
			worst = i;
	if (ret_worst)
		*ret_worst = worst;
	return worst == (size_t)-1 ? 100 : host_scores[worst];
}

enum coll_band coll_customer_band(const enum coll_band *host_bands, const bool *production,
				  size_t n)
{
	/* order of precedence: critical, unknown, at_risk, healthy */
	static const int rank[] = {
		[COLL_BAND_HEALTHY] = 0,
		[COLL_BAND_AT_RISK] = 1,
		[COLL_BAND_UNKNOWN] = 2,
		[COLL_BAND_CRITICAL] = 3,
	};
	enum coll_band worst = COLL_BAND_HEALTHY;

	for (size_t i = 0; i < n; i++)
		if (counts(production, n, i) && (unsigned)host_bands[i] <= COLL_BAND_UNKNOWN &&
		    rank[host_bands[i]] > rank[worst])
			worst = host_bands[i];
	return worst;
}
