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
#include "collector/analysis/score.h"
#include "erpulse/util.h"

static const int category_weight[COLL_CAT_COUNT] = {
	[COLL_CAT_DATABASE] = 35, [COLL_CAT_STORAGE] = 25,  [COLL_CAT_ERRORS] = 15,
	[COLL_CAT_PATCHES] = 10,  [COLL_CAT_LIVENESS] = 15,
};

/* Points per finding kind by effective severity; cap = most one kind may
 * cost in total. Kept in step with docs/scoring.md. */
struct kind_cost {
	const char *kind;
	enum coll_category category;
	int warning, critical, cap;
	int rule;                /* enum coll_rule whose thresholds also raise severity, or -1 */
	const char *remediation; /* default when the finding has none */
};

static const struct kind_cost kind_costs[] = {
	{"index_fragmentation", COLL_CAT_DATABASE, 3, 6, 15, COLL_RULE_INDEX_FRAGMENTATION,
	 "Rebuild the index (REINDEX INDEX CONCURRENTLY / ALTER INDEX ... REBUILD)."},
	{"table_free_space", COLL_CAT_DATABASE, 2, 4, 8, -1,
	 "OPTIMIZE TABLE after ANALYZE TABLE confirms the free space."},
	{"xid_wraparound", COLL_CAT_DATABASE, 10, 25, 25, COLL_RULE_XID_WRAPAROUND,
	 "VACUUM (FREEZE) the oldest tables; end long transactions blocking autovacuum."},
	{"dead_tuples", COLL_CAT_DATABASE, 2, 4, 8, -1, "VACUUM the table; tune autovacuum."},
	{"vacuum_lag", COLL_CAT_DATABASE, 2, 4, 8, -1, "Check autovacuum workers and settings."},
	{"long_transaction", COLL_CAT_DATABASE, 2, 5, 10, -1,
	 "Find and end the long-running transaction."},
	{"idle_in_transaction", COLL_CAT_DATABASE, 2, 4, 8, -1,
	 "Fix the client leaving transactions open; set idle_in_transaction_session_timeout."},
	{"connections", COLL_CAT_DATABASE, 3, 8, 8, -1,
	 "Use a connection pooler or raise max_connections."},
	{"cache_hit_ratio", COLL_CAT_DATABASE, 2, 4, 4, -1, "Review shared_buffers and memory."},
	{"replication_lag", COLL_CAT_DATABASE, 3, 8, 8, -1, "Check the replica and the network."},
	{"wal_archiver", COLL_CAT_DATABASE, 5, 10, 10, -1,
	 "Fix archive_command; check the archive."},
	{"backup_age", COLL_CAT_DATABASE, 8, 15, 15, COLL_RULE_BACKUP_AGE,
	 "Check the backup job and run a full backup now."},
	{"disk_usage", COLL_CAT_STORAGE, 5, 12, 25, COLL_RULE_FILESYSTEM_USAGE,
	 "Free space or grow the filesystem."},
	{"inode_usage", COLL_CAT_STORAGE, 5, 12, 25, COLL_RULE_FILESYSTEM_USAGE,
	 "Remove small files (sessions, caches, mail queues) or grow the filesystem."},
	{"filesystem_readonly", COLL_CAT_STORAGE, 15, 25, 25, -1,
	 "Check the kernel log for I/O errors; fsck and remount read-write."},
	{"disk_latency", COLL_CAT_STORAGE, 2, 5, 10, -1, "Check the storage device and its load."},
	{"log_errors", COLL_CAT_ERRORS, 3, 6, 12, -1, "Read the top error signatures."},
	{"journal_errors", COLL_CAT_ERRORS, 2, 4, 8, -1, "journalctl -p err -u UNIT"},
	{"security_updates", COLL_CAT_PATCHES, 4, 8, 8, -1, "Install the security updates."},
	{"pending_updates", COLL_CAT_PATCHES, 1, 2, 2, -1, "Install the pending updates."},
	{"reboot_required", COLL_CAT_PATCHES, 2, 3, 3, -1,
	 "Reboot in the next maintenance window."},
	{"kernel_outdated", COLL_CAT_PATCHES, 1, 2, 2, -1, "Reboot into the newest kernel."},
	{"os_eol", COLL_CAT_PATCHES, 4, 8, 8, -1, "Plan the upgrade to a supported release."},
	{"probe_error", COLL_CAT_LIVENESS, 3, 3, 9, -1,
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
#define SILENT_POINTS    15 /* no report for more than 3 intervals */
#define LATE_POINTS      5  /* no report for more than 1.5 intervals */
#define DROPPED_POINTS   2
#define SKEW_POINTS      3
#define SKEW_LIMIT_S     300

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
	}
	return "unknown";
}

/* ---- raw deductions before caps ------------------------------------------ */

struct raw {
	enum coll_category category;
	int points;
	int cap; /* per-kind cap */
	char *kind, *object, *reason, *remediation;
};

struct raw_list {
	size_t n, cap;
	struct raw *items;
};

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

/* Adds one deduction; reason is consumed (malloc'd), the rest copied. */
static int raw_add(struct raw_list *l, enum coll_category cat, int points, int cap,
		   const char *kind, const char *object, char *reason, const char *remediation)
{
	struct raw *r;

	if (!reason)
		return -ENOMEM;
	if (points <= 0) {
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
	r->category = cat;
	r->points = points;
	r->cap = cap;
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

static const char *str_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static double num_field(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static const struct kind_cost *kind_cost_find(const char *kind)
{
	for (size_t i = 0; i < EP_ARRAY_SIZE(kind_costs); i++)
		if (strcmp(kind_costs[i].kind, kind) == 0)
			return &kind_costs[i];
	return NULL;
}

static enum coll_category category_of_probe(const char *probe)
{
	size_t len = strcspn(probe, ".");

	if ((len == 8 && !strncmp(probe, "postgres", len)) ||
	    (len == 4 && !strncmp(probe, "odbc", len)))
		return COLL_CAT_DATABASE;
	if (len == 4 && !strncmp(probe, "disk", len))
		return COLL_CAT_STORAGE;
	if (len == 7 && !strncmp(probe, "patches", len))
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

static int score_finding(struct raw_list *l, const char *probe, const json_t *f)
{
	const char *kind = str_field(f, "kind"), *object = str_field(f, "object");
	const char *unit = str_field(f, "unit"), *msg = str_field(f, "message");
	const char *rem = str_field(f, "remediation");
	const struct kind_cost *kc;
	double value = num_field(f, "value"), threshold = num_field(f, "threshold");
	int sev = severity_rank(str_field(f, "severity"));
	int points, cap;
	enum coll_category cat;
	char *reason;

	if (!kind)
		return 0;
	kc = kind_cost_find(kind);
	if (kc && kc->rule >= 0 && !isnan(value)) {
		/* the alert thresholds also decide severity, so score and alerts agree */
		double pages = num_field(f, "pages");
		if (!(kc->rule == COLL_RULE_INDEX_FRAGMENTATION && !isnan(pages) && pages < 1000)) {
			int lvl = (int)coll_rule_level((enum coll_rule)kc->rule, value,
						       COLL_LEVEL_NONE);
			if (lvl > sev)
				sev = lvl;
		} else {
			sev = 0; /* small indexes never cost points */
		}
	}
	if (sev == 0)
		return 0;
	if (kc) {
		cat = kc->category;
		points = sev == 2 ? kc->critical : kc->warning;
		cap = kc->cap;
		if (!rem)
			rem = kc->remediation;
	} else {
		cat = category_of_probe(probe);
		points = sev == 2 ? UNKNOWN_CRITICAL : UNKNOWN_WARNING;
		cap = UNKNOWN_CAP;
	}
	if (!isnan(value) && !isnan(threshold))
		reason = fmt("%s %s: %g%s%s (threshold %g)%s%s", kind,
			     sev == 2 ? "critical" : "warning", value, unit ? " " : "",
			     unit ? unit : "", threshold, msg ? ". " : "", msg ? msg : "");
	else if (!isnan(value))
		reason = fmt("%s %s: %g%s%s%s%s", kind, sev == 2 ? "critical" : "warning", value,
			     unit ? " " : "", unit ? unit : "", msg ? ". " : "", msg ? msg : "");
	else
		reason = fmt("%s %s%s%s", kind, sev == 2 ? "critical" : "warning", msg ? ". " : "",
			     msg ? msg : "");
	return raw_add(l, cat, points, cap, kind, object, reason, rem);
}

static int score_forecasts(struct raw_list *l, const struct coll_score_input *in)
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
			snprintf(obj, sizeof(obj), "%s%s", object,
				 f->kind == COLL_FK_DISK_INODES ? " (inodes)" : "");
			if (c->status == COLL_FC_ALREADY)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < 7)
				pts = DISK_FULL_7D;
			else if (c->status == COLL_FC_ETA && c->days < 30)
				pts = DISK_FULL_30D;
			if (!pts)
				break;
			if (c->status == COLL_FC_ALREADY)
				rc = raw_add(l, COLL_CAT_STORAGE, pts, DISK_FULL_CAP,
					     "disk_full_forecast", obj,
					     fmt("%s out of %s now", object, what),
					     "Free space or grow the filesystem now.");
			else
				rc = raw_add(
					l, COLL_CAT_STORAGE, pts, DISK_FULL_CAP,
					"disk_full_forecast", obj,
					fmt("%s runs out of %s in %.1f days (between %.1f and "
					    "%.1f; %s confidence, R² %.2f over %zu samples)",
					    object, what, c->days, c->days_low, c->days_high,
					    coll_confidence_name(c->confidence), c->r2, c->n_used),
					"Free space or grow the filesystem before the forecast "
					"date.");
			break;
		}
		case COLL_FK_INDEX_FRAGMENTATION:
			if (c->status == COLL_FC_ETA && c->days < 30)
				rc = raw_add(l, COLL_CAT_DATABASE, INDEX_FC_POINTS, INDEX_FC_CAP,
					     "index_fragmentation_forecast", object,
					     fmt("%s crosses %g%% fragmentation in %.1f days (%s "
						 "confidence)",
						 object, c->limit, c->days,
						 coll_confidence_name(c->confidence)),
					     "Schedule a REINDEX / REBUILD in the next maintenance "
					     "window.");
			break;
		case COLL_FK_ERROR_SPIKE:
			if (f->spike.status == COLL_SPIKE_SPIKE)
				rc = raw_add(
					l, COLL_CAT_ERRORS, SPIKE_POINTS, SPIKE_CAP, "error_spike",
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
		const char *k = str_field(f, "kind");
		if (k && !strcmp(k, "probe_error"))
			return true;
	}
	return false;
}

static int score_liveness(struct raw_list *l, const struct coll_score_input *in,
			  const char *hostname)
{
	const json_t *rep = in->report, *probes = json_object_get(rep, "probes"), *p;
	const char *gen = str_field(rep, "generated_at");
	double interval = num_field(rep, "interval_s"), dropped = num_field(rep, "dropped_reports");
	time_t generated = 0;
	int64_t received;
	size_t i;
	int rc;

	if (gen && ep_time_parse(gen, &generated) < 0)
		generated = 0;
	received = in->received_at > 0 ? in->received_at : (int64_t)generated;

	if (received > 0 && interval > 0) {
		double age = (double)(in->now - received);
		if (age > 3 * interval)
			rc = raw_add(l, COLL_CAT_LIVENESS, SILENT_POINTS, SILENT_POINTS,
				     "report_age", hostname,
				     fmt("no report for %.0f s (%.1f intervals of %.0f s): the "
					 "agent is silent",
					 age, age / interval, interval),
				     "Check that the host is up and erpulse-agent is running and "
				     "can reach the collector.");
		else if (age > 1.5 * interval)
			rc = raw_add(l, COLL_CAT_LIVENESS, LATE_POINTS, LATE_POINTS, "report_age",
				     hostname,
				     fmt("last report %.0f s ago (%.1f intervals of %.0f s): late",
					 age, age / interval, interval),
				     "Check the agent's push errors (erpulse-agent status).");
		else
			rc = 0;
		if (rc < 0)
			return rc;
	}
	json_array_foreach(probes, i, p)
	{
		const char *status = str_field(p, "status"), *name = str_field(p, "name");
		const char *target = str_field(p, "target"), *err = str_field(p, "error");
		char obj[512];
		if (!status || strcmp(status, "error") != 0 || has_probe_error_finding(p))
			continue;
		snprintf(obj, sizeof(obj), "%s%s%s", name ? name : "?", target ? "/" : "",
			 target ? target : "");
		rc = raw_add(l, COLL_CAT_LIVENESS, 3, 9, "probe_error", obj,
			     fmt("probe %s failed: %s", obj, err ? err : "no error text"),
			     "erpulse-agent check-config shows why the probe fails.");
		if (rc < 0)
			return rc;
	}
	if (dropped > 0) {
		rc = raw_add(l, COLL_CAT_LIVENESS, DROPPED_POINTS, DROPPED_POINTS,
			     "dropped_reports", hostname,
			     fmt("%.0f reports dropped from the agent's full spool", dropped),
			     "Check the agent's connectivity to the collector and spool_max_mb.");
		if (rc < 0)
			return rc;
	}
	if (in->received_at > 0 && generated > 0) {
		double skew = fabs((double)((int64_t)generated - in->received_at));
		if (skew > SKEW_LIMIT_S) {
			rc = raw_add(l, COLL_CAT_LIVENESS, SKEW_POINTS, SKEW_POINTS, "clock_skew",
				     hostname,
				     fmt("agent clock off by %.0f s (more than %d s)", skew,
					 SKEW_LIMIT_S),
				     "Enable time synchronisation (systemd-timesyncd or chrony).");
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int cmp_raw(const void *a, const void *b)
{
	const struct raw *x = a, *y = b;
	int c;

	if (x->points != y->points)
		return y->points - x->points;
	if (x->category != y->category)
		return (int)x->category - (int)y->category;
	c = strcmp(x->kind, y->kind);
	if (c)
		return c;
	c = strcmp(x->object, y->object);
	if (c)
		return c;
	return strcmp(x->reason, y->reason);
}

static int cmp_deduction(const void *a, const void *b)
{
	const struct coll_deduction *x = a, *y = b;
	int c;

	if (x->points != y->points)
		return y->points - x->points;
	if (x->category != y->category)
		return (int)x->category - (int)y->category;
	c = strcmp(x->kind, y->kind);
	return c ? c : strcmp(x->object, y->object);
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
	size_t *kind_id = NULL;
	int *kind_lost = NULL;
	const json_t *probes, *p, *host;
	const char *hostname;
	int lost_total = 0, rc;
	size_t i, j;

	if (!in || !ret || !json_is_object(in->report) || (in->n_forecasts && !in->forecasts))
		return -EINVAL;
	host = json_object_get(in->report, "host");
	hostname = str_field(host, "hostname");
	if (!hostname)
		hostname = "host";

	probes = json_object_get(in->report, "probes");
	json_array_foreach(probes, i, p)
	{
		const json_t *findings = json_object_get(p, "findings"), *f;
		const char *name = str_field(p, "name");
		json_array_foreach(findings, j, f)
		{
			rc = score_finding(&l, name ? name : "", f);
			if (rc < 0)
				goto out;
		}
	}
	rc = score_forecasts(&l, in);
	if (rc < 0)
		goto out;
	rc = score_liveness(&l, in, hostname);
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
	for (i = 0; i < l.n; i++) {
		struct raw *r = &l.items[i];
		int *ku = &kind_lost[kind_id[i]];
		int pts;

		pts = r->points;
		if (pts > r->cap - *ku)
			pts = r->cap - *ku;
		if (pts > category_weight[r->category] - s.category_lost[r->category])
			pts = category_weight[r->category] - s.category_lost[r->category];
		if (pts <= 0)
			continue;
		*ku += pts;
		s.category_lost[r->category] += pts;
		lost_total += pts;
		struct coll_deduction *d = &s.deductions[s.n_deductions++];
		d->category = r->category;
		d->points = pts;
		/* ownership moves to the score */
		d->kind = r->kind;
		d->object = r->object;
		d->reason = r->reason;
		d->remediation = r->remediation;
		r->kind = r->object = r->reason = r->remediation = NULL;
	}
	/* trimming by caps can reorder: biggest first again for the reader */
	if (s.n_deductions)
		qsort(s.deductions, s.n_deductions, sizeof(*s.deductions), cmp_deduction);
	s.score = 100 - lost_total;
	s.band = coll_score_band(s.score);
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
	s->deductions = NULL;
	s->n_deductions = 0;
}

json_t *coll_score_json(const struct coll_score *s)
{
	json_t *o = json_object(), *cats = json_object(), *list = json_array();
	int r = 0;

	if (!o || !cats || !list || !s)
		goto fail;
	for (int c = 0; c < COLL_CAT_COUNT; c++) {
		json_t *cat = json_pack("{s:i, s:i, s:i}", "weight", category_weight[c], "lost",
					s->category_lost[c], "score", s->category_score[c]);
		if (!cat ||
		    json_object_set_new(cats, coll_category_name((enum coll_category)c), cat) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->n_deductions; i++) {
		const struct coll_deduction *d = &s->deductions[i];
		json_t *e =
			json_pack("{s:s, s:i, s:s, s:s, s:s, s:o}", "category",
				  coll_category_name(d->category), "points", d->points, "kind",
				  d->kind, "object", d->object, "reason", d->reason, "remediation",
				  d->remediation ? json_string(d->remediation) : json_null());
		if (!e || json_array_append_new(list, e) < 0)
			goto fail;
	}
	r |= json_object_set_new(o, "score", json_integer(s->score));
	r |= json_object_set_new(o, "band", json_string(coll_band_name(s->band)));
	r |= json_object_set_new(o, "categories", cats);
	cats = NULL;
	r |= json_object_set_new(o, "deductions", list);
	list = NULL;
	if (r)
		goto fail;
	return o;
fail:
	json_decref(cats);
	json_decref(list);
	json_decref(o);
	return NULL;
}

int coll_customer_score(const int *host_scores, const bool *production, size_t n, size_t *ret_worst)
{
	size_t worst = (size_t)-1;
	bool any_prod = false;

	for (size_t i = 0; i < n; i++)
		if (production && production[i])
			any_prod = true;
	for (size_t i = 0; i < n; i++) {
		if (any_prod && !production[i])
			continue;
		if (worst == (size_t)-1 || host_scores[i] < host_scores[worst])
			worst = i;
	}
	if (ret_worst)
		*ret_worst = worst;
	return worst == (size_t)-1 ? 100 : host_scores[worst];
}
