/* HTTP(S) server (server.h). Request handlers run on libmicrohttpd's thread
 * pool; a report that passed its checks is queued for the batcher thread and
 * its connection suspended; the batcher commits up to batch_max reports per
 * transaction (group commit) and resumes the connections with their answers,
 * so nothing is acknowledged before it is committed. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "collector/analysis.h"
#include "collector/dashboard.h"
#include "collector/ingest.h"
#include "collector/metrics.h"
#include "collector/outbox.h"
#include "collector/server.h"
#include "collector/sql.h"
#include "collector/store.h"
#include "erpulse/crypto.h"
#include "erpulse/log.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

#define ENROLL_MAX_BODY (64 * 1024)
#define QUEUE_MAX       20000 /* reports waiting for the batcher; beyond: 503 */
#define RATE_SLOTS      4096
#define AGENT_SLOTS     8192
#define AGENT_TTL_MS    30000
#define DRAIN_MAX       (16u << 20) /* oversized bodies read and dropped up to this */
#define RETRY_AFTER     "2"

enum route {
	R_NONE,
	R_REPORTS,
	R_ENROLL,
	R_HEALTHZ,
	R_METRICS,
	R_CUSTOMERS,
	R_HOSTS,
	R_HOST,
	R_ALERTS,
	R_DASHBOARD,
};

struct req {
	struct coll_server *srv;
	struct MHD_Connection *conn;
	enum route route;
	int64_t start_ms;
	struct ep_buf body;
	bool too_large;
	uint64_t seen; /* body bytes received */
	/* ingest */
	bool queued;
	_Atomic bool done;
	struct coll_ingest item;
	json_t *report;
	char *findings; /* item.findings_json, rendered before the batch */
	struct req *next;
};

/* one per TCP connection, for the total request deadline */
struct track {
	int fd;
	_Atomic int64_t start_ms;
	bool cut;
	struct track *prev, *next;
};

struct pool {
	struct coll_store **v;
	bool *busy;
	size_t n;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

struct rate_slot {
	char ip[INET6_ADDRSTRLEN];
	double tokens;
	int64_t at_ms;
};

/* Agent lookups cached briefly: public keys never change for an id, and a
 * revocation the cache has not seen yet is still refused by the seq gate in
 * the store transaction (it requires revoked_at IS NULL). */
struct agent_slot {
	struct coll_agent a;
	int64_t at_ms;
};

struct coll_server {
	const struct coll_settings *cfg;
	struct agent_slot *agents;
	pthread_mutex_t alock;
	struct MHD_Daemon *mhd;
	int port;
	char *tls_cert, *tls_key;
	struct pool pool;
	struct coll_analysis an;
	struct coll_outbox *outbox;
	/* batchers: one per writer connection */
	struct coll_store *writer; /* migrations */
	struct coll_store **writers;
	pthread_t *batchers;
	size_t n_writers, n_batchers;
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct req *qhead, *qtail;
	size_t qlen;
	_Atomic bool stop;
	/* maintenance + reaper */
	pthread_t maint;
	pthread_mutex_t mlock;
	pthread_cond_t mcond;
	struct track *tracks;
	pthread_mutex_t tlock;
	/* enroll rate limit */
	struct rate_slot *rate;
	pthread_mutex_t rlock;
};

/* ---- responses -------------------------------------------------------------- */

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *type,
				 char *text, const char *retry_after)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback(strlen(text), text, free);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type", type);
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (retry_after)
		MHD_add_response_header(resp, "Retry-After", retry_after);
	enum MHD_Result r = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* Consumes j. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j,
				 const char *retry_after)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return MHD_NO;
	return send_text(c, status, "application/json", text, retry_after);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *message)
{
	const char *retry = (status == 503 || status == 429) ? RETRY_AFTER : NULL;
	json_t *j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message);
	if (!j) /* message not UTF-8: say less */
		j = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", code);
	return send_json(c, status, j, retry);
}

static enum MHD_Result send_unavailable(struct MHD_Connection *c)
{
	return send_error(c, 503, "unavailable", "the store is unavailable; retry later");
}

/* ---- store pool ----------------------------------------------------------------- */

static struct coll_store *pool_get(struct pool *p, int64_t deadline_ms)
{
	struct coll_store *s = NULL;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (size_t i = 0; i < p->n; i++)
			if (!p->busy[i]) {
				p->busy[i] = true;
				s = p->v[i];
				break;
			}
		if (s)
			break;
		int64_t left = deadline_ms - ep_mono_ms();
		if (left <= 0)
			break;
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		int64_t ns = ts.tv_nsec + (left > 200 ? 200 : left) * 1000000;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	if (s)
		coll_store_set_deadline(s, deadline_ms);
	return s;
}

static void pool_put(struct pool *p, struct coll_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i] == s)
			p->busy[i] = false;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* a store call from a request must end within this: 503 before 2 s */
static int64_t store_deadline(const struct coll_server *srv)
{
	int64_t ms = srv->cfg->statement_timeout_ms;
	if (ms > 1500)
		ms = 1500;
	return ep_mono_ms() + ms;
}

/* ---- client address and rate limit ------------------------------------------------ */

static void client_ip(struct MHD_Connection *c, char *buf, size_t size)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	buf[0] = '\0';
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)size);
}

/* Token bucket per client address. */
static bool rate_allow(struct coll_server *srv, const char *ip)
{
	uint32_t h = 2166136261u;
	for (const char *p = ip; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	double per_ms = (double)srv->cfg->enroll_per_minute / 60000.0;
	double burst = (double)srv->cfg->enroll_burst;
	int64_t now = ep_mono_ms();
	bool ok;
	pthread_mutex_lock(&srv->rlock);
	struct rate_slot *s = &srv->rate[h % RATE_SLOTS];
	if (strcmp(s->ip, ip) != 0) {
		snprintf(s->ip, sizeof(s->ip), "%s", ip);
		s->tokens = burst;
		s->at_ms = now;
	}
	s->tokens += (double)(now - s->at_ms) * per_ms;
	if (s->tokens > burst)
		s->tokens = burst;
	s->at_ms = now;
	ok = s->tokens >= 1.0;
	if (ok)
		s->tokens -= 1.0;
	pthread_mutex_unlock(&srv->rlock);
	return ok;
}

/* ---- handlers ----------------------------------------------------------------------- */

static enum MHD_Result handle_enroll(struct req *rq)
{
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	json_t *body = NULL;
	char err[256];
	enum MHD_Result ret;

	if (rq->too_large) {
		coll_metrics_enroll(0);
		return send_error(c, 413, "too_large", "enrollment body too large");
	}
	if (ep_json_parse_strict(rq->body.data ? rq->body.data : "", rq->body.len, ENROLL_MAX_BODY,
				 &body, err, sizeof(err)) < 0) {
		coll_metrics_enroll(0);
		return send_error(c, 400, "bad_request", err);
	}
	const char *token = coll_jstr(body, "token"), *hostname = coll_jstr(body, "hostname");
	const char *pk = coll_jstr(body, "public_key"), *version = coll_jstr(body, "agent_version");
	unsigned char key[EP_PUBLIC_KEY_BYTES + 4];
	size_t key_len = 0;
	if (!json_is_object(body) || !token || !hostname || !pk || !version || !token[0] ||
	    !hostname[0] || strlen(hostname) > 255 || strlen(version) > 64 || strlen(token) > 256) {
		ret = send_error(c, 400, "bad_request",
				 "expected {token, hostname, public_key, agent_version} strings");
		goto out_fail;
	}
	if (ep_base64_decode(pk, strlen(pk), key, sizeof(key), &key_len) < 0 ||
	    key_len != EP_PUBLIC_KEY_BYTES) {
		ret = send_error(c, 400, "bad_request", "public_key: expected base64 of 32 bytes");
		goto out_fail;
	}
	char hash[65];
	ep_hash_secret(token, hash);
	struct coll_enroll e = {
		.token_hash = hash,
		.hostname = hostname,
		.public_key_b64 = pk,
		.agent_version = version,
		.now = ep_wall_ms() / 1000,
		.interval_s = srv->cfg->agent_interval_s,
	};
	char agent_id[COLL_ID_SIZE], customer_id[COLL_ID_SIZE];
	struct coll_store *s = pool_get(&srv->pool, store_deadline(srv));
	if (!s) {
		ret = send_unavailable(c);
		goto out_fail;
	}
	int r = coll_store_enroll(s, &e, agent_id, customer_id);
	if (r < 0 && coll_store_unavailable(r))
		ep_log_warning("enroll: store: %s", s->err);
	pool_put(&srv->pool, s);
	switch (r) {
	case 0:
		break;
	case -ENOENT:
		ret = send_error(c, 401, "token_invalid", "unknown enrollment token");
		goto out_fail;
	case -EKEYEXPIRED:
		ret = send_error(c, 401, "token_expired", "the enrollment token has expired");
		goto out_fail;
	case -EUSERS:
		ret = send_error(c, 401, "token_used_up", "the enrollment token has no uses left");
		goto out_fail;
	default:
		ret = coll_store_unavailable(r)
			      ? send_unavailable(c)
			      : send_error(c, 500, "internal", "enrollment failed");
		goto out_fail;
	}
	ep_log_notice("enrolled agent %s (%s) for customer %s", agent_id, hostname, customer_id);
	coll_metrics_enroll(1);
	json_decref(body);
	return send_json(c, 201,
			 json_pack("{s:s,s:s,s:I}", "agent_id", agent_id, "customer_id",
				   customer_id, "interval_s",
				   (json_int_t)srv->cfg->agent_interval_s),
			 NULL);
out_fail:
	coll_metrics_enroll(0);
	json_decref(body);
	return ret;
}

static enum MHD_Result answer_ingest(struct req *rq)
{
	struct MHD_Connection *c = rq->conn;
	struct coll_ingest *it = &rq->item;
	coll_metrics_observe(COLL_HIST_INGEST, ep_mono_ms() - rq->start_ms);
	switch (it->result) {
	case COLL_INGEST_ACCEPTED:
	case COLL_INGEST_DUPLICATE: {
		/* the same text json_dumps(JSON_COMPACT) writes, without building it */
		char *text = malloc(96);
		if (!text)
			return MHD_NO;
		if (it->result == COLL_INGEST_ACCEPTED) {
			coll_metrics_accepted();
			snprintf(text, 96, "{\"status\":\"accepted\",\"seq\":%lld}",
				 (long long)it->seq);
		} else {
			coll_metrics_duplicate();
			snprintf(text, 96,
				 "{\"status\":\"duplicate\",\"seq\":%lld,\"last_seq\":%lld}",
				 (long long)it->seq, (long long)it->last_seq);
		}
		return send_text(c, 200, "application/json", text, NULL);
	}
	default:
		if (it->error == -EPERM) {
			coll_metrics_reject(COLL_REJECT_REVOKED);
			return send_error(c, 403, "revoked", "this agent has been revoked");
		}
		if (coll_store_unavailable(it->error) || it->error == 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return send_unavailable(c);
		}
		coll_metrics_reject(COLL_REJECT_INTERNAL);
		return send_error(c, 500, "internal", "the report could not be stored");
	}
}

static struct agent_slot *agent_slot_of(struct coll_server *srv, const char *id)
{
	uint32_t h = 2166136261u;
	for (const char *p = id; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return &srv->agents[h % AGENT_SLOTS];
}

static bool agent_cached(struct coll_server *srv, const char *id, struct coll_agent *ret)
{
	bool hit = false;
	pthread_mutex_lock(&srv->alock);
	struct agent_slot *sl = agent_slot_of(srv, id);
	if (sl->at_ms && strcmp(sl->a.id, id) == 0 && ep_mono_ms() - sl->at_ms < AGENT_TTL_MS) {
		*ret = sl->a;
		hit = true;
	}
	pthread_mutex_unlock(&srv->alock);
	return hit;
}

static void agent_remember(struct coll_server *srv, const struct coll_agent *a)
{
	pthread_mutex_lock(&srv->alock);
	struct agent_slot *sl = agent_slot_of(srv, a->id);
	sl->a = *a;
	sl->at_ms = ep_mono_ms();
	pthread_mutex_unlock(&srv->alock);
}

static enum MHD_Result handle_report(struct req *rq)
{
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	char err[512];

	if (rq->queued) /* resumed by the batcher */
		return answer_ingest(rq);
	if (rq->too_large) {
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return send_error(c, 413, "too_large", "report body too large");
	}
	const char *agent_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Agent");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	struct coll_agent agent;
	if (!agent_id || !sig || !coll_agent_id_valid(agent_id)) {
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		return send_error(c, 401, "unauthorized", "unknown agent or bad signature");
	}
	bool cached = agent_cached(srv, agent_id, &agent);
	if (!cached) {
		struct coll_store *s = pool_get(&srv->pool, store_deadline(srv));
		if (!s) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return send_unavailable(c);
		}
		int r = coll_store_agent_get(s, agent_id, &agent);
		if (r < 0 && r != -ENOENT)
			ep_log_warning("ingest: store: %s", s->err);
		pool_put(&srv->pool, s);
		if (r == -ENOENT) {
			coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
			return send_error(c, 401, "unauthorized", "unknown agent or bad signature");
		}
		if (r < 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return send_unavailable(c);
		}
	}
	int64_t seq = 0;
	json_t *report = NULL;
	const char *body = rq->body.data ? rq->body.data : "";
	enum coll_check chk = coll_ingest_check(agent.public_key, agent_id, sig, body, rq->body.len,
						(size_t)srv->cfg->max_body_bytes, &report, &seq,
						err, sizeof(err));
	if (chk == COLL_CHECK_UNAUTHORIZED) {
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		return send_error(c, 401, "unauthorized", "unknown agent or bad signature");
	}
	/* the signature is genuine: only now does revocation speak */
	if (agent.revoked) {
		json_decref(report);
		coll_metrics_reject(COLL_REJECT_REVOKED);
		return send_error(c, 403, "revoked", "this agent has been revoked");
	}
	if (chk == COLL_CHECK_TOO_LARGE) {
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return send_error(c, 413, "too_large", err);
	}
	if (chk != COLL_CHECK_OK) {
		coll_metrics_reject(COLL_REJECT_BAD_REQUEST);
		return send_error(c, 400, "bad_request", err);
	}
	if (!cached)
		agent_remember(srv, &agent);
	if (!cached && seq == agent.last_seq) {
		/* the plain resend of the last accepted report: nothing to store */
		json_decref(report);
		rq->item.seq = seq;
		rq->item.last_seq = agent.last_seq;
		rq->item.result = COLL_INGEST_DUPLICATE;
		return answer_ingest(rq);
	}
	/* rendered here, on the request threads, rather than by the batcher
	 * under the write lock (NULL: the store renders it) */
	rq->findings = coll_store_findings_json(report);
	pthread_mutex_lock(&srv->qlock);
	if (srv->qlen >= QUEUE_MAX || srv->stop) {
		pthread_mutex_unlock(&srv->qlock);
		json_decref(report);
		coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
		return send_unavailable(c);
	}
	rq->report = report;
	rq->item = (struct coll_ingest){
		.findings_json = rq->findings,
		.agent = agent,
		.report = report,
		.body = body,
		.len = rq->body.len,
		.seq = seq,
		.received_at = ep_wall_ms() / 1000,
	};
	rq->queued = true;
	/* suspended before it is queued, so the batcher's resume always
	 * finds it suspended */
	MHD_suspend_connection(c);
	rq->next = NULL;
	if (srv->qtail)
		srv->qtail->next = rq;
	else
		srv->qhead = rq;
	srv->qtail = rq;
	srv->qlen++;
	pthread_cond_signal(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	return MHD_YES;
}

/* The dashboard page (docs/dashboard.md): static, holds no data, served
 * with its Content-Security-Policy and the other headers it needs. */
static enum MHD_Result handle_dashboard(struct MHD_Connection *c, const char *url)
{
	const char *body = NULL, *type = NULL;
	size_t len = 0;
	if (coll_dashboard_asset(url, &body, &len, &type) < 0)
		return send_error(c, 404, "not_found", "no such endpoint");
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

static enum MHD_Result handle_healthz(struct req *rq)
{
	struct coll_store *s = pool_get(&rq->srv->pool, store_deadline(rq->srv));
	int r = s ? coll_store_ping(s) : -ETIMEDOUT;
	pool_put(&rq->srv->pool, s);
	if (r < 0)
		return send_json(
			rq->conn, 503,
			json_pack("{s:s,s:s}", "status", "unavailable", "store", "unreachable"),
			RETRY_AFTER);
	return send_json(rq->conn, 200, json_pack("{s:s,s:s}", "status", "ok", "store", "ok"),
			 NULL);
}

static enum MHD_Result handle_metrics(struct req *rq)
{
	struct ep_buf b;
	ep_buf_init(&b, 1 << 20);
	coll_metrics_render(&b);
	struct coll_store *s = pool_get(&rq->srv->pool, store_deadline(rq->srv));
	int64_t depth = 0, states[4] = {0};
	int r = s ? coll_store_outbox_depth(s, &depth) : -ETIMEDOUT;
	if (r == 0)
		r = coll_store_agent_states(s, ep_wall_ms() / 1000, states);
	pool_put(&rq->srv->pool, s);
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
	}
	char *text = ep_buf_steal(&b);
	if (!text)
		return MHD_NO;
	return send_text(rq->conn, 200, "text/plain; version=0.0.4", text, NULL);
}

/* Bearer token -> scope. 0, or an answer was queued (ret set). */
static int authorize(struct req *rq, struct coll_user *user, enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0 || !h[7] || strlen(h) > 512) {
		*ret = send_error(rq->conn, 401, "unauthorized", "a bearer token is required");
		return -EPERM;
	}
	char hash[65];
	ep_hash_secret(h + 7, hash);
	struct coll_store *s = pool_get(&rq->srv->pool, store_deadline(rq->srv));
	int r = s ? coll_store_user_by_token(s, hash, user) : -ETIMEDOUT;
	pool_put(&rq->srv->pool, s);
	if (r == -ENOENT) {
		*ret = send_error(rq->conn, 401, "unauthorized", "unknown API token");
		return r;
	}
	if (r < 0) {
		*ret = send_unavailable(rq->conn);
		return r;
	}
	return 0;
}

static enum MHD_Result handle_read(struct req *rq, const char *url)
{
	struct coll_user user;
	enum MHD_Result ret;
	if (authorize(rq, &user, &ret) < 0)
		return ret;
	struct coll_scope scope = {
		.customer_id = user.role == COLL_ROLE_VENDOR ? NULL : user.customer_id,
	};
	const char *lim = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
	const char *off = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "offset");
	if ((lim && ep_parse_int64(lim, 1, 100000, &scope.limit) < 0) ||
	    (off && ep_parse_int64(off, 0, INT64_MAX / 2, &scope.offset) < 0))
		return send_error(rq->conn, 400, "bad_request",
				  "limit: 1..100000, offset: a number >= 0");
	struct coll_store *s = pool_get(&rq->srv->pool, store_deadline(rq->srv));
	if (!s)
		return send_unavailable(rq->conn);
	json_t *j = NULL;
	int64_t now = ep_wall_ms() / 1000;
	int r;
	switch (rq->route) {
	case R_CUSTOMERS:
		r = coll_store_customers(s, &scope, &j);
		break;
	case R_HOSTS:
		r = coll_store_hosts(s, &scope, now, &j);
		break;
	case R_HOST: {
		const char *id = url + strlen("/api/v1/hosts/");
		r = coll_agent_id_valid(id) ? coll_store_host(s, &scope, id, now, &j) : -ENOENT;
		break;
	}
	case R_ALERTS: {
		const char *state =
			MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "state");
		bool open_only = !state || strcmp(state, "all") != 0;
		r = coll_store_alerts(s, &scope, open_only, &j);
		break;
	}
	default:
		r = -ENOENT;
		break;
	}
	if (r < 0 && r != -ENOENT)
		ep_log_warning("read API %s: %s", url, s->err);
	pool_put(&rq->srv->pool, s);
	if (r == -ENOENT)
		return send_error(rq->conn, 404, "not_found", "no such object");
	if (r < 0)
		return coll_store_unavailable(r) ? send_unavailable(rq->conn)
						 : send_error(rq->conn, 500, "internal", "failed");
	const char *key = rq->route == R_CUSTOMERS ? "customers"
			  : rq->route == R_HOSTS   ? "hosts"
			  : rq->route == R_ALERTS  ? "alerts"
						   : NULL;
	if (key)
		j = json_pack("{s:o}", key, j);
	return send_json(rq->conn, 200, j, NULL);
}

/* ---- libmicrohttpd callbacks -------------------------------------------------------- */

static enum route route_of(const char *method, const char *url, bool *ret_method_ok)
{
	bool post = strcmp(method, "POST") == 0,
	     get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	enum route r = R_NONE;
	bool want_post = false;
	if (strcmp(url, "/api/v1/reports") == 0)
		r = R_REPORTS, want_post = true;
	else if (strcmp(url, "/api/v1/enroll") == 0)
		r = R_ENROLL, want_post = true;
	else if (strcmp(url, "/healthz") == 0)
		r = R_HEALTHZ;
	else if (strcmp(url, "/metrics") == 0)
		r = R_METRICS;
	else if (strcmp(url, "/api/v1/customers") == 0)
		r = R_CUSTOMERS;
	else if (strcmp(url, "/api/v1/hosts") == 0)
		r = R_HOSTS;
	else if (strncmp(url, "/api/v1/hosts/", 14) == 0 && url[14])
		r = R_HOST;
	else if (strcmp(url, "/api/v1/alerts") == 0)
		r = R_ALERTS;
	else if (coll_dashboard_asset(url, NULL, NULL, NULL) == 0)
		r = R_DASHBOARD;
	*ret_method_ok = want_post ? post : get;
	return r;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct coll_server *srv = cls;
	struct req *rq = *con_cls;
	(void)version;

	if (!rq) {
		bool method_ok;
		enum route route = route_of(method, url, &method_ok);
		if (route == R_NONE)
			return send_error(c, 404, "not_found", "no such endpoint");
		if (!method_ok)
			return send_error(c, 405, "method_not_allowed", "method not allowed here");
		size_t cap = route == R_REPORTS  ? (size_t)srv->cfg->max_body_bytes
			     : route == R_ENROLL ? ENROLL_MAX_BODY
						 : 0;
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
		int64_t declared = 0;
		bool too_large = cl && ep_parse_int64(cl, 0, INT64_MAX, &declared) == 0 &&
				 (uint64_t)declared > cap &&
				 (route == R_REPORTS || route == R_ENROLL);
		if (too_large && (uint64_t)declared > DRAIN_MAX) {
			/* refused before a byte of the body is read */
			coll_metrics_reject(COLL_REJECT_TOO_LARGE);
			return send_error(c, 413, "too_large", "request body too large");
		}
		if (route == R_ENROLL) {
			char ip[INET6_ADDRSTRLEN];
			client_ip(c, ip, sizeof(ip));
			if (!rate_allow(srv, ip)) {
				coll_metrics_reject(COLL_REJECT_RATE_LIMITED);
				return send_error(c, 429, "rate_limited",
						  "too many enrollments from this address");
			}
		}
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		rq->srv = srv;
		rq->conn = c;
		rq->route = route;
		rq->start_ms = ep_mono_ms();
		rq->too_large = too_large;
		ep_buf_init(&rq->body, cap);
		if (!too_large && declared > 0 && (uint64_t)declared <= cap) {
			/* one allocation of the declared size instead of doubling */
			rq->body.data = malloc((size_t)declared + 1);
			if (rq->body.data) {
				rq->body.data[0] = '\0';
				rq->body.cap = (size_t)declared + 1;
			}
		}
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		/* A body over the cap is read and dropped up to DRAIN_MAX, so that
		 * the client, still sending, reliably reads the 413 (answering at
		 * once and closing makes its kernel see a reset instead). */
		rq->seen += *upload_size;
		if (!rq->too_large && ep_buf_append(&rq->body, upload, *upload_size) < 0) {
			rq->too_large = true;
			ep_buf_free(&rq->body);
		}
		*upload_size = 0;
		if (rq->too_large && rq->seen > DRAIN_MAX) {
			coll_metrics_reject(COLL_REJECT_TOO_LARGE);
			return send_error(c, 413, "too_large", "request body too large");
		}
		return MHD_YES;
	}
	switch (rq->route) {
	case R_REPORTS:
		return handle_report(rq);
	case R_ENROLL:
		return handle_enroll(rq);
	case R_HEALTHZ:
		return handle_healthz(rq);
	case R_METRICS:
		return handle_metrics(rq);
	case R_DASHBOARD:
		return handle_dashboard(c, url);
	default:
		return handle_read(rq, url);
	}
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;
	(void)cls;
	(void)toe;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context) {
		struct track *t = ci->socket_context;
		atomic_store(&t->start_ms, ep_mono_ms()); /* the next request's clock */
	}
	if (!rq)
		return;
	json_decref(rq->report);
	free(rq->findings);
	ep_buf_free(&rq->body);
	free(rq);
	*con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct coll_server *srv = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct track *t = calloc(1, sizeof(*t));
		if (!t || !ci)
			return;
		t->fd = ci->connect_fd;
		atomic_store(&t->start_ms, ep_mono_ms());
		pthread_mutex_lock(&srv->tlock);
		t->next = srv->tracks;
		if (srv->tracks)
			srv->tracks->prev = t;
		srv->tracks = t;
		pthread_mutex_unlock(&srv->tlock);
		*socket_context = t;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct track *t = *socket_context;
		if (!t)
			return;
		/* notified before libmicrohttpd closes the fd: once unlinked under
		 * the lock, the reaper can no longer touch it */
		pthread_mutex_lock(&srv->tlock);
		if (t->prev)
			t->prev->next = t->next;
		else
			srv->tracks = t->next;
		if (t->next)
			t->next->prev = t->prev;
		pthread_mutex_unlock(&srv->tlock);
		free(t);
		*socket_context = NULL;
	}
}

/* ---- threads ---------------------------------------------------------------------------- */

struct batcher_arg {
	struct coll_server *srv;
	struct coll_store *w;
};

static void *batcher_main(void *arg)
{
	struct batcher_arg *ba = arg;
	struct coll_server *srv = ba->srv;
	struct coll_store *w = ba->w;
	free(ba);
	size_t max = (size_t)srv->cfg->batch_max;
	struct req **batch = calloc(max, sizeof(*batch));
	struct coll_ingest **items = calloc(max, sizeof(*items));
	if (!batch || !items) {
		ep_log_err("batcher: out of memory");
		abort();
	}
	for (;;) {
		size_t n = 0;
		pthread_mutex_lock(&srv->qlock);
		while (!srv->qhead && !srv->stop)
			pthread_cond_wait(&srv->qcond, &srv->qlock);
		while (srv->qhead && n < max) {
			batch[n] = srv->qhead;
			srv->qhead = srv->qhead->next;
			srv->qlen--;
			items[n] = &batch[n]->item;
			n++;
		}
		if (!srv->qhead)
			srv->qtail = NULL;
		bool stop = srv->stop;
		pthread_mutex_unlock(&srv->qlock);
		if (n == 0 && stop)
			break;
		int64_t t0 = ep_mono_ms();
		uint64_t added = w->outbox_added;
		/* PostgreSQL: 503 before agents time out; SQLite: a big batch on a
		 * busy disk may take longer and nothing else can serve it anyway */
		int64_t budget = coll_db_kind(w->db) == COLL_DB_SQLITE
					 ? srv->cfg->busy_timeout_ms
					 : srv->cfg->statement_timeout_ms;
		coll_store_set_deadline(w, t0 + budget);
		int r = coll_store_ingest(w, items, n, &srv->an);
		if (r == -EBUSY || r == -ECONNRESET || r == -EAGAIN) {
			/* one more try: a reconnect or a deadlock/serialization retry */
			coll_store_set_deadline(w, ep_mono_ms() + budget);
			r = coll_store_ingest(w, items, n, &srv->an);
		}
		coll_metrics_observe(COLL_HIST_STORE, ep_mono_ms() - t0);
		coll_metrics_batch(n);
		if (r < 0)
			ep_log_warning("ingest: a batch of %zu reports was not stored: %s", n,
				       w->err);
		for (size_t i = 0; i < n; i++) {
			if (items[i]->result == COLL_INGEST_FAILED && r == 0 &&
			    items[i]->error != -EPERM)
				ep_log_warning("ingest: report %s/%lld not stored: %s",
					       items[i]->agent.id, (long long)items[i]->seq,
					       strerror(-items[i]->error));
			atomic_store(&batch[i]->done, true);
			MHD_resume_connection(batch[i]->conn);
		}
		if (r == 0 && w->outbox_added != added)
			coll_outbox_kick(srv->outbox);
	}
	free(batch);
	free(items);
	return NULL;
}

static void reap(struct coll_server *srv)
{
	int64_t now = ep_mono_ms(), limit = srv->cfg->request_deadline_s * 1000;
	pthread_mutex_lock(&srv->tlock);
	for (struct track *t = srv->tracks; t; t = t->next) {
		if (!t->cut && now - atomic_load(&t->start_ms) > limit) {
			/* libmicrohttpd sees EOF and closes it; the fd stays its own */
			shutdown(t->fd, SHUT_RDWR);
			t->cut = true;
			coll_metrics_reject(COLL_REJECT_TIMEOUT);
		}
	}
	pthread_mutex_unlock(&srv->tlock);
}

static void *maint_main(void *arg)
{
	struct coll_server *srv = arg;
	char err[512];
	struct coll_store *s = NULL;
	struct coll_db_opts o = {
		.statement_timeout_ms = srv->cfg->statement_timeout_ms * 20,
		.connect_timeout_ms = srv->cfg->connect_timeout_ms,
		.busy_timeout_ms = srv->cfg->busy_timeout_ms,
	};
	int64_t next_sweep = ep_mono_ms() + 5000, next_retention = ep_mono_ms() + 60000;
	int64_t next_open = 0, next_reap = 0;
	/* SQLite: small, frequent WAL checkpoints (a few MiB each at full load)
	 * rather than large bursts of writeback */
	bool lite = coll_db_kind(srv->writer->db) == COLL_DB_SQLITE;
	long tick_ms = lite ? 50 : 250;
	for (;;) {
		pthread_mutex_lock(&srv->mlock);
		if (!srv->stop) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			int64_t ns = ts.tv_nsec + tick_ms * 1000000L;
			ts.tv_sec += ns / 1000000000;
			ts.tv_nsec = ns % 1000000000;
			pthread_cond_timedwait(&srv->mcond, &srv->mlock, &ts);
		}
		bool stop = srv->stop;
		pthread_mutex_unlock(&srv->mlock);
		if (stop)
			break;
		int64_t now = ep_mono_ms();
		if (now >= next_reap) {
			reap(srv);
			next_reap = now + 250;
		}
		if (now < next_sweep && now < next_retention && !lite)
			continue;
		if (!s && now >= next_open &&
		    coll_store_open(srv->cfg->store_url, &o, &s, err, sizeof(err)) < 0) {
			ep_log_warning("maintenance: %s", err);
			next_open = now + 10000;
			if (next_sweep < next_open)
				next_sweep = next_open;
		}
		if (!s)
			continue;
		if (lite) {
			/* the batchers' WAL checkpoints, off their critical path */
			coll_store_set_deadline(s, INT64_MAX);
			if (coll_db_checkpoint(s->db) < 0)
				ep_log_debug("WAL checkpoint: %s", coll_db_error(s->db));
			if (now < next_sweep && now < next_retention)
				continue;
		}
		if (now >= next_sweep) {
			next_sweep = now + 15000;
			coll_store_set_deadline(s, now + o.statement_timeout_ms);
			int r = coll_analysis_deadman(&srv->an, s, ep_wall_ms() / 1000);
			if (r < 0)
				ep_log_warning("dead-man sweep: %s", s->err);
			else if (r > 0) {
				ep_log_notice("dead-man sweep: %d silent agents alerted", r);
				coll_outbox_kick(srv->outbox);
			}
		}
		if (now >= next_retention) {
			next_retention = now + 3600 * 1000;
			coll_store_set_deadline(s, INT64_MAX);
			int r = coll_store_retention(s, ep_wall_ms() / 1000,
						     srv->cfg->retention_days * 86400,
						     srv->cfg->rollup_retention_days * 86400);
			if (r < 0)
				ep_log_warning("retention: %s", s->err);
		}
	}
	coll_store_close(s);
	return NULL;
}

/* ---- start / stop ------------------------------------------------------------------------- */

static int read_pem(const char *path, char **ret, char *err, size_t errlen)
{
	size_t len;
	int r = ep_read_file(path, 1 << 20, ret, &len);
	if (r < 0)
		snprintf(err, errlen, "cannot read '%s': %s", path, strerror(-r));
	return r;
}

int coll_server_port(const struct coll_server *srv)
{
	return srv->port;
}

int coll_server_start(const struct coll_settings *cfg, struct coll_server **ret, char *err,
		      size_t errlen)
{
	struct coll_server *srv = calloc(1, sizeof(*srv));
	int r;
	if (!srv)
		return -ENOMEM;
	srv->cfg = cfg;
	pthread_mutex_init(&srv->qlock, NULL);
	pthread_cond_init(&srv->qcond, NULL);
	pthread_mutex_init(&srv->mlock, NULL);
	pthread_cond_init(&srv->mcond, NULL);
	pthread_mutex_init(&srv->tlock, NULL);
	pthread_mutex_init(&srv->rlock, NULL);
	pthread_mutex_init(&srv->alock, NULL);
	pthread_mutex_init(&srv->pool.lock, NULL);
	pthread_cond_init(&srv->pool.cond, NULL);

	if (cfg->tls) {
		if (!cfg->tls_cert || !cfg->tls_key) {
			snprintf(err, errlen,
				 "[server] tls_cert and tls_key are required (or tls = no, for "
				 "tests and behind a TLS proxy only)");
			r = -EINVAL;
			goto fail;
		}
		if ((r = read_pem(cfg->tls_cert, &srv->tls_cert, err, errlen)) < 0 ||
		    (r = read_pem(cfg->tls_key, &srv->tls_key, err, errlen)) < 0)
			goto fail;
	}
	srv->rate = calloc(RATE_SLOTS, sizeof(*srv->rate));
	srv->agents = calloc(AGENT_SLOTS, sizeof(*srv->agents));
	if (!srv->rate || !srv->agents) {
		r = -ENOMEM;
		goto fail;
	}

	struct coll_db_opts dbo = {
		.statement_timeout_ms = cfg->statement_timeout_ms,
		.connect_timeout_ms = cfg->connect_timeout_ms,
		.busy_timeout_ms = cfg->busy_timeout_ms,
	};
	r = coll_store_open(cfg->store_url, &dbo, &srv->writer, err, errlen);
	if (r < 0)
		goto fail;
	coll_store_set_deadline(srv->writer, INT64_MAX);
	r = coll_store_migrate(srv->writer);
	if (r < 0) {
		snprintf(err, errlen, "migrating the store: %s", srv->writer->err);
		goto fail;
	}
	srv->pool.n = (size_t)cfg->pool_size;
	srv->pool.v = calloc(srv->pool.n, sizeof(*srv->pool.v));
	srv->pool.busy = calloc(srv->pool.n, sizeof(*srv->pool.busy));
	if (!srv->pool.v || !srv->pool.busy) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < srv->pool.n; i++) {
		r = coll_store_open(cfg->store_url, &dbo, &srv->pool.v[i], err, errlen);
		if (r < 0)
			goto fail;
	}

	srv->an = (struct coll_analysis){
		.webhook_url = cfg->webhook_url,
		.smtp_url = cfg->smtp_url,
		.mail_from = cfg->mail_from,
		.mail_to = cfg->mail_to,
		.dashboard_url = cfg->dashboard_url,
		.forecast_window_s = 30 * 86400,
		.sample_interval_s = cfg->sample_interval_s,
		.max_forecasts = 64,
		.stale_after_s = cfg->stale_after_s,
		.group_notices = cfg->group_notices,
	};
	if (coll_webhook_format_parse(cfg->webhook_format ? cfg->webhook_format : "generic",
				      &srv->an.webhook_format) < 0) {
		snprintf(err, errlen,
			 "[alerts] webhook_format: '%s' is not generic, dingtalk, wecom, feishu "
			 "or slack",
			 cfg->webhook_format);
		r = -EINVAL;
		goto fail;
	}
	struct coll_outbox_cfg oc = {
		.store_url = cfg->store_url,
		.db = dbo,
		.webhook_url = cfg->webhook_url,
		.smtp_url = cfg->smtp_url,
		.mail_from = cfg->mail_from,
		.mail_to = cfg->mail_to,
		.send =
			{
				.allow_private = cfg->allow_private_targets,
				.timeout_ms = cfg->send_timeout_s * 1000,
				.connect_timeout_ms = cfg->send_timeout_s * 500,
				.ca_file = cfg->ca_file,
				.smtp_user = cfg->smtp_user,
				.smtp_password = cfg->smtp_password,
			},
		.max_attempts = cfg->max_attempts,
	};
	srv->n_writers = (size_t)cfg->writers;
	if (srv->n_writers == 0)
		srv->n_writers = coll_db_kind(srv->writer->db) == COLL_DB_SQLITE ? 1 : 4;
	srv->writers = calloc(srv->n_writers, sizeof(*srv->writers));
	srv->batchers = calloc(srv->n_writers, sizeof(*srv->batchers));
	if (!srv->writers || !srv->batchers) {
		r = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < srv->n_writers; i++) {
		r = coll_store_open(cfg->store_url, &dbo, &srv->writers[i], err, errlen);
		if (r < 0)
			goto fail;
		/* SQLite: the maintenance thread checkpoints the WAL */
		coll_db_tune_writer(srv->writers[i]->db);
	}
	r = coll_outbox_start(&oc, &srv->outbox, err, errlen);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < srv->n_writers; i++) {
		struct batcher_arg *ba = malloc(sizeof(*ba));
		r = ba ? 0 : -ENOMEM;
		if (ba) {
			ba->srv = srv;
			ba->w = srv->writers[i];
			r = -pthread_create(&srv->batchers[i], NULL, batcher_main, ba);
			if (r < 0)
				free(ba);
		}
		if (r < 0) {
			snprintf(err, errlen, "cannot start the batcher: %s", strerror(-r));
			goto fail_batcher;
		}
		srv->n_batchers++;
	}
	r = -pthread_create(&srv->maint, NULL, maint_main, srv);
	if (r < 0) {
		snprintf(err, errlen, "cannot start the maintenance thread: %s", strerror(-r));
		goto fail_batcher;
	}

	/* connections: below the descriptor limit, with room for the store */
	struct rlimit rl;
	int64_t max_conn = cfg->max_connections;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		int64_t room = (int64_t)rl.rlim_cur - 64 - 2 * cfg->pool_size;
		if (room < max_conn) {
			ep_log_warning("max_connections lowered from %lld to %lld to fit "
				       "RLIMIT_NOFILE (%llu)",
				       (long long)max_conn, (long long)room,
				       (unsigned long long)rl.rlim_cur);
			max_conn = room > 16 ? room : 16;
		}
	}
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | MHD_USE_TURBO;
	if (inet_pton(AF_INET, cfg->listen_host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)cfg->port);
	} else if (inet_pton(AF_INET6, cfg->listen_host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)cfg->port);
		flags |= MHD_USE_IPv6;
	} else {
		snprintf(err, errlen, "[server] listen: '%s' is not a numeric IP address",
			 cfg->listen_host);
		r = -EINVAL;
		goto fail_maint;
	}
	if (cfg->tls)
		flags |= MHD_USE_TLS;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads =
		cfg->threads > 0 ? (unsigned)cfg->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
	struct MHD_OptionItem tls_opts[] = {
		{MHD_OPTION_HTTPS_MEM_CERT, 0, srv->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	srv->mhd = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, &ss,
		MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_per_ip,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->memory_limit_bytes,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, srv, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		MHD_OPTION_ARRAY, cfg->tls ? tls_opts : &tls_opts[2], MHD_OPTION_END);
	if (!srv->mhd) {
		snprintf(err, errlen, "cannot listen on %s:%d (in use, or TLS files invalid)",
			 cfg->listen_host, cfg->port);
		r = -EADDRINUSE;
		goto fail_maint;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = di ? di->port : cfg->port;
	*ret = srv;
	return 0;

fail_maint:
	pthread_mutex_lock(&srv->mlock);
	srv->stop = true;
	pthread_cond_signal(&srv->mcond);
	pthread_mutex_unlock(&srv->mlock);
	pthread_join(srv->maint, NULL);
fail_batcher:
	pthread_mutex_lock(&srv->qlock);
	srv->stop = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	for (size_t i = 0; i < srv->n_batchers; i++)
		pthread_join(srv->batchers[i], NULL);
	srv->n_batchers = 0;
	coll_outbox_stop(srv->outbox);
	srv->outbox = NULL;
fail:
	srv->mhd = NULL;
	srv->maint = 0;
	coll_server_stop(srv);
	return r;
}

void coll_server_stop(struct coll_server *srv)
{
	if (!srv)
		return;
	if (srv->mhd)
		MHD_quiesce_daemon(srv->mhd);
	pthread_mutex_lock(&srv->qlock);
	bool running = !srv->stop;
	srv->stop = true;
	pthread_cond_broadcast(&srv->qcond);
	pthread_mutex_unlock(&srv->qlock);
	if (running && srv->mhd) {
		/* the batchers drain the queue (every suspended connection gets its
		 * answer) before they exit */
		for (size_t i = 0; i < srv->n_batchers; i++)
			pthread_join(srv->batchers[i], NULL);
		pthread_mutex_lock(&srv->mlock);
		pthread_cond_signal(&srv->mcond);
		pthread_mutex_unlock(&srv->mlock);
		pthread_join(srv->maint, NULL);
	}
	if (srv->mhd)
		MHD_stop_daemon(srv->mhd);
	coll_outbox_stop(srv->outbox);
	for (size_t i = 0; i < srv->pool.n; i++)
		coll_store_close(srv->pool.v[i]);
	free(srv->pool.v);
	free(srv->pool.busy);
	coll_store_close(srv->writer);
	for (size_t i = 0; i < srv->n_writers; i++)
		coll_store_close(srv->writers ? srv->writers[i] : NULL);
	free(srv->writers);
	free(srv->batchers);
	while (srv->tracks) {
		struct track *t = srv->tracks;
		srv->tracks = t->next;
		free(t);
	}
	free(srv->rate);
	free(srv->agents);
	free(srv->tls_cert);
	free(srv->tls_key);
	pthread_mutex_destroy(&srv->qlock);
	pthread_cond_destroy(&srv->qcond);
	pthread_mutex_destroy(&srv->mlock);
	pthread_cond_destroy(&srv->mcond);
	pthread_mutex_destroy(&srv->tlock);
	pthread_mutex_destroy(&srv->rlock);
	pthread_mutex_destroy(&srv->alock);
	pthread_mutex_destroy(&srv->pool.lock);
	pthread_cond_destroy(&srv->pool.cond);
	free(srv);
}
