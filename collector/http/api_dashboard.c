/* GET / and the dashboard's assets (collector/web/dashboard.h). */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/web/dashboard.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

/* The dashboard page (docs/dashboard.md): static, holds no data, served
 * with its Content-Security-Policy and the other headers it needs. */
enum MHD_Result coll_api_dashboard(struct req *rq, const char *url)
{
	struct MHD_Connection *c = rq->conn;
	const char *body = NULL, *type = NULL;
	size_t len = 0;
	if (coll_dashboard_asset(url, &body, &len, &type) < 0)
		return coll_http_error(c, 404, "not_found", "no such endpoint");
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
								    MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", type);
	for (const struct coll_dashboard_header *h = coll_dashboard_headers; h->name; h++)
		MHD_add_response_header(resp, h->name, h->value);
	enum MHD_Result r = MHD_queue_response(c, 200, resp);
	MHD_destroy_response(resp);
	return r;
}

/* One bounded list of the first view: {items, next, total}. */
static int part(struct coll_store *s, const struct coll_scope *scope, int64_t now, int64_t limit,
		const char *sort, coll_page_fn fn, json_t *view, const char *key)
{
	struct coll_page *p = calloc(1, sizeof(*p));
	json_t *items = NULL;
	if (!p)
		return -ENOMEM;
	p->sort = sort;
	p->limit = limit;
	int r = fn(s, scope, p, now, &items);
	if (r == 0 && json_object_set_new(view, key, coll_http_page_answer(items, p)) < 0)
		r = -ENOMEM;
	free(p);
	return r;
}

static int hosts_fn(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		    int64_t now, json_t **ret)
{
	return coll_store_hosts_page(s, scope, now, p, ret);
}
static int alerts_fn(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
		     int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_alerts_page(s, scope, p, ret);
}
static int incidents_fn(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
			int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_incidents_page(s, scope, p, ret);
}
static int customers_fn(struct coll_store *s, const struct coll_scope *scope, struct coll_page *p,
			int64_t now, json_t **ret)
{
	(void)now;
	return coll_store_customers_page(s, scope, p, ret);
}

/* The counts per band and of open alerts, and the customers worst first,
 * read every host and open alert in scope (the customer score is its worst
 * host's): kept COUNTS_TTL_MS per scope and limit (the vendor's shared by
 * every vendor user), so dashboards refreshing every 30 s cost one pass
 * per interval, not one each. A few seconds stale at most, like the page
 * itself; the worst hosts, the triage queue and the alerts are read fresh
 * from their indexes. */
#define COUNTS_TTL_MS 15000
#define COUNTS_SLOTS  64
static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char scope[COLL_ID_SIZE + 24]; /* customer ("" = every one) "/" limit */
	int64_t at_ms;
	json_t *counts;
} counts[COUNTS_SLOTS];

static int fleet_counts(struct coll_store *s, const struct coll_scope *scope, int64_t limit,
			int64_t now_s, json_t **ret)
{
	char key[COLL_ID_SIZE + 24];
	int64_t now = ep_mono_ms();
	snprintf(key, sizeof(key), "%s/%lld", scope->customer_id ? scope->customer_id : "",
		 (long long)limit);
	size_t slot = 0, oldest = 0;
	pthread_mutex_lock(&counts_lock);
	for (slot = 0; slot < COUNTS_SLOTS; slot++) {
		if (counts[slot].counts && strcmp(counts[slot].scope, key) == 0)
			break;
		if (counts[slot].at_ms < counts[oldest].at_ms)
			oldest = slot;
	}
	if (slot < COUNTS_SLOTS && now - counts[slot].at_ms < COUNTS_TTL_MS) {
		*ret = json_deep_copy(counts[slot].counts);
		pthread_mutex_unlock(&counts_lock);
		return *ret ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&counts_lock);
	json_t *fresh = NULL;
	int r = coll_store_fleet_counts(s, scope, &fresh);
	if (r == 0)
		r = part(s, scope, now_s, limit, "score", customers_fn, fresh, "customers");
	if (r < 0) {
		json_decref(fresh);
		return r;
	}
	pthread_mutex_lock(&counts_lock);
	if (slot == COUNTS_SLOTS)
		slot = oldest;
	json_decref(counts[slot].counts);
	snprintf(counts[slot].scope, sizeof(counts[slot].scope), "%s", key);
	counts[slot].at_ms = now;
	counts[slot].counts = json_deep_copy(fresh);
	pthread_mutex_unlock(&counts_lock);
	*ret = fresh;
	return 0;
}

/* The first view (docs/dashboard.md "Data"): counts per band and of open
 * alerts, the worst hosts, the triage queue (live incidents; open alerts
 * by severity), the customers worst first -- each limit rows (default 20)
 * with the cursor of its list's next page. Its cost does not grow with the
 * fleet but for the counts (fleet_counts: one scan per scope per 15 s). */
static int view(struct coll_store *s, const struct coll_scope *scope, struct req *rq,
		const char *url, int64_t now, json_t **ret)
{
	(void)rq;
	(void)url;
	json_t *v = NULL;
	int64_t n = scope->limit ? scope->limit : 20;
	if (n > COLL_PAGE_MAX || scope->offset) {
		snprintf(s->err, sizeof(s->err), "limit: 1..%d", COLL_PAGE_MAX);
		return -EINVAL;
	}
	int r = fleet_counts(s, scope, n, now, &v);
	if (r == 0)
		r = part(s, scope, now, n, "score", hosts_fn, v, "worst");
	if (r == 0)
		r = part(s, scope, now, n, "triage", incidents_fn, v, "incidents");
	if (r == 0)
		r = part(s, scope, now, n, "severity", alerts_fn, v, "alerts_open");
	if (r < 0) {
		json_decref(v);
		return r;
	}
	*ret = v;
	return 0;
}

enum MHD_Result coll_api_dashboard_data(struct req *rq, const char *url)
{
	return coll_http_read(rq, url, view, NULL);
}
