/* POST /api/v1/reports (docs/collector.md, "Ingest"): a signed report is
 * checked on the request thread, queued, and its connection suspended; the
 * batcher threads (one per writer connection) store up to batch_max reports
 * per transaction (group commit) and resume the connections with their
 * answers, so nothing is acknowledged before it is committed. */
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/http/http.h"
#include "collector/store/codec.h"
#include "collector/analysis/analysis.h"
#include "collector/ingest.h"
#include "collector/metrics.h"
#include "collector/notify/outbox.h"
#include "collector/service/service.h"
#include "collector/store/sql.h"
#include "erpulse/log.h"
#include "erpulse/report.h"
#include "erpulse/util.h"

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
		return coll_http_text(c, 200, "application/json", text, NULL);
	}
	case COLL_INGEST_CONFLICT: {
		coll_metrics_reject(COLL_REJECT_CONFLICT);
		char msg[256];
		if (it->error == -ERANGE)
			snprintf(msg, sizeof(msg),
				 "seq %lld is more than %d ahead of the last accepted seq %lld",
				 (long long)it->seq, COLL_SEQ_MAX_JUMP, (long long)it->last_seq);
		else
			snprintf(msg, sizeof(msg),
				 "seq %lld was not stored with this body (last accepted seq %lld): "
				 "a restored or cloned agent?",
				 (long long)it->seq, (long long)it->last_seq);
		return coll_http_json(
			c, 409,
			json_pack("{s:{s:s,s:s},s:I,s:I}", "error", "code",
				  it->error == -ERANGE ? "seq_too_far" : "seq_conflict", "message",
				  msg, "seq", (json_int_t)it->seq, "last_seq",
				  (json_int_t)it->last_seq),
			NULL);
	}
	default:
		if (it->error == -EPERM) {
			coll_metrics_reject(COLL_REJECT_REVOKED);
			return coll_http_error(c, 403, "revoked", "this agent has been revoked");
		}
		if (coll_store_unavailable(it->error) || it->error == 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			return coll_http_unavailable(c);
		}
		coll_metrics_reject(COLL_REJECT_INTERNAL);
		return coll_http_error(c, 500, "internal", "the report could not be stored");
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

int coll_api_reports_admit(struct req *rq, enum MHD_Result *ret)
{
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	const char *agent_id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Agent");
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	struct coll_agent *agent = &rq->agent;
	if (!agent_id || !sig || !coll_agent_id_valid(agent_id)) {
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		*ret = coll_http_error(c, 401, "unauthorized", "unknown agent or bad signature");
		return 1;
	}
	if (!agent_cached(srv, agent_id, agent)) {
		struct coll_store *s = coll_pool_get(&srv->pool, coll_http_deadline(srv));
		if (!s) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			*ret = coll_http_unavailable(c);
			return 1;
		}
		int r = coll_store_agent_get(s, agent_id, agent);
		if (r < 0 && r != -ENOENT)
			ep_log_warning("ingest: store: %s", s->err);
		coll_pool_put(&srv->pool, s);
		if (r == -ENOENT) {
			coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
			*ret = coll_http_error(c, 401, "unauthorized",
					       "unknown agent or bad signature");
			return 1;
		}
		if (r < 0) {
			coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
			*ret = coll_http_unavailable(c);
			return 1;
		}
		agent_remember(srv, agent);
	}
	/* refused before its body is read: a revoked agent's reports are never
	 * stored, and the body would only cost memory */
	if (agent->revoked) {
		coll_metrics_reject(COLL_REJECT_REVOKED);
		*ret = coll_http_error(c, 403, "revoked", "this agent has been revoked");
		return 1;
	}
	rq->agent_known = true;
	return 0;
}

enum MHD_Result coll_api_reports(struct req *rq, const char *url)
{
	(void)url;
	struct coll_server *srv = rq->srv;
	struct MHD_Connection *c = rq->conn;
	char err[512];

	if (rq->queued) /* resumed by the batcher */
		return answer_ingest(rq);
	if (rq->too_large) {
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return coll_http_error(c, 413, "too_large", "report body too large");
	}
	if (!rq->agent_known) /* admitted before the body, always */
		return coll_http_error(c, 500, "internal", "report not admitted");
	const char *agent_id = rq->agent.id;
	const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Erpulse-Signature");
	struct coll_agent agent = rq->agent;
	int64_t seq = 0;
	json_t *report = NULL;
	const char *body = rq->body.data ? rq->body.data : "";
	enum coll_check chk = coll_ingest_check(agent.public_key, agent_id, sig, body, rq->body.len,
						(size_t)srv->cfg->max_body_bytes, &report, &seq,
						err, sizeof(err));
	if (chk == COLL_CHECK_UNAUTHORIZED) {
		coll_metrics_reject(COLL_REJECT_UNAUTHORIZED);
		return coll_http_error(c, 401, "unauthorized", "unknown agent or bad signature");
	}
	if (chk == COLL_CHECK_TOO_LARGE) {
		coll_metrics_reject(COLL_REJECT_TOO_LARGE);
		return coll_http_error(c, 413, "too_large", err);
	}
	if (chk != COLL_CHECK_OK) {
		coll_metrics_reject(COLL_REJECT_BAD_REQUEST);
		return coll_http_error(c, 400, "bad_request", err);
	}
	/* rendered here, on the request threads, rather than by the batcher
	 * under the write lock (NULL: the store renders it) */
	rq->findings = coll_store_findings_json(report);
	size_t stored_len = 0;
	if (coll_codec_compress(body, rq->body.len, &rq->stored, &stored_len) < 0)
		rq->stored = NULL; /* the store compresses it */
	pthread_mutex_lock(&srv->qlock);
	if (srv->qlen >= QUEUE_MAX || srv->stop) {
		pthread_mutex_unlock(&srv->qlock);
		json_decref(report);
		coll_metrics_reject(COLL_REJECT_UNAVAILABLE);
		return coll_http_unavailable(c);
	}
	rq->report = report;
	rq->item = (struct coll_ingest){
		.findings_json = rq->findings,
		.stored = rq->stored,
		.stored_len = stored_len,
		.agent = agent,
		.report = report,
		.body = body,
		.len = rq->body.len,
		.seq = seq,
		.received_at = coll_test_clock("ERPULSE_TEST_INGEST_CLOCK_FILE"),
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

/* ---- threads ---------------------------------------------------------------------------- */

void *coll_http_batcher(void *arg)
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
		/* one warning per outage, and one line when it ends, rather than
		 * one per failed batch */
		atomic_store(&srv->last_commit, r < 0 ? r : 0);
		if (r < 0 && atomic_fetch_add(&srv->outage_batches, 1) == 0)
			ep_log_warning("ingest: reports are not being stored: %s (further "
				       "failures are counted until it recovers)",
				       w->err);
		if (r == 0) {
			uint64_t failed = atomic_exchange(&srv->outage_batches, 0);
			if (failed)
				ep_log_notice("ingest: reports are stored again (%llu batches "
					      "failed meanwhile)",
					      (unsigned long long)failed);
		}
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
