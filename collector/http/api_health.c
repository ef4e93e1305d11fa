/* GET /healthz (is the store reachable, did the last commit succeed) and GET /metrics (Prometheus
 * text: the counters of metrics.h plus store-backed gauges). */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/metrics.h"
#include "collector/service/service.h"
#include "collector/store/incidents.h"
#include "erpulse/log.h"
#include "erpulse/util.h"

enum MHD_Result coll_api_healthz(struct req *rq, const char *url)
{
	(void)url;
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	int r = s ? coll_store_ping(s) : -ETIMEDOUT;
	coll_pool_put(&rq->srv->pool, s);
	if (r < 0)
		return coll_http_json(
			rq->conn, 503,
			json_pack("{s:s,s:s}", "status", "unavailable", "store", "unreachable"),
			RETRY_AFTER);
	int w = atomic_load(&rq->srv->last_commit);
	if (w < 0) /* reachable, but the last group commit failed (a full disk) */
		return coll_http_json(rq->conn, 503,
				      json_pack("{s:s,s:s,s:s}", "status", "unavailable", "store",
						"write_failed", "error", strerror(-w)),
				      RETRY_AFTER);
	return coll_http_json(rq->conn, 200, json_pack("{s:s,s:s}", "status", "ok", "store", "ok"),
			      NULL);
}

/* [server] metrics_token: "Authorization: Bearer TOKEN", compared in
 * constant time. */
static bool metrics_allowed(struct req *rq)
{
	const char *want = rq->srv->cfg->metrics_token;
	if (!want)
		return true;
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	size_t n = strlen(want);
	if (strlen(h) != n)
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(h[i] ^ want[i]);
	return d == 0;
}

/* The agent and incident gauges count whole tables: one scrape's figures
 * serve the scrapes of the next METRICS_CACHE_MS (several Prometheus
 * servers, or a short scrape interval, then cost one count, not one each;
 * issue 16). The outbox depth reads a partial index and stays live. */
#define METRICS_CACHE_MS 10000
static pthread_mutex_t counts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	bool valid;
	int64_t at_ms;
	int64_t states[4];
	struct coll_incident_counts inc;
} counts;

static int cached_counts(struct coll_store *s, int64_t states[4], struct coll_incident_counts *inc)
{
	int r = 0;
	int64_t now = ep_mono_ms();
	pthread_mutex_lock(&counts_lock);
	if (!counts.valid || now - counts.at_ms >= METRICS_CACHE_MS) {
		r = coll_store_agent_states(s, ep_wall_ms() / 1000, counts.states);
		if (r == 0)
			r = coll_store_incident_counts(s, coll_service_now(), &counts.inc);
		counts.valid = r == 0;
		counts.at_ms = now;
	}
	memcpy(states, counts.states, sizeof(counts.states));
	*inc = counts.inc;
	pthread_mutex_unlock(&counts_lock);
	return r;
}

enum MHD_Result coll_api_metrics(struct req *rq, const char *url)
{
	(void)url;
	if (!metrics_allowed(rq))
		return coll_http_error(rq->conn, 401, "unauthorized",
				       "GET /metrics needs Authorization: Bearer <metrics_token>");
	struct ep_buf b;
	ep_buf_init(&b, 1 << 20);
	coll_metrics_render(&b);
	struct coll_store *s = coll_pool_get(&rq->srv->pool, coll_http_deadline(rq->srv));
	int64_t depth = 0, states[4] = {0};
	struct coll_incident_counts inc;
	int r = s ? coll_store_outbox_depth(s, &depth) : -ETIMEDOUT;
	if (r == 0)
		r = cached_counts(s, states, &inc);
	coll_pool_put(&rq->srv->pool, s);
	pthread_mutex_lock(&rq->srv->qlock);
	size_t qlen = rq->srv->qlen;
	pthread_mutex_unlock(&rq->srv->qlock);
	ep_buf_printf(&b,
		      "# HELP erpulse_store_up Whether the store answered this scrape\n"
		      "# TYPE erpulse_store_up gauge\nerpulse_store_up %d\n"
		      "# HELP erpulse_ingest_queue Reports waiting for the group commit\n"
		      "# TYPE erpulse_ingest_queue gauge\nerpulse_ingest_queue %zu\n",
		      r == 0, qlen);
	if (r == 0) {
		static const char *const names[] = {"active", "silent", "revoked",
						    "never_reported"};
		ep_buf_printf(&b,
			      "# HELP erpulse_outbox_depth Notices not yet delivered\n"
			      "# TYPE erpulse_outbox_depth gauge\nerpulse_outbox_depth %lld\n"
			      "# HELP erpulse_agents Agents by state\n"
			      "# TYPE erpulse_agents gauge\n",
			      (long long)depth);
		for (size_t i = 0; i < 4; i++)
			ep_buf_printf(&b, "erpulse_agents{state=\"%s\"} %lld\n", names[i],
				      (long long)states[i]);
		ep_buf_printf(&b, "# HELP erpulse_incidents Live incidents by state\n"
				  "# TYPE erpulse_incidents gauge\n");
		for (int i = 0; i < COLL_INC_STATE_COUNT; i++)
			if (coll_incident_state_live((enum coll_incident_state)i))
				ep_buf_printf(&b, "erpulse_incidents{state=\"%s\"} %lld\n",
					      coll_incident_state_name((enum coll_incident_state)i),
					      (long long)inc.by_state[i]);
		ep_buf_printf(
			&b,
			"# HELP erpulse_incidents_breached Live incidents past their SLA "
			"target\n"
			"# TYPE erpulse_incidents_breached gauge\nerpulse_incidents_breached "
			"%lld\n"
			"# HELP erpulse_sla_events_total SLA warnings, breaches and escalations "
			"fired\n"
			"# TYPE erpulse_sla_events_total counter\nerpulse_sla_events_total %lld\n",
			(long long)inc.breached, (long long)inc.events);
	}
	char *text = ep_buf_steal(&b);
	if (!text)
		return MHD_NO;
	return coll_http_text(rq->conn, 200, "text/plain; version=0.0.4", text, NULL);
}
