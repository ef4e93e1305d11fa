/* The report model's state sections (model.h): capacity (filesystem usage
 * over the month and the forecast full date), database (worst indexes,
 * how many are over the threshold, maintenance debt, backups), patches and
 * logs. Series come from the history API (store/history.c), the current
 * state from the host's latest report, findings and forecasts. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/report/model_int.h"
#include "erpulse/util.h"

#define DAY       86400
#define HALF_DAY  43200
#define MAX_NAMES 64 /* series of one host the report reads */

static const char *const prefixes[] = {"disk_usage:", "index_fragmentation:", "log_errors:",
				       "journal_errors:", "security_updates:"};
enum { P_DISK, P_INDEX, P_LOG, P_JOURNAL, P_SECURITY, P_NONE };

/* Findings that are maintenance owed on a database (vacuum, statistics,
 * bloat): the "maintenance debt" line. */
static const char *const debt_kinds[] = {
	"dead_tuples",      "vacuum_lag",     "table_statistics_stale",
	"table_free_space", "xid_wraparound", "erp_table_dead_rows"};

void coll_rm_state_init(struct coll_rm_state *st)
{
	memset(st, 0, sizeof(*st));
}

static int prefix_of(const char *name)
{
	for (size_t i = 0; i < EP_ARRAY_SIZE(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return (int)i;
	return P_NONE;
}

static int severity_of(const char *s)
{
	return strcmp(s, "critical") == 0 ? 2 : strcmp(s, "warning") == 0 ? 1 : 0;
}

static double last_of(const struct coll_report_series *s)
{
	return s->n ? s->v[s->n - 1] : NAN;
}

/* Indexes: the higher last value first (a series without one last). */
static bool index_worse(const void *item, const void *element)
{
	return !(last_of(element) >= last_of(item));
}

/* Filesystems: the fullest first. */
static bool fs_worse(const void *item, const void *element)
{
	const struct coll_report_fs *a = item, *b = element;
	return !(b->last >= a->last);
}

/* Signatures: the most frequent first. */
static bool signature_worse(const void *item, const void *element)
{
	const struct coll_report_signature *a = item, *b = element;
	return a->count > b->count;
}

static int64_t full_at(const struct coll_report_model *m, const json_t *forecasts,
		       const char *mount)
{
	size_t i;
	const json_t *f;
	json_array_foreach(forecasts, i, f)
	{
		double days = coll_rm_num(f, "days");
		if (strcmp(coll_rm_str(f, "kind"), "disk_bytes") == 0 &&
		    strcmp(coll_rm_str(f, "object"), mount) == 0 && isfinite(days) && days >= 0 &&
		    days < 36500)
			return m->now + (int64_t)(days * DAY);
	}
	return 0;
}

/* One series of the host's answer: capacity, index, error sum or patches. */
static void use_series(struct coll_report_model *m, struct coll_rm_state *st, const char *host,
		       const char *name, const json_t *ans, const json_t *forecasts,
		       struct coll_report_patch *patch, struct coll_report_series *ser)
{
	int p = prefix_of(name);
	coll_rm_series(ans, name, ser);
	coll_rm_copy(ser->host, sizeof(ser->host), host);
	coll_rm_copy(ser->object, sizeof(ser->object), name + strlen(prefixes[p]));
	if (ser->n == 0)
		return;
	if (p == P_DISK) {
		/* the fullest first: the chart draws the first four */
		struct coll_report_fs fs = {.s = *ser,
					    .first = ser->v[0],
					    .last = last_of(ser),
					    .full_at = full_at(m, forecasts, ser->object)};
		coll_rm_insert(m->fs, &m->n_fs, COLL_REPORT_MAX_ROWS, sizeof(fs), &fs, fs_worse);
	} else if (p == P_INDEX) {
		coll_rm_insert(m->indexes, &m->n_indexes, COLL_REPORT_MAX_ROWS, sizeof(*ser), ser,
			       index_worse);
	} else if (p == P_LOG || p == P_JOURNAL) {
		for (size_t i = 0; i < ser->n; i++) {
			int64_t k = (ser->t[i] - m->from) / st->step;
			if (k >= 0 && k < COLL_REPORT_MAX_POINTS) {
				st->err_sum[k] += ser->v[i];
				st->err_has[k] = true;
			}
		}
	} else if (p == P_SECURITY) {
		/* how long updates have been pending: the current run of > 0 */
		size_t i = ser->n;
		while (i > 0 && ser->v[i - 1] > 0)
			i--;
		if (i < ser->n)
			patch->pending_since = ser->t[i];
		patch->security = (int64_t)last_of(ser);
	}
}

/* The host's current findings: database counts, backups, patches. */
static void use_findings(struct coll_report_model *m, struct coll_rm_state *st, const char *host,
			 const json_t *findings, struct coll_report_patch *patch)
{
	size_t i;
	const json_t *f;
	json_array_foreach(findings, i, f)
	{
		const char *kind = coll_rm_str(f, "kind");
		int sev = severity_of(coll_rm_str(f, "severity"));
		double v = coll_rm_num(f, "value");
		if (strcmp(kind, "index_fragmentation") == 0) {
			st->any_index_findings = true;
			if (sev >= 1)
				m->indexes_over++;
			double t = coll_rm_num(f, "threshold");
			if (isfinite(t))
				m->index_threshold = t;
		}
		for (size_t k = 0; k < EP_ARRAY_SIZE(debt_kinds); k++)
			if (strcmp(kind, debt_kinds[k]) == 0) {
				st->any_db = true;
				if (sev >= 1)
					m->maintenance_debt++;
			}
		if (strcmp(kind, "backup_age") == 0 && m->n_backups < COLL_REPORT_MAX_ROWS) {
			struct coll_report_backup *b = &m->backups[m->n_backups++];
			coll_rm_copy(b->host, sizeof(b->host), host);
			coll_rm_copy(b->object, sizeof(b->object), coll_rm_str(f, "object"));
			b->age_h = v;
			b->severity = sev;
		}
		if (strcmp(kind, "reboot_required") == 0)
			patch->reboot = sev >= 1 || v > 0 ? 1 : 0;
	}
}

/* The latest report: the patches probe's metrics and the log sources' top
 * error signatures. */
static void use_report(struct coll_report_model *m, const char *host, const json_t *report,
		       struct coll_report_patch *patch)
{
	size_t i;
	const json_t *p;
	json_array_foreach(json_object_get(report, "probes"), i, p)
	{
		const json_t *mt = json_object_get(p, "metrics");
		if (json_is_integer(json_object_get(mt, "security_updates")) && patch->security < 0)
			patch->security =
				json_integer_value(json_object_get(mt, "security_updates"));
		if (json_is_boolean(json_object_get(mt, "reboot_required")))
			patch->reboot = json_is_true(json_object_get(mt, "reboot_required"));
		const char *eol = json_string_value(json_object_get(mt, "os_eol"));
		int32_t day;
		if (eol && coll_date_parse(eol, &day) == 0)
			patch->eol_at = (int64_t)day * DAY;
		size_t k;
		const json_t *sg;
		json_array_foreach(json_object_get(mt, "top_signatures"), k, sg)
		{
			struct coll_report_signature one = {.count = coll_rm_int(sg, "count")};
			coll_rm_copy(one.host, sizeof(one.host), host);
			coll_rm_copy(one.source, sizeof(one.source), coll_rm_str(mt, "source"));
			coll_rm_copy(one.text, sizeof(one.text), coll_rm_str(sg, "signature"));
			coll_rm_insert(m->signatures, &m->n_signatures, COLL_REPORT_MAX_ROWS,
				       sizeof(one), &one, signature_worse);
		}
	}
}

/* The report's series names of the host (what the history API has). */
static int series_names(struct coll_store *s, const struct coll_scope *scope, const char *id,
			const char **names, size_t *n, json_t **ret_list)
{
	struct coll_series_query q0 = {0, 1, 60, NULL, 0};
	json_t *list = NULL;
	int r = coll_store_host_series(s, scope, id, &q0, &list);
	if (r < 0)
		return r;
	size_t i;
	const json_t *e;
	*n = 0;
	json_array_foreach(json_object_get(list, "names"), i, e)
	{
		const char *name = json_string_value(e);
		if (name && prefix_of(name) != P_NONE && *n < MAX_NAMES)
			names[(*n)++] = name;
	}
	*ret_list = list;
	return 0;
}

int coll_rm_host_state(struct coll_store *s, struct coll_report_model *m,
		       const struct coll_scope *scope, const char *id, const char *hostname,
		       const json_t *host, struct coll_rm_state *st)
{
	const char *names[MAX_NAMES];
	size_t n = 0;
	json_t *list = NULL, *ans = NULL;
	struct coll_report_patch patch = {.security = -1, .reboot = -1};
	coll_rm_copy(patch.host, sizeof(patch.host), hostname);
	int r = series_names(s, scope, id, names, &n, &list);
	if (r < 0)
		return r;
	struct coll_report_series *ser = malloc(sizeof(*ser));
	if (!ser) {
		r = -ENOMEM;
		goto out;
	}
	st->step = coll_series_step(m->from, m->to, HALF_DAY);
	if (n) {
		struct coll_series_query q = {m->from, m->to, st->step, names, n};
		r = coll_store_host_series(s, scope, id, &q, &ans);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < n; i++)
			use_series(m, st, hostname, names[i], ans,
				   json_object_get(host, "forecasts"), &patch, ser);
	}
	use_findings(m, st, hostname, json_object_get(host, "findings"), &patch);
	use_report(m, hostname, json_object_get(host, "report"), &patch);
	bool any = patch.security >= 0 || patch.reboot >= 0 || patch.eol_at;
	if (any && m->n_patches < COLL_REPORT_MAX_ROWS)
		m->patches[m->n_patches++] = patch;
	r = 0;
out:
	free(ser);
	json_decref(ans);
	json_decref(list);
	return r;
}

void coll_rm_state_finish(struct coll_report_model *m, const struct coll_rm_state *st)
{
	if (!st->any_index_findings && m->n_indexes == 0)
		m->indexes_over = -1;
	if (!st->any_db && m->n_indexes == 0 && m->maintenance_debt == 0)
		m->maintenance_debt = -1;
	m->errors.n = 0;
	coll_rm_copy(m->errors.object, sizeof(m->errors.object), "*");
	for (int k = 0; k < COLL_REPORT_MAX_POINTS; k++) {
		if (!st->err_has[k])
			continue;
		m->errors.t[m->errors.n] = m->from + k * st->step;
		m->errors.v[m->errors.n] = st->err_sum[k];
		m->errors.n++;
	}
}
